"""Inside the model (notes 7.1-7.3): every tensor's shape in a real forward pass, the parameter
counts, and the notes' "feature fusion" claim about the decoder's concatenation, measured.

`trace_forward` runs one teacher-forced forward pass of a real batch with forward hooks on the
model's own modules, so the shapes are what the model computed, for a GRU, an LSTM, a bridge
(7.9.3) or the attention decoder alike. Each traced tensor carries the notes' letters
(N batch, T steps, D embedding, H hidden, L layers, V target vocabulary; H', L' the decoder's
when a bridge joins different sizes), which tests check against the numbers.
"""
from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from ..data import Vocab, build_array_nmt
from ..encoder_decoder import EncoderDecoder
from ..i18n import Text, translator

ATTENTION_STEP = Text("one decoder step")      # the attention decoder's RNN runs once per target step


@dataclass
class TracedTensor:
    """One edge of the diagram: a tensor the forward pass produced, where, and its shape."""
    key: str                     # stable id, e.g. "encoder.rnn.output"
    label: str                   # what the notes call it (a Text: the Model view shows it translated)
    letters: tuple[str, ...]     # the notes' letters, e.g. ("T", "N", "H")
    shape: tuple[int, ...]       # what the hook saw
    values: torch.Tensor = field(repr=False)   # detached copy on the CPU, for a slice view
    note: str = ""               # a Text too, or empty

    @property
    def letters_text(self) -> str:
        return "(" + ", ".join(self.letters) + ")"

    @property
    def shape_text(self) -> str:
        return "(" + ", ".join(str(n) for n in self.shape) + ")"


@dataclass
class ForwardTrace:
    tensors: list[TracedTensor]
    sizes: dict[str, int]        # letter -> number, for this model and batch
    cell: str
    decoder: str                 # "plain" or "attention"

    def get(self, key: str) -> TracedTensor:
        return next(t for t in self.tensors if t.key == key)

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.tensors]


MAX_BATCH = 64               # sentences traced at once: enough to see N, small enough to show


def teacher_forced_batch(pairs: list[tuple[str, str]], src_vocab: Vocab, tgt_vocab: Vocab,
                         num_steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(X, X_valid_len, dec_X) for real sentence pairs: the encoder's input and the decoder's
    teacher-forced input `<bos>` + Y[:, :-1], as training feeds them."""
    if not 1 <= len(pairs) <= MAX_BATCH:
        raise ValueError(Text("trace between 1 and {most} sentences, got {count}", most=MAX_BATCH, count=len(pairs)))
    X, X_valid_len = build_array_nmt([s.split() for s, _ in pairs], src_vocab, num_steps)
    Y, _ = build_array_nmt([t.split() for _, t in pairs], tgt_vocab, num_steps)
    bos = torch.full((len(pairs), 1), tgt_vocab["<bos>"], dtype=torch.long)
    return X, X_valid_len, torch.cat([bos, Y[:, :-1]], 1)


def model_sizes(net: EncoderDecoder, batch: int, num_steps: int) -> dict[str, int]:
    """The notes' letters for this model: N, T, D, H, L, V (and H', L' for the decoder)."""
    enc_rnn, dec = net.encoder.rnn, net.decoder
    return {"N": batch, "T": num_steps, "D": net.encoder.embedding.embedding_dim,
            "H": enc_rnn.hidden_size, "L": enc_rnn.num_layers, "V": dec.embedding.num_embeddings,
            "H'": dec.rnn.hidden_size, "L'": dec.rnn.num_layers}


def _first(value) -> torch.Tensor:
    return value[0] if isinstance(value, (tuple, list)) else value


def _copy(t: torch.Tensor) -> torch.Tensor:
    return t.detach().float().cpu().clone()


class _Recorder:
    """Forward hooks that keep the first call's inputs and outputs of each watched module."""

    def __init__(self, modules: dict[str, nn.Module]):
        self.seen: dict[str, tuple] = {}
        self.calls: dict[str, int] = {}
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in modules.items()]

    def _hook(self, name: str):
        def hook(module, args, output):
            self.calls[name] = self.calls.get(name, 0) + 1
            self.seen.setdefault(name, (args, output))
        return hook

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def _watched(net: EncoderDecoder) -> dict[str, nn.Module]:
    modules = {"encoder.embedding": net.encoder.embedding, "encoder.rnn": net.encoder.rnn,
               "decoder.embedding": net.decoder.embedding, "decoder.rnn": net.decoder.rnn,
               "decoder.dense": net.decoder.dense}
    if hasattr(net, "bridge"):
        modules["bridge"] = net.bridge
    if hasattr(net.decoder, "attention"):
        modules["decoder.attention"] = net.decoder.get_submodule("attention")
    return modules


def _state_letters(prime: str = "") -> tuple[str, ...]:
    return ("L" + prime, "N", "H" + prime)


@torch.no_grad()
def trace_forward(net: EncoderDecoder, X: torch.Tensor, X_valid_len: torch.Tensor,
                  dec_X: torch.Tensor) -> ForwardTrace:
    """Shapes of every stage of one forward pass of (X, dec_X), read by hooks on the modules.

    The hooks go on a copy: the model itself may be shared with other sessions decoding at the
    same time, whose forward passes would otherwise fire them."""
    net = copy.deepcopy(net).eval()
    recorder = _Recorder(_watched(net))
    try:
        net(X, dec_X, X_valid_len)
    finally:
        recorder.remove()
    seen, cell = recorder.seen, "lstm" if isinstance(net.encoder.rnn, nn.LSTM) else "gru"
    attention = "decoder.attention" in seen
    bridged = "bridge" in seen
    prime = "'" if bridged else ""
    out: list[TracedTensor] = []

    def add(key: str, label: str, letters: tuple[str, ...], tensor: torch.Tensor, note: str = "") -> None:
        out.append(TracedTensor(key, label, letters, tuple(tensor.shape), _copy(tensor), note))

    add("source", Text("source token ids X"), ("N", "T"), X)
    add("encoder.embedding.output", Text("embedded source"), ("N", "T", "D"), seen["encoder.embedding"][1],
        Text("permuted to time first before the RNN"))
    enc_args, (enc_output, enc_state) = seen["encoder.rnn"]
    add("encoder.rnn.input", Text("encoder RNN input"), ("T", "N", "D"), enc_args[0])
    add("encoder.rnn.output", Text("encoder outputs (every step, top layer)"), ("T", "N", "H"), enc_output)
    add("encoder.rnn.state", Text("encoder final state h") if cell == "lstm" else Text("encoder final state"),
        _state_letters(), _first(enc_state))
    if cell == "lstm":
        add("encoder.rnn.cell", Text("encoder final memory cell c"), _state_letters(), enc_state[1],
            Text("an LSTM's c is not the context: the context comes from h"))
    if bridged:
        add("bridge.output", Text("bridge: encoder state → decoder state (7.9.3)"), _state_letters("'"),
            _first(seen["bridge"][1]))
    dec_args, (dec_output, dec_state) = seen["decoder.rnn"]
    steps = "1" if attention else "T"
    if attention:
        q_args, (context, _weights) = seen["decoder.attention"]   # the attention returns its weights too
        add("decoder.attention.query", Text("attention query: decoder top hidden state"), ("N", "1", "H"),
            q_args[0])
        add("decoder.attention.keys", Text("attention keys and values: encoder outputs"), ("N", "T", "H"),
            q_args[1])
        add("decoder.attention.context", Text("attention context for this step"), ("N", "1", "H"), context,
            Text("a new context at every step (Bahdanau attention), not one vector c"))
    else:
        add("context", Text("context c = top layer of the final state"), ("N", "H" + prime),
            _first(dec_args[1])[-1], Text("repeated over the T steps and concatenated to every input"))
    add("target", Text("target inputs <bos> + Y[:, :-1] (teacher forcing)"), ("N", "T"), dec_X)
    add("decoder.embedding.output", Text("embedded target inputs"), ("N", "T", "D"), seen["decoder.embedding"][1])
    concat = ("1", "N", "H + D") if attention else ("T", "N", "D + H" + prime)
    add("decoder.rnn.input", Text("concatenation [embedding ⊕ context]") if not attention
        else Text("concatenation [context ⊕ embedding]"), concat, dec_args[0],
        Text("the decoder RNN's input, {step}", step=ATTENTION_STEP) if attention
        else Text("the decoder RNN's input"))
    add("decoder.rnn.output", Text("decoder outputs (top layer)"), (steps, "N", "H" + prime), dec_output,
        ATTENTION_STEP if attention else "")
    add("decoder.rnn.state", Text("decoder state"), _state_letters(prime), _first(dec_state),
        ATTENTION_STEP if attention else "")
    dense_in, logits = seen["decoder.dense"]
    add("decoder.dense.output", Text("logits over the target vocabulary"), ("T", "N", "V"), logits,
        Text("permuted to (N, T, V) for the loss"))
    sizes = model_sizes(net, X.shape[0], X.shape[1])
    return ForwardTrace(out, sizes, cell, "attention" if attention else "plain")


def letters_to_shape(letters: tuple[str, ...], sizes: dict[str, int]) -> tuple[int, ...]:
    """('T', 'N', 'D + H') -> (10, 4, 96): the notes' formula evaluated for these sizes."""
    return tuple(sum(int(term) if term.isdigit() else sizes[term] for term in part.split(" + "))
                 for part in letters)


# -- parameters --------------------------------------------------------------------------------
@dataclass
class ParameterRow:
    module: str                  # e.g. "decoder.rnn"
    tensors: list[tuple[str, tuple[int, ...]]]   # (parameter name, shape)
    count: int


def parameter_table(net: nn.Module) -> list[ParameterRow]:
    """Parameters per layer (a shared tensor counted once, where it is first seen); the counts
    add up to `sum(p.numel() for p in net.parameters())`."""
    rows: dict[str, ParameterRow] = {}
    for name, p in net.named_parameters():          # named_parameters lists a shared tensor once
        module = name.rsplit(".", 1)[0]
        row = rows.setdefault(module, ParameterRow(module, [], 0))
        row.tensors.append((name.rsplit(".", 1)[1], tuple(p.shape)))
        row.count += p.numel()
    return list(rows.values())


# -- the concatenation (notes 7.3, "feature fusion") --------------------------------------------
@dataclass
class ConcatCheck:
    max_abs_difference: float    # one product with [W_x, W_c] against W_x x + W_c c
    input_size: int              # D, the embedding
    context_size: int            # H
    gate_rows: int               # 3H for a GRU, 4H for an LSTM


def split_input_weight(net: EncoderDecoder) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The decoder RNN's first-layer input weight W (gates, D + H) and its two blocks W_x, W_c.

    The plain decoder concatenates (embedding, context), the attention decoder (context,
    embedding): the blocks are cut in that order."""
    W = net.decoder.rnn.get_parameter("weight_ih_l0").detach()
    D = net.decoder.embedding.embedding_dim
    if hasattr(net.decoder, "attention"):
        return W, W[:, W.shape[1] - D:], W[:, :W.shape[1] - D]
    return W, W[:, :D], W[:, D:]


@torch.no_grad()
def check_concatenation(net: EncoderDecoder, x: torch.Tensor, c: torch.Tensor) -> ConcatCheck:
    """x (N, D) embeddings and c (N, H) contexts through the model's own decoder weights."""
    W, W_x, W_c = split_input_weight(net)
    x, c = x.to(W.device), c.to(W.device)          # a trace's values are CPU copies
    joined = _concat_input(net, x, c) @ W.T
    split = x @ W_x.T + c @ W_c.T
    return ConcatCheck(float((joined - split).abs().max()), W_x.shape[1], W_c.shape[1], W.shape[0])


def concatenated_parts(trace: ForwardTrace) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, c) of the traced batch's first decoder step: the embedding (N, D) and the context (N, H)
    the decoder RNN's first layer multiplies with W."""
    x = trace.get("decoder.embedding.output").values[:, 0]
    if trace.decoder == "attention":
        return x, trace.get("decoder.attention.context").values[:, 0]
    return x, trace.get("context").values


def _concat_input(net: EncoderDecoder, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return torch.cat((c, x), 1) if hasattr(net.decoder, "attention") else torch.cat((x, c), 1)


@dataclass
class ConcatTiming:
    batch: int
    input_size: int              # D
    context_size: int            # H
    gate_rows: int
    one_product_us: tuple[float, float]    # (min, median) microseconds: [x, c] @ [W_x, W_c]^T
    two_products_us: tuple[float, float]   # (min, median): x @ W_x^T + c @ W_c^T
    repeats: int
    device: str
    at_model_size: bool = False

    @property
    def speedup(self) -> float:
        """two products' median / one product's median: > 1 means the concatenation is faster."""
        return self.two_products_us[1] / self.one_product_us[1]


def _time_us(fn, repeats: int, inner: int) -> tuple[float, float]:
    fn()                                                    # warm-up (allocations, kernels)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner * 1e6)
    return min(samples), statistics.median(samples)


@torch.no_grad()
def time_concatenation(batch: int, input_size: int, context_size: int, gate_rows: int,
                       device: torch.device | str = "cpu", repeats: int = 15, inner: int = 20,
                       seed: int = 0) -> ConcatTiming:
    """Min/median time of the fused product against the two small products and the add.

    The concatenated input is built inside the timed call too, as the decoder builds it."""
    g = torch.Generator().manual_seed(seed)
    x, c = torch.randn(batch, input_size, generator=g), torch.randn(batch, context_size, generator=g)
    W = torch.randn(gate_rows, input_size + context_size, generator=g)
    x, c, W = x.to(device), c.to(device), W.to(device)
    W_x, W_c = W[:, :input_size].contiguous(), W[:, input_size:].contiguous()
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)

    def one():
        torch.cat((x, c), 1) @ W.T
        sync()

    def two():
        x @ W_x.T + c @ W_c.T
        sync()

    return ConcatTiming(batch, input_size, context_size, gate_rows, _time_us(one, repeats, inner),
                        _time_us(two, repeats, inner), repeats, str(device))


def timing_sizes(D: int, H: int, gates: int) -> list[tuple[int, int, int]]:
    """(D, H, gate rows) at the model's size and a few larger ones, the gate multiple kept."""
    multiple = max(1, gates // H)
    sizes = [(D, H)] + [(d, h) for d, h in ((128, 256), (256, 512), (512, 1024)) if h > H]
    return [(d, h, multiple * h) for d, h in sizes]


def read_timings(timings: list[ConcatTiming], lang: str = "en") -> str:
    """One paragraph from the measured numbers, in `lang`: what was timed and whether it agrees
    with the notes."""
    _ = translator(lang)
    first = timings[0]
    parts = [_("Measured on {device}, batch {batch}, {repeats} repeats each: ").format(
        device=first.device, batch=first.batch, repeats=first.repeats)]
    parts.append(_("; ").join(
        _("D={D}, H={H}: one product {one:.1f} µs, two products and an add {two:.1f} µs ({speedup:.2f}×)").format(
            D=t.input_size, H=t.context_size, one=t.one_product_us[1], two=t.two_products_us[1], speedup=t.speedup)
        for t in timings) + _("."))
    faster = [t for t in timings if t.speedup > 1.1]
    slower = [t for t in timings if t.speedup < 0.9]
    if len(faster) == len(timings):
        parts.append(_(" At every size measured the single product with the concatenated matrix is faster, "
                       "as the notes claim: one larger matrix multiplication uses the hardware better than "
                       "two smaller ones and an extra pass over memory for the add."))
    elif not faster:
        parts.append(_(" Here the single product is not clearly faster at any size measured, and slower at some: "
                       "on this device the notes' claim does not hold as stated; the concatenation itself "
                       "copies x and c into a new tensor, which costs about what the second product saves.")
                     if slower else
                     _(" Here the single product is not clearly faster at any size measured: on this device the "
                       "notes' claim does not hold as stated; the concatenation itself copies x and c into a new "
                       "tensor, which costs about what the second product saves."))
    else:
        where = _("; ").join(_("D={D}, H={H}").format(D=t.input_size, H=t.context_size) for t in faster)
        small_first = max(t.context_size for t in faster) < min(t.context_size for t in timings if t not in faster)
        why = (_("where the products are small, so what one call instead of two saves (dispatch and an extra "
                 "pass for the add) is a large part of the time; as they grow, the arithmetic dominates and "
                 "both take about as long") if small_first else
               _("where the products are large enough for the saved pass over memory to matter"))
        parts.append(_(" The single product is faster at {where} but not at the other sizes: the notes' claim "
                       "holds {why}.").format(where=where, why=why))
    parts.append(_(" Either way the two compute the same numbers (the check above): concatenating is a "
                   "choice of layout, not of model."))
    return "".join(parts)

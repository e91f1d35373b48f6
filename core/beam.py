"""Beam search (d2l 0.17.6, section 9.8): keep the `beam_size` most likely prefixes per step.

At every step each live hypothesis is extended by its `beam_size` most likely next tokens
(log-probabilities from `log_softmax`), and the best of all these candidates are kept. A
kept candidate that emits `<eos>` is finished and leaves the beam, so the beam shrinks:
step t keeps `beam_size - (hypotheses finished so far)` candidates, and the search stops
when `beam_size` hypotheses are finished. A hypothesis still live after `num_steps` tokens
is finished there, cut off, as greedy decoding cuts it off.

Finished hypotheses are ranked by the book's length-normalised score (eq. 9.8.4)

    score = log P(y | x) / L ** length_penalty

where L counts the generated tokens, `<eos>` included. `length_penalty` 0 ranks by the raw
sum of log-probabilities; 1 by the mean per token; the book suggests 0.75. Candidates of one
step all have the same length, so pruning by raw log-probability or by score is the same.

With `beam_size=1` this is greedy decoding: one candidate per step, the argmax.
Every candidate is kept in `BeamResult.steps` (kept or pruned, with its parent), so a view
can draw the whole search tree.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .data import Vocab
from .decode import SourceEncoding, encode_source
from .i18n import Text

MAX_BEAM_SIZE = 100
MAX_LENGTH_PENALTY = 5.0


@dataclass
class BeamNode:
    """One candidate of one step: its parent's hypothesis plus one token."""
    step: int                 # 0-based step that produced `token_id`
    parent: int               # index of the parent in the previous step's nodes; -1 = <bos>
    token_id: int
    token: str
    ids: list[int]            # the whole hypothesis so far, this token included
    step_log_prob: float      # log p(token | prefix, source)
    log_prob: float           # sum of step_log_prob along the path from <bos>
    score: float              # log_prob / len(ids) ** length_penalty
    kept: bool                # among the best of its step (else pruned)
    finished: bool            # kept and ended here, by <eos> or at num_steps


@dataclass
class Hypothesis:
    """A finished hypothesis; (step, index) locates its last node in `BeamResult.steps`."""
    ids: list[int]            # <eos> included when it ended by <eos>
    tokens: list[str]
    log_prob: float
    score: float
    ended_by: str             # "eos" or "num_steps"
    step: int
    index: int

    @property
    def length(self) -> int:
        return len(self.ids)

    @property
    def translation(self) -> str:
        return " ".join(t for t in self.tokens if t != "<eos>")


@dataclass
class BeamResult:
    source: SourceEncoding
    beam_size: int
    length_penalty: float
    steps: list[list[BeamNode]]   # per step, every candidate (parent-major, best first)
    nbest: list[Hypothesis]       # finished hypotheses, best score first

    @property
    def best(self) -> Hypothesis:
        return self.nbest[0]

    @property
    def translation(self) -> str:
        return self.best.translation

    def path(self, hypothesis: Hypothesis | None = None) -> list[tuple[int, int]]:
        """(step, node index) from the first token to the hypothesis' last (default: the winner)."""
        hyp = hypothesis or self.best
        step, index, out = hyp.step, hyp.index, []
        while index >= 0:
            out.append((step, index))
            index, step = self.steps[step][index].parent, step - 1
        return out[::-1]


def normalised_score(log_prob: float, length: int, length_penalty: float) -> float:
    """The book's ranking score: log P / L ** length_penalty (0: the raw sum)."""
    return log_prob / length ** length_penalty


def map_state(fn: Callable[[torch.Tensor], torch.Tensor], state):
    """Apply `fn` to every tensor of a decoder state: a tensor or nested tuples/lists of them."""
    if isinstance(state, (tuple, list)):
        return type(state)(map_state(fn, s) for s in state)
    return fn(state)


def select_state(state, index: torch.Tensor):
    """Rows `index` of a plain decoder's state, along its batch dimension.

    RNN states (GRU h, LSTM h and c) are (num_layers, batch, num_hiddens): dim 1; the fixed
    context of `context="encoder"` is (batch, num_hiddens): dim 0. A decoder whose state
    looks different defines its own `select_state(state, index)`, which the search prefers.
    """
    return map_state(lambda t: t.index_select(1 if t.dim() == 3 else 0, index), state)


def check_beam(beam_size, length_penalty, num_steps) -> None:
    for name, value, low, high in (("beam_size", beam_size, 1, MAX_BEAM_SIZE), ("num_steps", num_steps, 1, 10_000)):
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(Text("{name} must be an integer between {low} and {high}, got {value!r}",
                                  name=name, low=low, high=high, value=value))
    if (not isinstance(length_penalty, (int, float)) or isinstance(length_penalty, bool)
            or not math.isfinite(length_penalty) or not 0 <= length_penalty <= MAX_LENGTH_PENALTY):
        raise ValueError(Text("length_penalty must be a number between 0 and {high}, got {value!r}",
                              high=MAX_LENGTH_PENALTY, value=length_penalty))


@dataclass
class _Live:
    ids: list[int]
    log_prob: float
    node: int                 # index in the previous step's nodes; -1 before the first step


@torch.no_grad()
def beam_search(net, source: SourceEncoding, tgt_vocab: Vocab, num_steps: int, beam_size: int,
                length_penalty: float = 0.0) -> BeamResult:
    """Beam search over one source sentence; the decoder runs once per step on all live hypotheses."""
    check_beam(beam_size, length_penalty, num_steps)
    net.eval()
    device = next(net.parameters()).device
    enc_X = torch.tensor([source.padded], dtype=torch.long, device=device)     # (1, num_steps)
    enc_valid_len = torch.tensor([source.valid_len], device=device)
    dec_state = net.init_decoder_state(enc_X, enc_valid_len)
    reorder = getattr(net.decoder, "select_state", select_state)
    bos, eos = tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    live, steps = [_Live([], 0.0, -1)], []
    nbest: list[Hypothesis] = []
    for t in range(num_steps):
        dec_X = torch.tensor([[h.ids[-1] if h.ids else bos] for h in live], device=device)  # (live, 1)
        Y, dec_state = net.decoder(dec_X, dec_state)                                     # (live, 1, vocab)
        log_probs = torch.log_softmax(Y[:, 0].float(), dim=-1).double()                  # (live, vocab)
        top_lp, top_ids = log_probs.topk(min(beam_size, log_probs.shape[1]), dim=1)      # (live, k)
        totals = top_lp + torch.tensor([h.log_prob for h in live], dtype=torch.float64,
                                       device=device)[:, None]                           # (live, k)
        n_keep = min(beam_size - len(nbest), totals.numel())
        kept = set(totals.flatten().topk(n_keep).indices.tolist())
        nodes, rows, next_live = [], [], []
        for flat, (lp, total, token_id) in enumerate(zip(top_lp.flatten().tolist(), totals.flatten().tolist(),
                                                          top_ids.flatten().tolist())):
            row = flat // top_ids.shape[1]
            ids = live[row].ids + [token_id]
            ends = flat in kept and (token_id == eos or t == num_steps - 1)
            nodes.append(BeamNode(t, live[row].node, token_id, tgt_vocab.to_tokens(token_id), ids, lp, total,
                                  normalised_score(total, len(ids), length_penalty), flat in kept, ends))
            if ends:
                nbest.append(Hypothesis(ids, tgt_vocab.to_tokens(ids), total, nodes[-1].score,
                                        "eos" if token_id == eos else "num_steps", t, len(nodes) - 1))
            elif flat in kept:
                rows.append(row)
                next_live.append(_Live(ids, total, len(nodes) - 1))
        steps.append(nodes)
        if not next_live:
            break
        dec_state = reorder(dec_state, torch.tensor(rows, device=device))
        live = next_live
    nbest.sort(key=lambda h: -h.score)          # stable: equal scores keep finishing order
    return BeamResult(source, beam_size, float(length_penalty), steps, nbest)


def beam_decode(net, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int, beam_size: int,
                length_penalty: float = 0.0, book: bool = True, tokenizer: str = "space") -> BeamResult:
    """Encode `sentence` (see `encode_source`; `tokenizer` is the model's) and run `beam_search` on it."""
    return beam_search(net, encode_source(sentence, src_vocab, num_steps, book, tokenizer), tgt_vocab,
                       num_steps, beam_size, length_penalty)

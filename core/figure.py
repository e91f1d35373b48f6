"""The chapter's figure as data (notes 7.2-7.3, 7.7): one sentence travelling through the encoder-decoder.

`figure_pass` runs the checkpoint once on one source sentence and keeps what the chapter's figure
draws, unrolled in time:

- the source tokens as the encoder sees them (`<eos>`, padding), and every encoder step's state
  in every layer (an LSTM's h and c);
- the decoder's initial state (the 7.9.3 bridge's output where there is a bridge) and the context c,
  the top layer of that state's h;
- per decoder step: its input token (`<bos>`, then the previous output), the context it really
  concatenates to that input (c under `context="encoder"`; under the book's rule c at the first
  step and the previous decoder state's top layer after it; an attention decoder's c_t), its
  state after the step, its top-k and chosen token, and attention weights;
- every tensor's shape in the notes' letters.

The decoder steps go through `core.decode._decoder_step`, the very call greedy decoding makes, on
the state `init_decoder_state` makes, so the probabilities, tokens and attention weights are the
ones Decode's tables show (tests/test_figure.py compares them). Greedy by default; `follow` walks
a given token sequence instead (a beam search hypothesis).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .data import Vocab
from .decode import DecodeStep, SourceEncoding, _decoder_step, encode_source
from .encoder_decoder import EncoderDecoder, top_hidden

# where a decoder step's context came from (FigureStep.context_from)
FROM_C, FROM_PREVIOUS, FROM_ATTENTION = "c", "previous state", "attention"
# a source position's kind, as the encoder sees it (EncoderStep.kind)
WORD, UNKNOWN, EOS, PAD = "token", "unknown", "eos", "pad"


@dataclass(frozen=True)
class Shape:
    """A tensor's shape in the notes' letters and this model's numbers."""
    letters: tuple[str, ...]
    numbers: tuple[int, ...]

    @property
    def text(self) -> str:
        """'(L, N, H) = (2, 1, 64)'."""
        return f"({', '.join(self.letters)}) = ({', '.join(str(n) for n in self.numbers)})"


@dataclass(frozen=True)
class LayerState:
    """One layer's state at one step: h (H,), and an LSTM's memory cell c (H,)."""
    h: torch.Tensor = field(repr=False)
    c: torch.Tensor | None = field(default=None, repr=False)

    @property
    def norm(self) -> float:
        return float(self.h.norm())

    @property
    def cell_norm(self) -> float | None:
        return None if self.c is None else float(self.c.norm())


@dataclass(frozen=True)
class EncoderStep:
    """One source position: the token there, as the encoder reads it, and the state after it."""
    index: int
    token: str                   # the typed word (an unknown one is read as <unk>), <eos> or <pad>
    token_id: int
    kind: str                    # WORD, UNKNOWN, EOS or PAD
    layers: list[LayerState]     # the first (bottom) layer first; layers[-1] is the top


@dataclass(frozen=True)
class FigureStep:
    """One decoder step: what went in, the context it concatenated, its state, what came out."""
    decoded: DecodeStep          # Decode's own step: input, probabilities, chosen token, attention
    context: torch.Tensor = field(repr=False)   # (H,): concatenated to this step's input embedding
    context_from: str            # FROM_C, FROM_PREVIOUS or FROM_ATTENTION
    layers: list[LayerState]     # the decoder's state after the step, first layer first
    top_k: list[tuple[str, float]]

    @property
    def index(self) -> int:
        return self.decoded.index

    @property
    def input_token(self) -> str:
        return self.decoded.input_token

    @property
    def chosen_token(self) -> str:
        return self.decoded.chosen_token

    @property
    def probability(self) -> float:
        """p(chosen token)."""
        return float(self.decoded.probs[self.decoded.chosen_id])

    @property
    def attention(self) -> list[float] | None:
        return self.decoded.attention


@dataclass
class Figure:
    """Everything the figure draws for one sentence and one checkpoint."""
    cell: str                    # "gru" or "lstm"
    decoder: str                 # "plain" or "attention"
    rule: str | None             # the plain decoder's context rule, "book" or "encoder"; None: attention
    bridged: bool
    follows: str                 # "greedy", or "beam": a given hypothesis
    source: list[EncoderStep]
    valid_len: int
    encoder_final: list[LayerState]   # the encoder's final state, what the bridge (or the decoder) receives
    initial: list[LayerState]         # the decoder's initial state (the bridge's output, if any)
    context: torch.Tensor | None = field(repr=False)   # c (H,); None for attention: no single context
    steps: list[FigureStep] = field(default_factory=list)
    shapes: dict[str, Shape] = field(default_factory=dict)

    @property
    def stop_reason(self) -> str:
        return "eos" if self.steps and self.steps[-1].chosen_token == "<eos>" else "num_steps"

    def drift(self, step: FigureStep) -> float | None:
        """‖context − c‖ of a step: 0 while a step receives c itself; None without a c."""
        return None if self.context is None else float((step.context - self.context).norm())


def _layers(state) -> list[LayerState]:
    """An RNN state (num_layers, 1, H), or an LSTM's pair of them -> one LayerState per layer."""
    if isinstance(state, tuple):
        h, c = state
        return [LayerState(h=h[i, 0].float().cpu(), c=c[i, 0].float().cpu()) for i in range(h.shape[0])]
    return [LayerState(h=state[i, 0].float().cpu()) for i in range(state.shape[0])]


def _rnn_state(decoder: nn.Module, state):
    """The decoder RNN's own state inside the decoder's state: the attention decoder's is
    (enc_outputs, rnn_state, valid_lens), the plain decoder's under `context="encoder"` is
    (rnn_state, c), under the book's rule the RNN state itself."""
    if hasattr(decoder, "attention"):
        return state[1]
    return state[0] if getattr(decoder, "fixed_context", False) else state


def _context_in(decoder: nn.Module, state, index: int) -> tuple[torch.Tensor, str]:
    """The context the plain decoder concatenates at this step, and where it came from
    (as `Seq2SeqDecoder.hidden_states` reads it off the state it is passed)."""
    if getattr(decoder, "fixed_context", False):
        return state[1][0].float().cpu(), FROM_C
    return top_hidden(state)[0].float().cpu(), FROM_C if index == 0 else FROM_PREVIOUS


def _encoder_steps(net: EncoderDecoder, enc_X: torch.Tensor) -> list[list[LayerState]]:
    """Every layer's state after every source step. nn.GRU / nn.LSTM return all layers' states
    only for the last step, so the encoder's own RNN is run again one step at a time, carrying
    its state: the states it passes through (the last one equals the encoder's final state)."""
    X = net.encoder.embedding(enc_X).permute(1, 0, 2)       # (T, 1, D): time first
    state, states = None, []
    for t in range(X.shape[0]):
        _, state = net.encoder.rnn(X[t:t + 1], state)        # (L, 1, H), an LSTM's (h, c)
        states.append(_layers(state))
    return states


def _source_steps(source: SourceEncoding, src_vocab: Vocab, states: list[list[LayerState]]) -> list[EncoderStep]:
    steps = []
    for i, token_id in enumerate(source.padded):
        if i < len(source.tokens):
            token, kind = source.tokens[i], UNKNOWN if source.unknown[i] else WORD
        else:
            token = src_vocab.to_tokens(token_id)
            kind = PAD if token == "<pad>" else EOS
        steps.append(EncoderStep(index=i, token=token, token_id=token_id, kind=kind, layers=states[i]))
    return steps


def _shapes(net: EncoderDecoder, T: int, bridged: bool, attention: bool) -> dict[str, Shape]:
    """The figure's tensors for one sentence (N = 1), in the notes' letters (L′, H′: the decoder's
    sizes where a bridge joins other ones)."""
    enc, dec = net.encoder.rnn, net.decoder.rnn
    L, H = ("L′", "H′") if bridged else ("L", "H")
    shapes = {
        "source": Shape(("N", "T"), (1, T)),
        "encoder_state": Shape(("L", "N", "H"), (enc.num_layers, 1, enc.hidden_size)),
        "encoder_outputs": Shape(("T", "N", "H"), (T, 1, enc.hidden_size)),
        "decoder_state": Shape((L, "N", H), (dec.num_layers, 1, dec.hidden_size)),
        "context": Shape(("N", H), (1, dec.hidden_size)),
        "decoder_input": Shape(("N", "1"), (1, 1)),
        "logits": Shape(("N", "1", "V"), (1, 1, net.decoder.embedding.num_embeddings)),
    }
    if attention:
        shapes["context"] = Shape(("N", "H"), (1, enc.hidden_size))
        shapes["attention"] = Shape(("N", "1", "T"), (1, 1, T))
    return shapes


@torch.no_grad()
def figure_pass(net: EncoderDecoder, source: SourceEncoding, src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                top_k: int = 5, follow: list[int] | None = None) -> Figure:
    """The figure's data for one encoded sentence: greedy decoding (as `greedy_steps`), or the
    token ids `follow` (a beam hypothesis) fed back one at a time instead of each step's argmax."""
    net.eval()
    device = next(net.parameters()).device
    enc_X = torch.tensor([source.padded], dtype=torch.long, device=device)     # (1, T)
    enc_valid_len = torch.tensor([source.valid_len], device=device)
    # `net.init_decoder_state`, opened up: the figure draws the encoder's state and the bridge's output
    enc_outputs, enc_state = net.encoder(enc_X, enc_valid_len)
    bridged = hasattr(net, "bridge")
    dec_state = net.decoder.init_state((enc_outputs, net.bridge(enc_state) if bridged else enc_state),
                                       enc_valid_len)
    decoder = net.decoder
    attention = hasattr(decoder, "attention")
    initial = _layers(_rnn_state(decoder, dec_state))
    context = None if attention else _context_in(decoder, dec_state, 0)[0]
    figure = Figure(cell="lstm" if isinstance(net.encoder.rnn, nn.LSTM) else "gru",
                    decoder="attention" if attention else "plain",
                    rule=None if attention else ("encoder" if getattr(decoder, "fixed_context", False) else "book"),
                    bridged=bridged, follows="greedy" if follow is None else "beam",
                    source=_source_steps(source, src_vocab, _encoder_steps(net, enc_X)), valid_len=source.valid_len,
                    encoder_final=_layers(enc_state), initial=initial, context=context,
                    shapes=_shapes(net, len(source.padded), bridged, attention))
    keys = enc_outputs.permute(1, 0, 2)[0].float().cpu()                        # (T, H): attention's values
    input_id, eos = tgt_vocab["<bos>"], tgt_vocab["<eos>"]
    for index in range(num_steps if follow is None else min(num_steps, len(follow))):
        received = None if attention else _context_in(decoder, dec_state, index)
        dec_X = torch.tensor([[input_id]], dtype=torch.long, device=device)    # (1, 1)
        Y, dec_state, weights = _decoder_step(decoder, dec_X, dec_state)      # Y: (1, 1, V)
        probs = torch.softmax(Y[0, 0].float(), dim=0).cpu()
        argmax = int(Y[0, 0].argmax())
        chosen = argmax if follow is None else follow[index]
        decoded = DecodeStep(index, input_id, tgt_vocab.to_tokens(input_id), probs, chosen,
                             tgt_vocab.to_tokens(chosen), chosen != argmax, weights)
        if received is None:         # c_t = Σ_i α_t,i · h_i: the weighted sum this step attended to
            received = (torch.tensor(weights or [0.0] * len(keys)) @ keys, FROM_ATTENTION)
        figure.steps.append(FigureStep(decoded=decoded, context=received[0], context_from=received[1],
                                       layers=_layers(_rnn_state(decoder, dec_state)),
                                       top_k=decoded.top_k(tgt_vocab, top_k)))
        if chosen == eos:
            break
        input_id = chosen
    return figure


def figure_of(net: EncoderDecoder, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
              top_k: int = 5, tokenizer: str = "space", follow: list[int] | None = None) -> Figure:
    """`figure_pass` for a typed sentence, preprocessed as Decode preprocesses it (`book=False`)."""
    return figure_pass(net, encode_source(sentence, src_vocab, num_steps, book=False, tokenizer=tokenizer),
                       src_vocab, tgt_vocab, num_steps, top_k, follow)

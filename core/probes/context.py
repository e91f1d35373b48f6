"""What the context vector holds, and how the decoder's state moves while it decodes (notes 7.2-7.3).

`context_vectors` encodes sentences and keeps each one's context c (the decoder's starting
context, (N, H)); `project_2d` is a deterministic PCA of them and `nearest` lists neighbours by
cosine similarity. `decoder_trajectory` decodes one sentence greedily and records, per step,
the decoder's top-layer hidden state and the context it was fed, under the book's rule
(`state[-1]` of the state passed in, which becomes the previous *decoder* state at inference)
and under `context="encoder"` (the encoder's c at every step), with each step's distance to c.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..data import Vocab
from ..decode import encode_source, translate
from ..encoder_decoder import EncoderDecoder, top_hidden
from ..i18n import Text
from ..model import Seq2SeqDecoder

MAX_SENTENCES = 2000         # the held-out pairs of a checkpoint are a few hundred; a bound anyway


def _device(net: EncoderDecoder) -> torch.device:
    return next(net.parameters()).device


def _encode_batch(net: EncoderDecoder, sentences: list[str], src_vocab: Vocab, num_steps: int):
    sources = [encode_source(s, src_vocab, num_steps) for s in sentences]
    device = _device(net)
    X = torch.tensor([s.padded for s in sources], dtype=torch.long, device=device)      # (N, T)
    valid = torch.tensor([s.valid_len for s in sources], device=device)
    return sources, X, valid


def starting_context(net: EncoderDecoder, state) -> torch.Tensor:
    """The context c the decoder starts from, (N, H): the top layer of the (bridged) encoder
    state; for an attention decoder, whose context changes every step, the encoder's final
    top-layer state it starts its queries from."""
    if hasattr(net.decoder, "attention"):
        return top_hidden(state[1])
    if getattr(net.decoder, "fixed_context", False):
        return state[1]
    return top_hidden(state)


@torch.no_grad()
def context_vectors(net: EncoderDecoder, sentences: list[str], src_vocab: Vocab, num_steps: int) -> torch.Tensor:
    """c for each sentence, (N, H), on the CPU."""
    if not sentences:
        raise ValueError(Text("no sentences to encode"))
    net.eval()
    _, X, valid = _encode_batch(net, sentences[:MAX_SENTENCES], src_vocab, num_steps)
    return starting_context(net, net.init_decoder_state(X, valid)).float().cpu()


@dataclass
class Projection:
    points: torch.Tensor         # (N, 2)
    explained: tuple[float, float]   # share of the variance along each axis
    mean: torch.Tensor           # (H,)
    axes: torch.Tensor           # (2, H)

    def place(self, vectors: torch.Tensor) -> torch.Tensor:
        """Other vectors (M, H) on the same two axes."""
        return (vectors - self.mean) @ self.axes.T


def project_2d(vectors: torch.Tensor) -> Projection:
    """PCA to 2-D by an SVD of the centred vectors. Deterministic: each axis's sign is fixed so
    that its largest-magnitude loading is positive (an SVD may return either sign)."""
    if vectors.dim() != 2 or vectors.shape[0] < 2:
        raise ValueError(Text("need at least 2 vectors of shape (N, H) to project"))
    X = vectors.double()
    mean = X.mean(dim=0)
    _, S, Vh = torch.linalg.svd(X - mean, full_matrices=False)
    axes = Vh[:2]
    if axes.shape[0] < 2:                                   # H == 1: a second axis of zeros
        axes = torch.cat([axes, torch.zeros_like(axes)])
    signs = torch.sign(axes.gather(1, axes.abs().argmax(dim=1, keepdim=True)))
    axes = axes * torch.where(signs == 0, torch.ones_like(signs), signs)
    variance = S ** 2
    total = float(variance.sum()) or 1.0
    first, second = (float(v) / total for v in (list(variance[:2]) + [0.0, 0.0])[:2])
    return Projection(((X - mean) @ axes.T).float(), (first, second), mean.float(), axes.float())


def nearest(vectors: torch.Tensor, query: torch.Tensor, count: int = 5,
            exclude: int | None = None) -> list[tuple[int, float]]:
    """(index, cosine similarity) of the `count` rows of `vectors` closest to `query`."""
    sims = torch.nn.functional.cosine_similarity(vectors, query.reshape(1, -1), dim=1)
    if exclude is not None:
        sims[exclude] = -2.0
    values, index = sims.topk(min(count, len(sims) - (exclude is not None)))
    return [(int(i), float(v)) for v, i in zip(values, index)]


@dataclass
class ContextMap:
    """Sentences, their context vectors, a 2-D PCA of them and each one's greedy translation."""
    sentences: list[str]
    vectors: torch.Tensor        # (N, H)
    projection: Projection
    translations: list[str]


def build_context_map(net: EncoderDecoder, sentences: list[str], src_vocab: Vocab, tgt_vocab: Vocab,
                      num_steps: int) -> ContextMap:
    sentences = sentences[:MAX_SENTENCES]
    vectors = context_vectors(net, sentences, src_vocab, num_steps)
    return ContextMap(sentences, vectors, project_2d(vectors),
                      translate(net, sentences, src_vocab, tgt_vocab, num_steps))


# -- the decoder while it decodes ---------------------------------------------------------------
@dataclass
class Trajectory:
    rule: str                    # "book" or "encoder"
    tokens: list[str]            # the greedy output, <eos> included when reached
    hidden: torch.Tensor         # (steps, H): the decoder's top-layer hidden state after each step
    contexts: torch.Tensor       # (steps, H): the context fed at each step
    encoder_context: torch.Tensor   # (H,): c

    @property
    def drift(self) -> list[float]:
        """Euclidean distance of each step's context from the encoder's c."""
        return [float(d) for d in (self.contexts - self.encoder_context).norm(dim=1)]

    @property
    def hidden_norms(self) -> list[float]:
        return [float(n) for n in self.hidden.norm(dim=1)]


def _with_rule(net: EncoderDecoder, rule: str) -> EncoderDecoder:
    """The model with this context rule, without touching the one other sessions share."""
    if getattr(net.decoder, "fixed_context", None) == (rule == "encoder"):
        return net
    other = copy.deepcopy(net)
    plain = other.decoder
    if not isinstance(plain, Seq2SeqDecoder):      # decoder_trajectory turns attention decoders away
        raise TypeError("only the plain decoder (core.model.Seq2SeqDecoder) has a context rule")
    plain.fixed_context = rule == "encoder"
    return other


@torch.no_grad()
def decoder_trajectory(net: EncoderDecoder, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab,
                       num_steps: int, rule: str) -> Trajectory:
    """Greedy decoding of `sentence` with the plain decoder under `rule`, every step recorded."""
    if hasattr(net.decoder, "attention"):
        raise ValueError(Text("an attention decoder has no single context vector: it attends afresh each step"))
    if rule not in ("book", "encoder"):
        raise ValueError(Text("rule must be `book` or `encoder`, got {rule!r}", rule=rule))
    model = _with_rule(net, rule)
    model.eval()
    _, X, valid = _encode_batch(model, [sentence], src_vocab, num_steps)
    state = model.init_decoder_state(X, valid)
    c = starting_context(model, state)[0]
    dec_X = torch.tensor([[tgt_vocab["<bos>"]]], device=X.device)
    tokens, hidden, contexts = [], [], []
    for _ in range(num_steps):
        contexts.append(starting_context(model, state)[0])    # what this step concatenates
        Y, state = model.decoder(dec_X, state)
        hidden.append(top_hidden(state[0] if model.decoder.fixed_context else state)[0])
        dec_X = Y.argmax(dim=2)
        tokens.append(tgt_vocab.to_tokens(int(dec_X)))
        if tokens[-1] == "<eos>":
            break
    return Trajectory(rule, tokens, torch.stack(hidden).float().cpu(), torch.stack(contexts).float().cpu(),
                      c.float().cpu())

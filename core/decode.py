"""Greedy decoding (notes 7.7): one step at a time with every step's distribution, and batched.

`greedy_steps` is the engine: a generator of `DecodeStep`s. `predict_seq2seq` (the book's
name and signature) and the Decode view are thin layers over it; `translate` decodes many
sentences at once and gives the same translations. Beam search lives in `core/beam.py`.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from .data import Vocab, preprocess_nmt, split_words, truncate_pad

MAX_INPUT_CHARS = 10_000     # longer text is cut before tokenizing: only num_steps tokens are used


@dataclass
class SourceEncoding:
    """A source sentence on its way into the encoder."""
    tokens: list[str]            # after preprocessing/splitting, before <eos>
    ids: list[int]               # tokens + <eos>, before truncation/padding
    padded: list[int]            # truncated or padded to num_steps
    valid_len: int               # non-padding positions the encoder sees
    unknown: list[bool]          # per token: mapped to <unk>
    truncated: bool


def source_tokens(sentence: str, book: bool = True, tokenizer: str = "space") -> list[str]:
    """`book=True`: the book's `sentence.lower().split(' ')`; else the full preprocessing
    (`preprocess_nmt`, then whitespace split), which is what the Decode view shows.

    `tokenizer="char"` (a model trained on `DataConfig(tokenizer="char")`) always preprocesses
    and splits as its training data was: the book has no such split for `book` to mean. It
    gives a space-joined sentence of its own tokens back unchanged, so stored pairs decode
    the same either way."""
    if tokenizer == "space":
        return sentence.lower().split(" ") if book else preprocess_nmt(sentence).split()
    return split_words(preprocess_nmt(sentence), tokenizer)


def encode_source(sentence: str, src_vocab: Vocab, num_steps: int, book: bool = True,
                  tokenizer: str = "space") -> SourceEncoding:
    """A sentence -> its tokens (see `source_tokens`), ids + `<eos>`, padded to `num_steps`."""
    tokens = source_tokens(sentence[:MAX_INPUT_CHARS], book, tokenizer)
    ids = src_vocab[tokens] + [src_vocab["<eos>"]]
    padded = truncate_pad(ids, num_steps, src_vocab["<pad>"])
    unknown = [i == src_vocab.unk for i in ids[:-1]]
    return SourceEncoding(tokens, ids, padded, min(len(ids), num_steps), unknown, len(ids) > num_steps)


@dataclass
class DecodeStep:
    """One greedy step: what went in, the whole next-token distribution, what came out."""
    index: int
    input_id: int
    input_token: str
    probs: torch.Tensor = field(repr=False)   # (vocab,) on the CPU
    chosen_id: int
    chosen_token: str
    forced: bool                 # chosen by the user ("what if"), not by argmax
    attention: list[float] | None = None   # attention decoders: weights over all num_steps source
                                           # positions (0 past valid_len); None for the plain decoder

    @property
    def entropy(self) -> float:
        """In nats; 0 when the model is certain."""
        p = self.probs[self.probs > 0]
        return float(-(p * p.log()).sum())

    def top_k(self, vocab: Vocab, k: int = 5) -> list[tuple[str, float]]:
        values, ids = self.probs.topk(min(k, self.probs.numel()))
        return [(vocab.to_tokens(int(i)), float(v)) for v, i in zip(values, ids)]


@dataclass
class GreedyResult:
    """`translation` joins the tokens with spaces, whatever the tokenizer: "我 喜 欢 茶 。"
    for a `char` model, so the book's BLEU (which splits on spaces) reads its tokens back."""
    source: SourceEncoding
    steps: list[DecodeStep]
    stop_reason: str             # "eos" or "num_steps"

    @property
    def tokens(self) -> list[str]:
        return [s.chosen_token for s in self.steps if s.chosen_token != "<eos>"]

    @property
    def translation(self) -> str:
        return " ".join(self.tokens)

    @property
    def log_prob(self) -> float:
        """log P(output | source): the sum of every step's log p(chosen), `<eos>` included."""
        probs = [float(s.probs[s.chosen_id]) for s in self.steps]
        return sum(math.log(p) if p > 0 else -math.inf for p in probs)


def _device_of(net: torch.nn.Module) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def greedy_steps(net, source: SourceEncoding, tgt_vocab: Vocab, num_steps: int,
                 forced: dict[int, int] | None = None, dropout: bool = False) -> Iterator[DecodeStep]:
    """Decode one token at a time from `<bos>` until `<eos>` or `num_steps` tokens.

    `forced` maps a step index to a token id chosen instead of the argmax at that step;
    decoding continues greedily from there. `dropout=True` decodes in train mode, dropout on
    (`decode_in_train_mode`, on a copy: the mode belongs to the model, which others share).
    """
    net.train(dropout)
    device = _device_of(net)
    enc_X = torch.tensor([source.padded], dtype=torch.long, device=device)     # (1, num_steps)
    enc_valid_len = torch.tensor([source.valid_len], device=device)
    dec_state = net.init_decoder_state(enc_X, enc_valid_len)
    input_id = tgt_vocab["<bos>"]
    for index in range(num_steps):
        dec_X = torch.tensor([[input_id]], dtype=torch.long, device=device)  # (1, 1)
        Y, dec_state, attention = _decoder_step(net.decoder, dec_X, dec_state)   # (1, 1, vocab)
        probs = torch.softmax(Y[0, 0].float(), dim=0).cpu()
        forced_id = forced.get(index) if forced is not None else None
        is_forced = forced_id is not None
        chosen = forced_id if forced_id is not None else int(Y[0, 0].argmax())
        yield DecodeStep(index, input_id, tgt_vocab.to_tokens(input_id), probs,
                         chosen, tgt_vocab.to_tokens(chosen), is_forced, attention)
        if chosen == tgt_vocab["<eos>"]:
            return
        input_id = chosen


def _decoder_step(decoder, dec_X: torch.Tensor, dec_state) -> tuple[torch.Tensor, object, list[float] | None]:
    """One decoder call on one token: (Y, next state, this step's attention weights if it attends).
    The weights come back with the call, never read off the model: other sessions may be
    running passes on the same model at the same time."""
    if not hasattr(decoder, "forward_with_attention"):
        Y, dec_state = decoder(dec_X, dec_state)
        return Y, dec_state, None
    Y, dec_state, weights = decoder.forward_with_attention(dec_X, dec_state)
    return Y, dec_state, weights[-1][0, 0].float().cpu().tolist()


def greedy_decode(net, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                  book: bool = True, forced: dict[int, int] | None = None,
                  tokenizer: str = "space", dropout: bool = False) -> GreedyResult:
    """Every step of the greedy translation of one sentence, and why it stopped.
    Pass the model's `data_config.tokenizer` as `tokenizer`."""
    source = encode_source(sentence, src_vocab, num_steps, book, tokenizer)
    steps = list(greedy_steps(net, source, tgt_vocab, num_steps, forced, dropout))
    stop = "eos" if steps and steps[-1].chosen_token == "<eos>" else "num_steps"
    return GreedyResult(source, steps, stop)


def decode_in_train_mode(net, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                         runs: int = 5, seed: int = 0, tokenizer: str = "space") -> list[GreedyResult]:
    """The greedy decoding of `sentence`, `runs` times, in train mode: dropout on, new masks every
    run, so the probabilities differ from run to run and, where the model is unsure, the words
    too. That is why `predict_seq2seq` calls `net.eval()`. Decoded by a copy of `net`, which stays
    as it is for everyone else."""
    twin = copy.deepcopy(net)
    device = _device_of(twin)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)                  # repeatable for a seed; the process's random state untouched
        return [greedy_decode(twin, sentence, src_vocab, tgt_vocab, num_steps, book=False, tokenizer=tokenizer,
                              dropout=True) for _run in range(runs)]


def predict_seq2seq(net, src_sentence: str, src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
                    device=None, save_attention_weights: bool = False) -> tuple[str, list]:
    """The book's signature and result: (translation, attention weights per step).

    As in the book, each step's entry is what the book reads from the decoder's
    `attention_weights` after that step: a list holding one (1, 1, num_steps) tensor for an
    attention decoder (None for the plain one); here they come with each step's call.
    `device` is accepted for compatibility; the model's own device is used.
    """
    result = greedy_decode(net, src_sentence, src_vocab, tgt_vocab, num_steps, book=True)
    if not save_attention_weights:
        return result.translation, []
    return result.translation, [None if s.attention is None else [torch.tensor(s.attention).reshape(1, 1, -1)]
                                for s in result.steps]


@torch.no_grad()
def translate(net, sentences: list[str], src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
              batch_size: int = 512, book: bool = True, tokenizer: str = "space") -> list[str]:
    """Greedy translations of many sentences, a batch at a time; equal to one-by-one decoding."""
    net.eval()
    out: list[str] = []
    for start in range(0, len(sentences), batch_size):
        chunk = [encode_source(s, src_vocab, num_steps, book, tokenizer)
                 for s in sentences[start:start + batch_size]]
        out.extend(_translate_batch(net, chunk, tgt_vocab, num_steps))
    return out


def _translate_batch(net, sources: list[SourceEncoding], tgt_vocab: Vocab, num_steps: int) -> list[str]:
    device = _device_of(net)
    enc_X = torch.tensor([s.padded for s in sources], dtype=torch.long, device=device)
    enc_valid_len = torch.tensor([s.valid_len for s in sources], device=device)
    dec_state = net.init_decoder_state(enc_X, enc_valid_len)
    eos = tgt_vocab["<eos>"]
    dec_X = torch.full((len(sources), 1), tgt_vocab["<bos>"], dtype=torch.long, device=device)
    finished = torch.zeros(len(sources), dtype=torch.bool, device=device)
    chosen = []
    for _ in range(num_steps):
        Y, dec_state = net.decoder(dec_X, dec_state)
        dec_X = Y.argmax(dim=2)                      # (batch, 1)
        chosen.append(dec_X)
        finished |= dec_X[:, 0] == eos
        if bool(finished.all()):                     # one sync per step, not per token
            break
    ids = torch.cat(chosen, dim=1).tolist()          # (batch, steps)
    return [" ".join(tgt_vocab.to_tokens(row[:row.index(eos)] if eos in row else row)) for row in ids]


def trajectory(steps: list[DecodeStep], vocab: Vocab, top_k: int = 5) -> tuple[list[str], list[list[float]]]:
    """Rows = steps, columns = the union of each step's top-k tokens: for a heatmap."""
    columns: list[int] = []
    for step in steps:
        for i in step.probs.topk(min(top_k, step.probs.numel())).indices.tolist():
            if i not in columns:
                columns.append(i)
    matrix = [[float(step.probs[i]) for i in columns] for step in steps]
    return vocab.to_tokens(columns), matrix


def entropy_bits(nats: float) -> float:
    return nats / math.log(2)

"""Stage 1 of a training step (notes 7.5): the batch, and teacher forcing's decoder input.

A batch is `(X, X_valid_len, Y, Y_valid_len)` as the book's data iterator yields it; the decoder
reads `<bos>` + `Y[:, :-1]` and is asked for `Y`: at step t it sees the true token t-1 and must
predict token t. The notes' table lays that out for one sentence, padding marked.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import DataConfig
from ..data import Vocab, build_array_nmt
from ..i18n import Text, message_of
from ..sources import load_split

Pair = tuple[list[str], list[str]]     # (source tokens, target tokens)


@dataclass
class StepBatch:
    """One batch of training pairs, as the trainer gets it, plus teacher forcing's input."""
    X: torch.Tensor               # (batch, num_steps) source ids, <eos> then <pad>
    X_valid_len: torch.Tensor     # (batch,)
    Y: torch.Tensor               # (batch, num_steps) target ids: what the decoder must output
    Y_valid_len: torch.Tensor     # (batch,) target tokens that count, <eos> included
    dec_input: torch.Tensor       # (batch, num_steps) <bos> + Y[:, :-1]: what the decoder reads
    pairs: list[Pair]             # the sentences behind the rows

    @property
    def batch_size(self) -> int:
        return int(self.X.shape[0])

    @property
    def num_steps(self) -> int:
        return int(self.Y.shape[1])

    @property
    def num_tokens(self) -> int:
        """Y_valid_len.sum(): the tokens the loss scores (the book's `num_tokens`)."""
        return int(self.Y_valid_len.sum())

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.X, self.X_valid_len, self.Y, self.Y_valid_len

    def to(self, device: torch.device) -> StepBatch:
        return StepBatch(X=self.X.to(device), X_valid_len=self.X_valid_len.to(device), Y=self.Y.to(device),
                         Y_valid_len=self.Y_valid_len.to(device), dec_input=self.dec_input.to(device),
                         pairs=self.pairs)


@dataclass
class PairSource:
    """The pairs a step draws its batch from: the run's own training pairs, or (when its data
    cannot be read here, e.g. a file only its trainer had) the held-out pairs it kept."""
    pairs: list[Pair]
    training: bool                # False: the held-out pairs stand in
    why_not: str = ""             # why the training pairs could not be read


def training_pairs(data_config: DataConfig, test_pairs: list[tuple[str, str]]) -> PairSource:
    """The checkpoint's own training pairs (its `DataConfig` read again), else its held-out pairs."""
    try:
        train, _test = load_split(data_config)
    except (ValueError, OSError) as err:      # a file source that is not on this machine
        return PairSource(pairs=[(s.split(), t.split()) for s, t in test_pairs], training=False,
                          why_not=message_of(err))
    return PairSource(pairs=list(zip(train.source, train.target)), training=True)


def teacher_forcing_input(Y: torch.Tensor, bos_id: int) -> torch.Tensor:
    """`<bos>` + Y[:, :-1], as the book builds it: a column of `<bos>` glued before Y's
    first num_steps - 1 tokens, so position t holds the true token t - 1."""
    bos = torch.tensor([bos_id] * Y.shape[0], device=Y.device).reshape(-1, 1)   # (batch, 1)
    return torch.cat([bos, Y[:, :-1]], 1)


def draw_batch(pairs: list[Pair], src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int, batch_size: int,
               seed: int) -> StepBatch:
    """`batch_size` pairs in a seeded shuffle (the first batch of an epoch). The same seed with a
    larger size gives the same pairs first, so a batch twice as large contains this one."""
    if not pairs:
        raise ValueError(Text("there are no pairs to draw a batch from"))
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed))[:batch_size].tolist()
    chosen = [pairs[i] for i in order]
    X, X_valid_len = build_array_nmt([s for s, _t in chosen], src_vocab, num_steps)
    Y, Y_valid_len = build_array_nmt([t for _s, t in chosen], tgt_vocab, num_steps)
    return StepBatch(X=X, X_valid_len=X_valid_len, Y=Y, Y_valid_len=Y_valid_len,
                     dec_input=teacher_forcing_input(Y, tgt_vocab["<bos>"]), pairs=chosen)


@dataclass
class ForcingRow:
    """One row of the notes' table: step | decoder input | expected output | meaning."""
    step: int                     # 1-based, as the notes count
    input_id: int
    input_token: str
    expected_id: int
    expected_token: str
    padding: bool                 # past Y_valid_len: the mask zeroes this position's loss
    meaning: Text


def forcing_table(batch: StepBatch, tgt_vocab: Vocab, row: int) -> list[ForcingRow]:
    """The notes' teacher-forcing table for sentence `row` of the batch."""
    inputs, expected = batch.dec_input[row].tolist(), batch.Y[row].tolist()
    valid = int(batch.Y_valid_len[row])
    table = []
    for t, (i, y) in enumerate(zip(inputs, expected)):
        seen, wanted = tgt_vocab.to_tokens(i), tgt_vocab.to_tokens(y)
        table.append(ForcingRow(step=t + 1, input_id=i, input_token=seen, expected_id=y, expected_token=wanted,
                                padding=t >= valid, meaning=_meaning(t, seen, wanted, t >= valid)))
    return table


def _meaning(t: int, seen: str, wanted: str, padding: bool) -> Text:
    if padding:
        return Text("padding: the mask zeroes its loss, nothing is learned here")
    if t == 0:
        return Text("sees the start signal {token}, predicts the first word {word}", token=seen, word=wanted)
    if wanted == "<eos>":
        return Text("sees {token}, predicts the end {word}", token=seen, word=wanted)
    return Text("sees {token}, predicts {word}", token=seen, word=wanted)

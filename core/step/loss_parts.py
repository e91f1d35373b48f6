"""Stages 2 and 3 of a training step (notes 7.4-7.5): the masked loss taken apart, and the
number the Train curve prints.

`MaskedSoftmaxCELoss` gives one loss per sequence: the cross-entropy at every position, zeroed
past `Y_valid_len`, then a mean over all `num_steps` positions (the padding counts as zeros).
The loop backpropagates `l.sum()` and prints Σ `l.sum()` ÷ Σ `num_tokens`. Because each `l`
already divided by `num_steps`, that printed number is the mean per-token cross-entropy
divided by `num_steps`: `PrintedLoss` checks it on the batch, from two separate computations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..i18n import Text
from ..loss import loss_breakdown

BOOK_PRINTED_LOSS = 0.018    # what the book's 300-epoch fra-eng run prints (0.018-0.019 rerun: docs/ENGINE.md)
BOOK_NUM_STEPS = 10          # the book's num_steps for that run


@dataclass
class SentenceLoss:
    """One sentence's loss, position by position."""
    per_position: list[float]     # cross-entropy at each of num_steps positions
    mask: list[int]               # 1 inside Y_valid_len, 0 past it
    masked: list[float]           # per_position × mask
    loss: float                   # l[row] = Σ masked / num_steps: the book's mean, padding as zeros


@dataclass
class BatchLoss:
    """Stage 2: Y_hat's shape, the loss at every position of every sentence, the per-sequence
    losses and their sum."""
    y_hat_shape: tuple[int, ...]  # (batch, num_steps, vocab)
    per_position: list[list[float]]   # (batch, num_steps) cross-entropy at each position
    mask: list[list[int]]         # (batch, num_steps) 1 inside Y_valid_len, 0 past it
    l: list[float]                # (batch,) MaskedSoftmaxCELoss, what the step backpropagated
    l_sum: float                  # l.sum(): the scalar backward() starts from

    def sentence(self, row: int) -> SentenceLoss:
        per_position, mask = self.per_position[row], self.mask[row]
        masked = [x * m for x, m in zip(per_position, mask)]
        return SentenceLoss(per_position=per_position, mask=mask, masked=masked, loss=sum(masked) / len(masked))


def batch_loss(Y_hat: torch.Tensor, Y: torch.Tensor, Y_valid_len: torch.Tensor, l: torch.Tensor) -> BatchLoss:
    """The loss of the step (`l`, computed by the step itself) beside its parts."""
    parts = loss_breakdown(Y_hat.detach(), Y, Y_valid_len)
    return BatchLoss(y_hat_shape=tuple(Y_hat.shape), per_position=parts.per_position.tolist(),
                     mask=parts.weights.int().tolist(), l=l.detach().tolist(), l_sum=float(l.detach().sum()))


@dataclass
class PrintedLoss:
    """Stage 3: the step's point on the Train curve, and what it means per token."""
    l_sum: float                  # Σ of the per-sequence losses
    num_tokens: int               # Y_valid_len.sum()
    num_steps: int
    per_token: float              # mean cross-entropy over the valid tokens, computed on its own

    @property
    def printed(self) -> float:
        """l.sum() / num_tokens: what the book prints and the Train view plots."""
        return self.l_sum / self.num_tokens

    @property
    def identity_gap(self) -> float:
        """|printed - per_token / num_steps|: float rounding, nothing more."""
        return abs(self.printed - self.per_token / self.num_steps)

    @property
    def perplexity(self) -> float:
        return math.exp(self.per_token)

    def sentence(self) -> Text:
        """The identity said with this batch's numbers, and the book's 0.018 read the same way."""
        book_token = BOOK_PRINTED_LOSS * BOOK_NUM_STEPS
        return Text(
            "This step's point on the Train curve is l.sum() / num_tokens = {l_sum:.3f} / {num_tokens} = "
            "{printed:.4f}. It equals the mean per-token cross-entropy, {per_token:.4f}, divided by "
            "num_steps = {num_steps} ({per_token:.4f} / {num_steps} = {ratio:.4f}), because every sequence's "
            "loss was already a mean over its num_steps positions. So this batch costs {per_token:.4f} nats "
            "per token, a perplexity of exp({per_token:.4f}) = {perplexity:.2f}; read the same way, the book's "
            "final {book:g} (num_steps = {book_steps}) is {book_token:.2f} nats per token, a perplexity of "
            "{book_perplexity:.2f}.",
            l_sum=self.l_sum, num_tokens=self.num_tokens, printed=self.printed, per_token=self.per_token,
            num_steps=self.num_steps, ratio=self.per_token / self.num_steps, perplexity=self.perplexity,
            book=BOOK_PRINTED_LOSS, book_steps=BOOK_NUM_STEPS, book_token=book_token,
            book_perplexity=math.exp(book_token))


def printed_loss(Y_hat: torch.Tensor, Y: torch.Tensor, Y_valid_len: torch.Tensor, l: torch.Tensor) -> PrintedLoss:
    """The printed number from the step's `l`, and the per-token cross-entropy from the valid
    tokens alone (selected by a boolean index, not by the loss's mask): two routes to compare."""
    with torch.no_grad():
        valid = torch.arange(Y.shape[1], device=Y.device)[None, :] < Y_valid_len[:, None]   # (batch, num_steps)
        per_token = nn.functional.cross_entropy(Y_hat[valid], Y[valid])                   # mean over valid tokens
    return PrintedLoss(l_sum=float(l.detach().sum()), num_tokens=int(Y_valid_len.sum()), num_steps=int(Y.shape[1]),
                       per_token=float(per_token))

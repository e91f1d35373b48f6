"""The masked softmax cross-entropy of the chapter (notes 7.4) and its unmasked variant."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class MaskParts:
    """The broadcast behind `sequence_mask` (notes 7.4.1), every intermediate kept."""
    positions: torch.Tensor        # (1, maxlen): [0, 1, ..., maxlen-1]
    valid_len: torch.Tensor        # (N, 1)
    positions_broadcast: torch.Tensor  # (N, maxlen)
    valid_broadcast: torch.Tensor      # (N, maxlen)
    mask: torch.Tensor             # (N, maxlen) bool: positions < valid_len


def mask_parts(maxlen: int, valid_len: torch.Tensor) -> MaskParts:
    """The position row vector and the valid-length column vector, broadcast and compared."""
    positions = torch.arange(maxlen, dtype=torch.float32, device=valid_len.device)[None, :]
    column = valid_len[:, None]
    mask = positions < column
    positions_broadcast, valid_broadcast = torch.broadcast_tensors(positions, column)
    return MaskParts(positions, column, positions_broadcast, valid_broadcast, mask)


def sequence_mask(X: torch.Tensor, valid_len: torch.Tensor, value: float = 0) -> torch.Tensor:
    """Entries of X at positions >= valid_len (along dim 1) replaced by `value`.

    Same result as the book's; unlike the book's, X itself is left unchanged.
    """
    mask = mask_parts(X.size(1), valid_len).mask
    mask = mask.reshape(*mask.shape, *([1] * (X.dim() - 2)))  # broadcast over trailing dims
    return X.masked_fill(~mask, value)


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """Per-sequence loss: cross-entropy at each position, zeroed past valid_len, mean over steps.

    pred: (batch, num_steps, vocab); label: (batch, num_steps); valid_len: (batch,).
    Returns (batch,), like the book (the mean divides by num_steps, padding included).
    """
    masked = True      # the trainer may score only the valid positions (`token_loss` on them)

    # The book's signature: valid_len is a third, required argument, which CrossEntropyLoss's
    # forward(input, target) does not take; callers use this class as the book does.
    def forward(self, pred: torch.Tensor, label: torch.Tensor,  # type: ignore[override]
                valid_len: torch.Tensor) -> torch.Tensor:
        weights = sequence_mask(torch.ones_like(label), valid_len)
        self.reduction = "none"
        unweighted_loss = super().forward(pred.permute(0, 2, 1), label)
        return (unweighted_loss * weights).mean(dim=1)

    @staticmethod
    def token_loss(logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of each token: logits (tokens, vocab), label (tokens,) -> (tokens,)."""
        return nn.functional.cross_entropy(logits, label, reduction="none")


class UnmaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """The exercise's variant (notes 7.9.2): valid_len is ignored, padding is scored too."""
    masked = False

    def forward(self, pred: torch.Tensor, label: torch.Tensor,
                valid_len: torch.Tensor | None = None) -> torch.Tensor:
        self.reduction = "none"
        return super().forward(pred.permute(0, 2, 1), label).mean(dim=1)


def _nll(log_probs: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    return -log_probs.gather(-1, label.unsqueeze(-1)).squeeze(-1)


class MaskedNLLLoss(nn.Module):
    """MaskedSoftmaxCELoss for an output layer that returns log-probabilities (the adaptive
    softmax of notes 7.9.6): -log p(label), zero past valid_len, mean over steps."""
    masked = True

    def forward(self, log_probs: torch.Tensor, label: torch.Tensor, valid_len: torch.Tensor) -> torch.Tensor:
        return sequence_mask(_nll(log_probs, label), valid_len).mean(dim=1)   # (batch,)

    @staticmethod
    def token_loss(log_probs: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return _nll(log_probs, label)


class UnmaskedNLLLoss(nn.Module):
    """UnmaskedSoftmaxCELoss for log-probabilities: the padding is scored too."""
    masked = False

    def forward(self, log_probs: torch.Tensor, label: torch.Tensor,
                valid_len: torch.Tensor | None = None) -> torch.Tensor:
        return _nll(log_probs, label).mean(dim=1)


def make_loss(masked: bool = True, log_probs: bool = False) -> nn.Module:
    """The chapter's loss for logits, or its NLL twin for an output layer giving log-probabilities."""
    if log_probs:
        return MaskedNLLLoss() if masked else UnmaskedNLLLoss()
    return MaskedSoftmaxCELoss() if masked else UnmaskedSoftmaxCELoss()


@dataclass
class LossBreakdown:
    """Every number of the masked loss on one batch (notes 7.4.2)."""
    per_position: torch.Tensor     # (N, T) cross-entropy at each position
    weights: torch.Tensor          # (N, T) 1 inside valid_len, 0 past it
    masked_per_seq: torch.Tensor   # (N,) = MaskedSoftmaxCELoss
    plain_per_seq: torch.Tensor    # (N,) = UnmaskedSoftmaxCELoss
    masked_per_token: float        # sum of masked losses / number of valid tokens


def loss_breakdown(pred: torch.Tensor, label: torch.Tensor, valid_len: torch.Tensor) -> LossBreakdown:
    """The masked loss taken apart: per-position terms, mask weights, masked vs plain means."""
    with torch.no_grad():
        per_position = nn.functional.cross_entropy(pred.permute(0, 2, 1), label, reduction="none")
        weights = sequence_mask(torch.ones_like(per_position), valid_len)
        masked = (per_position * weights).mean(dim=1)
        tokens = max(float(weights.sum()), 1.0)
        return LossBreakdown(per_position, weights, masked, per_position.mean(dim=1),
                             float(masked.sum()) * per_position.shape[1] / tokens)

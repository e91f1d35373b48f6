"""The masked softmax cross-entropy of the chapter (notes 7.4) and its unmasked variant.

Each takes `label_smoothing` ε (`TrainConfig.label_smoothing`; 0 = the book): the target of a
position is 1 − ε on its token and ε spread evenly over the vocabulary, as in torch's
`cross_entropy(..., label_smoothing=ε)`. The mask is applied after, exactly as the book's.
"""
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


def token_cross_entropy(logits: torch.Tensor, label: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of each token: logits (tokens, vocab), label (tokens,) -> (tokens,)."""
    return nn.functional.cross_entropy(logits, label, reduction="none", label_smoothing=label_smoothing)


class MaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """Per-sequence loss: cross-entropy at each position, zeroed past valid_len, mean over steps.

    pred: (batch, num_steps, vocab); label: (batch, num_steps); valid_len: (batch,).
    Returns (batch,), like the book (the mean divides by num_steps, padding included).
    `MaskedSoftmaxCELoss(label_smoothing=ε)` smooths each position's target (CrossEntropyLoss's own
    argument) before the mask.
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

    def token_loss(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of each token, smoothed as this loss is: (tokens, vocab), (tokens,) -> (tokens,)."""
        return token_cross_entropy(logits, label, self.label_smoothing)


class UnmaskedSoftmaxCELoss(nn.CrossEntropyLoss):
    """The exercise's variant (notes 7.9.2): valid_len is ignored, padding is scored too."""
    masked = False

    def forward(self, pred: torch.Tensor, label: torch.Tensor,
                valid_len: torch.Tensor | None = None) -> torch.Tensor:
        self.reduction = "none"
        return super().forward(pred.permute(0, 2, 1), label).mean(dim=1)


def _nll(log_probs: torch.Tensor, label: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """-log p(label), or with ε the smoothed target's: (1 − ε)·(−log p(label)) + ε·mean(−log p)."""
    nll = -log_probs.gather(-1, label.unsqueeze(-1)).squeeze(-1)
    if not label_smoothing:
        return nll               # ε = 0: exactly the unsmoothed loss
    return (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(dim=-1)


class MaskedNLLLoss(nn.Module):
    """MaskedSoftmaxCELoss for an output layer that returns log-probabilities (the adaptive
    softmax of notes 7.9.6): -log p(label), zero past valid_len, mean over steps."""
    masked = True

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, log_probs: torch.Tensor, label: torch.Tensor, valid_len: torch.Tensor) -> torch.Tensor:
        return sequence_mask(_nll(log_probs, label, self.label_smoothing), valid_len).mean(dim=1)   # (batch,)

    def token_loss(self, log_probs: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return _nll(log_probs, label, self.label_smoothing)


class UnmaskedNLLLoss(nn.Module):
    """UnmaskedSoftmaxCELoss for log-probabilities: the padding is scored too."""
    masked = False

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, log_probs: torch.Tensor, label: torch.Tensor,
                valid_len: torch.Tensor | None = None) -> torch.Tensor:
        return _nll(log_probs, label, self.label_smoothing).mean(dim=1)


def make_loss(masked: bool = True, log_probs: bool = False, label_smoothing: float = 0.0) -> nn.Module:
    """The chapter's loss for logits, or its NLL twin for an output layer giving log-probabilities."""
    if log_probs:
        return MaskedNLLLoss(label_smoothing) if masked else UnmaskedNLLLoss(label_smoothing)
    loss = MaskedSoftmaxCELoss if masked else UnmaskedSoftmaxCELoss
    return loss(label_smoothing=label_smoothing)


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

"""Stage 8 (notes 7.5, sum vs mean): the gradient's size for this batch and one twice as large.

The book backpropagates `l.sum()`: the gradient is a sum over the batch, so doubling the
batch roughly doubles it, and with a fixed lr (plain SGD) the step doubles too. The mean
(`l.mean()`, the trainer's `reduction="mean"`) keeps its size whatever the batch. Measured on
a copy of the model with the step's weights, dropout off, so only the batch changes.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..i18n import Text
from ..trainer import tensor_norms
from .batch import StepBatch

REDUCTIONS = ("sum", "mean")


@dataclass
class SumVsMean:
    batch_size: int
    double_size: int              # the larger batch: twice this one, or every pair there is
    norms: dict[str, float]       # "sum/single", "sum/double", "mean/single", "mean/double" -> ‖g‖

    def growth(self, reduction: str) -> float:
        """‖g‖ on the larger batch ÷ ‖g‖ on this one."""
        return self.norms[f"{reduction}/double"] / self.norms[f"{reduction}/single"]

    def sentence(self) -> Text:
        return Text(
            "With the book's sum, going from {single} to {double} pairs made the gradient {sum_growth:.2f}× as long "
            "(‖g‖ {sum_single:.4g} → {sum_double:.4g}): with the same lr, plain SGD would step {sum_growth:.2f}× as "
            "far (2× if every pair's gradient pointed the same way, about √2 ≈ 1.41× if they pointed in unrelated "
            "directions). With the mean it changed {mean_growth:.2f}× ({mean_single:.4g} → {mean_double:.4g}): "
            "the step size no longer grows with the batch. (Adam divides each gradient by its own running size, "
            "so with Adam either works.)",
            single=self.batch_size, double=self.double_size, sum_growth=self.growth("sum"),
            mean_growth=self.growth("mean"), sum_single=self.norms["sum/single"],
            sum_double=self.norms["sum/double"], mean_single=self.norms["mean/single"],
            mean_double=self.norms["mean/double"])


def gradient_norm(net: nn.Module, batch: StepBatch, loss: nn.Module, reduction: str) -> float:
    """‖g‖ over every parameter for `l.sum()` or `l.mean()` on `batch`."""
    net.zero_grad(set_to_none=True)
    l = loss(net(batch.X, batch.dec_input, batch.X_valid_len)[0], batch.Y, batch.Y_valid_len)
    (l.sum() if reduction == "sum" else l.mean()).backward()
    return float(torch.linalg.vector_norm(tensor_norms([p for p in net.parameters() if p.requires_grad])))


def sum_vs_mean(net: nn.Module, batch: StepBatch, double: StepBatch, loss: nn.Module) -> SumVsMean:
    """The four gradient norms, on a copy of `net` in eval mode (no dropout: the same function
    for both batches)."""
    twin = copy.deepcopy(net).eval()
    norms = {f"{reduction}/{size}": gradient_norm(twin, b, loss, reduction)
             for reduction in REDUCTIONS for size, b in (("single", batch), ("double", double))}
    return SumVsMean(batch_size=batch.batch_size, double_size=double.batch_size, norms=norms)

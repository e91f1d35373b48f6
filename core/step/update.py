"""Stages 5 to 7 of a training step (notes 7.5): clipping, Adam's update, and the loss after it.

Clipping is the book's `grad_clipping` (`core.trainer.clip_gradients`): one norm over every
gradient, and when it exceeds θ every gradient is scaled by θ / norm, so the direction is kept
and only the length is capped. Adam then moves each weight by lr · m̂ / (√v̂ + ε); on its first
step m̂ = g and v̂ = g², so every weight with a gradient moves by lr, whatever its size.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..i18n import Text
from ..trainer import clip_gradients, layer_of, tensor_norms
from .batch import StepBatch


# -- stage 5: clipping -------------------------------------------------------------------------
@dataclass
class Clipping:
    norm: float                   # ‖g‖ over every gradient together, before
    theta: float
    scale: float                  # min(1, θ / ‖g‖): what every gradient was multiplied by
    norm_after: float             # ‖g‖ after: min(‖g‖, θ)

    @property
    def clipped(self) -> bool:
        return self.norm > self.theta

    def sentence(self) -> Text:
        if self.clipped:
            return Text("The gradient's norm {norm:.4g} exceeds θ = {theta:g}, so every gradient was multiplied by "
                        "θ / ‖g‖ = {scale:.4g}: the direction is kept, the length becomes {after:.4g}.",
                        norm=self.norm, theta=self.theta, scale=self.scale, after=self.norm_after)
        return Text("The gradient's norm {norm:.4g} is within θ = {theta:g}: the gradients were left as they were "
                    "(scale 1).", norm=self.norm, theta=self.theta)


def clip(params: list[nn.Parameter], theta: float) -> Clipping:
    """Clip as the trainer does, and measure both sides."""
    norm = float(clip_gradients(params, theta))
    return Clipping(norm=norm, theta=theta, scale=min(1.0, theta / norm) if norm > 0 else 1.0,
                    norm_after=float(torch.linalg.vector_norm(tensor_norms(params))))


# -- stage 6: Adam's update --------------------------------------------------------------------
@dataclass
class ParamUpdate:
    name: str
    layer: str                    # core.trainer.layer_of(name)
    shape: tuple[int, ...]
    weight_norm: float            # ‖θ‖ before the step
    update_norm: float            # ‖Δθ‖
    mean_abs_update: float        # mean |Δθ_i| over the weights that moved (0 when none did)
    moved: float                  # the fraction of its weights that moved

    @property
    def ratio(self) -> float:
        """‖Δθ‖ / ‖θ‖: how far one step moves this tensor, relative to its size."""
        return self.update_norm / self.weight_norm if self.weight_norm > 0 else float("inf")


@dataclass
class AdamStep:
    lr: float
    step: int                     # Adam's step count after this update: 1 is its first
    params: list[ParamUpdate]
    mean_abs_update: float        # mean |Δθ_i| over every weight that moved
    moved: float                  # the fraction of all weights that moved

    def sentence(self) -> Text:
        ratio = self.mean_abs_update / self.lr
        if self.step == 1:
            return Text(
                "This is Adam's first step. Its running averages hold this one gradient, m̂ = g and v̂ = g², so "
                "the update lr · m̂ / (√v̂ + ε) is lr · g / |g| = ±lr for every weight with a gradient, however "
                "large or small that gradient is (less only where it is so small that ε = 1e-8 counts): the "
                "weights that moved moved by {mean:.3g} on average, {ratio:.3f} × lr = {lr:g}. {still:.1%} of the "
                "weights did not move: their gradient was 0 (embedding rows of words this batch does not contain).",
                mean=self.mean_abs_update, ratio=ratio, lr=self.lr, still=1 - self.moved)
        return Text(
            "Adam's step {step}: m̂ and v̂ now average {step} gradients, so a weight moves by the full lr = {lr:g} "
            "only where its gradients kept their sign and size; on average the weights that moved moved by "
            "{mean:.3g}, {ratio:.3f} × lr.", step=self.step, lr=self.lr, mean=self.mean_abs_update, ratio=ratio)


def weights_of(net: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every trainable parameter, to measure a step against."""
    return {name: p.detach().clone() for name, p in net.named_parameters() if p.requires_grad}


def adam_step(optimizer: torch.optim.Optimizer) -> int:
    """Adam's step count (its state's `step`, the same for every parameter)."""
    steps = [int(s["step"]) for s in optimizer.state.values() if "step" in s]
    return max(steps, default=0)


def adam_update(net: nn.Module, before: dict[str, torch.Tensor], lr: float, step: int) -> AdamStep:
    """Each parameter tensor's update against its size, after `optimizer.step()`."""
    params, moved_total, abs_total, count = [], 0, 0.0, 0
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name not in before:
                continue
            delta = p.detach() - before[name]
            moved = delta != 0
            n_moved = int(moved.sum())
            abs_sum = float(delta.abs().sum())
            params.append(ParamUpdate(name=name, layer=layer_of(name), shape=tuple(p.shape),
                                      weight_norm=float(before[name].norm()), update_norm=float(delta.norm()),
                                      mean_abs_update=abs_sum / n_moved if n_moved else 0.0,
                                      moved=n_moved / p.numel()))
            moved_total, abs_total, count = moved_total + n_moved, abs_total + abs_sum, count + p.numel()
    return AdamStep(lr=lr, step=step, params=params, mean_abs_update=abs_total / moved_total if moved_total else 0.0,
                    moved=moved_total / count if count else 0.0)


# -- stage 7: the loss of the same batch, before and after -----------------------------------------
def batch_loss_now(net: nn.Module, batch: StepBatch, loss: nn.Module) -> float:
    """l.sum() / num_tokens of the batch with the weights as they are, dropout off (so that
    before and after differ by the step alone); the model's mode is restored."""
    was_training = net.training
    net.eval()
    with torch.no_grad():
        l = loss(net(batch.X, batch.dec_input, batch.X_valid_len)[0], batch.Y, batch.Y_valid_len)
    net.train(was_training)
    return float(l.sum()) / batch.num_tokens

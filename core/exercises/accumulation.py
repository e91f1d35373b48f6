"""Gradient accumulation (notes 7.5-7.5.1) and sum vs mean reduction, measured with the engine.

On one real batch of the shipped corpus and a fresh model with dropout 0 (so both paths
compute the same function), `Trainer._step` gives the gradient of the whole batch and of the
same batch as accumulated micro-batches: they agree to float rounding (~1e-7). Then the same
batch with `reduction="sum"` (the book's `l.sum().backward()`) and `"mean"`: the sum's
gradient is batch_size times the mean's, so one SGD step is batch_size times longer, while
Adam divides the gradient by its own running size and takes nearly the same step.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ..config import DataConfig, ModelConfig, TrainConfig
from ..data import NMTData
from ..model import build_model
from ..sources import prepare_data
from ..trainer import Trainer

CORPUS = DataConfig(source="corpus", num_examples=1500, num_test=200)
NO_CLIP = 1e6                      # clip_theta high enough that _step never rescales these gradients
CPU = torch.device("cpu")


class AccumulationError(ValueError):
    """A batch that cannot be split into equal micro-batches: the message says what would."""


def check_split(batch_size: int, micro_batch: int) -> int:
    """The number of micro-batches, or AccumulationError when they do not divide the batch."""
    if not 1 <= micro_batch <= batch_size:
        raise AccumulationError(f"a micro-batch must hold between 1 and {batch_size} pairs, got {micro_batch}")
    if batch_size % micro_batch:
        divisors = [d for d in range(1, batch_size + 1) if batch_size % d == 0]
        raise AccumulationError(f"{micro_batch} does not divide the batch of {batch_size} into equal "
                                f"micro-batches; pick one of {', '.join(map(str, divisors))}")
    return batch_size // micro_batch


@dataclass
class ParamDiff:
    name: str
    shape: tuple[int, ...]
    max_abs_diff: float              # max |g_batch - g_accumulated| over the tensor
    grad_norm: float                 # ||g_batch|| of this tensor


@dataclass
class AccumulationReport:
    batch_size: int
    micro_batch: int
    num_micro: int
    params: list[ParamDiff]
    max_abs_diff: float              # over all parameters
    sum_norm: float                  # ||g|| with reduction="sum" (the book)
    mean_norm: float                 # ||g|| with reduction="mean"
    lr: float
    step_sizes: dict[str, float]     # "sgd/sum", "sgd/mean", "adam/sum", "adam/mean" -> ||Δθ|| of one step

    @property
    def norm_ratio(self) -> float:
        return self.sum_norm / self.mean_norm

    def step_ratio(self, optimizer: str) -> float:
        """How much longer one step is with sum than with mean: batch_size for SGD, ~1 for Adam."""
        return self.step_sizes[f"{optimizer}/sum"] / self.step_sizes[f"{optimizer}/mean"]


def first_batch(data: NMTData, batch_size: int) -> tuple[torch.Tensor, ...]:
    """The first `batch_size` training pairs, unshuffled: (X, X_valid_len, Y, Y_valid_len)."""
    return next(data.batches(batch_size, shuffle=False))


def gradients(net: nn.Module, batch, data: NMTData, micro_batches: int = 1,
              reduction: str = "sum") -> dict[str, torch.Tensor]:
    """The gradient `Trainer._step` leaves in `net` (clipping off), copied per parameter."""
    config = TrainConfig(accumulation_steps=micro_batches, reduction=reduction, clip_theta=NO_CLIP)
    Trainer(net, [], data.tgt_vocab, config, CPU)._step(batch)
    return {name: p.grad.detach().clone() for name, p in net.named_parameters()}


def step_size(net: nn.Module, batch, data: NMTData, reduction: str, optimizer: str, lr: float) -> float:
    """||θ_after - θ_before|| of one optimizer step on a copy of `net` (Adam: the trainer's own)."""
    net = copy.deepcopy(net)
    trainer = Trainer(net, [], data.tgt_vocab, TrainConfig(lr=lr, reduction=reduction, clip_theta=NO_CLIP), CPU)
    if optimizer == "sgd":
        trainer.optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    before = [p.detach().clone() for p in net.parameters()]
    trainer._step(batch)
    trainer.optimizer.step()
    return math.sqrt(sum(float(((p.detach() - b) ** 2).sum()) for p, b in zip(net.parameters(), before)))


def _norm(grads: dict[str, torch.Tensor]) -> float:
    return math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))


def compare(batch_size: int = 64, micro_batch: int = 16, lr: float = 0.005, seed: int = 0,
            data_config: DataConfig = CORPUS, model_config: ModelConfig | None = None) -> AccumulationReport:
    """One batch vs accumulated micro-batches, and sum vs mean, on a fresh seeded model."""
    num_micro = check_split(batch_size, micro_batch)
    data = prepare_data(data_config)
    batch = first_batch(data, batch_size)
    if len(batch[0]) != batch_size:
        raise AccumulationError(f"the corpus has only {len(batch[0])} training pairs; pick a smaller batch")
    torch.manual_seed(seed)
    net = build_model(model_config or ModelConfig(dropout=0.0), len(data.src_vocab), len(data.tgt_vocab))
    whole, accumulated = gradients(net, batch, data), gradients(net, batch, data, num_micro)
    params = [ParamDiff(name, tuple(g.shape), float((g - accumulated[name]).abs().max()), float(g.norm()))
              for name, g in whole.items()]
    mean = gradients(net, batch, data, reduction="mean")
    steps = {f"{opt}/{red}": step_size(net, batch, data, red, opt, lr)
             for opt in ("sgd", "adam") for red in ("sum", "mean")}
    return AccumulationReport(batch_size, micro_batch, num_micro, params, max(p.max_abs_diff for p in params),
                              _norm(whole), _norm(mean), lr, steps)

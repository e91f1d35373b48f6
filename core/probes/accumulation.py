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
import statistics
import time
from dataclasses import dataclass

import torch

from .. import fast
from ..config import DataConfig, ModelConfig, TrainConfig
from ..data import NMTData
from ..encoder_decoder import EncoderDecoder
from ..i18n import Text
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
        raise AccumulationError(Text("a micro-batch must hold between 1 and {batch_size} pairs, got {micro_batch}",
                                     batch_size=batch_size, micro_batch=micro_batch))
    if batch_size % micro_batch:
        divisors = [d for d in range(1, batch_size + 1) if batch_size % d == 0]
        raise AccumulationError(Text("{micro_batch} does not divide the batch of {batch_size} into equal "
                                     "micro-batches; pick one of {divisors}", micro_batch=micro_batch,
                                     batch_size=batch_size, divisors=", ".join(map(str, divisors))))
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


def gradients(net: EncoderDecoder, batch, data: NMTData, micro_batches: int = 1,
              reduction: str = "sum") -> dict[str, torch.Tensor]:
    """The gradient `Trainer._step` leaves in `net` (clipping off), copied per parameter."""
    config = TrainConfig(accumulation_steps=micro_batches, reduction=reduction, clip_theta=NO_CLIP)
    Trainer(net, [], data.tgt_vocab, config, CPU, fused=True)._step(batch)
    return {name: _grad_of(name, p) for name, p in net.named_parameters()}


def _grad_of(name: str, p: torch.nn.Parameter) -> torch.Tensor:
    """A copy of `p`'s gradient; every parameter of these models gets one (a missing one is a bug)."""
    assert p.grad is not None, f"{name} got no gradient"
    return p.grad.detach().clone()


def step_size(net: EncoderDecoder, batch, data: NMTData, reduction: str, optimizer: str, lr: float) -> float:
    """||θ_after - θ_before|| of one optimizer step on a copy of `net` (Adam: the trainer's own)."""
    net = copy.deepcopy(net)
    trainer = Trainer(net, [], data.tgt_vocab, TrainConfig(lr=lr, reduction=reduction, clip_theta=NO_CLIP), CPU,
                      fused=True)
    if optimizer == "sgd":
        trainer.optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    before = [p.detach().clone() for p in net.parameters()]
    trainer._step(batch)
    trainer.optimizer.step()
    return math.sqrt(sum(float(((p.detach() - b) ** 2).sum()) for p, b in zip(net.parameters(), before)))


def _norm(grads: dict[str, torch.Tensor]) -> float:
    return math.sqrt(sum(float((g ** 2).sum()) for g in grads.values()))


def _setup(batch_size: int, micro_batch: int, seed: int, data_config: DataConfig,
           model_config: ModelConfig | None) -> tuple[int, NMTData, tuple[torch.Tensor, ...], EncoderDecoder]:
    """(micro-batches, data, the first batch, a fresh seeded model with dropout 0)."""
    num_micro = check_split(batch_size, micro_batch)
    data = prepare_data(data_config)
    batch = first_batch(data, batch_size)
    if len(batch[0]) != batch_size:
        raise AccumulationError(Text("the corpus has only {count} training pairs; pick a smaller batch",
                                      count=len(batch[0])))
    torch.manual_seed(seed)
    net = build_model(model_config or ModelConfig(dropout=0.0), len(data.src_vocab), len(data.tgt_vocab))
    return num_micro, data, batch, net


def compare(batch_size: int = 64, micro_batch: int = 16, lr: float = 0.005, seed: int = 0,
            data_config: DataConfig = CORPUS, model_config: ModelConfig | None = None) -> AccumulationReport:
    """One batch vs accumulated micro-batches, and sum vs mean, on a fresh seeded model."""
    num_micro, data, batch, net = _setup(batch_size, micro_batch, seed, data_config, model_config)
    whole, accumulated = gradients(net, batch, data), gradients(net, batch, data, num_micro)
    params = [ParamDiff(name, tuple(g.shape), float((g - accumulated[name]).abs().max()), float(g.norm()))
              for name, g in whole.items()]
    mean = gradients(net, batch, data, reduction="mean")
    steps = {f"{opt}/{red}": step_size(net, batch, data, red, opt, lr)
             for opt in ("sgd", "adam") for red in ("sum", "mean")}
    return AccumulationReport(batch_size, micro_batch, num_micro, params, max(p.max_abs_diff for p in params),
                              _norm(whole), _norm(mean), lr, steps)


# -- the trade: time for memory (notes 7.5.1, 以时间换空间) ----------------------------------------
def saved_activation_bytes(trainer: Trainer, batch) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of the trainer's own loss on
    `batch` (what `Trainer._step` computes), counted by `saved_tensors_hooks`: each storage
    once, the parameters left out (they exist anyway). This is what micro-batches shrink."""
    params = {p.untyped_storage().data_ptr() for p in trainer.net.parameters()}
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    trainer.net.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = trainer._sequence_loss(*batch).sum()
    del loss
    return sum(storages.values())


@dataclass
class TimeForMemory:
    batch_size: int
    micro_batch: int
    batch_bytes: int                 # activations kept for one batch
    micro_bytes: int                 # for one micro-batch: the most kept at once when accumulating
    batch_seconds: float             # one optimizer step's forward/backward, whole batch (median)
    accumulated_seconds: float       # the same step as num_micro accumulated micro-batches (median)
    kernel: str = ""                 # what ran the GRU (fast.kernel_text(): a Text, shown translated)

    @property
    def memory_ratio(self) -> float:
        return self.batch_bytes / max(self.micro_bytes, 1)

    @property
    def time_ratio(self) -> float:
        return self.accumulated_seconds / self.batch_seconds


def _median_seconds(fn, repeats: int) -> float:
    fn()                                        # warm-up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def time_for_memory(batch_size: int = 64, micro_batch: int = 16, seed: int = 0, repeats: int = 5,
                    data_config: DataConfig = CORPUS, model_config: ModelConfig | None = None) -> TimeForMemory:
    """Both halves of the trade on one real batch, measured on the same computation the
    trainer runs: activation bytes and step time, whole batch against accumulated micro-batches."""
    num_micro, data, batch, net = _setup(batch_size, micro_batch, seed, data_config, model_config)
    micro = tuple(t[:micro_batch].clone() for t in batch)     # its own storage, not a view of the batch
    # the trainer's own kernel, chosen before the first step: one kernel for every number below
    trainers = {n: Trainer(net, [], data.tgt_vocab, TrainConfig(accumulation_steps=n, clip_theta=NO_CLIP), CPU,
                           fused=True) for n in (1, num_micro)}
    batch_bytes, micro_bytes = saved_activation_bytes(trainers[1], batch), saved_activation_bytes(trainers[1], micro)
    return TimeForMemory(batch_size, micro_batch, batch_bytes, micro_bytes,
                         _median_seconds(lambda: trainers[1]._step(batch), repeats),
                         _median_seconds(lambda: trainers[num_micro]._step(batch), repeats),
                         fast.kernel_text(trainers[1].fused))

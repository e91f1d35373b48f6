"""Stage 9 (notes 7.5): where one step's time goes, on this device.

Each stage is timed with `time.perf_counter`, after `torch.cuda.synchronize()` on both sides on
CUDA (a GPU runs its kernels after Python has moved on: without the sync a stage would show only
the time to queue them). Whether the step is bound by arithmetic or by fixed costs per operation
(on a GPU, kernel launches) is read from a measurement too: a forward and backward pass on a
batch twice as large takes twice as long only when arithmetic dominates.
"""
from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ..i18n import N_, Text
from .batch import StepBatch

FORWARD, LOSS, BACKWARD, CLIPPING, UPDATE = N_("forward"), N_("loss"), N_("backward"), N_("clipping"), N_("update")
STAGES = (FORWARD, LOSS, BACKWARD, CLIPPING, UPDATE)
ARITHMETIC_BOUND = 1.7     # twice the batch took at least this many times as long: the work sets the time
OVERHEAD_BOUND = 1.3       # at most this: fixed costs per operation set it


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class StageClock:
    """Times named stages on `device`, each between two synchronisations."""
    device: torch.device
    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        synchronize(self.device)
        start = time.perf_counter()
        yield
        synchronize(self.device)
        self.seconds[name] = time.perf_counter() - start


@dataclass
class Scaling:
    """A forward and backward pass on this batch and on one twice as large (median of a few)."""
    batch_size: int
    double_size: int
    single_seconds: float
    double_seconds: float

    @property
    def ratio(self) -> float:
        return self.double_seconds / self.single_seconds


@dataclass
class StageTimes:
    seconds: dict[str, float]     # stage (one of STAGES) -> seconds, this step
    device: str                   # e.g. "cpu", "cuda:0"
    step: int                     # which step of the session: the first pays one-off costs

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    def dominant(self) -> str:
        return max(self.seconds, key=self.seconds.__getitem__)

    def sentence(self, scaling: Scaling | None = None) -> Text:
        """What dominates, read from the numbers: the largest stage, backward against forward,
        and (given the batch-size measurement) whether the time follows the arithmetic."""
        top = self.dominant()
        said = Text("The {stage} takes the largest share on {device}: {ms:.2f} ms of {total:.2f} ms ({share:.0%}); "
                    "the backward pass costs {ratio:.1f}× the forward.", stage=Text(top), device=self.device,
                    ms=self.seconds[top] * 1e3, total=self.total * 1e3, share=self.seconds[top] / self.total,
                    ratio=self.seconds[BACKWARD] / self.seconds[FORWARD])
        if scaling is None:
            return said
        return Text("{said} {verdict}", said=said, verdict=_verdict(scaling))


def _verdict(scaling: Scaling) -> Text:
    values = dict(single=scaling.batch_size, double=scaling.double_size, ratio=scaling.ratio)
    if scaling.ratio >= ARITHMETIC_BOUND:
        return Text("A forward and backward pass on {double} pairs took {ratio:.2f}× as long as on {single}: the time "
                    "grows with the work, so arithmetic dominates at these sizes.", **values)
    if scaling.ratio <= OVERHEAD_BOUND:
        return Text("A forward and backward pass on {double} pairs took only {ratio:.2f}× as long as on {single}: "
                    "the time hardly grows with the work, so at these sizes the step is bound by fixed costs per "
                    "operation (on a GPU, launching its many small kernels), not by arithmetic.", **values)
    return Text("A forward and backward pass on {double} pairs took {ratio:.2f}× as long as on {single}: part "
                "fixed costs per operation, part arithmetic.", **values)


def _pass_seconds(net: nn.Module, batch: StepBatch, loss: nn.Module, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    net.zero_grad(set_to_none=True)
    loss(net(batch.X, batch.dec_input, batch.X_valid_len)[0], batch.Y, batch.Y_valid_len).sum().backward()
    synchronize(device)
    return time.perf_counter() - start


def batch_scaling(net: nn.Module, batch: StepBatch, double: StepBatch, loss: nn.Module, device: torch.device,
                  repeats: int = 3) -> Scaling:
    """Median seconds of a forward and backward pass on each batch, alternated (a copy of `net`,
    in train mode as a step runs; one warm-up pass each)."""
    twin = copy.deepcopy(net).train()
    times: dict[int, list[float]] = {0: [], 1: []}
    for b in (batch, double):
        _pass_seconds(twin, b, loss, device)                  # warm-up: first-call allocations
    for _ in range(repeats):
        for i, b in enumerate((batch, double)):
            times[i].append(_pass_seconds(twin, b, loss, device))
    return Scaling(batch_size=batch.batch_size, double_size=double.batch_size,
                   single_seconds=statistics.median(times[0]), double_seconds=statistics.median(times[1]))

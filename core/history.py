"""What a training run reports: the trainer's events and the run's history.

The trainer emits a `StepEvent` after every optimizer step and an `EpochEvent` after every
epoch; subscribers (the CLI's progress bar, the Train view's job, the sample translator) read
them. `History` is what checkpoints keep and the views plot.
"""
from __future__ import annotations

import bisect
import enum
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field


class Status(enum.StrEnum):
    """Where a run or a background job stands: one type for the trainer's result, the jobs, the
    queue and the pages. A `StrEnum`, so it reads, prints, pickles and saves as its word."""
    CREATED = "created"      # a job made, not handed to a queue or started yet
    QUEUED = "queued"        # waiting in the server's queue for a free slot
    RUNNING = "running"
    FINISHED = "finished"    # every epoch it was asked for
    STOPPED = "stopped"      # ended early on request: Stop, the operator, a closed tab, a time limit
    DIVERGED = "diverged"    # the loss stopped being a finite number
    FAILED = "failed"        # an exception ended it; the job's message says which


@dataclass
class StepEvent:
    epoch: int
    step: int                    # global optimizer step, continues across resumes
    loss: float                  # this batch: sum of per-sequence losses / tokens
    grad_norm: float             # before clipping
    tokens_per_second: float     # over the run so far
    elapsed: float
    # ‖g‖ of each layer before clipping ("encoder.embedding", "decoder.rnn.l0", "decoder.dense", …:
    # core.trainer.layer_of); grad_norm is the norm of them all together
    layer_grad_norms: dict[str, float] = field(default_factory=dict)


@dataclass
class EpochEvent:
    epoch: int                   # 1-based, continues across resumes
    num_epochs: int
    step: int
    loss: float                  # the book's metric: sum of losses / tokens over the epoch
    tokens_per_second: float     # over the run so far
    elapsed: float
    epoch_tokens_per_second: float = 0.0   # this epoch alone


@dataclass
class SampleEvent:
    epoch: int
    samples: list[dict]          # {epoch, src, pred, ref, bleu, seen}


@dataclass
class History:
    """Everything plotted about a run; plain lists so it lives in checkpoints."""
    step_loss: list[float] = field(default_factory=list)
    step_grad_norm: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_tokens_per_second: list[float] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> History:
        return cls(**values)


@dataclass
class TrainResult:
    status: Status               # FINISHED, STOPPED or DIVERGED
    message: str
    history: History
    final_loss: float
    train_seconds: float         # this run only
    tokens: int                  # this run only

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds > 0 else 0.0

    def summary(self) -> dict:
        return {"status": self.status, "final_loss": self.final_loss,
                "train_seconds": round(self.train_seconds, 3), "tokens": self.tokens,
                "tokens_per_second": round(self.tokens_per_second, 1),
                "epochs": len(self.history.epoch_loss), "steps": len(self.history.step_loss)}


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing of a curve)."""
    out, avg = [], 0.0
    for i, value in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * value
        out.append(avg / (1 - weight ** i))
    return out


def layer_curves(steps: Sequence[StepEvent]) -> tuple[list[int], dict[str, list[float]]]:
    """The gradient norm of each layer over these step events: (their steps, {layer: norms}),
    the layers in the model's order."""
    curves = LiveCurves()
    for event in steps:
        curves.add(event)
    return curves.layer_steps, curves.layer_grad_norms


@dataclass
class LiveCurves:
    """A running run's curves, kept as its events arrive: plain numbers, never the events
    themselves (a long run sends millions of steps, each with its per-layer norms), so a snapshot
    copies lists instead of scanning every event again."""
    step_loss: list[float] = field(default_factory=list)
    step_grad_norm: list[float] = field(default_factory=list)
    last_step: int | None = None
    epoch_loss: list[float] = field(default_factory=list)
    epoch_tokens_per_second: list[float] = field(default_factory=list)
    epoch_ends: list[float] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    layer_steps: list[int] = field(default_factory=list)
    layer_grad_norms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, event: object) -> None:
        if isinstance(event, StepEvent):
            self.step_loss.append(event.loss)
            self.step_grad_norm.append(event.grad_norm)
            self.last_step = event.step
            if event.layer_grad_norms:
                self._add_layers(event)
        elif isinstance(event, EpochEvent):
            self.epoch_loss.append(event.loss)
            self.epoch_tokens_per_second.append(event.epoch_tokens_per_second)
            self.epoch_ends.append(event.elapsed)
        elif isinstance(event, SampleEvent):
            self.samples.extend(event.samples)

    def _add_layers(self, event: StepEvent) -> None:
        """A layer first seen later reads 0.0 before it; a layer missing from a step, 0.0 there."""
        for layer in event.layer_grad_norms:
            self.layer_grad_norms.setdefault(layer, [0.0] * len(self.layer_steps))
        self.layer_steps.append(event.step)
        for layer, norms in self.layer_grad_norms.items():
            norms.append(event.layer_grad_norms.get(layer, 0.0))

    def copy(self) -> LiveCurves:
        """A copy a reader may keep while events go on arriving."""
        return LiveCurves(self.step_loss[:], self.step_grad_norm[:], self.last_step, self.epoch_loss[:],
                          self.epoch_tokens_per_second[:], self.epoch_ends[:], self.samples[:], self.layer_steps[:],
                          {layer: norms[:] for layer, norms in self.layer_grad_norms.items()})


def thin(values: list[float], max_points: int = 400) -> tuple[list[int], list[float]]:
    """(1-based positions, values) of at most `max_points` evenly spaced points, the last kept:
    a live chart of a long run redraws a few hundred points, not every step."""
    stride = max(1, -(-len(values) // max_points))
    positions = list(range(0, len(values), stride))
    if values and positions[-1] != len(values) - 1:
        positions.append(len(values) - 1)
    return [i + 1 for i in positions], [values[i] for i in positions]


# -- how long a run still trains ----------------------------------------------------------------
RECENT_EPOCHS = 3     # the epochs an estimate of the rate reads: recent enough to follow a change of load,
RECENT_SECONDS = 5.0  # and at least this long: a tiny run's 30 ms epochs would make three of them noise


def recent_epoch_seconds(epoch_ends: Sequence[float], recent: int = RECENT_EPOCHS,
                         window: float = RECENT_SECONDS) -> float | None:
    """Seconds per epoch lately: the mean length of the last `recent` epochs, or of those that
    ended in the last `window` seconds where they are more, from the times (seconds into the
    run) at which this run's epochs ended. The first epoch also holds the run's start-up (the
    first batches, the caches warming), so it counts only while it is the only one; None
    before any epoch ended."""
    if not epoch_ends:
        return None
    if len(epoch_ends) == 1:
        return epoch_ends[0]
    ended = len(epoch_ends) - 1                  # epochs after the first: each has a start and an end
    before_window = bisect.bisect_right(epoch_ends, epoch_ends[-1] - window) - 1
    in_window = ended if before_window < 0 else len(epoch_ends) - 1 - before_window
    span = min(max(recent, in_window), ended)
    return (epoch_ends[-1] - epoch_ends[-1 - span]) / span


def seconds_left(epoch_ends: Sequence[float], epochs_left: int, now: float,
                 recent: int = RECENT_EPOCHS) -> float | None:
    """Seconds until a run's last epoch ends, at `now` seconds into the run: the epochs not yet
    ended at the recent rate, less the part of the current one already behind (at most one
    epoch's worth, should this one run long). None before any epoch ended."""
    per_epoch = recent_epoch_seconds(epoch_ends, recent)
    if per_epoch is None:
        return None
    into_current = min(max(now - epoch_ends[-1], 0.0), per_epoch)
    return max(per_epoch * max(epochs_left, 0) - into_current, 0.0)

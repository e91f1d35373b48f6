"""What a training worker does with a run's spec: build the run, train it, save its checkpoint.

A `TrainingJob` (core.service.jobs) hands its runner a `TrainWork`: the run's `RunSpec`, where
its checkpoint goes and how often. The worker (a thread of the app, a worker process, a Ray
actor) builds the data, the model and Adam itself, trains, and saves with the atomic
`save_checkpoint`, so the process that trains owns what it makes. Only messages travel back:

- ("begin", Begun): the curves the run resumed from (empty for a new run), before its first step;
- ("event", a trainer event): every step, epoch and sample;
- ("saved", Saved): a checkpoint was written, every few seconds and at the end;
- ("checkpoint", bytes): instead of "saved" where the worker's disk is not the server's (Ray):
  the server writes the bytes (`SaveTarget`, the same choice of file).

and at the end the result: (TrainResult, Saved or bytes).
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..checkpoint import checkpoint_path, checkpoint_payload, save_checkpoint, write_checkpoint_bytes
from ..history import EpochEvent, TrainResult
from ..i18n import Text
from ..train import RunSpec, TrainingRun, build_run

CHECKPOINT_EVERY_SECONDS = 5.0    # a worker saves (or sends) the weights this often, and at the end


@dataclass(frozen=True)
class Saved:
    """A checkpoint written: where, and why not under the run's own name ("" when it is)."""
    path: str
    note: str = ""


@dataclass
class SaveTarget:
    """Where a run's checkpoints go: `name`.pt in `folder`. When overwriting was not chosen and a
    file appeared under that name before the run first saved (another tab's run), the run goes
    to a new name instead, chosen once: every later save of the run goes there too."""
    name: str
    folder: Path
    overwrite: bool = True
    _chosen: Saved | None = field(default=None, repr=False)

    def choose(self) -> Saved:
        if self._chosen is None:
            path, note = checkpoint_path(self.name, self.folder), ""
            if path.exists() and not self.overwrite:
                path = checkpoint_path(f"{self.name}-{time.strftime('%m%d-%H%M%S')}", self.folder)
                note = Text("{name}.pt was written by another run meanwhile: this one is saved as {file}",
                            name=self.name, file=path.name)
            self._chosen = Saved(str(path), note)
        return self._chosen

    def save(self, run: TrainingRun) -> Saved:
        saved = self.choose()
        save_checkpoint(run.checkpoint(), saved.path)
        return saved

    def write(self, data: bytes) -> Saved:
        """A checkpoint serialized on another machine, written here."""
        saved = self.choose()
        write_checkpoint_bytes(data, saved.path)
        return saved


@dataclass(frozen=True)
class Begun:
    """The curves a run starts from: a continued run's earlier steps and epochs."""
    step_loss: list[float]
    step_grad_norm: list[float]
    epoch_loss: list[float]


@dataclass
class TrainWork:
    """A TrainingJob's work, run by its runner (picklable: a spec, a target, two numbers)."""
    spec: RunSpec
    target: SaveTarget
    sample_every: int
    checkpoint_every: float = CHECKPOINT_EVERY_SECONDS
    ship_bytes: bool = False       # the worker's disk is not the server's: send checkpoints as bytes

    def __call__(self, emit, stop) -> tuple[TrainResult, Saved | bytes]:
        run = build_run(self.spec)
        history = run.trainer.history
        emit(("begin", Begun(list(history.step_loss), list(history.step_grad_norm), list(history.epoch_loss))))
        last_kept = time.monotonic()

        def on_event(event) -> None:
            nonlocal last_kept
            emit(("event", event))
            if isinstance(event, EpochEvent) and time.monotonic() - last_kept >= self.checkpoint_every:
                emit(("checkpoint", checkpoint_bytes(run)) if self.ship_bytes else ("saved", self.target.save(run)))
                last_kept = time.monotonic()

        result = run.train(on_event, stop, self.sample_every)
        return result, checkpoint_bytes(run) if self.ship_bytes else self.target.save(run)


def checkpoint_bytes(run: TrainingRun) -> bytes:
    buffer = io.BytesIO()
    torch.save(checkpoint_payload(run.checkpoint()), buffer)
    return buffer.getvalue()

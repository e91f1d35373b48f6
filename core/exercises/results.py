"""What an experiment measured: one `VariantResult` per variant, in an `ExperimentResult`.

Plain data (saved as JSON, read by `readings.interpret`), so the readings and the runner
both import it and neither imports the other.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..history import Status


@dataclass
class VariantResult:
    label: str
    value: Any
    status: Status                   # the training run's: FINISHED, STOPPED or DIVERGED
    final_loss: float                # the book's metric on the training pairs (Σ loss / tokens)
    epoch_loss: list[float]
    heldout_loss: float              # the masked loss on held-out pairs, teacher forced: one yardstick for all
    bleu: float                      # standard corpus BLEU (0-100) of greedy translations of held-out pairs
    samples: list[dict]              # {src, ref, pred, bleu} for the first held-out pairs
    parameters: int
    train_seconds: float             # wall clock: depends on what else the machine ran meanwhile
    pad_fraction: float              # share of target positions that are <pad> in the training arrays
    # The cost a learner compares: CPU seconds of the training thread, trained with one intra-op
    # thread (`time.thread_time()`), which other processes' load barely changes (wall seconds
    # of the same run varied 28× between runs on a shared machine).
    cpu_seconds: float


@dataclass
class ExperimentResult:
    experiment: str                  # Experiment.key
    cache_key: str
    status: Status                   # FINISHED when every variant finished training
    variants: list[VariantResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def cpu_seconds(self) -> float:
        """The training cost of all its variants (each `VariantResult.cpu_seconds`)."""
        return sum(v.cpu_seconds for v in self.variants)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ExperimentResult:
        # JSON keeps a status as its word: back to the type
        return cls(**{**values, "status": Status(values["status"]),
                      "variants": [VariantResult(**{**v, "status": Status(v["status"])}) for v in values["variants"]]})

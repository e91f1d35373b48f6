"""What an operator allows one run on a shared server: set by environment variable or secrets.

Each limit has one name, used alike in the environment, in `.streamlit/secrets.toml`, in the
messages that refuse a run and on the operator page, so a student who is refused can tell the
teacher exactly which setting to raise. The environment wins over the secrets file.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..config import MAX_EPOCHS as MAX_EPOCHS_WIDGET  # the Epochs box's bound (not this module's variable name)
from ..i18n import Text
from ..settings import Setting, shown_number
from .cores import cores_for_runs

MAX_JOBS = "SEQ2SEQ_MAX_JOBS"
MAX_QUEUE = "SEQ2SEQ_MAX_QUEUE"
MAX_EPOCHS = "SEQ2SEQ_MAX_EPOCHS"
MAX_PARAMETERS = "SEQ2SEQ_MAX_PARAMETERS"
MAX_TRAIN_PAIRS = "SEQ2SEQ_MAX_TRAIN_PAIRS"
MAX_MINUTES = "SEQ2SEQ_MAX_MINUTES"
MAX_UPLOAD_MB = "SEQ2SEQ_MAX_UPLOAD_MB"
DEFAULT_UPLOAD_MB = 512          # what a checkpoint may weigh (core.checkpoint.MAX_CHECKPOINT_BYTES)


class LimitError(ValueError):
    """A limit is set to something that is not a positive number; names the variable."""


class LimitExceeded(ValueError):
    """A run asks for more than the server allows; `.variable` names the limit."""

    def __init__(self, what: str, asked: float, allowed: float, variable: str):
        # `what` is a Text ("epochs"): the Chinese message names the limit in its own words
        self.what, self.asked, self.allowed, self.variable = what, asked, allowed, variable
        super().__init__(Text("this run asks for {asked} {what}; this server allows at most {allowed} ({variable})",
                              asked=shown_number(asked), what=what, allowed=shown_number(allowed), variable=variable))


class QueueFull(LimitExceeded):
    def __init__(self, waiting: int, variable: str = MAX_QUEUE):
        ValueError.__init__(self, Text("the training queue is full: {waiting} runs are waiting, the most "
                                       "this server keeps ({variable}); try again when one has started",
                                       waiting=waiting, variable=variable))
        self.what, self.asked, self.allowed, self.variable = Text("waiting runs"), waiting + 1, waiting, variable


def default_max_jobs(cores: int) -> int:
    """One run per core the runs share (`core.service.cores`: the pages keep one), at least 1."""
    return cores_for_runs(cores)


@dataclass(frozen=True)
class Limits:
    """None: no limit. `max_jobs` and `max_upload_mb` always have a value."""
    max_jobs: int
    max_queue: int | None = None
    max_epochs: int | None = None
    max_parameters: int | None = None
    max_train_pairs: int | None = None
    max_minutes: float | None = None
    max_upload_mb: int = DEFAULT_UPLOAD_MB

    VARIABLES = {"max_jobs": MAX_JOBS, "max_queue": MAX_QUEUE, "max_epochs": MAX_EPOCHS,
                 "max_parameters": MAX_PARAMETERS, "max_train_pairs": MAX_TRAIN_PAIRS,
                 "max_minutes": MAX_MINUTES, "max_upload_mb": MAX_UPLOAD_MB}

    @classmethod
    def read(cls, env: Mapping[str, str], secrets: Mapping[str, object] | None = None, *,
             cores: int = 2) -> Limits:
        """From the environment, then the secrets file; LimitError names a bad value. Without
        SEQ2SEQ_MAX_JOBS, `cores` (the usable ones) decides how many runs train at once."""
        values: dict[str, Any] = {}       # each one checked by `_positive` for its field's kind
        for f in fields(cls):
            variable = cls.VARIABLES[f.name]
            raw: object = env.get(variable)
            if raw is None and secrets is not None:
                raw = secrets.get(variable)
            if raw is not None and str(raw).strip() != "":
                values[f.name] = _positive(variable, raw, whole=f.name != "max_minutes")
        values.setdefault("max_jobs", default_max_jobs(cores))
        return cls(**values)

    def as_rows(self) -> list[dict[str, object]]:
        """Each limit with its variable and the value in force, for the operator page: a number, or
        in words what an unset one means (never `None`)."""
        return [{"limit": name, "variable": self.VARIABLES[name], "value": self.shown(name)}
                for name in self.VARIABLES]

    def shown(self, name: str) -> str:
        """The value of limit `name` in force, as the operator page shows it: unset epochs are the
        Epochs box's own bound (core.config.MAX_EPOCHS, also what a link's epochs are checked
        against); any other unset limit is no limit."""
        value = getattr(self, name)
        if value is not None:
            return shown_number(value)
        if name == "max_epochs":
            return Text("{epochs} (default: the Epochs box's bound)", epochs=shown_number(MAX_EPOCHS_WIDGET))
        return Text("no limit")

    def check_run(self, *, epochs: int | None = None, parameters: int | None = None,
                  train_pairs: int | None = None) -> None:
        """LimitExceeded before anything runs, naming the first limit the run is past (what is not
        given is not checked: the epochs are known before the data is read)."""
        for what, asked, allowed, variable in (
                (Text("epochs"), epochs, self.max_epochs, MAX_EPOCHS),
                (Text("parameters"), parameters, self.max_parameters, MAX_PARAMETERS),
                (Text("training pairs"), train_pairs, self.max_train_pairs, MAX_TRAIN_PAIRS)):
            if asked is not None and allowed is not None and asked > allowed:
                raise LimitExceeded(what, asked, allowed, variable)

    def check_upload(self, size_bytes: int) -> None:
        if size_bytes > self.max_upload_mb * 2**20:
            raise LimitExceeded(Text("MB of upload"), round(size_bytes / 2**20, 1), self.max_upload_mb, MAX_UPLOAD_MB)

    @property
    def max_seconds(self) -> float | None:
        return None if self.max_minutes is None else self.max_minutes * 60.0


# the settings a limit narrows: a setting's field name -> the limit (a `Limits` attribute) that lowers its high
NARROWS = {"num_epochs": "max_epochs"}


def bounds(setting: Setting, limits: Limits | None) -> tuple[float, float]:
    """(low, high) of a number setting on this server: its declared bounds, with the high lowered to
    the operator's limit where one is set. The one place they are narrowed: the Train form's
    widgets and a link's check both take their bounds here, so the two cannot disagree."""
    if setting.low is None or setting.high is None:
        raise TypeError(f"{setting.name!r} is not a number setting")
    limit = getattr(limits, NARROWS[setting.name]) if limits is not None and setting.name in NARROWS else None
    return setting.low, setting.high if limit is None else min(setting.high, limit)


def _positive(variable: str, raw: object, whole: bool) -> float | int:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise LimitError(Text("{variable} must be a number, got {raw!r}", variable=variable, raw=raw)) from None
    if not math.isfinite(value) or value <= 0 or (whole and not value.is_integer()):
        if whole:
            raise LimitError(Text("{variable} must be a whole number of at least 1, got {raw!r}",
                                  variable=variable, raw=raw))
        raise LimitError(Text("{variable} must be a positive number, got {raw!r}", variable=variable, raw=raw))
    return int(value) if whole else value

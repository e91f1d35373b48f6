"""A Train setup (and Decode's and BLEU's sentences) as URL query parameters: a shareable link.

A teacher prepares a run and hands out one link; opening it fills the form. The Train form's
fields are derived from the settings' declarations (core/settings.py: the configs' fields and
`FormSetup`'s), so every value read from a URL goes through the bounds and choices the widgets
and the configs have (a test compares them with the drawn widgets). A value that does not pass
(out of range, the wrong type, too long, not a choice) is refused with a message and the field
keeps its default: a link is input from anyone, so nothing in it is trusted.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import CONTEXTS, MAX_EPOCHS, DataConfig, ModelConfig, TrainConfig
from .i18n import N_, Text
from .settings import Setting, by_url, choice, integer, shown_number, switch

MAX_VALUE_CHARS = 32            # a number or a choice is never longer
MAX_TEXT_CHARS = 2000           # a sentence (Decode, BLEU), as the text boxes take it
LINK_SOURCES = ("corpus", "reverse", "copy", "sort", "tatoeba-book")   # no upload or server path in a link
_INT = re.compile(r"[+-]?\d{1,12}")
_FLOAT = re.compile(r"[+-]?(\d{1,12}(\.\d{0,12})?|\.\d{1,12})([eE][+-]?\d{1,3})?")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class SetupError(ValueError):
    """One URL value that cannot be used; the message names the parameter and why."""


@dataclass(frozen=True)
class Field:
    name: str                                  # the URL parameter
    kind: str                                  # "int", "float", "bool", "choice" or "text"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    open_low: bool = False                     # `low` itself is refused (a learning rate of 0)

    def parse(self, raw: str, high: float | None = None) -> Any:
        """The value `raw` stands for; SetupError (with the reason) when it cannot be used."""
        limit = MAX_TEXT_CHARS if self.kind == "text" else MAX_VALUE_CHARS
        if len(raw) > limit:
            raise SetupError(Text("{name}: a value of {length:,} characters (at most {limit:,})",
                                  name=self.name, length=len(raw), limit=limit))
        if self.kind == "text":
            if any(ord(ch) < 32 and ch not in "\t" for ch in raw):
                raise SetupError(Text("{name}: contains control characters", name=self.name))
            return raw
        if self.kind == "choice":
            if raw not in self.choices:
                raise SetupError(Text("{name}: {value!r} is not one of {choices}",
                                      name=self.name, value=raw, choices=", ".join(self.choices)))
            return raw
        if self.kind == "bool":
            if raw.lower() in _TRUE + _FALSE:
                return raw.lower() in _TRUE
            raise SetupError(Text("{name}: {value!r} is not 1 or 0", name=self.name, value=raw))
        low, top = self._bounds()
        return self._number(raw, low, top if high is None else min(high, top))

    def _bounds(self) -> tuple[float, float]:
        """low and high of an "int" or "float" field (every one in the tables sets both)."""
        if self.low is None or self.high is None:
            raise TypeError(f"the number field {self.name!r} needs low and high")
        return self.low, self.high

    def _number(self, raw: str, low: float, high: float) -> int | float:
        pattern = _INT if self.kind == "int" else _FLOAT
        if not pattern.fullmatch(raw.strip()):
            if self.kind == "int":
                raise SetupError(Text("{name}: {value!r} is not a whole number", name=self.name, value=raw))
            raise SetupError(Text("{name}: {value!r} is not a number", name=self.name, value=raw))
        value = int(raw) if self.kind == "int" else float(raw)
        if math.isfinite(value) and self.open_low and value == low:
            raise SetupError(Text("{name}: {value!r} must be greater than {low}", name=self.name, value=raw,
                                  low=shown_number(low)))
        if not math.isfinite(value) or not low <= value <= high:
            raise SetupError(Text("{name}: {value!r} is outside {low}–{high}",
                                  name=self.name, value=raw, low=shown_number(low), high=shown_number(high)))
        return value

    def write(self, value: Any) -> str:
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "float":
            return f"{float(value):g}"
        return str(value)


@dataclass
class FormSetup:
    """The Train form's settings that are no config's field, declared as the configs' are."""
    # where the pairs come from, as a link may name it (the form also offers uploads and paths)
    source: str = choice("corpus", LINK_SOURCES, url="source", label=N_("Source"))
    bridge: bool = switch(False, url="bridge", label=N_("Decoder has its own size (joined by a bridge: Linear + tanh)"))
    sample_every: int = integer(10, 1, MAX_EPOCHS, url="sample_every", label=N_("Sample every (epochs)"),
                                unit="epochs")


def link_field(setting: Setting) -> Field:
    """The URL field of a declared setting: its parameter, kind, bounds and choices."""
    if setting.url is None:
        raise TypeError(f"{setting.name!r} has no URL parameter")
    return Field(name=setting.url, kind=setting.kind, low=setting.low, high=setting.high, choices=setting.choices,
                 open_low=setting.open_low)


# URL parameter -> setting: every config field a link carries, then the form's own
TRAIN_SETTINGS = by_url(DataConfig, ModelConfig, TrainConfig, FormSetup)
TRAIN_FIELDS = tuple(link_field(s) for s in TRAIN_SETTINGS.values())
DECODE_FIELDS = (Field("src", "text"), Field("ref", "text"))
BLEU_FIELDS = (Field("pred", "text"), Field("ref", "text"), Field("k", "int", 1, 6))
# The sidebar's "Decoder context at inference", on every page and in every sidebar link. Not
# "context": that is the Train form's own field (the rule a new run trains with).
CONTEXT_RULE_FIELD = Field("inference_context", "choice", choices=CONTEXTS)
# ...and the checkpoint file it was chosen for (a name, never a server path): a reload, which opens
# the shipped checkpoint again, does not give another checkpoint that rule.
CONTEXT_FOR_FIELD = Field("inference_for", "text")


def read_setup(params: Mapping[str, str], fields: tuple[Field, ...],
               highs: Mapping[str, float] | None = None) -> tuple[dict[str, Any], list[str]]:
    """(the usable values, by parameter; one message per value refused). Parameters that are not
    fields (the tab's `run` token) are ignored; `highs` lowers bounds (the server's limits)."""
    values, problems = {}, []
    for field in fields:
        raw = params.get(field.name)
        if raw is None:
            continue
        try:
            values[field.name] = field.parse(str(raw), (highs or {}).get(field.name))
        except SetupError as err:
            problems.append(err.args[0])       # a Text: the page shows it in the reader's language
    return values, problems


def write_setup(values: Mapping[str, Any], defaults: Mapping[str, Any],
                fields: tuple[Field, ...]) -> dict[str, str]:
    """The parameters for the values that differ from their defaults (a short link)."""
    return {f.name: f.write(values[f.name]) for f in fields
            if f.name in values and values[f.name] != defaults.get(f.name)}

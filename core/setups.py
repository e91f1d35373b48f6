"""A Train setup (and Decode's and BLEU's sentences) as URL query parameters: a shareable link.

A teacher prepares a run and hands out one link; opening it fills the form. Every value read
from a URL goes through the bounds and choices the widgets have (the same constants of
`core.config`; a test compares them with the drawn widgets). A value that does not pass (out
of range, the wrong type, too long, not a choice) is refused with a message and the field
keeps its default: a link is input from anyone, so nothing in it is trusted.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .config import (
    CELLS,
    CONTEXTS,
    DECODERS,
    DEVICES,
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_NUM_STEPS,
    MAX_SIZE,
    REDUCTIONS,
    TOKENIZERS,
)
from .i18n import Text

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
        if not math.isfinite(value) or not low <= value <= high:
            raise SetupError(Text("{name}: {value!r} is outside {low}–{high}",
                                  name=self.name, value=raw, low=_num(low), high=_num(high)))
        return value

    def write(self, value: Any) -> str:
        if self.kind == "bool":
            return "1" if value else "0"
        if self.kind == "float":
            return f"{float(value):g}"
        return str(value)


def _num(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _int(name: str, low: int, high: int) -> Field:
    return Field(name, "int", low, high)


def _float(name: str, low: float, high: float) -> Field:
    return Field(name, "float", low, high)


TRAIN_FIELDS = (
    Field("source", "choice", choices=LINK_SOURCES),
    _int("examples", 1, 1_000_000), _int("held_out", 0, 100_000), _int("num_steps", 2, MAX_NUM_STEPS),
    _int("batch", 1, MAX_BATCH), _int("min_freq", 0, 1_000_000), _int("seed", 0, 2**32 - 1),
    Field("tokenizer", "choice", choices=TOKENIZERS),
    Field("cell", "choice", choices=CELLS), _int("embed_size", 1, MAX_SIZE), _int("hiddens", 1, MAX_SIZE),
    _int("layers", 1, MAX_LAYERS), _float("dropout", 0.0, 0.9), Field("bridge", "bool"),
    _int("dec_hiddens", 1, MAX_SIZE), _int("dec_layers", 1, MAX_LAYERS), Field("context", "choice", choices=CONTEXTS),
    Field("decoder", "choice", choices=DECODERS),
    _float("lr", 0.0001, 10.0), _int("epochs", 1, MAX_EPOCHS), _float("clip", 0.01, 1e6),
    _int("accum", 1, MAX_BATCH), _float("tf", 0.0, 1.0), Field("masked", "bool"),
    Field("reduction", "choice", choices=REDUCTIONS), Field("device", "choice", choices=DEVICES),
    _int("sample_every", 1, MAX_EPOCHS),
)
DECODE_FIELDS = (Field("src", "text"), Field("ref", "text"))
BLEU_FIELDS = (Field("pred", "text"), Field("ref", "text"), _int("k", 1, 6))
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

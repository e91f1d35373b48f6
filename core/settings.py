"""A training setting declared once: on its config field, with everything that is said about it.

Each knob of `DataConfig`, `ModelConfig` and `TrainConfig` (core/config.py) is a dataclass field
whose metadata is a `Setting`: its bounds or choices, the parameter of a shareable link, the
command-line flag, the widget's label and help, the unit it counts in. Everything else is
derived from that one declaration, so bounds cannot drift apart:

- the configs' `validate()` (`check`) and `to_dict()` (`omit_default`);
- the command line's flags (`add_flags`, `from_args`; core/train.py);
- a link's fields (core/setups.py) and the Train form's session keys and widgets (ui/setting_widgets.py),
  whose high bounds the server's limits lower in one place (core/service/limits.py: `bounds`).

The form only chooses each widget's kind and place.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .i18n import Text

INT, FLOAT, BOOL, CHOICE = "int", "float", "bool", "choice"   # the kinds (a link's Field has the same)
SETTING = "setting"                                          # the metadata key of a declared field


@dataclass(frozen=True)
class Setting:
    """What is said about one setting besides its default (the field's). `name` and `default`
    are filled in from the field by `declared()`."""
    kind: str                            # INT, FLOAT, BOOL or CHOICE
    low: float | None = None             # INT / FLOAT: the bounds, both inclusive unless open_low
    high: float | None = None
    open_low: bool = False               # `low` itself is refused (a learning rate of 0 learns nothing)
    choices: tuple[str, ...] = ()        # CHOICE: the values offered
    also: str = ""                       # CHOICE: a prefix of further values accepted, offered nowhere ("cuda:")
    url: str | None = None               # a link's parameter and the Train form's session key; None: neither
    flag: str | None = ""                # the command line's: "" = --field-name; None = no flag
    label: str = ""                      # N_(): the widget's label
    help: str = ""                       # N_(): the widget's help and the flag's
    unit: str = ""                       # what a value counts ("pairs", "epochs"): the flag's metavar
    # added after checkpoints and the exercises' results were saved: `to_dict` leaves it out while it
    # holds its default, so those files and hashes stay as they were (`from_dict` fills it back in)
    omit_default: bool = False
    name: str = ""                       # the field's
    default: Any = None                  # the field's; None also means "unset" is allowed (dec_num_hiddens)

    def check(self, value: Any) -> None:
        """ValueError (a Text naming the field) when `value` is not allowed."""
        if value is None and self.default is None:
            return
        if self.kind == INT:
            check_int(self.name, value, int(self._low()), int(self._high()))
        elif self.kind == FLOAT:
            check_float(self.name, value, self._low(), self._high(), open_low=self.open_low)
        elif self.kind == BOOL:
            require(isinstance(value, bool), Text("{name} must be True or False", name=self.name))
        else:
            require(value in self.choices or (bool(self.also) and str(value).startswith(self.also)),
                    one_of(self.name, self.choices, value))

    def _low(self) -> float:
        if self.low is None:
            raise TypeError(f"the number setting {self.name!r} needs low and high")
        return self.low

    def _high(self) -> float:
        if self.high is None:
            raise TypeError(f"the number setting {self.name!r} needs low and high")
        return self.high

    @property
    def flag_name(self) -> str | None:
        return None if self.flag is None else (self.flag or "--" + self.name.replace("_", "-"))


# -- declaring: `lr: float = real(0.005, 0.0, 10.0, open_low=True, url="lr", label=N_("Learning rate"))`
def knob(default: Any, setting: Setting) -> Any:
    """A dataclass field with `default` and `setting` as its declaration."""
    return field(default=default, metadata={SETTING: setting})


def integer(default: int | None, low: int, high: int, **about: Any) -> Any:
    return knob(default, Setting(kind=INT, low=low, high=high, **about))


def real(default: float, low: float, high: float, **about: Any) -> Any:
    return knob(default, Setting(kind=FLOAT, low=low, high=high, **about))


def choice(default: str, choices: tuple[str, ...], **about: Any) -> Any:
    return knob(default, Setting(kind=CHOICE, choices=choices, **about))


def switch(default: bool, **about: Any) -> Any:
    return knob(default, Setting(kind=BOOL, **about))


def declared(cls: type) -> tuple[Setting, ...]:
    """The settings of dataclass `cls`, in field order, with each field's name and default."""
    return tuple(replace(f.metadata[SETTING], name=f.name, default=f.default)
                 for f in fields(cls) if SETTING in f.metadata)


def by_url(*classes: type) -> dict[str, Setting]:
    """URL parameter -> setting, over `classes`. Two fields may share a parameter (the one seed
    of the data and the training) only with the same declaration."""
    table: dict[str, Setting] = {}
    for cls in classes:
        for setting in declared(cls):
            if setting.url is None:
                continue
            first = table.setdefault(setting.url, setting)
            if replace(first, name="", default=None) != replace(setting, name="", default=None):
                raise TypeError(f"{setting.url!r} is declared twice, differently ({first.name}, {setting.name})")
    return table


# -- the command line ----------------------------------------------------------------------------
def add_flags(parser: argparse.ArgumentParser, *classes: type) -> None:
    """One flag per declared setting that has one, defaulting to the field's default. A flag two
    fields share (--seed) is added once; a switch's flag turns its default around (--unmasked)."""
    seen: set[str] = set()
    for cls in classes:
        for s in declared(cls):
            flag = s.flag_name
            if flag is None or flag in seen:
                continue
            seen.add(flag)
            said = _flag_help(s)
            if s.kind == BOOL:
                action = "store_false" if s.default else "store_true"
                parser.add_argument(flag, dest=s.name, action=action, default=s.default,
                                    help=f"switches off: {said}" if s.default else said)
            elif s.kind == CHOICE:
                parser.add_argument(flag, dest=s.name, default=s.default, help=said,
                                    choices=None if s.also else s.choices)
            else:
                parser.add_argument(flag, dest=s.name, type=int if s.kind == INT else float, default=s.default,
                                    help=said, metavar=s.unit.upper() or None)


def _flag_help(s: Setting) -> str:
    """The label and help, and a number's bounds as an interval: "Learning rate (0, 10], default 0.005"."""
    said = ": ".join(part for part in (s.label, s.help) if part).replace("%", "%%")   # argparse formats with %
    if s.kind in (INT, FLOAT):
        default = "unset by default" if s.default is None else "default %(default)s"
        said += f" {'(' if s.open_low else '['}{shown_number(s._low())}, {shown_number(s._high())}], {default}"
    return said


def shown_number(x: float) -> str:
    """1000000 -> '1,000,000', 0.005 -> '0.005': a bound or a limit as messages show it."""
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def from_args(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `cls` that `add_flags` put into `args`."""
    return {s.name: getattr(args, s.name) for s in declared(cls) if s.flag is not None}


def values_of(cls: type, values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `cls` found in `values`, which are named by URL parameter (a form's)."""
    return {s.name: values[s.url] for s in declared(cls) if s.url is not None and s.url in values}


# -- the checks, with messages that say what to fix ----------------------------------------------
def require(condition: bool, message: Text) -> None:
    if not condition:
        raise ValueError(message)


def check_int(name: str, value: Any, low: int, high: int) -> None:
    require(isinstance(value, int) and not isinstance(value, bool),
            Text("{name} must be an integer, got {value!r}", name=name, value=value))
    require(low <= value <= high,
            Text("{name} must be between {low} and {high}, got {value}", name=name, low=low, high=high, value=value))


def check_float(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> None:
    require(isinstance(value, (int, float)) and not isinstance(value, bool),
            Text("{name} must be a number, got {value!r}", name=name, value=value))
    require(math.isfinite(value), Text("{name} must be finite, got {value}", name=name, value=value))
    if open_low:
        require(value > low, Text("{name} must be greater than {low}, got {value}", name=name, low=low, value=value))
    else:
        require(value >= low, Text("{name} must be at least {low}, got {value}", name=name, low=low, value=value))
    require(value <= high, Text("{name} must be at most {high}, got {value}", name=name, high=high, value=value))


def one_of(name: str, choices: Iterable[str], value: Any) -> Text:
    """The message of a setting outside its choices (a code name, its options, what was given)."""
    return Text("{name} must be one of {choices}, got {value!r}", name=name, choices=tuple(choices), value=value)

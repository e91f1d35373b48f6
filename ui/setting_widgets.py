"""A form's widgets drawn from the settings' declarations (core/settings.py).

Each widget takes its label, help, bounds and kept session key from its setting, and its first
value from the form's defaults; the form chooses only the kind of widget, where it goes and how
it looks (a step, a format). The bounds come from `core.service.limits.bounds`, the one place
the server's limits narrow them; the form's link is checked against the same (`highs`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from core.service.limits import Limits, bounds
from core.settings import FLOAT, INT, Setting, values_of

from . import state
from .i18n import _
from .state import kept

C = TypeVar("C")


class SettingWidgets:
    """Draws settings by URL parameter and remembers what each widget returned in this run."""

    def __init__(self, settings: Mapping[str, Setting], defaults: Mapping[str, Any], limits: Limits | None,
                 prefix: str = state.TRAIN_SETTING):
        self.settings, self.defaults, self.limits, self.prefix = settings, defaults, limits, prefix
        self.values: dict[str, Any] = {}

    def key(self, url: str) -> str:
        """The kept name of a setting's widget: one name for the link and the session."""
        return self.prefix + url

    def keys(self) -> dict[str, str]:
        return {url: self.key(url) for url in self.settings}

    def bounds(self, url: str) -> tuple[Any, Any]:
        """The widget's (low, high) on this server, as ints for a whole-number setting."""
        setting = self.settings[url]
        low, high = bounds(setting, self.limits)
        return (int(low), int(high)) if setting.kind == INT else (float(low), float(high))

    def highs(self) -> dict[str, float]:
        """Each number setting's high on this server, for checking a link's values."""
        return {url: self.bounds(url)[1] for url, s in self.settings.items() if s.kind in (INT, FLOAT)}

    def _widget(self, url: str, layout: dict[str, Any]) -> dict[str, Any]:
        """label (translated), help and the kept key, under the form's own layout arguments."""
        setting = self.settings[url]
        return {"label": _(setting.label), "help": _(setting.help) if setting.help else None,
                **kept(self.key(url), self.defaults[url]), **layout}

    def _returned(self, url: str, value: Any) -> Any:
        self.values[url] = value
        return value

    def number(self, where: Any, url: str, **layout: Any) -> Any:
        low, high = self.bounds(url)
        widget = self._widget(url, layout)
        # a kept value above the server's limit (a link's, or one set since) comes down to it: a
        # number_input refuses a value past its max_value
        value = state.get_kept(self.key(url))
        if isinstance(value, (int, float)) and value > high:
            state.set_kept(self.key(url), high)
        return self._returned(url, where.number_input(min_value=low, max_value=high, **widget))

    def slider(self, where: Any, url: str, **layout: Any) -> Any:
        low, high = self.bounds(url)
        return self._returned(url, where.slider(min_value=low, max_value=high, **self._widget(url, layout)))

    def radio(self, where: Any, url: str, **layout: Any) -> Any:
        return self._returned(url, where.radio(options=self.settings[url].choices, horizontal=True,
                                           **self._widget(url, layout)))

    def select(self, where: Any, url: str, **layout: Any) -> Any:
        """A selectbox over the setting's choices, or over `options=` where the form offers more."""
        options = layout.pop("options", self.settings[url].choices)
        return self._returned(url, where.selectbox(options=options, **self._widget(url, layout)))

    def toggle(self, where: Any, url: str, **layout: Any) -> Any:
        return self._returned(url, where.toggle(**self._widget(url, layout)))

    def config(self, cls: type[C], **given: Any) -> C:
        """A config from the widgets drawn for its fields; `given` for what no widget sets."""
        return cls(**{**values_of(cls, self.values), **given})

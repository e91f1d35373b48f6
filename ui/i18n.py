"""The reader's language in the app: `_()` for every string a page shows, and the picker.

The language is chosen in the sidebar of every page; the first time it comes from the URL
(`?lang=zh`), else from the browser (`st.context.locale`, then the Accept-Language header),
else English. It is kept for the session and in the URL, so a shared link opens in its
language, and the sidebar's links carry it to every page.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_, from_accept_language, language_of, text_in, translator  # noqa: F401

from . import state

LANG_PARAM = "lang"


def current() -> str:
    """The session's language, decided on its first run."""
    lang = state.get(state.LANGUAGE)
    if lang is None:
        lang = _first_language()
        state.put(state.LANGUAGE, lang)
    return lang


def _first_language() -> str:
    asked = language_of(st.query_params.get(LANG_PARAM))
    if asked:
        return asked
    try:
        browser = language_of(st.context.locale) or from_accept_language(st.context.headers.get("Accept-Language"))
    except (AttributeError, RuntimeError):       # no browser behind this run (bare mode)
        browser = None
    return browser or DEFAULT_LANGUAGE


def _(message: str) -> str:
    """`message` in the reader's language (English is the source text)."""
    return translator(current())(message)


def said(message: object) -> str:
    """What the engine said (an error, a job's status line: a `core.i18n.Text`), in the reader's language."""
    return text_in(message, current())


def _in_url() -> bool:
    """Whether links name the language: always, except English nobody asked for (clean URLs)."""
    return current() != DEFAULT_LANGUAGE or LANG_PARAM in st.query_params


def keep_in_url() -> None:
    lang = current()
    if _in_url() and st.query_params.get(LANG_PARAM) != lang:
        st.query_params[LANG_PARAM] = lang


def _chosen() -> None:
    picked = state.get(state.LANGUAGE_PICKER)
    if picked in LANGUAGES:               # clicking the chosen one again deselects it: keep it
        state.put(state.LANGUAGE, picked)
        st.query_params[LANG_PARAM] = picked


def picker() -> None:
    """The sidebar's language choice (the same on every page)."""
    lang = current()
    if LANG_PARAM in st.query_params and language_of(st.query_params.get(LANG_PARAM)) not in (None, lang):
        lang = language_of(st.query_params.get(LANG_PARAM))     # a ?lang= link opened in this session
        state.put(state.LANGUAGE, lang)
    state.put(state.LANGUAGE_PICKER, lang)
    st.segmented_control("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.get, key=state.LANGUAGE_PICKER,
                         on_change=_chosen, label_visibility="collapsed")
    keep_in_url()


def link_params() -> dict[str, str]:
    """Query parameters every internal link carries: the language, where the URL names it."""
    return {LANG_PARAM: current()} if _in_url() else {}


def shown_as(labels: dict[str, str]) -> Callable[[str], str]:
    """A format_func showing each option (a value the code compares) as its label in the reader's
    language. Translated now, while the page runs: a format_func is also called outside the run
    (AppTest does, to read a widget), where the reader's language is not known."""
    shown = {value: _(label) for value, label in labels.items()}
    return lambda value: shown.get(value, value)

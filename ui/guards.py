"""Error guards: a failure the user caused becomes a message saying what to do, never a traceback.

CheckpointError, DataError and config validation errors are all ValueErrors, and carry the
engine's words (a `core.i18n.Text`): shown in the reader's language, escaped (`md_escape`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from . import i18n
from .text import md_escape

T = TypeVar("T")


def show_error(what: str, err: BaseException | str, hint: str = "") -> None:
    st.error(f"**{md_escape(what)}**: {md_escape(i18n.said(err))}" + (f"  \n{hint}" if hint else ""), icon="⚠️")


def guarded(what: str, fn: Callable[..., T], *args, hint: str = "", **kwargs) -> T | None:
    """Call `fn`; a user-caused failure (a ValueError) becomes a message saying what to do, and None."""
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        show_error(what, err, hint)
        return None


def raised_by(fn: Callable[..., object], *args) -> ValueError | None:
    """The ValueError `fn(*args)` raised, or None when it succeeded."""
    try:
        fn(*args)
    except ValueError as err:
        return err
    return None


def guarded_message(fn: Callable[..., object], *args) -> str | None:
    """None when `fn(*args)` succeeds; the message of the ValueError it raised otherwise (in the
    reader's language)."""
    refused = raised_by(fn, *args)
    return None if refused is None else i18n.said(refused)

"""Shareable setups: a view's settings live in the URL (as TensorFlow Playground keeps its own).

`follow_url` (before the view's widgets are drawn) fills the kept widget values from a link
the tab was opened with, through `core.setups`' checks: a refused value gets a message and its
default. `keep_in_url` (after they are drawn) writes the values that differ from the defaults
back into the URL, so the address bar is always a link to what the tab shows; `share_box`
offers it to copy. Only the view's own parameters are touched (the tab's `run` token stays).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from core.setups import Field, read_setup, write_setup

from . import i18n, state
from .i18n import _
from .text import md_escape


def _url_values(fields: tuple[Field, ...]) -> dict[str, str]:
    return {f.name: st.query_params[f.name] for f in fields if f.name in st.query_params}


def follow_url(view: str, fields: tuple[Field, ...], keys: Mapping[str, str], defaults: Mapping[str, Any],
               highs: Mapping[str, float] | None = None) -> None:
    """Set the kept values named in the URL, once per link (not again after the tab's own edits)."""
    given = _url_values(fields)
    signature = tuple(sorted(given.items()))
    if not given or state.get(state.LINK_APPLIED + view) == signature:
        return
    values, problems = read_setup(given, fields, highs)
    for name in given:
        state.set_kept(keys[name], values.get(name, defaults[name]))
    state.put(state.LINK_APPLIED + view, signature)
    state.put(state.LINK_PROBLEMS + view, problems)


def show_problems(view: str) -> None:
    problems = state.get(state.LINK_PROBLEMS + view)
    if problems:
        st.warning(_("This link had values this page cannot use; they were set to their defaults: {problems}.").format(
            problems="; ".join(md_escape(i18n.said(p)) for p in problems)), icon="🔗")


def keep_in_url(view: str, fields: tuple[Field, ...], values: Mapping[str, Any],
                defaults: Mapping[str, Any]) -> dict[str, str]:
    """Write `values` (those unlike their defaults) into the URL; the parameters written."""
    params = write_setup(values, defaults, fields)
    for field in fields:
        if field.name in params:
            if st.query_params.get(field.name) != params[field.name]:
                st.query_params[field.name] = params[field.name]
        elif field.name in st.query_params:
            del st.query_params[field.name]
    state.put(state.LINK_APPLIED + view, tuple(sorted(params.items())))   # our own edit, not a new link
    return params


def link_to(params: Mapping[str, str]) -> str:
    """This page's address with `params` (the browser's own URL where Streamlit knows it)."""
    base = (st.context.url or "").split("?")[0].split("#")[0]
    return f"{base}?{urlencode(params)}" if params else base


def share_box(label: str, params: Mapping[str, str], note: str = "") -> None:
    """The link as text to select and copy (the address bar holds the same link). Not a text
    field: it is not input, and the URL-encoded link holds no backtick to end the code span."""
    with st.expander(f"🔗 {label}"):
        st.markdown(f"`{link_to(params)}`")
        st.caption(_("Select and copy it; the address bar shows the same link."))
        st.caption(_("Anyone who opens this link gets these settings filled in (their own copy: nothing is "
                     "shared but the settings).") + (f" {note}" if note else ""))

"""The frame every page shares (`start_page`), and the few widgets several views draw.

The sidebar is `ui/sidebar.py`, the job badge `ui/job_badge.py`, error guards `ui/guards.py`, a
checkpoint's description `ui/checkpoint_facts.py`; user text is never interpreted (`ui/text.py`).
"""
from __future__ import annotations

import streamlit as st

from core.device import one_thread_per_job
from core.setups import (
    MAX_TEXT_CHARS,  # per text field; longer text is cut, with a message
    )

from . import context_choice, models, server, sidebar, state
from .i18n import _
from .job_badge import show as show_job_badge
from .sidebar import PAGES, Active


# -- the page frame ---------------------------------------------------------------------------
def start_page(title: str, icon: str, job_badge: bool = True) -> Active:
    """What every page does first, in order; the checkpoint in use.

    `job_badge=False`: no training-job badge in the sidebar (the Train view shows the job
    itself; a second polling fragment there would take time from the training thread)."""
    st.set_page_config(page_title=f"{_(title)} · seq2seq playground", page_icon=icon, layout="wide")
    server.check_settings()           # a bad limit of the operator's stops the page, saying which
    one_thread_per_job()              # torch's threads: the server's jobs share the cores
    active = sidebar.draw()           # language, links, the checkpoint in use
    if job_badge:
        show_job_badge()              # this tab's job: also its heartbeat while on another page
    return active


# -- widgets several views draw ----------------------------------------------------------------
def long_text_input(where, label: str, name: str, default: str, **kwargs) -> str:
    """A kept text input that takes any length and uses the first MAX_TEXT_CHARS characters,
    saying so (a widget's own max_chars silently drops a longer paste)."""
    text = where.text_input(label, **state.kept(name, default), **kwargs)
    if len(text) > MAX_TEXT_CHARS:
        st.warning(_("{field}: {count:,} characters; the first {most:,} are used.").format(
            field=label, count=len(text), most=MAX_TEXT_CHARS), icon="✂️")
        return text[:MAX_TEXT_CHARS]
    return text


def no_checkpoint(what: str) -> None:
    """Say clearly why there is no model to use, and offer training."""
    if models.available():          # there are checkpoints: the one picked did not load
        st.warning(_("{what} needs a model, and the checkpoint picked in the sidebar could not be loaded "
                     "(the sidebar says why): pick another one there, or train a new one.").format(what=what),
                   icon="🧭")
    else:
        st.warning(_("{what} needs a trained model and none is available: the shipped "
                     "`checkpoints/default.pt` is missing and no other checkpoint was found. "
                     "Train one (a synthetic task takes seconds) or upload a `.pt` file in the sidebar.").format(
                         what=what), icon="🧭")
    st.page_link(PAGES["train"], label=_("Train a model"), icon="🏋️", query_params=context_choice.link_params())

"""Per-browser-session state shared by all pages: the one place that knows the keys.

Streamlit forgets a widget's value when the user visits a page that does not draw it,
unless the widget has a key and `persist_state="session"`: `kept()` gives both, and puts
the default in session state first (so no widget gets a default *and* a state value).
"""
from __future__ import annotations

from typing import Any

import streamlit as st

KEEP = "keep."                          # prefix of the keys of kept() widgets
ACTIVE_CHECKPOINT = "active_checkpoint"  # CheckpointRef.key of the checkpoint in use
UPLOADS = "uploaded_checkpoints"         # {ref key: (file name, bytes)}
TRAIN_JOB = "train_job"                  # this tab's core.service.jobs.TrainingJob
TRAIN_TOKEN = "train_token"              # its token in ui.jobs' registry and the URL (?run=)
TRAIN_RUNS = "train_runs"                # finished runs of this tab, for comparison
TRAIN_RECORDED = "train_recorded"        # the job last added to TRAIN_RUNS
BLEU_PRED, BLEU_REF = "bleu.pred", "bleu.ref"   # kept() names; filled by Decode and the corpus table


def kept(name: str, default: Any) -> dict[str, str]:
    """Widget kwargs: a key whose value lives on across pages; `default` the first time."""
    key = KEEP + name
    st.session_state.setdefault(key, default)
    return {"key": key, "persist_state": "session"}


def set_kept(name: str, value: Any) -> None:
    """Set a kept widget's value (only before that widget is drawn in this run)."""
    st.session_state[KEEP + name] = value


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def put(key: str, value: Any) -> None:
    st.session_state[key] = value


def prefill_bleu(pred: str, ref: str) -> None:
    """Open the BLEU view's sentence mode on this pair (only before its widgets are drawn)."""
    set_kept(BLEU_PRED, pred)
    set_kept(BLEU_REF, ref)

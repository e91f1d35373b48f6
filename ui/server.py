"""This server's shared training setup (core.service.serving), made once per server process.

Limits come from the environment, then `.streamlit/secrets.toml`. A bad limit stops every page
with a message that names the variable, rather than letting runs ignore it.
"""
from __future__ import annotations

import os

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from core.service.limits import LimitError, Limits
from core.service.serving import Serving, serve


def _secrets() -> dict:
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except (FileNotFoundError, StreamlitSecretNotFoundError):   # no secrets file: nothing set there
        return {}


def serving() -> Serving:
    """The server's one setup (a changed SEQ2SEQ_* environment, as in tests, makes a new one)."""
    return _serving(tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("SEQ2SEQ_"))))


@st.cache_resource(show_spinner="Connecting to the training cluster…")
def _serving(settings: tuple[tuple[str, str], ...]) -> Serving:
    return serve(dict(settings), _secrets())


def limits() -> Limits:
    return serving().limits


def check_settings() -> None:
    """On every page: a bad limit is the operator's to fix, so it is said plainly and nothing runs."""
    try:
        serving()
    except LimitError as err:
        st.error(f"This server's settings are invalid: {err}. The operator sets them in the "
                 "environment or in `.streamlit/secrets.toml` (README, “Serving a class”).", icon="🛑")
        st.stop()


def upload_limit_mb(most: int | None = None) -> int:
    """The largest upload a widget takes: the operator's SEQ2SEQ_MAX_UPLOAD_MB, or less where
    the engine takes less anyway (`most`: a data file's 64 MiB), so the browser refuses it first."""
    return min(limits().max_upload_mb, most) if most else limits().max_upload_mb

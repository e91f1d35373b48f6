"""This server's shared training setup (core.service.serving), made once per server process.

Limits come from the environment, then `.streamlit/secrets.toml`. A bad limit stops every page
with a message that names the variable, rather than letting runs ignore it.
"""
from __future__ import annotations

import os
import threading
import time

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from core.service.limits import LimitError, Limits
from core.service.serving import RETRY_SECONDS, Serving, serve

from . import i18n
from .i18n import _


def _secrets() -> dict:
    try:
        return {key: st.secrets[key] for key in st.secrets}
    except (FileNotFoundError, StreamlitSecretNotFoundError):   # no secrets file: nothing set there
        return {}


_remade: dict[tuple[tuple[str, str], ...], Serving] = {}   # setups made again after a lost cluster
_remaking = threading.Lock()                                # one tab at a time tries the cluster again


def serving(retry_lost_cluster: bool = False) -> Serving:
    """The server's one setup (a changed SEQ2SEQ_* environment, as in tests, makes a new one).

    `retry_lost_cluster` (a Start does it): a setup that could not reach its Ray cluster, made
    at least RETRY_SECONDS ago, is made again, so a cluster started meanwhile is found without
    restarting the app. Only that tab waits for the cluster's answer: the new setup is made
    outside Streamlit's cache (whose entry every other session would wait on), and while one
    tab tries, the others keep the setup they had."""
    settings = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("SEQ2SEQ_")))
    with st.spinner(_("Connecting to the training cluster…")):   # shown after half a second: not on a cache hit
        setup = _remade.get(settings) or _serving(settings)
        if (retry_lost_cluster and setup.problem and time.monotonic() - setup.made_at >= RETRY_SECONDS
                and _remaking.acquire(blocking=False)):
            try:
                setup = _remade[settings] = serve(dict(settings), _secrets())
            finally:
                _remaking.release()
        return setup


@st.cache_resource(show_spinner=False)     # a decorator's text is fixed at import: serving() shows it translated
def _serving(settings: tuple[tuple[str, str], ...]) -> Serving:
    return serve(dict(settings), _secrets())


def limits() -> Limits:
    return serving().limits


def check_settings() -> None:
    """On every page: a bad limit is the operator's to fix, so it is said plainly and nothing runs."""
    try:
        serving()
    except LimitError as err:
        st.error(_("This server's settings are invalid: {error}. The operator sets them in the "
                   "environment or in `.streamlit/secrets.toml` (README, “Serving a class”).").format(
                       error=i18n.said(err)), icon="🛑")
        st.stop()


def upload_limit_mb(most: int | None = None) -> int:
    """The largest upload a widget takes: the operator's SEQ2SEQ_MAX_UPLOAD_MB, or less where
    the engine takes less anyway (`most`: a data file's 64 MiB), so the browser refuses it first."""
    return min(limits().max_upload_mb, most) if most else limits().max_upload_mb

"""This browser's workspace (`core.service.workspaces`): where its runs and imports are saved, and
the only checkpoints of a shared server, besides the shared ones, that its tabs list.

The workspace's random id is kept in a cookie, so a reload, a second tab of the same browser and
a later visit find the same checkpoints, and a link copied from the address bar carries none of
them. Streamlit reads cookies (`st.context.cookies`: those the browser sent when the tab
connected) but has no call to set one: a one-line script in the sidebar writes it while the
browser does not send it yet. A value the browser sends is used only if it is the shape of an id
(`is_workspace_id`), so it can never name a folder outside the workspaces. Where cookies are
refused, each session is a workspace of its own: its runs are listed until the tab is reloaded
(the files stay, and the operator still lists them).
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.service.workspaces import is_workspace_id, new_workspace_id, workspace_dir

from . import state

COOKIE = "seq2seq_workspace"
KEEP_SECONDS = 365 * 24 * 3600      # a browser keeps its workspace for a year from its first visit


def current() -> str:
    """This session's workspace id: the one it began with, else its browser's, else a new one."""
    workspace = state.get(state.WORKSPACE)
    if workspace is None:
        sent = _sent_cookie()
        workspace = sent if is_workspace_id(sent) else new_workspace_id()
        state.put(state.WORKSPACE, workspace)
    return workspace


def folder() -> Path:
    """Where this browser's runs and imports are saved."""
    return workspace_dir(current())


def keep_in_browser() -> None:
    """Write the workspace's cookie while the browser does not send it (its first visit, or
    an invalid value). The id is 16 URL-safe characters, nothing a script could be made of."""
    workspace = current()
    if _sent_cookie() == workspace:
        return
    st.html(f"<script>document.cookie = '{COOKIE}={workspace}; path=/; max-age={KEEP_SECONDS}; SameSite=Lax'"
            " + (location.protocol === 'https:' ? '; Secure' : '');</script>", unsafe_allow_javascript=True)


def _sent_cookie() -> str | None:
    try:
        return st.context.cookies.get(COOKIE)
    except (AttributeError, RuntimeError):       # no browser behind this run (bare mode)
        return None

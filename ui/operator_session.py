"""The operator's sign-in, kept for the browser session.

The token typed on the operator page is kept in this Streamlit session's state (never in the URL).
A reload opens a new session, so the browser also keeps a pass in a session cookie: a value
signed with the token that proves it was given, never the token (`core.service.operator_pass`).
A reload, or another tab of the same browser, then finds the operator signed in; closing the
browser, ⏏️ Sign out, PASS_SECONDS, or a new SEQ2SEQ_OPERATOR_TOKEN ends it.

Streamlit reads cookies (`st.context.cookies`: those the browser sent when the tab connected) but
has no call to set one: a one-line script writes it, as `ui.workspace` writes its own.
"""
from __future__ import annotations

import os
import time

import streamlit as st

from core.service.operator import operator_token, token_matches
from core.service.operator_pass import issue_pass, pass_valid

from . import state

COOKIE = "seq2seq_operator"


def signed_in() -> bool:
    """This session gave the right token, or its browser sent a valid pass (then the session is
    signed in from now on, as if the token had been typed here)."""
    expected = operator_token(os.environ)
    if expected is None:
        return False
    if token_matches(state.get(state.OPERATOR_TOKEN), expected):
        return True
    if state.get(state.OPERATOR_SIGNED_OUT) or not pass_valid(sent_pass(), expected, time.time()):
        return False
    state.put(state.OPERATOR_TOKEN, expected)        # server-side session state, as a typed token is
    return True


def sign_in(given: str) -> bool:
    """Sign this session in if `given` is the operator's token, and give its browser a new pass."""
    expected = operator_token(os.environ)
    if expected is None or not token_matches(given, expected):
        return False
    state.put(state.OPERATOR_TOKEN, given)
    state.put(state.OPERATOR_SIGNED_OUT, False)
    state.put(state.OPERATOR_PASS, issue_pass(expected, time.time()))
    return True


def sign_out() -> None:
    """Forget the token here and the pass in the browser (the cookie this session was sent
    stays in st.context until a reload: OPERATOR_SIGNED_OUT makes this session ignore it)."""
    state.put(state.OPERATOR_TOKEN, None)
    state.put(state.OPERATOR_PASS, None)
    state.put(state.OPERATOR_SIGNED_OUT, True)


def keep_in_browser() -> None:
    """Write this session's pass into the browser's cookie, or remove the cookie once signed
    out, where the browser does not hold that already. A session cookie (no max-age): it ends
    with the browser session. The pass is digits, URL-safe base64 and hex: nothing a script is made of."""
    wanted, sent = state.get(state.OPERATOR_PASS), sent_pass()
    if wanted is not None and wanted != sent:
        cookie = f"{COOKIE}={wanted}; path=/; SameSite=Strict"
    elif state.get(state.OPERATOR_SIGNED_OUT) and sent is not None:
        cookie = f"{COOKIE}=; path=/; max-age=0; SameSite=Strict"
    else:
        return
    st.html(f"<script>document.cookie = '{cookie}' + (location.protocol === 'https:' ? '; Secure' : '');</script>",
            unsafe_allow_javascript=True)


def sent_pass() -> str | None:
    """The pass the browser sent when this tab connected (None: none, or no browser: bare mode)."""
    try:
        return st.context.cookies.get(COOKIE)
    except (AttributeError, RuntimeError):
        return None

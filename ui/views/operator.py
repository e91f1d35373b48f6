"""The operator page: every job on this server (running and waiting), its load, cancel, clear.

Nothing of it shows unless SEQ2SEQ_OPERATOR_TOKEN is set and the same token is entered here;
the token is kept in this tab's Streamlit session only (a reload asks for it again), never in the URL.
"""
from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.i18n import Text
from core.service.operator import (
    CANCELLED_BY_OPERATOR,
    TOKEN,
    find_job,
    job_rows,
    operator_token,
    server_load,
    token_matches,
)

from .. import i18n, server, state
from ..i18n import N_, _
from ..text import md_escape
from ..widgets import status_word

# The tables' columns as the reader reads them (core names them in English; the rows stay data)
COLUMNS = {"limit": N_("limit"), "variable": N_("variable"), "value": N_("value"), "job": N_("job"), "tab": N_("tab"),
           "what": N_("what"), "settings": N_("settings"), "status": N_("status"), "place": N_("place"),
           "epochs": N_("epochs"), "elapsed s": N_("elapsed s"), "CPU s": N_("CPU s"), "where": N_("where")}


def _table(rows: list[dict]) -> pd.DataFrame:
    """The rows with translated column names and the engine's words (`Text` cells) translated."""
    shown = [{key: i18n.said(value) if isinstance(value, Text) else value for key, value in row.items()}
             for row in rows]
    return pd.DataFrame(shown).rename(columns=lambda c: _(COLUMNS[c]) if c in COLUMNS else c)


def enabled() -> bool:
    return operator_token(os.environ) is not None


def unlocked() -> bool:
    """Ask for the token; True once this session gave the right one (says so when it is wrong)."""
    expected = operator_token(os.environ)
    if expected is None:
        st.info(_("The operator page is off on this server: set `{variable}` in the environment of "
                  "`python serve.py` to turn it on (README, “Serving a class”).").format(variable=TOKEN), icon="🔒")
        return False
    if token_matches(state.get(state.OPERATOR_TOKEN), expected):
        return True
    given = st.text_input(_("Operator token"), type="password", key="operator.token_input")
    if not given:
        st.info(_("Enter the operator token to see this server's jobs."), icon="🔑")
        return False
    if not token_matches(given, expected):
        st.error(_("Wrong token: nothing of the operator page is shown."), icon="🚫")
        return False
    state.put(state.OPERATOR_TOKEN, given)
    return True


def refresh_line() -> None:
    """What the page shows and how to refresh it: a button, since a reload opens a new Streamlit
    session, and the token is kept in this one only (never in the URL), so a reload asks again."""
    c = st.columns([4, 1], vertical_alignment="center")
    c[0].caption(_("Every run on this server, whichever tab started it, as of the last refresh. 🔄 Refresh keeps "
                   "you signed in; reloading the page asks for the operator token again."))
    c[1].button(_("🔄 Refresh"), key="operator.refresh")


def load_panel() -> None:
    setup = server.serving()
    st.subheader(_("🖥️ Server"))
    st.markdown(_("Runs train in {where}; {free} free slot(s) now.").format(where=md_escape(i18n.said(setup.where)),
                                                                          free=setup.queue.free_slots()))
    load = server_load()
    c = st.columns(4)
    c[0].metric(_("Load (1 min)"), f"{load['load 1 min']:.2f}" if load["load 1 min"] is not None else "–")
    c[1].metric(_("Memory available"),
                f"{load['memory available MiB']:,.0f} MiB" if load["memory available MiB"] else "–")
    c[2].metric(_("App process peak"), f"{load['app process peak MiB']:,.0f} MiB")
    c[3].metric(_("Workers' peak"), f"{load['worker processes peak MiB']:,.0f} MiB")
    st.dataframe(_table(setup.limits.as_rows()), hide_index=True)


def jobs_panel() -> None:
    queue = server.serving().queue
    st.subheader(_("🏃 Jobs"))
    rows = job_rows(queue)
    if not rows:
        st.info(_("No run is training or waiting."), icon="💤")
        return
    st.dataframe(_table(rows), hide_index=True, key="operator.jobs")
    c = st.columns([2, 1, 1], vertical_alignment="bottom")
    ids = [r["job"] for r in rows]
    labels = {r["job"]: _("{job} · tab {tab} · {what} ({status})").format(job=r["job"], tab=r["tab"], what=i18n.said(r["what"]),
                                                                        status=status_word(r["status"])) for r in rows}
    picked = c[0].selectbox(_("Job"), ids, format_func=labels.get, key="operator.pick")
    if c[1].button(_("⏹️ Cancel job"), key="operator.cancel"):
        job = find_job(queue, picked)
        if job is not None:
            job.cancel(CANCELLED_BY_OPERATOR)        # shown to the job's owner, in their tab's language
            st.toast(_("Cancelled {job}: {name}").format(job=job.job_id, name=i18n.said(job.name)))
            st.rerun()
    waiting = len(queue.waiting())
    if c[2].button(_("🧹 Clear the queue ({waiting})").format(waiting=waiting), key="operator.clear",
                   disabled=not waiting):
        st.toast(_("Took {cleared} waiting run(s) out of the queue").format(cleared=queue.clear()))
        st.rerun()

"""The operator page: every job on this server (running and waiting), its load, cancel, clear.

Nothing of it shows unless SEQ2SEQ_OPERATOR_TOKEN is set and the same token is entered here;
the token is kept for this browser session only, never in the URL.
"""
from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.service.operator import TOKEN, find_job, job_rows, operator_token, server_load, token_matches

from .. import server, state
from ..widgets import md_escape


def enabled() -> bool:
    return operator_token(os.environ) is not None


def unlocked() -> bool:
    """Ask for the token; True once this session gave the right one (says so when it is wrong)."""
    expected = operator_token(os.environ)
    if expected is None:
        st.info(f"The operator page is off on this server: set `{TOKEN}` in the environment of "
                "`streamlit run` to turn it on (README, “Serving a class”).", icon="🔒")
        return False
    if token_matches(state.get(state.OPERATOR_TOKEN), expected):
        return True
    given = st.text_input("Operator token", type="password", key="operator.token_input")
    if not given:
        st.info("Enter the operator token to see this server's jobs.", icon="🔑")
        return False
    if not token_matches(given, expected):
        st.error("Wrong token: nothing of the operator page is shown.", icon="🚫")
        return False
    state.put(state.OPERATOR_TOKEN, given)
    return True


def load_panel() -> None:
    setup = server.serving()
    st.subheader("🖥️ Server")
    st.markdown(f"Runs train in {md_escape(setup.where)}; {setup.queue.free_slots()} free slot(s) now.")
    load = server_load()
    c = st.columns(4)
    c[0].metric("Load (1 min)", f"{load['load 1 min']:.2f}" if load["load 1 min"] is not None else "–")
    c[1].metric("Memory available", f"{load['memory available MiB']:,.0f} MiB" if load["memory available MiB"] else "–")
    c[2].metric("App process peak", f"{load['app process peak MiB']:,.0f} MiB")
    c[3].metric("Workers' peak", f"{load['worker processes peak MiB']:,.0f} MiB")
    st.dataframe(pd.DataFrame(setup.limits.as_rows()), hide_index=True)


def jobs_panel() -> None:
    queue = server.serving().queue
    st.subheader("🏃 Jobs")
    rows = job_rows(queue)
    if not rows:
        st.info("No run is training or waiting.", icon="💤")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="operator.jobs")
    c = st.columns([2, 1, 1], vertical_alignment="bottom")
    ids = [r["job"] for r in rows]
    labels = {r["job"]: f"{r['job']} · tab {r['tab']} · {r['what']} ({r['status']})" for r in rows}
    picked = c[0].selectbox("Job", ids, format_func=labels.get, key="operator.pick")
    if c[1].button("⏹️ Cancel job", key="operator.cancel"):
        job = find_job(queue, picked)
        if job is not None:
            job.cancel("cancelled by this server's operator")
            st.toast(f"Cancelled {job.job_id}: {job.name}")
            st.rerun()
    waiting = len(queue.waiting())
    if c[2].button(f"🧹 Clear the queue ({waiting})", key="operator.clear", disabled=not waiting):
        st.toast(f"Took {queue.clear()} waiting run(s) out of the queue")
        st.rerun()

"""The operator page: every job on this server (running and waiting), its load, cancel, clear.

Nothing of it shows unless SEQ2SEQ_OPERATOR_TOKEN is set and the same token is entered here;
the operator then stays signed in for the browser session (`ui.operator_session`: a signed
pass in a cookie, never the token, and nothing in the URL). The panels redraw themselves every
REFRESH_SECONDS from one look at the queue, and the actions act on what the operator saw (the
rows as drawn), saying what changed since.
"""
from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.history import Status
from core.i18n import Text
from core.service.operator import TOKEN, cancel_job, clear_queue, job_rows, operator_token, server_load
from core.service.operator_pass import PASS_SECONDS
from core.service.queue import JobQueue, QueueState

from .. import i18n, operator_session, server, state
from ..i18n import N_, _
from ..job_badge import status_word
from ..polling import poll
from ..text import md_escape

REFRESH_SECONDS = 5.0     # the panels redraw this often: a fragment, so the sign-in and the title stay
SAID = "operator.said"    # session state: what the last action did, in the engine's words (Texts)
TOKEN_INPUT = "operator.token_input"

# The tables' columns as the reader reads them (core names them in English; the rows stay data)
COLUMNS = {"limit": N_("limit"), "variable": N_("variable"), "value": N_("value"), "job": N_("job"), "tab": N_("tab"),
           "what": N_("what"), "settings": N_("settings"), "status": N_("status"), "place": N_("place"),
           "epochs": N_("epochs"), "elapsed s": N_("elapsed s"), "CPU s": N_("CPU s"), "where": N_("where")}


def _table(rows: list[dict]) -> pd.DataFrame:
    """The rows with translated column names and the engine's words (`Text` cells) translated."""
    shown = [{key: i18n.said(value) if isinstance(value, Text) else value for key, value in row.items()}
             for row in rows]
    return pd.DataFrame(shown).rename(columns=lambda c: _(COLUMNS[c]) if c in COLUMNS else c)


def _limits_table(rows: list[dict]) -> None:
    """The limits: a value may be a sentence ('100,000 (default: …)'), given the room to be read."""
    st.dataframe(_table(rows), hide_index=True, column_config={_(COLUMNS["value"]): st.column_config.TextColumn(
        width="large")})


def _jobs_table(rows: list[dict]) -> None:
    """The jobs as a static table, whose cells wrap: "settings" and "where" are sentences that a
    grid's fixed columns would cut off. Its cells are Markdown, so every text is escaped (a run's
    name is the student's); an empty cell where a value does not apply (a running run's place)."""
    def cell(value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, float):
            return f"{value:,.1f}"
        return md_escape(i18n.said(value) if isinstance(value, Text) else str(value))
    table = pd.DataFrame([{key: status_word(value) if key == "status" else cell(value) for key, value in row.items()}
                          for row in rows])
    st.table(table.rename(columns=lambda c: _(COLUMNS[c]) if c in COLUMNS else c), hide_index=True)


def unlocked() -> bool:
    """True once this session (or, through its pass, this browser) gave the right token; else
    ask for it (and say when it is wrong)."""
    if operator_token(os.environ) is None:
        st.info(_("The operator page is off on this server: set `{variable}` in the environment of "
                  "`python serve.py` to turn it on (README, “Serving a class”).").format(variable=TOKEN), icon="🔒")
        return False
    signed_in = operator_session.signed_in() or _ask_for_the_token()
    operator_session.keep_in_browser()         # the new pass after a sign-in, or the cookie's removal after Sign out
    return signed_in


def _ask_for_the_token() -> bool:
    given = st.text_input(_("Operator token"), type="password", key=TOKEN_INPUT)
    if not given:
        st.info(_("Enter the operator token to see this server's jobs."), icon="🔑")
        return False
    if not operator_session.sign_in(given):
        st.error(_("Wrong token: nothing of the operator page is shown."), icon="🚫")
        return False
    st.rerun()          # drawn again without the token box: the token typed leaves the page


def account_line() -> None:
    """What the page shows, that it refreshes itself, how long the sign-in lasts, and Sign out."""
    c = st.columns([5, 1], vertical_alignment="center")
    c[0].caption(_("Every run on this server, whichever tab started it; the page refreshes itself every "
                   "{seconds:g} s. This browser stays signed in until it closes (at most {hours:g} hours) or "
                   "you sign out.").format(seconds=REFRESH_SECONDS, hours=PASS_SECONDS / 3600))
    c[1].button(_("⏏️ Sign out"), key="operator.sign_out", on_click=_sign_out)


def _sign_out() -> None:
    operator_session.sign_out()
    st.session_state[TOKEN_INPUT] = ""          # else the token typed earlier signs this session in again


def panels() -> None:
    """The server's load and its jobs, redrawn every REFRESH_SECONDS (a fragment)."""
    poll(live, REFRESH_SECONDS)


def live() -> None:
    """The fragment's body: one look at the queue, drawn as the load panel and the jobs."""
    setup = server.serving()
    look = setup.queue.state()
    load_panel(look)
    jobs_panel(setup.queue, look)


def load_panel(look: QueueState) -> None:
    setup = server.serving()
    st.subheader(_("🖥️ Server"))
    st.markdown(_("Runs train in {where}; {free} free slot(s) now.").format(where=md_escape(i18n.said(setup.where)),
                                                                          free=look.free_slots))
    load = server_load()
    c = st.columns(4)
    c[0].metric(_("Load (1 min)"), _figure(load["load 1 min"], "{:.2f}"))
    c[1].metric(_("Memory available"), _figure(load["memory available MiB"]))
    c[2].metric(_("App process peak"), _figure(load["app process peak MiB"]))
    c[3].metric(_("Workers' peak"), _figure(load["worker processes peak MiB"]),
                help=_("The largest peak memory of a worker process that trained on this server; "
                       "– until a run has trained here."))
    _limits_table(setup.limits.as_rows())


def _figure(value: float | None, form: str = "{:,.0f} MiB") -> str:
    return form.format(value) if value is not None else "–"


def jobs_panel(queue: JobQueue, look: QueueState) -> None:
    st.subheader(_("🏃 Jobs"))
    rows = job_rows(look)
    said = state.get(SAID)
    if said:
        st.info("\n\n".join(i18n.said(s) for s in said), icon="📝")
    if not rows:
        st.info(_("No run is training or waiting."), icon="💤")
        return
    _jobs_table(rows)
    c = st.columns([2, 1, 1], vertical_alignment="bottom")
    seen = {r["job"]: Status(r["status"]) for r in rows}       # what the operator sees, for the actions
    labels = {r["job"]: _("{job} · tab {tab} · {what} ({status})").format(job=r["job"], tab=r["tab"], what=i18n.said(r["what"]),
                                                                        status=status_word(r["status"])) for r in rows}
    c[0].selectbox(_("Job"), list(seen), format_func=labels.get, key="operator.pick")
    c[1].button(_("⏹️ Cancel job"), key="operator.cancel", on_click=_cancel, args=(queue, seen))
    waiting = [job for job, status in seen.items() if status == Status.QUEUED]
    c[2].button(_("🧹 Clear the queue ({waiting})").format(waiting=len(waiting)), key="operator.clear",
                disabled=not waiting, on_click=_clear, args=(queue, tuple(waiting)))


# The actions are callbacks: Streamlit calls them with the arguments of the run that drew the
# button, so they act on the jobs as the operator saw them, not as a later look finds them.
def _cancel(queue: JobQueue, seen: dict[str, Status]) -> None:
    picked = st.session_state.get("operator.pick")
    if picked in seen:
        state.put(SAID, [cancel_job(queue, picked, seen[picked])])


def _clear(queue: JobQueue, seen_waiting: tuple[str, ...]) -> None:
    state.put(SAID, clear_queue(queue, seen_waiting))

"""The operator page: absent without the token, refused with a wrong one, cancels with the right one."""
from __future__ import annotations

import json
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from core.service.operator_pass import issue_pass, pass_valid
from core.service.queue import JobQueue
from tests.apptest_helpers import HANG_GUARD, rerun_until, tab_job, wait_until, workspace_of
from tests.test_pages import HOME, ROOT, TRAIN, no_exception, open_page, tiny_run_state
from ui import operator_session
from ui.views import operator as operator_view

OPERATOR = "pages/7_🛠️_Operator.py"
TOKEN = "correct horse battery staple"


def operator_page(token: str | None = None) -> AppTest:
    at = no_exception(open_page(OPERATOR))
    if token is not None:
        at = no_exception(at.text_input(key="operator.token_input").input(token).run())
    return at


def nav_labels(at: AppTest) -> list[str]:
    return [link.label for link in at.sidebar.get("page_link")]


def test_without_the_token_the_operator_page_is_absent_and_says_how_to_turn_it_on(app_dir, monkeypatch):
    monkeypatch.delenv("SEQ2SEQ_OPERATOR_TOKEN", raising=False)
    assert "Operator" not in nav_labels(no_exception(open_page(HOME)))
    at = operator_page()
    assert any("operator page is off" in i.value for i in at.info)
    assert not at.text_input and not at.dataframe and not at.button


def test_a_wrong_or_missing_token_shows_nothing_of_it(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    assert "Operator" in nav_labels(no_exception(open_page(HOME)))
    at = operator_page()
    assert any("Enter the operator token" in i.value for i in at.info) and not at.dataframe
    for wrong in ("correct horse", TOKEN + " ", "x" * 10_000):
        at = operator_page(wrong)
        assert any("Wrong token" in e.value for e in at.error)
        assert not at.dataframe and not at.metric and not at.button


def start_tab(name: str, epochs: int) -> AppTest:
    at = open_page(TRAIN, **tiny_run_state(name=name, epochs=epochs))
    return no_exception(next(b for b in at.button if b.label == "▶️ Start training").click().run())


def wait_for_warning(at: AppTest, text: str) -> AppTest:
    return rerun_until(at, lambda page: any(text in w.value for w in page.warning), f"the warning {text!r}")


def jobs_table(at: AppTest):
    """The jobs: a static table (st.table), whose cells wrap instead of being cut off."""
    return at.table[-1].value


def wide_columns(table) -> set[str]:
    """The columns a table gives the room of a sentence (column_config width "large")."""
    config = json.loads(table.proto.columns or "{}")
    return {name.removeprefix("col:") for name, column in config.items() if column.get("width") == "large"}


def workers_peak(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Workers' peak")


@pytest.mark.slow
def test_the_right_token_lists_every_job_cancels_one_and_clears_the_queue(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    monkeypatch.setenv("SEQ2SEQ_MAX_JOBS", "1")
    first, second, third = start_tab("first-run", 100_000), start_tab("second-run", 100_000), start_tab("third-run", 2)
    at = operator_page(TOKEN)
    jobs = jobs_table(at)
    assert list(jobs["what"]) == ["first-run", "second-run", "third-run"]
    assert list(jobs["status"]) == ["running", "queued", "queued"] and list(jobs["place"]) == ["", "1", "2"]
    assert {"tab", "settings", "epochs", "CPU s", "where"} <= set(jobs.columns) and jobs["tab"].nunique() == 3
    assert at.metric and any("SEQ2SEQ_MAX_JOBS" in d.value.to_string() for d in at.dataframe)   # every column
    at = rerun_until(at, lambda page: workers_peak(page) != "–" and tab_job(first).stats.pid,
                     "the first run's worker and a worker's report of its peak memory",
                     rerun=lambda _page: operator_page(TOKEN))
    assert float(workers_peak(at).removesuffix(" MiB").replace(",", "")) > 50     # a worker that imported torch
    jobs = jobs_table(at)
    assert jobs["where"][0] == f"worker process {tab_job(first).stats.pid}"            # whole sentences, not cut
    assert jobs["settings"][0].endswith("batch 16, 100000 epochs, lr 0.005")
    at.selectbox(key="operator.pick").set_value(jobs["job"][0])
    no_exception(at.button(key="operator.cancel").click().run())
    wait_for_warning(first, "cancelled by this server's operator")
    at = operator_page(TOKEN)
    at = rerun_until(at, lambda page: list(jobs_table(page)["status"]) == ["running", "queued"],
                     "the next run to take the freed slot", rerun=lambda _page: operator_page(TOKEN))
    assert list(jobs_table(at)["what"]) == ["second-run", "third-run"]
    no_exception(at.button(key="operator.clear").click().run())
    wait_for_warning(third, "the operator cleared the queue")
    at = operator_page(TOKEN)
    no_exception(at.button(key="operator.cancel").click().run())          # the one left: second-run
    wait_for_warning(second, "cancelled by this server's operator")
    assert any("No run is training or waiting" in i.value for i in operator_page(TOKEN).info)
    assert not (workspace_of(third) / "third-run.pt").exists() and (workspace_of(first) / "first-run.pt").exists()


@pytest.mark.slow
def test_clear_and_cancel_act_on_the_jobs_the_operator_saw_and_say_what_changed_since(app_dir, monkeypatch):
    """Issue 24: after a Cancel the page offered Clear (1), but the waiting run had taken the slot
    meanwhile: Clear removed nothing and said nothing, and that run kept training unnoticed."""
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    monkeypatch.setenv("SEQ2SEQ_MAX_JOBS", "1")
    first, second, third = start_tab("first-run", 100_000), start_tab("second-run", 100_000), start_tab("third-run", 2)
    at = operator_page(TOKEN)                   # the operator sees first-run training, two runs waiting
    assert at.button(key="operator.clear").label == "🧹 Clear the queue (2)"
    tab_job(first).stop()                       # meanwhile its own tab stops it: second-run takes the slot
    wait_until(lambda: tab_job(second).status == "running", "the next run to take the freed slot")
    at = no_exception(at.button(key="operator.clear").click().run())         # on the page as it was drawn
    wait_for_warning(third, "the operator cleared the queue")
    said = " ".join(i.value for i in at.info)
    assert "Took 1 waiting run(s) out of the queue" in said
    assert "second-run) had taken a free slot meanwhile and is training now" in said
    assert tab_job(second).status == "running"              # named, and not stopped behind the operator's back

    at = operator_page(TOKEN)                   # the operator sees second-run training and picks it
    tab_job(second).stop()                      # its tab stops it before the operator's click arrives
    assert tab_job(second).join(HANG_GUARD)
    at = no_exception(at.button(key="operator.cancel").click().run())
    assert any("had already ended: nothing to cancel" in i.value for i in at.info)
    assert tab_job(second).message != "cancelled by this server's operator"


def cookie_script(at: AppTest) -> str:
    """The page's script that writes the operator cookie into the browser ('' if none)."""
    return next((html.proto.body for html in at.get("html") if "seq2seq_operator=" in html.proto.body), "")


def written_cookie(at: AppTest) -> str | None:
    """The operator cookie the page writes into the browser ('' when it removes it; None: it writes none)."""
    found = re.search(r"seq2seq_operator=([^;']*)", cookie_script(at))
    return found.group(1) if found else None


def reload_with(monkeypatch, cookie: str | None) -> AppTest:
    """A reload: a new session, whose browser sends `cookie` as the operator pass (AppTest has no
    browser, so the page's one reading of the cookie is given it)."""
    monkeypatch.setattr(operator_session, "sent_pass", lambda: cookie)
    return operator_page()


def test_a_reload_keeps_the_operator_signed_in_with_a_signed_pass_never_the_token(app_dir, monkeypatch):
    """docs/SERVING.md: signed in for the browser session (a session cookie holding a pass signed
    with the token), never the token in the URL or the cookie; Sign out ends it."""
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    monkeypatch.setattr(operator_session, "sent_pass", lambda: None)          # a browser without the cookie yet
    at = operator_page(TOKEN)
    kept = written_cookie(at)
    assert at.dataframe and kept and TOKEN not in kept and TOKEN not in str(dict(at.query_params))
    assert pass_valid(kept, TOKEN, time.time()) and "SameSite=Strict" in cookie_script(at)
    assert "max-age" not in cookie_script(at).lower()        # a session cookie: it ends with the browser

    reloaded = reload_with(monkeypatch, kept)
    assert reloaded.dataframe and not reloaded.text_input and written_cookie(reloaded) is None
    forged = kept[:-1] + ("1" if kept.endswith("0") else "0")                # one hex digit of its MAC changed
    for refused in (forged, issue_pass("an old token", time.time()),
                    issue_pass(TOKEN, 0.0), TOKEN):              # issued at the epoch: long expired
        at = reload_with(monkeypatch, refused)
        assert any("Enter the operator token" in i.value for i in at.info) and not at.dataframe

    signed_out = no_exception(reloaded.button(key="operator.sign_out").click().run())
    assert signed_out.text_input and not signed_out.dataframe and written_cookie(signed_out) == ""
    assert not no_exception(signed_out.run()).dataframe          # the cookie it was sent is ignored from now on
    serving = (ROOT / "docs" / "SERVING.md").read_text(encoding="utf-8")
    assert "signed in for the browser session" in serving and "a reload asks for it again" not in serving


def test_the_panels_redraw_themselves_in_a_fragment_from_one_look_at_the_queue(app_dir, monkeypatch):
    """AppTest never fires a run_every fragment: the page must hand its panels to one, and the
    function it hands over draws the server and the jobs as they are at each call."""
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    polled = []
    real_poll = operator_view.poll
    monkeypatch.setattr(operator_view, "poll", lambda draw, every: polled.append((draw, every)) or real_poll(draw, every))
    looks = []
    monkeypatch.setattr(JobQueue, "state", lambda queue, real=JobQueue.state: looks.append(1) or real(queue))
    at = operator_page(TOKEN)
    assert polled == [(operator_view.live, operator_view.REFRESH_SECONDS)] and 0 < operator_view.REFRESH_SECONDS <= 10
    assert len(looks) == 1          # the load panel, the table and the buttons read one look at the queue
    assert any("refreshes itself every 5 s" in c.value for c in at.caption)


def test_the_limits_table_shows_each_limit_in_force_never_none(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    for variable in ("SEQ2SEQ_MAX_EPOCHS", "SEQ2SEQ_MAX_QUEUE", "SEQ2SEQ_MAX_PARAMETERS"):
        monkeypatch.delenv(variable, raising=False)
    limits = operator_page(TOKEN).dataframe[0].value
    assert "value" in wide_columns(operator_page(TOKEN).dataframe[0])      # '100,000 (default: …)' is read whole
    shown = dict(zip(limits["variable"], limits["value"]))
    assert shown["SEQ2SEQ_MAX_EPOCHS"] == "100,000 (default: the Epochs box's bound)"
    assert shown["SEQ2SEQ_MAX_QUEUE"] == shown["SEQ2SEQ_MAX_PARAMETERS"] == "no limit"
    assert not any(str(v) in ("None", "nan") for v in shown.values())
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=HANG_GUARD)
    at.query_params["lang"] = "zh"
    at.run()
    at.switch_page(OPERATOR)
    at = no_exception(no_exception(at.run()).text_input(key="operator.token_input").input(TOKEN).run())
    values = " ".join(str(v) for v in at.dataframe[0].value.iloc[:, -1])
    assert "100,000" in values and "不限" in values and "None" not in values and "no limit" not in values

"""The operator page: absent without the token, refused with a wrong one, cancels with the right one."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import HANG_GUARD, rerun_until
from tests.test_pages import HOME, ROOT, TRAIN, no_exception, open_page, tiny_run_state

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
    return at.dataframe[-1].value


@pytest.mark.slow
def test_the_right_token_lists_every_job_cancels_one_and_clears_the_queue(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    monkeypatch.setenv("SEQ2SEQ_MAX_JOBS", "1")
    first, second, third = start_tab("first-run", 100_000), start_tab("second-run", 100_000), start_tab("third-run", 2)
    at = operator_page(TOKEN)
    jobs = jobs_table(at)
    assert list(jobs["what"]) == ["first-run", "second-run", "third-run"]
    assert list(jobs["status"]) == ["running", "queued", "queued"] and list(jobs["place"])[1:] == [1, 2]
    assert {"tab", "settings", "epochs", "CPU s", "where"} <= set(jobs.columns) and jobs["tab"].nunique() == 3
    assert at.metric and any("SEQ2SEQ_MAX_JOBS" in d.value.to_string() for d in at.dataframe[:-1])   # every column
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
    assert not (app_dir / "third-run.pt").exists() and (app_dir / "first-run.pt").exists()


def test_the_token_is_kept_by_refresh_but_a_reload_asks_for_it_again_as_the_docs_say(app_dir, monkeypatch):
    """docs/SERVING.md: kept in the tab's session (🔄 Refresh keeps it), never in the URL; a reload is a new session."""
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    at = operator_page(TOKEN)
    assert at.dataframe and "reloading the page asks for the operator token again" in " ".join(c.value for c in at.caption)
    at = no_exception(at.button(key="operator.refresh").click().run())
    assert at.dataframe and not at.text_input and TOKEN not in str(dict(at.query_params))
    assert any("Enter the operator token" in i.value for i in operator_page().info)   # a reload
    serving = (ROOT / "docs" / "SERVING.md").read_text(encoding="utf-8")
    assert "kept for the browser session" not in serving and "a reload asks for it again" in serving


def test_the_limits_table_shows_each_limit_in_force_never_none(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    for variable in ("SEQ2SEQ_MAX_EPOCHS", "SEQ2SEQ_MAX_QUEUE", "SEQ2SEQ_MAX_PARAMETERS"):
        monkeypatch.delenv(variable, raising=False)
    limits = operator_page(TOKEN).dataframe[0].value
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

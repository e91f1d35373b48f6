"""The Train view on a shared server: the operator's limits as bounds and refusals, the queue."""
from __future__ import annotations

import time

import pytest

from tests.apptest_helpers import rerun_until, workspace_of
from tests.test_pages import TRAIN, by_label, no_exception, open_page, tiny_run_state
from ui.polling import WAITING_SECONDS
from ui.views.train_live import REFRESH_SECONDS

START = "▶️ Start training"


def texts(elements) -> list[str]:
    """What each element says, without the markdown escapes (SEQ2SEQ\\_MAX...)."""
    return [e.value.replace("\\", "") for e in elements]


def start(at):
    return no_exception(next(b for b in at.button if b.label == START).click().run())


def test_the_epochs_widget_is_bounded_by_the_servers_limit_and_shows_the_limits(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_MAX_EPOCHS", "20")
    monkeypatch.setenv("SEQ2SEQ_MAX_PARAMETERS", "5000")
    at = no_exception(open_page(TRAIN, **tiny_run_state()))
    epochs = by_label(at.number_input, "Epochs")
    assert epochs.max == 20 and epochs.value == 20          # the book's 300 came down to the limit
    assert any("at most: epochs 20, parameters 5,000 per run" in c.value for c in at.caption)


def test_a_run_past_a_limit_is_refused_before_it_runs_naming_the_limit(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_MAX_PARAMETERS", "500")
    at = start(open_page(TRAIN, **tiny_run_state(name="too-big", epochs=2)))
    assert any("SEQ2SEQ_MAX_PARAMETERS" in e and "at most 500" in e for e in texts(at.error))
    assert not (workspace_of(at) / "too-big.pt").exists() and not any("running" in p.text for p in at.get("progress"))


def test_a_run_over_the_parameter_limit_is_refused_without_its_model_ever_being_built(app_dir, monkeypatch):
    """The limit bounds the server's memory: the parameters are counted from the spec's config."""
    def refuse(*args, **kwargs):
        raise AssertionError("the server built the run's model")
    monkeypatch.setattr("core.train.build_model", refuse)
    monkeypatch.setattr("core.train.Trainer", refuse)
    monkeypatch.setenv("SEQ2SEQ_MAX_PARAMETERS", "500")
    at = start(open_page(TRAIN, **tiny_run_state(name="never-built", epochs=2)))
    assert any("SEQ2SEQ_MAX_PARAMETERS" in e and "at most 500" in e for e in texts(at.error))
    assert not (workspace_of(at) / "never-built.pt").exists() and not (app_dir / "never-built.pt").exists()


def test_a_bad_limit_stops_every_page_with_a_message_naming_it(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_MAX_EPOCHS", "lots")
    at = open_page(TRAIN)
    assert not at.exception
    assert any("SEQ2SEQ_MAX_EPOCHS" in e and "settings are invalid" in e for e in texts(at.error))


@pytest.mark.slow
def test_a_second_tab_waits_in_the_queue_shows_its_place_and_stop_takes_it_out(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_MAX_JOBS", "1")
    first = start(open_page(TRAIN, **tiny_run_state(name="long", epochs=100_000)))
    second = start(open_page(TRAIN, **tiny_run_state(name="waits", epochs=2)))
    waiting = [i.value for i in second.info if "training queue" in i.value]
    assert waiting and "number 1 in line" in waiting[0] and "1 run trains at once" in waiting[0]
    second = no_exception(second.button(key="train.stop").click().run())
    second = rerun_until(second, lambda page: page.warning, "the waiting run's message")
    assert any("taken out of the queue" in w.value for w in second.warning)
    assert not (workspace_of(second) / "waits.pt").exists()
    first = no_exception(first.button(key="train.stop").click().run())


@pytest.mark.slow
def test_a_waiting_tab_polls_seldom_and_a_running_one_at_its_pace(app_dir, monkeypatch):
    """A class of waiting tabs must leave the server's time to the pages in use (issue 15)."""
    import ui.polling
    intervals: list[float | None] = []
    fragment = ui.polling.st.fragment
    monkeypatch.setattr(ui.polling.st, "fragment",
                        lambda run_every=None: intervals.append(run_every) or fragment(run_every=run_every))
    monkeypatch.setenv("SEQ2SEQ_MAX_JOBS", "1")
    monkeypatch.setenv("SEQ2SEQ_TEST_QUEUE", str(time.monotonic_ns()))   # a queue of its own: no earlier test's run
    first = start(open_page(TRAIN, **tiny_run_state(name="long", epochs=100_000)))
    assert intervals[-1] == REFRESH_SECONDS
    intervals.clear()
    second = start(open_page(TRAIN, **tiny_run_state(name="waits", epochs=2)))
    assert intervals[-1] == WAITING_SECONDS > REFRESH_SECONDS
    first = no_exception(first.button(key="train.stop").click().run())
    second = rerun_until(second, lambda page: any("epoch" in p.text for p in page.get("progress")),
                         "the waiting run to start")
    assert intervals[-1] == REFRESH_SECONDS                  # its turn came: polled as a running run
    no_exception(second.button(key="train.stop").click().run())


def test_a_start_tries_a_lost_cluster_again_without_restarting_the_app(app_dir, monkeypatch):
    """The cluster was down when the app started; once it is back, a Start finds it."""
    import ui.server
    from core.i18n import Text
    from core.service.serving import Serving, serve
    made = []

    def cluster_back_on_second_try(env, secrets=None):
        made.append(1)
        if len(made) == 1:
            lost = serve({"SEQ2SEQ_WORKERS": "thread"})
            return Serving(lost.limits, lost.runner, lost.queue, lost.where,
                           problem=Text("the Ray cluster at {address} cannot be reached ({reason})",
                                        address="10.0.0.9:6379", reason="test"), made_at=time.monotonic() - 60)
        return serve({"SEQ2SEQ_WORKERS": "thread"})

    monkeypatch.setattr(ui.server, "serve", cluster_back_on_second_try)
    monkeypatch.setenv("SEQ2SEQ_RAY_ADDRESS", f"10.0.0.9:{time.monotonic_ns()}")   # its own cached setup
    at = no_exception(open_page(TRAIN, **tiny_run_state(name="after-restart", epochs=2)))
    assert any("cannot be reached" in e.value for e in at.error) and len(made) == 1
    at = start(at)
    assert len(made) == 2 and not any("cannot be reached" in e.value for e in at.error)
    assert any("epoch" in p.text or "queue" in p.text for p in at.get("progress")) or at.success

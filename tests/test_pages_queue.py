"""What a tab shows of the server's training queue: a waiting tab's place, the counts of runs
training and waiting, and its expected wait agree with each other (one look at the queue) and
follow what happens; a tab whose run has ended never keeps a count drawn once."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

import ui.jobs
from tests.apptest_helpers import HANG_GUARD, rerun_until, tab_job, wait_until
from tests.test_pages import TRAIN, no_exception, open_page, tiny_run_state
from ui.polling import WAITING_SECONDS


def start_tab(name: str, epochs: int) -> AppTest:
    at = open_page(TRAIN, **tiny_run_state(name=name, epochs=epochs))
    return no_exception(next(b for b in at.button if b.label == "▶️ Start training").click().run())


def waiting_message(at: AppTest) -> str:
    return " ".join(i.value for i in at.info if "training queue" in i.value)


def counts(text: str) -> tuple[int, int] | None:
    """(training, waiting) as a sentence of the page gives them."""
    found = re.search(r"Runs now: (\d+) training, (\d+) waiting", text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def counts_on_screen(at: AppTest) -> list[tuple[int, int]]:
    """Every count of the queue the page shows, wherever it shows one."""
    texts = [e.value for e in at.caption] + [e.value for e in at.info] + [e.value for e in at.markdown]
    return [c for c in map(counts, texts) if c is not None]


@pytest.mark.slow
def test_a_waiting_tab_shows_its_place_the_counts_and_its_wait_from_one_look_and_they_follow_the_queue(
        app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_MAX_JOBS", "1")
    polled: list[tuple[object, float | None]] = []
    real_poll = ui.jobs.poll
    monkeypatch.setattr(ui.jobs, "poll", lambda draw, every: polled.append((draw, every)) or real_poll(draw, every))
    first, second, third = start_tab("first-run", 100_000), start_tab("second-run", 100_000), start_tab("third-run", 2)

    said = waiting_message(third)
    assert "number 2 in line;" in said and counts(said) == (1, 2) and "1 run trains at once" in said
    assert counts_on_screen(third) == [(1, 2)]                   # one count on the screen: the message's own
    assert "the expected wait shows once the running runs have finished an epoch" in said
    wait_until(lambda: tab_job(first).seconds_per_epoch, "the running run's first epoch")
    third = no_exception(third.run())
    assert "expected to start in about" in waiting_message(third)    # from the running run's measured epochs

    polled.clear()
    first = no_exception(first.run())                                # a training tab: the counts, polled
    assert counts_on_screen(first) == [(1, 2)] and (ui.jobs._queue_counts, WAITING_SECONDS) in polled

    first = no_exception(first.button(key="train.stop").click().run())
    wait_until(lambda: tab_job(second).status == "running", "the next run to take the freed slot")
    third = no_exception(third.run())
    said = waiting_message(third)
    assert "number 1 in line;" in said and counts(said) == (1, 1)

    polled.clear()
    first = rerun_until(first, lambda page: not tab_job(page).alive, "the stopped run's end")
    first = no_exception(first.run())
    assert counts_on_screen(first) == [(1, 1)]
    assert (ui.jobs._queue_counts, WAITING_SECONDS) in polled       # an ended tab's count is redrawn, not kept
    for tab in (second, third):
        tab_job(tab).stop()
        assert tab_job(tab).join(HANG_GUARD)

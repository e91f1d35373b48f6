"""Load: a class of 24 tabs presses Start on tiny runs within seconds, one run at a time.

Marked `browser`, `load` and `slow`. SEQ2SEQ_MAX_JOBS=1: one run trains, the others wait in the
queue. Checks correctness only: every tab's run finishes with its own checkpoint (its seed,
name and settings: no cross-talk), runs end in the order they were queued, a tab that waited
showed its place, and no tab shows an exception. How long a page switch takes in another tab
meanwhile is measured by bench/class_bench.py (same scenario).
"""
from __future__ import annotations

import pytest

from core.checkpoint import load_checkpoint
from tests.browser import class_scenario as scenario
from tests.browser import streamlit_server as sts

pytestmark = [pytest.mark.browser, pytest.mark.load, pytest.mark.slow]

TABS, EPOCHS = 24, 60       # a run lasts longer than a press takes: the queue fills
HANG_GUARD_MS = 300_000


@pytest.fixture
def class_server():
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder, env={"SEQ2SEQ_MAX_JOBS": "1"}) as server:
        yield server


def test_a_class_of_24_tabs_queues_and_every_run_gets_its_own_checkpoint(class_server, browser):
    browser.set_default_timeout(HANG_GUARD_MS)
    tabs = scenario.open_tabs(browser, class_server.url, TABS, EPOCHS)
    _, said = scenario.press_start(tabs)
    waited = [text for text in said if "in line;" in text]            # "… number 7 in line; …"
    names = [scenario.run_name(i) for i in range(TABS)]
    for i, tab in enumerate(tabs):                  # each tab sees its own run end
        tab.get_by_text(f"Run {scenario.run_name(i)} finished").first.wait_for(timeout=HANG_GUARD_MS)
        assert sts.exceptions(tab) == 0
    paths = [sts.saved_run(class_server.checkpoint_dir, name) for name in names]    # the browser's workspace
    for i, path in enumerate(paths):
        ckpt = load_checkpoint(path)
        assert ckpt.data_config.seed == i and ckpt.data_config.source == "reverse"
        assert ckpt.model_config.num_hiddens == 8 and len(ckpt.history.epoch_loss) == EPOCHS
    ended = [path.stat().st_mtime_ns for path in paths]
    assert ended == sorted(ended), "the runs did not end in the order they were queued"
    assert len(waited) >= TABS // 2, "the tabs that waited did not show their place in the queue"

"""Load: 20 decoding sessions (tabs) at once against one server; the model is loaded once.

Marked `browser`, `load` and `slow` (`-m "not load"` leaves it out). It checks correctness
only: every tab gets its own sentence's translation, no exception, one model load. No time
budget: each wait has a hang guard of several minutes, far above what a slow machine needs;
how long the sessions take is measured by `bench/load_bench.py` (same scenario).
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.checkpoint import load_checkpoint
from core.decode import greedy_decode
from tests.browser import streamlit_server as sts

pytestmark = [pytest.mark.browser, pytest.mark.load, pytest.mark.slow]

SENTENCES = ["go .", "i lost .", "he's calm .", "i am cold .", "i like cats ."]
TABS = 20
HANG_GUARD_MS = 300_000                       # per wait: only a hung server or browser reaches it
DEFAULT_SHOWN = "je suis chez moi ."          # what Decode shows before the user types


def test_twenty_concurrent_decoding_sessions(fresh_server, browser):
    ckpt = load_checkpoint(sts.DEFAULT_CHECKPOINT)
    num_steps = ckpt.data_config.num_steps
    expected = {s: greedy_decode(ckpt.model, s, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, book=False).translation
                for s in SENTENCES}
    # each tab's answer is told apart from the others' and from the page's default
    assert len(set(expected.values())) == len(SENTENCES) and DEFAULT_SHOWN not in expected.values()

    browser.set_default_timeout(HANG_GUARD_MS)      # fill / press / input_value too, not only waits
    tabs = [sts.first_page(browser)] + [browser.new_page() for _ in range(TABS - 1)]
    for tab in tabs:
        tab.set_default_timeout(HANG_GUARD_MS)
    for tab in tabs:                                   # all sessions connect at once
        tab.goto(fresh_server.url + "/Decode", wait_until="commit", timeout=HANG_GUARD_MS)
    for i, tab in enumerate(tabs):                     # each types its sentence as soon as it can
        box = tab.get_by_label("Source sentence", exact=True)
        box.wait_for(timeout=HANG_GUARD_MS)
        box.fill(SENTENCES[i % len(SENTENCES)])
        box.press("Enter")
    for i, tab in enumerate(tabs):
        sentence = SENTENCES[i % len(SENTENCES)]
        translation = tab.locator('[data-testid="stMain"] [data-testid="stCode"]').first
        expect(translation).to_have_text(expected[sentence], timeout=HANG_GUARD_MS)
        assert tab.get_by_label("Source sentence", exact=True).input_value() == sentence
        assert sts.exceptions(tab) == 0
    # one model for all sessions: the cached loader ran once
    assert sts.cache_computations(fresh_server.url, "ui.models._load_file") == 1

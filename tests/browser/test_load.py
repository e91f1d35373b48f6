"""Load: 20 decoding sessions (tabs) at once against one server; the model is loaded once.

Marked `browser` and `load` (`-m "not load"` leaves it out). Bounded: 20 tabs, 120 s in all.
"""
from __future__ import annotations

import re
import time
import urllib.request

import pytest
from playwright.sync_api import expect

import streamlit_server as sts
from core.checkpoint import load_checkpoint
from core.decode import greedy_decode

pytestmark = [pytest.mark.browser, pytest.mark.load]

SENTENCES = ["go .", "i lost .", "he's calm .", "i am cold .", "i like cats ."]
TABS, BUDGET_S = 20, 120.0
DEFAULT_SHOWN = "je suis chez moi ."          # what Decode shows before the user types


def cache_computations(url: str, cache: str) -> int:
    """How often one st.cache_* function actually ran, from Streamlit's /_stcore/metrics.

    (Its "miss" lookups also count the sessions that waited for another one's computation.)
    """
    with urllib.request.urlopen(url + "/_stcore/metrics", timeout=10) as resp:
        text = resp.read().decode()
    m = re.search(r'cache_compute_duration_seconds_count\{cache="' + re.escape(cache)
                  + r'"[^}]*trigger="miss"\} (\d+)', text)
    assert m, f"no cache metric for {cache} in /_stcore/metrics"
    return int(m.group(1))


def test_twenty_concurrent_decoding_sessions(fresh_server, browser):
    ckpt = load_checkpoint(sts.DEFAULT_CHECKPOINT)
    num_steps = ckpt.data_config.num_steps
    expected = {s: greedy_decode(ckpt.model, s, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, book=False).translation
                for s in SENTENCES}
    # each tab's answer is told apart from the others' and from the page's default
    assert len(set(expected.values())) == len(SENTENCES) and DEFAULT_SHOWN not in expected.values()

    deadline = time.monotonic() + BUDGET_S

    def left_ms() -> float:
        left = deadline - time.monotonic()
        assert left > 0, f"{TABS} decoding sessions took longer than {BUDGET_S:.0f} s"
        return left * 1000

    tabs = [sts.first_page(browser)] + [browser.new_page() for _ in range(TABS - 1)]
    for tab in tabs:                                   # all sessions connect at once
        tab.goto(fresh_server.url + "/Decode", wait_until="commit", timeout=left_ms())
    for i, tab in enumerate(tabs):                     # each types its sentence as soon as it can
        box = tab.get_by_label("Source sentence", exact=True)
        box.wait_for(timeout=left_ms())
        box.fill(SENTENCES[i % len(SENTENCES)])
        box.press("Enter")
    for i, tab in enumerate(tabs):
        sentence = SENTENCES[i % len(SENTENCES)]
        translation = tab.locator('[data-testid="stMain"] [data-testid="stCode"]').first
        expect(translation).to_have_text(expected[sentence], timeout=left_ms())
        assert tab.get_by_label("Source sentence", exact=True).input_value() == sentence
        assert sts.exceptions(tab) == 0
    # one model for all sessions: the cached loader ran once
    assert cache_computations(fresh_server.url, "ui.models._load_file") == 1

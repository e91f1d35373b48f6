"""A class on one server, in a real Chromium: many tabs press Start on tiny runs at once.

Shared by tests/browser/test_class_load.py (which checks what happened) and
bench/class_bench.py (which times a page switch in another tab while the runs train). Each
tab opens the Train view from a shared link (the setup in the URL), gets its own run name,
and presses Start; the tab's seed tells its checkpoint apart from every other tab's.
"""
from __future__ import annotations

import time
from urllib.parse import urlencode

from tests.browser import streamlit_server as sts

TINY = {"source": "reverse", "examples": 96, "held_out": 8, "batch": 16, "num_steps": 6, "embed_size": 8,
        "hiddens": 8, "layers": 1, "sample_every": 5}
ACK = "text=/training queue|running: epoch|finished: epoch/"     # the live panel after a Start
NAV_LINK = '[data-testid="stSidebar"] .st-key-nav a'
TITLES = {"Masking": "Masking", "BLEU": "BLEU", "Decode": "Decode"}


def link(epochs: int, seed: int) -> str:
    return "/Train?" + urlencode({**TINY, "epochs": epochs, "seed": seed})


def open_tabs(ctx, url: str, count: int, epochs: int) -> list:
    """`count` tabs on the Train view, each from its link and with its name class-NN."""
    tabs = [ctx.new_page() for _ in range(count)]
    for i, tab in enumerate(tabs):
        tab.goto(url + link(epochs, seed=i), wait_until="commit")
    for i, tab in enumerate(tabs):
        sts.title(tab).filter(has_text="Train").wait_for()
        sts.wait_idle(tab)
        sts.set_text(tab, "Run name", run_name(i))
    return tabs


def run_name(i: int) -> str:
    return f"class-{i:02d}"


def press_start(tabs) -> tuple[float, list[str]]:
    """Start in each tab in turn, each acknowledged (running or queued) before the next: the
    queue's order is then the tabs' order. (seconds the presses took, what each tab said then)."""
    started, said = time.monotonic(), []
    for tab in tabs:
        tab.get_by_role("button", name="Start training").click()
        ack = tab.locator(ACK).first
        ack.wait_for()
        said.append(ack.inner_text())
    return time.monotonic() - started, said


def switch_seconds(page, label: str) -> float:
    """Click the sidebar link to `label`; seconds until its title shows and its script has ended."""
    start = page.evaluate("performance.now()")
    page.locator(NAV_LINK, has_text=label).click()
    sts.title(page).filter(has_text=TITLES[label]).wait_for()
    sts.wait_idle(page)
    return (page.evaluate("performance.now()") - start) / 1000

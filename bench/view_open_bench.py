"""How long a view takes to open in a real Chromium: on a fresh server, and in a new tab of a warm one.

    python bench/view_open_bench.py [--views Model,Train] [--fresh 3] [--tabs 5]

For each view and each of `--fresh` servers (started anew, like a first visit after the
README's `python serve.py`; how long each took to answer is printed too), then `--tabs` new tabs
(each its own session) of the last one, the page is opened by its deep link, and then reached
from Home by its sidebar link
(as a user moves between views); two moments are read from the page's own clock
(`performance.now()`, from navigation start, or from the click):

- first content: the view's title is visible;
- usable: Model - its first section (shapes and parameters) is drawn; Train - "Start training" is
  enabled. Home is measured too: the floor of the browser's and the session's own start.

Measured, not asserted; targets (issues 12 and 14): Model's first content < 1 s; Train usable
<= 3 s on a fresh server and <= 1.5 s in a warm one.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # run as a file: the repository's tests/ and bench/ beside the installed engine

from tests.browser import streamlit_server as sts  # noqa: E402

VIEWS = {   # deep link -> (title text, JS that is true once the view is usable)
    "": ("seq2seq playground", "() => true"),     # Home: the floor every view starts from
    "Model": ("Inside the model", "() => [...document.querySelectorAll('h2, h3')].some("
                                  "h => h.textContent.includes('Parameters per layer'))"),
    "Train": ("Train", "() => [...document.querySelectorAll('button')].some("
                       "b => b.textContent.includes('Start training') && !b.disabled)"),
}
TITLE_JS = ("(text) => [...document.querySelectorAll('[data-testid=\"stMain\"] h1')]"
            ".some(h => h.textContent.includes(text))")


def open_once(ctx, url: str, view: str) -> tuple[float, float]:
    """(first content, usable) in seconds since navigation start, in a new tab."""
    title, usable_js = VIEWS[view]
    page = ctx.new_page()
    try:
        page.goto(f"{url}/{view}", wait_until="commit")
        page.wait_for_function(TITLE_JS, arg=title, timeout=120_000, polling="raf")
        first = page.evaluate("performance.now()") / 1000
        page.wait_for_function(usable_js, timeout=120_000, polling="raf")
        return first, page.evaluate("performance.now()") / 1000
    finally:
        page.close()


NAV_LINK = '[data-testid="stSidebar"] .st-key-nav a'


def switch_once(ctx, url: str, view: str) -> tuple[float, float]:
    """(first content, usable) in seconds after clicking the view's sidebar link on Home."""
    title, usable_js = VIEWS[view]
    page = ctx.new_page()
    try:
        page.goto(url)
        page.wait_for_function(TITLE_JS, arg=VIEWS[""][0], timeout=120_000)
        sts.wait_idle(page)
        start = page.evaluate("performance.now()")
        page.locator(NAV_LINK, has_text=view).click()
        page.wait_for_function(TITLE_JS, arg=title, timeout=120_000, polling="raf")
        first = (page.evaluate("performance.now()") - start) / 1000
        page.wait_for_function(usable_js, timeout=120_000, polling="raf")
        return first, (page.evaluate("performance.now()") - start) / 1000
    finally:
        page.close()


def summary(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f}; n={len(xs)})"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--views", default=",Model,Train", help="deep links; the empty one is Home")
    p.add_argument("--fresh", type=int, default=3, help="fresh servers per view")
    p.add_argument("--tabs", type=int, default=5, help="new tabs of the warm server per view")
    args = p.parse_args(argv)
    reason = sts.browser_missing_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    load = os.getloadavg()[0]
    rows = []
    for view in args.views.split(","):
        fresh, warm, switched, started = [], [], [], []
        for i in range(args.fresh):
            with sts.checkpoint_folder() as folder, sts.run_streamlit(folder) as server, \
                    sts.chromium_context() as ctx:
                started.append(server.health_seconds)
                fresh.append(open_once(ctx, server.url, view))
                if i == args.fresh - 1:              # new tabs of the same browser: its cache is warm too
                    warm += [open_once(ctx, server.url, view) for _ in range(args.tabs)]
                    if view:
                        switched += [switch_once(ctx, server.url, view) for _ in range(args.tabs)]
            print(f"{view or 'Home'}: fresh server {i + 1} done", file=sys.stderr)
        name = view or "Home"
        rows += [(f"{name}, fresh server: start until it answers", summary(started)),
                 (f"{name}, fresh server: first content", summary([f for f, _ in fresh])),
                 (f"{name}, fresh server: usable", summary([u for _, u in fresh])),
                 (f"{name}, new tab, warm server: first content", summary([f for f, _ in warm])),
                 (f"{name}, new tab, warm server: usable", summary([u for _, u in warm]))]
        if switched:
            rows += [(f"{name}, sidebar link from Home: first content", summary([f for f, _ in switched])),
                     (f"{name}, sidebar link from Home: usable", summary([u for _, u in switched]))]
    print(f"\nview_open_bench: load average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

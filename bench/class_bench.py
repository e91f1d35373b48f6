"""Measure a page switch in one tab while a class's runs train: the scenario of
tests/browser/test_class_load.py, timed.

    python bench/class_bench.py [--tabs 24] [--epochs 10] [--switches 30] [--workers process thread]

For each worker kind (`process`: the app's default, runs in worker processes; `thread`: runs on
threads of the server process, as before), a fresh `python serve.py` with
SEQ2SEQ_MAX_JOBS=1 and a fresh Chromium: `--tabs` tabs open the Train view from a shared link,
each presses Start in turn (acknowledged, as the test does), and while the runs train one more
tab switches between Masking, BLEU and Decode through the sidebar, `--switches` times. A switch
is timed inside the page: the click -> the view's title shown and its script finished. Only
switches made while a run was still training count. Bounded: at most 40 tabs and 100
switches, each wait at most 300 s; the servers and browsers are stopped on the way out.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import class_scenario as scenario  # noqa: E402
from tests.browser import streamlit_server as sts  # noqa: E402

MAX_TABS, MAX_SWITCHES, WAIT_MS = 40, 100, 300_000
VIEWS = ["Masking", "BLEU", "Decode"]


def percentile(xs: list[float], q: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def one_round(workers: str, tabs: int, epochs: int, switches: int) -> dict:
    env = {"SEQ2SEQ_MAX_JOBS": "1", "SEQ2SEQ_WORKERS": workers}
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder, env=env) as server, \
            sts.chromium_context(default_timeout_ms=WAIT_MS) as ctx:
        watcher = ctx.new_page()
        watcher.goto(server.url + "/Masking")
        sts.title(watcher).filter(has_text="Masking").wait_for()
        sts.wait_idle(watcher)
        idle = [scenario.switch_seconds(watcher, VIEWS[(i + 1) % len(VIEWS)]) for i in range(6)]
        class_tabs = scenario.open_tabs(ctx, server.url, tabs, epochs)
        press, said = scenario.press_start(class_tabs)
        last_tab, last_name = class_tabs[-1], scenario.run_name(tabs - 1)
        busy = []
        for i in range(switches):
            if _finished(last_tab, last_name):
                break
            seconds = scenario.switch_seconds(watcher, VIEWS[(i + 1) % len(VIEWS)])
            if not _finished(last_tab, last_name):       # a run was still training all along
                busy.append(seconds)
        last_tab.get_by_text(f"Run {last_name} finished").first.wait_for(timeout=WAIT_MS)
        finished = sum(1 for i in range(tabs) if sts.saved_run(folder, scenario.run_name(i)) is not None)
        return {"workers": workers, "tabs": tabs, "epochs": epochs, "press_seconds": round(press, 2),
                "waited": sum("in line;" in text for text in said),
                "idle_switch_median": round(statistics.median(idle), 3),
                "busy_switches": len(busy),
                "busy_switch_median": round(statistics.median(busy), 3) if busy else None,
                "busy_switch_p95": round(percentile(busy, 0.95), 3) if busy else None,
                "busy_switch_max": round(max(busy), 3) if busy else None,
                "checkpoints": finished}


def _finished(tab, name: str) -> bool:
    """The last queued run has ended (runs end in queue order: then every run has)."""
    return tab.get_by_text(f"Run {name} finished").count() > 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tabs", type=int, default=24)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--switches", type=int, default=30)
    p.add_argument("--workers", nargs="+", default=["process", "thread"], choices=["process", "thread"])
    args = p.parse_args(argv)
    if not 1 <= args.tabs <= MAX_TABS or not 1 <= args.switches <= MAX_SWITCHES:
        p.error(f"at most {MAX_TABS} tabs and {MAX_SWITCHES} switches")
    if sts.browser_missing_reason():
        print(sts.browser_missing_reason())
        return 1
    results = [one_round(w, args.tabs, args.epochs, args.switches) for w in args.workers]
    for r in results:
        print(f"{r['workers']:>7}: {r['tabs']} tabs pressed Start in {r['press_seconds']} s; page switch "
              f"idle median {r['idle_switch_median']} s; while training: median {r['busy_switch_median']} s, "
              f"p95 {r['busy_switch_p95']} s, max {r['busy_switch_max']} s (n={r['busy_switches']}); "
              f"{r['waited']} tabs waited in the queue; {r['checkpoints']}/{r['tabs']} checkpoints")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Measure 20 concurrent decoding sessions: the scenario of tests/browser/test_load.py, timed.

    python bench/load_bench.py [--tabs 20] [--rounds 3] [--time-limit 900]

Each round starts a fresh `python serve.py` (headless, 127.0.0.1 only, a temp checkpoint
folder holding a copy of the shipped default.pt: a first start, the model not loaded yet) and a
fresh Chromium, opens `--tabs` tabs on /Decode at once, and as soon as each tab shows its
"Source sentence" box types one of five sentences and presses Enter, like the test. Times are
taken inside each page (a MutationObserver installed before the app's scripts), so Playwright's
own round trips and the order in which this script visits the tabs are not counted:

* open: the tab's navigation start -> the "Source sentence" box is in the page;
* first translation: navigation start -> the default translation is shown (the first run,
  including the model's one load; n counts the tabs that showed it before their Enter cut
  that run short);
* Enter -> translation shown: the Enter keydown -> the tab's own sentence's translation;
* Enter -> page finished: the Enter keydown -> the script has finished and nothing is a skeleton;
* all tabs: the first `goto` -> the last tab's translation shown (wall clock).

Measured, not asserted; each translation is still checked against `core.decode.greedy_decode`
and reported as a count. Bounded: at most 50 tabs and 10 rounds, each wait at most 300 s, and no
round starts after `--time-limit` seconds; the servers and browsers are stopped on the way out.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import streamlit_server as sts  # noqa: E402

SENTENCES = ["go .", "i lost .", "he's calm .", "i am cold .", "i like cats ."]   # as the test
DEFAULT_SHOWN = "je suis chez moi ."
MAX_TABS, MAX_ROUNDS, WAIT_MS = 50, 10, 300_000

# Installed in every tab before the app's scripts. Epoch milliseconds (timeOrigin + now), so the
# tabs' times can be compared with each other and with this script's clock.
WATCH_JS = """
(() => {
  const now = () => performance.timeOrigin + performance.now();
  const lb = window.__lb = {nav: performance.timeOrigin, box: null, first: null, enter: null,
                            shown: null, idle: null, expected: null, defaultShown: DEFAULT_SHOWN};
  const code = () => {
    const c = document.querySelector('[data-testid="stMain"] [data-testid="stCode"]');
    return c ? c.innerText.trim() : null;
  };
  const idle = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stSkeleton"]');
  };
  const check = () => {
    const t = now();
    if (lb.box === null && document.querySelector('input[aria-label="Source sentence"]')) lb.box = t;
    const text = (lb.first === null && lb.enter === null) || (lb.enter !== null && lb.shown === null) ? code() : null;
    if (lb.first === null && lb.enter === null && text === lb.defaultShown) lb.first = t;
    if (lb.enter !== null && lb.shown === null && text === lb.expected) lb.shown = t;
    if (lb.shown !== null && lb.idle === null && idle()) { lb.idle = t; obs.disconnect(); }
  };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && lb.enter === null && e.target && e.target.getAttribute
        && e.target.getAttribute('aria-label') === 'Source sentence') lb.enter = now();
  }, true);
  const obs = new MutationObserver(check);
  obs.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
})();
""".replace("DEFAULT_SHOWN}", json.dumps(DEFAULT_SHOWN) + "}")


def expected_translations() -> dict[str, str]:
    from core.checkpoint import load_checkpoint
    from core.decode import greedy_decode

    ckpt = load_checkpoint(sts.DEFAULT_CHECKPOINT)
    n = ckpt.data_config.num_steps
    return {s: greedy_decode(ckpt.model, s, ckpt.src_vocab, ckpt.tgt_vocab, n, book=False).translation
            for s in SENTENCES}


def one_round(tabs: int, expected: dict[str, str], wait_ms: float) -> dict:
    """One fresh server + browser, `tabs` sessions at once; the per-tab times in seconds."""
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder) as server, \
            sts.chromium_context(default_timeout_ms=wait_ms) as ctx:
        ctx.add_init_script(WATCH_JS)
        pages = [sts.first_page(ctx)] + [ctx.new_page() for _ in range(tabs - 1)]
        start = time.time() * 1000
        for page in pages:                                  # all sessions connect at once
            page.goto(server.url + "/Decode", wait_until="commit", timeout=wait_ms)
        for i, page in enumerate(pages):                    # each types as soon as it can
            sentence = SENTENCES[i % len(SENTENCES)]
            box = page.get_by_label("Source sentence", exact=True)
            box.wait_for(timeout=wait_ms)
            page.evaluate("(e) => { window.__lb.expected = e; }", expected[sentence])
            box.fill(sentence)
            box.press("Enter")
        marks, correct = [], 0
        for i, page in enumerate(pages):
            page.wait_for_function("window.__lb && window.__lb.idle !== null", timeout=wait_ms, polling=50)
            marks.append(page.evaluate("window.__lb"))
            code = page.locator('[data-testid="stMain"] [data-testid="stCode"]').first.inner_text().strip()
            correct += code == expected[SENTENCES[i % len(SENTENCES)]] and sts.exceptions(page) == 0
        loads = sts.cache_computations(server.url, "ui.models._load_file")
        health = server.health_seconds
    return {
        "open": [(m["box"] - m["nav"]) / 1000 for m in marks],
        "first translation": [(m["first"] - m["nav"]) / 1000 for m in marks if m["first"] is not None],
        "Enter -> translation shown": [(m["shown"] - m["enter"]) / 1000 for m in marks],
        "Enter -> page finished": [(m["idle"] - m["enter"]) / 1000 for m in marks],
        "all tabs": (max(m["shown"] for m in marks) - start) / 1000,
        "correct": correct, "tabs": tabs, "model loads": loads, "server start": health,
    }


ACTIONS = ("open", "first translation", "Enter -> translation shown", "Enter -> page finished")


def fmt(xs: list[float]) -> str:
    if not xs:
        return f"{0:>4}       -       -       -"
    return f"{len(xs):>4} {min(xs):7.2f} {statistics.median(xs):7.2f} {max(xs):7.2f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tabs", type=int, default=20, help=f"concurrent sessions (at most {MAX_TABS})")
    p.add_argument("--rounds", type=int, default=3, help=f"fresh server + browser each (at most {MAX_ROUNDS})")
    p.add_argument("--time-limit", type=float, default=900.0,
                   help="seconds: no round starts after this (each wait is bounded by 300 s)")
    args = p.parse_args(argv)
    if not 1 <= args.tabs <= MAX_TABS or not 1 <= args.rounds <= MAX_ROUNDS:
        p.error(f"--tabs must be 1..{MAX_TABS} and --rounds 1..{MAX_ROUNDS}")
    reason = sts.browser_missing_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    expected = expected_translations()
    t0, load_before = time.monotonic(), os.getloadavg()[0]
    results = []
    for r in range(1, args.rounds + 1):
        left = args.time_limit - (time.monotonic() - t0)
        if left <= 0:
            print(f"time limit reached: {len(results)} of {args.rounds} rounds", file=sys.stderr)
            break
        res = one_round(args.tabs, expected, WAIT_MS)
        results.append(res)
        print(f"round {r}: {res['correct']}/{res['tabs']} tabs correct, all tabs {res['all tabs']:.1f} s, "
              f"model loads {res['model loads']}, server start {res['server start']:.1f} s", file=sys.stderr)
    load_after = os.getloadavg()[0]

    print(f"\nload_bench: {len(results)} round(s) x {args.tabs} concurrent Decode tabs, one fresh server "
          f"and Chromium each; load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs")
    w = max(len(a) for a in ACTIONS) + 12
    print(f"{'action (seconds, per tab)':<{w}}  {'n':>4} {'min':>7} {'median':>7} {'max':>7}")
    print("-" * (w + 31))
    for r, res in enumerate(results, 1):
        for action in ACTIONS:
            print(f"{f'round {r}: {action}':<{w}}  {fmt(res[action])}")
    for action in ACTIONS:
        print(f"{f'all rounds: {action}':<{w}}  {fmt([x for res in results for x in res[action]])}")
    print(f"{'all tabs shown (per round)':<{w}}  {fmt([res['all tabs'] for res in results])}")
    print(f"{'server start (per round)':<{w}}  {fmt([res['server start'] for res in results])}")
    print(f"correct translations: {sum(r['correct'] for r in results)}/{sum(r['tabs'] for r in results)}; "
          f"model loads per round: {', '.join(str(r['model loads']) for r in results)}")
    return 0 if results and all(r["correct"] == r["tabs"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())

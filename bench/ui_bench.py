"""Measure the app in a real Chromium: view switches, a decode, training speed under the Train view.

    python bench/ui_bench.py [--switches 10] [--repeats 3] [--examples 600] [--epochs 300]

Starts `python serve.py` (headless, temp checkpoint folder holding a copy of the shipped
default.pt) and drives the system Chromium, like tests/browser. Times are taken inside the page
(`performance.now()` from the user's click / Enter key to the DOM change), so Playwright's own
round trips are not counted. Measured, not asserted: the table at the end says how each number
compares with its target.

1. view switch: click a sidebar link -> the new view's title is visible (and -> the page has
   finished running and drawing); target < 1 s.
2. decode: Enter in "Source sentence" -> the translation is shown (and -> page finished);
   target < 200 ms; plus `core.decode.greedy_decode` alone on the same sentences.
3. training: `python -m core.train --data corpus --num-examples 600 --epochs 300 --json` (the
   Train view's defaults: the book's setup on the corpus; `--examples` / `--epochs` change it)
   against the same run started in the Train view (same data, sizes, epochs; tab open and visible);
   tokens/s of the view = history.tokens / history.seconds of its saved checkpoint.
   CLI and view runs alternate (`--repeats` pairs) and the medians are compared; target >= 90 %.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import streamlit_server as sts  # noqa: E402

SWITCH_ORDER = ["train", "masking", "decode", "bleu", "home", "decode", "train", "bleu", "masking", "home"]
NAV_LABEL = {"home": "Home", "train": "Train", "masking": "Masking", "decode": "Decode", "bleu": "BLEU"}
NAV_LINKS = '[data-testid="stSidebar"] .st-key-nav a'     # the app's own sidebar links (ui.widgets)
SENTENCES = ["go .", "i lost .", "he's calm .", "i am cold .", "i like cats .", "tom is happy .",
             "we are friends .", "it is raining .", "she runs fast .", "i'm home ."]
TRAIN = {"examples": 600, "epochs": 300}     # the Train view's defaults; set from the command line


def train_args() -> list[str]:
    return ["--data", "corpus", "--num-examples", str(TRAIN["examples"]), "--epochs", str(TRAIN["epochs"])]

# In-page stopwatch: t0 = the user's action (a click or an Enter keydown, capture phase),
# t1 = `ready()` holds (checked on every DOM change), t2 = the script has finished its run and
# every element is drawn (no skeletons) after t1.
STOPWATCH_JS = """([kind, readyJs]) => {
    const ready = new Function('return (' + readyJs + ')()');
    const sw = window.__sw = {t0: null, t1: null, t2: null};
    const start = (e) => {
        if (sw.t0 !== null) return;
        if (kind === 'enter' && e.key !== 'Enter') return;
        sw.t0 = performance.now();
    };
    document.addEventListener(kind === 'click' ? 'click' : 'keydown', start, true);
    const idle = () => {
        const app = document.querySelector('[data-testid="stApp"]');
        return app && app.getAttribute('data-test-script-state') === 'notRunning'
            && !document.querySelector('[data-testid="stSkeleton"]');
    };
    const check = () => {
        if (sw.t0 === null) return;
        const now = performance.now();
        if (sw.t1 === null && ready()) sw.t1 = now;
        if (sw.t1 !== null && sw.t2 === null && idle()) {
            sw.t2 = now; obs.disconnect();
            document.removeEventListener(kind === 'click' ? 'click' : 'keydown', start, true);
        }
    };
    const obs = new MutationObserver(check);
    obs.observe(document.documentElement, {subtree: true, childList: true, characterData: true,
                                           attributes: true});
}"""


def title_ready_js(text: str) -> str:
    return ("() => Array.from(document.querySelectorAll('[data-testid=\"stMain\"] h1'))"
            f".some(h => h.offsetParent !== null && h.innerText.includes({json.dumps(text)}))")


def translation_ready_js(expected: str) -> str:
    return ("() => { const c = document.querySelector('[data-testid=\"stMain\"] [data-testid=\"stCode\"]');"
            f" return !!c && c.innerText.trim() === {json.dumps(expected)}; }}")


def stopwatch(page, kind: str, ready_js: str, action, timeout_ms: float = 60_000) -> tuple[float, float]:
    """(action -> ready, action -> page idle) in seconds, measured in the page."""
    page.evaluate(STOPWATCH_JS, [kind, ready_js])
    action()
    page.wait_for_function("window.__sw && window.__sw.t2 !== null", timeout=timeout_ms, polling=50)
    sw = page.evaluate("window.__sw")
    return (sw["t1"] - sw["t0"]) / 1000, (sw["t2"] - sw["t0"]) / 1000


# -- 1. view switches --------------------------------------------------------------------------
def bench_switches(page, url: str, count: int) -> tuple[list[float], list[float]]:
    sts.open_view(page, url, "home")
    shown, done = [], []
    order = (SWITCH_ORDER * (count // len(SWITCH_ORDER) + 1))[:count]
    for view in order:
        link = page.locator(NAV_LINKS).filter(has_text=NAV_LABEL[view]).first
        t1, t2 = stopwatch(page, "click", title_ready_js(sts.VIEWS[view][1]), link.click)
        shown.append(t1)
        done.append(t2)
        sts.wait_idle(page)
        page.wait_for_timeout(300)     # let the browser settle between switches
    return shown, done


# -- 2. decode ---------------------------------------------------------------------------------
def bench_decode(page, url: str) -> tuple[list[float], list[float], list[float], dict[str, str]]:
    from core.checkpoint import load_checkpoint
    from core.decode import greedy_decode

    ckpt = load_checkpoint(sts.DEFAULT_CHECKPOINT)
    n = ckpt.data_config.num_steps
    expected = {s: greedy_decode(ckpt.model, s, ckpt.src_vocab, ckpt.tgt_vocab, n, book=False).translation
                for s in SENTENCES}
    core = []
    for s in SENTENCES:                 # the pure engine, same call as the view makes
        for _ in range(3):
            t = time.perf_counter()
            greedy_decode(ckpt.model, s, ckpt.src_vocab, ckpt.tgt_vocab, n, book=False)
            core.append(time.perf_counter() - t)
    sts.open_view(page, url, "decode")
    box = page.get_by_label("Source sentence", exact=True)
    shown, done = [], []
    for s in SENTENCES:
        box.fill(s)
        t1, t2 = stopwatch(page, "enter", translation_ready_js(expected[s]), lambda: box.press("Enter"))
        shown.append(t1)
        done.append(t2)
        page.wait_for_timeout(300)
    return shown, done, core, expected


# -- 3. training: CLI vs the Train view --------------------------------------------------------
def cli_tokens_per_second(folder: Path, i: int) -> float:
    out = subprocess.run([sys.executable, "-m", "core.train", *train_args(), "--json", "--out",
                          str(folder / f"bench-cli-{i}.pt")], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "SEQ2SEQ_CHECKPOINT_DIR": str(folder)}, check=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    return float(json.loads(line)["tokens_per_second"])


def cpu_seconds(server_pid: int) -> tuple[float, float]:
    """(CPU seconds of the Streamlit server, of all Chromium processes) so far; Linux /proc."""
    server = chromium = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm, fields = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])
        if int(entry) == server_pid:
            server += ticks
        elif "chrom" in comm:
            chromium += ticks
    hz = os.sysconf("SC_CLK_TCK")
    return server / hz, chromium / hz


def ui_tokens_per_second(page, folder: Path, i: int, server_pid: int) -> tuple[float, str, str, float, float]:
    """Run the same config in the Train view: (tokens/s from the checkpoint, the page's Tokens/s,
    tab visibility, cores used by the server and by Chromium meanwhile)."""
    from core.checkpoint import load_checkpoint

    name = f"bench-ui-{i}"
    sts.set_text(page, "Examples", TRAIN["examples"])
    sts.set_text(page, "Epochs", TRAIN["epochs"])
    sts.set_text(page, "Run name", name)
    (srv0, chr0), t0 = cpu_seconds(server_pid), time.monotonic()
    page.get_by_role("button", name="Start training").click()
    page.get_by_text(f"Run {name} finished").first.wait_for(timeout=600_000)
    (srv1, chr1), wall = cpu_seconds(server_pid), time.monotonic() - t0
    visibility = page.evaluate("document.visibilityState")
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Tokens/s")
    shown = metric.locator('[data-testid="stMetricValue"]').first.inner_text() if metric.count() else "?"
    hist = load_checkpoint(sts.saved_run(folder, name)).history      # the browser's workspace
    sts.wait_idle(page)
    return hist.tokens / hist.seconds, shown, visibility, (srv1 - srv0) / wall, (chr1 - chr0) / wall


def bench_training(page, url: str, folder: Path, repeats: int, server_pid: int):
    sts.open_view(page, url, "train")
    cli, ui, shown, vis, cores = [], [], [], set(), []
    for i in range(1, repeats + 1):          # alternate, so drifting machine load hits both
        cli.append(cli_tokens_per_second(folder, i))
        tps, text, visibility, srv, chrome = ui_tokens_per_second(page, folder, i, server_pid)
        ui.append(tps)
        shown.append(text)
        vis.add(visibility)
        cores.append((srv, chrome))
    return cli, ui, shown, vis, cores


# -- report ------------------------------------------------------------------------------------
def med(xs):
    return statistics.median(xs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--switches", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3, help="CLI / Train-view run pairs")
    p.add_argument("--examples", type=int, default=TRAIN["examples"], help="training pairs of the corpus")
    p.add_argument("--epochs", type=int, default=TRAIN["epochs"])
    args = p.parse_args(argv)
    TRAIN.update(examples=args.examples, epochs=args.epochs)
    reason = sts.browser_missing_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as quiet_dir:   # the CLI alone: no server, no browser running
        quiet = [cli_tokens_per_second(Path(quiet_dir), i) for i in range(1, args.repeats + 1)]
    print("quiet CLI runs done", file=sys.stderr)
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder) as server, sts.chromium_context() as ctx:
        page = sts.first_page(ctx)
        print(f"server healthy after {server.health_seconds:.2f} s at {server.url}", file=sys.stderr)
        sw_shown, sw_done = bench_switches(page, server.url, args.switches)
        print("view switches done", file=sys.stderr)
        dec_shown, dec_done, core, _ = bench_decode(page, server.url)
        print("decodes done", file=sys.stderr)
        cli, ui, ui_shown, vis, cores = bench_training(page, server.url, folder, args.repeats,
                                                       server.process.pid)
    load_after = os.getloadavg()[0]

    ratio = med(ui) / med(quiet)
    rows = [
        ("view switch: click -> title visible", f"median {med(sw_shown):.3f} s, max {max(sw_shown):.3f} s",
         "< 1 s", max(sw_shown) < 1.0),
        ("view switch: click -> page finished", f"median {med(sw_done):.3f} s, max {max(sw_done):.3f} s",
         "(info)", None),
        ("decode: Enter -> translation shown", f"median {med(dec_shown) * 1000:.0f} ms, max {max(dec_shown) * 1000:.0f} ms",
         "< 200 ms", med(dec_shown) < 0.2),
        ("decode: Enter -> page finished", f"median {med(dec_done) * 1000:.0f} ms, max {max(dec_done) * 1000:.0f} ms",
         "(info)", None),
        ("decode: core greedy_decode only", f"median {med(core) * 1000:.1f} ms, max {max(core) * 1000:.1f} ms",
         "(info)", None),
        ("train: CLI tokens/s, machine quiet", f"median {med(quiet):,.0f} ({', '.join(f'{x:,.0f}' for x in quiet)})",
         "", None),
        ("train: CLI tokens/s, app + browser open", f"median {med(cli):,.0f} ({', '.join(f'{x:,.0f}' for x in cli)})",
         "(info)", None),
        ("train: Train view tokens/s", f"median {med(ui):,.0f} ({', '.join(f'{x:,.0f}' for x in ui)})", "", None),
        ("train: view / quiet CLI", f"{ratio:.1%}", ">= 90 %", ratio >= 0.9),
        ("train: cores used during view runs", f"server {med([c[0] for c in cores]):.2f}, "
                                               f"chromium {med([c[1] for c in cores]):.2f}", "(info)", None),
    ]
    print(f"\nui_bench: {len(sw_shown)} view switches, {len(dec_shown)} decodes, {len(cli)} CLI/view training pairs "
          f"({' '.join(train_args())}); Train tab visibility: {', '.join(sorted(vis))}; page's last Tokens/s: "
          f"{', '.join(ui_shown)}; load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs")
    w = max(len(r[0]) for r in rows)
    v = max(len(r[1]) for r in rows)
    print(f"{'measure':<{w}}  {'measured':<{v}}  {'target':<8}  ok")
    print("-" * (w + v + 16))
    for name, value, target, ok in rows:
        print(f"{name:<{w}}  {value:<{v}}  {target:<8}  {'' if ok is None else 'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

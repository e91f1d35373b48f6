"""How soon the Step view shows its first content, from the moment its page script starts.

    python bench/step_bench.py [--tabs 5]

Issue 26's target: the view's first content (stage 1, the batch and its teacher-forcing table)
appears within 1 s of the page's script starting, on this CPU, for the shipped checkpoint.
Measured, not asserted.

As a server runs it: `serve.warm_up()` first (every module imported, the shipped checkpoint in
the shared cache), then each tab is a new AppTest session opening /Step on a folder holding a
copy of `checkpoints/default.pt`. Inside each run the clock starts when the page calls
`start_page` (its first line) and reads two moments: stage 1 drawn (`show_data` returned) and
the script's end (all nine stages, the step and the measurements beside it computed). The first
tab also reads the checkpoint's training pairs into the shared cache; later tabs find them.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STEP = "pages/9_🦶_Step.py"


def summary(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.3f} s (min {min(xs):.3f}, max {max(xs):.3f}; n={len(xs)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tabs", type=int, default=5, help="sessions opening /Step one after another")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="step-bench-"))
    shutil.copy(ROOT / "checkpoints" / "default.pt", folder / "default.pt")
    os.environ["SEQ2SEQ_CHECKPOINT_DIR"] = str(folder)
    try:
        import serve
        start = time.perf_counter()
        serve.warm_up()
        print(f"warm-up (imports, the shipped checkpoint cached): {time.perf_counter() - start:.2f} s")

        from streamlit.testing.v1 import AppTest

        import ui.views.step as view
        import ui.widgets as widgets
        moments: dict[str, float] = {}
        start_page, show_data = widgets.start_page, view.show_data

        def timed_start_page(*a, **k):
            moments["start"] = time.perf_counter()
            return start_page(*a, **k)

        def timed_show_data(*a, **k):
            shown = show_data(*a, **k)
            moments["first"] = time.perf_counter()
            return shown

        widgets.start_page, view.show_data = timed_start_page, timed_show_data
        first, whole = [], []
        for tab in range(args.tabs):
            moments.clear()
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            at.switch_page(STEP)
            at.run()
            end = time.perf_counter()
            assert not at.exception, [e.value for e in at.exception]
            first.append(moments["first"] - moments["start"])
            whole.append(end - moments["start"])
            print(f"tab {tab + 1}: first content {first[-1]:.3f} s, whole page {whole[-1]:.3f} s")
        print(f"first content (stage 1) after the script starts: {summary(first)}")
        print(f"whole page (the step and every stage):           {summary(whole)}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

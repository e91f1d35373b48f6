"""What the chapter's figure (issue 27) adds to Decode's render, on this CPU. Target: under 300 ms.

    python bench/figure_bench.py [--repeats 10]

Decode with the figure against Decode without it (the page's `figure_at_top` replaced by one that
draws nothing, so everything else on the page is the same), with the shipped checkpoint:

1. the engine alone: `core.figure.figure_pass` and `ui.views.figure.figure_svg` for each sentence;
2. the page's script (AppTest, in this process): one full run of Decode, with and without, alternated;
3. in a real Chromium, two servers side by side (`python serve.py`, and the same with the figure
   taken out), alternated: Enter in "Source sentence" -> the translation shown and the page idle
   (the figure drawn), and a move of the slider (to its first step, or from there to its last) ->
   "Translation so far" updated and idle (the fragment that redraws the figure). Times are read in
   the page (`performance.now()`, the stopwatch of bench/ui_bench.py).

Measured, not asserted. Medians; the difference of medians is the figure's cost.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # run as a file: the repository's tests/ and bench/ beside the installed engine

from bench.ui_bench import SENTENCES, stopwatch, translation_ready_js  # noqa: E402
from tests.browser import streamlit_server as sts  # noqa: E402

DECODE = "pages/3_🔎_Decode.py"
WITHOUT = """import runpy, sys
sys.path.insert(0, {root!r})
import ui.views.decode as decode
decode.figure_at_top = lambda *args, **kwargs: None     # the baseline: Decode as it is, less the figure
runpy.run_path({serve!r}, run_name="__main__")
"""


def ms(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):7.1f} ms"


def engine(repeats: int) -> None:
    from core.checkpoint import load_checkpoint
    from core.decode import encode_source
    from core.figure import figure_pass
    from ui.views.figure import figure_svg

    ckpt = load_checkpoint(sts.DEFAULT_CHECKPOINT)
    n = ckpt.data_config.num_steps
    passes, drawings, sizes = [], [], []
    for _ in range(repeats):
        for sentence in SENTENCES:
            source = encode_source(sentence, ckpt.src_vocab, n, book=False)
            t = time.perf_counter()
            figure = figure_pass(ckpt.model, source, ckpt.src_vocab, ckpt.tgt_vocab, n, 5)
            passes.append(time.perf_counter() - t)
            t = time.perf_counter()
            svg = figure_svg(figure, len(figure.steps) - 1)
            drawings.append(time.perf_counter() - t)
            sizes.append(len(svg))
    print(f"1. engine, {len(passes)} figures: figure_pass {ms(passes)}, figure_svg {ms(drawings)}, "
          f"SVG {statistics.median(sizes) / 1000:.0f} kB (median)")


def script(repeats: int) -> None:
    import os

    from streamlit.testing.v1 import AppTest

    import ui.views.decode as decode

    drawing = decode.figure_at_top
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "default.pt").write_bytes(sts.DEFAULT_CHECKPOINT.read_bytes())
        os.environ["SEQ2SEQ_CHECKPOINT_DIR"] = folder
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
        at.switch_page(DECODE)
        at.run()
        times: dict[bool, list[float]] = {True: [], False: []}
        for i in range(2 * repeats):
            with_figure = i % 2 == 0
            decode.figure_at_top = drawing if with_figure else (lambda *args, **kwargs: None)
            t = time.perf_counter()
            at.run()
            times[with_figure].append(time.perf_counter() - t)
            assert not at.exception, [e.value for e in at.exception]
        decode.figure_at_top = drawing
    extra = statistics.median(times[True]) - statistics.median(times[False])
    print(f"2. Decode's script (AppTest), {repeats} runs each: with {ms(times[True])}, without "
          f"{ms(times[False])}: the figure adds {1000 * extra:.1f} ms")


@contextlib.contextmanager
def server_without_figure(folder: Path):
    """`python serve.py` with Decode's figure taken out (sts.run_streamlit starts sts.SERVE)."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(WITHOUT.format(root=str(ROOT), serve=str(sts.SERVE)))
    serve = sts.SERVE
    sts.SERVE = Path(f.name)
    try:
        with sts.run_streamlit(folder) as server:
            yield server
    finally:
        sts.SERVE = serve
        Path(f.name).unlink()


def browser(repeats: int) -> None:
    from core.checkpoint import load_checkpoint
    from core.decode import greedy_decode

    ckpt = load_checkpoint(sts.DEFAULT_CHECKPOINT)
    n = ckpt.data_config.num_steps
    results = {s: greedy_decode(ckpt.model, s, ckpt.src_vocab, ckpt.tgt_vocab, n, book=False) for s in SENTENCES}
    enter: dict[str, list[float]] = {"with": [], "without": []}
    slide: dict[str, list[float]] = {"with": [], "without": []}
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder) as with_figure, \
            server_without_figure(folder) as without, sts.chromium_context() as ctx:
        pages = {"with": ctx.new_page(), "without": ctx.new_page()}
        for name, server in (("with", with_figure), ("without", without)):
            sts.open_view(pages[name], server.url, "decode")
        assert pages["with"].locator("svg.seq2seq-figure").count() == 1
        assert pages["without"].locator("svg.seq2seq-figure").count() == 0
        for _ in range(repeats):
            for sentence in SENTENCES:
                result = results[sentence]
                for name in ("with", "without") if len(enter["with"]) % 2 == 0 else ("without", "with"):
                    page = pages[name]
                    page.bring_to_front()
                    box = page.get_by_label("Source sentence", exact=True)
                    box.fill(sentence)
                    enter[name].append(stopwatch(page, "enter", translation_ready_js(result.translation),
                                                 lambda box=box: box.press("Enter"))[1])
                    slider = page.get_by_role("slider", name="Step")
                    at = int(slider.input_value()) if len(result.steps) > 1 else 1
                    target, key = (1, "Home") if at > 1 else (len(result.steps), "End")
                    so_far = " ".join(s.chosen_token for s in result.steps[:target] if s.chosen_token != "<eos>")
                    if so_far != " ".join(s.chosen_token for s in result.steps[:at] if s.chosen_token != "<eos>"):
                        slider.focus()             # to the first step or the last: "Translation so far" changes
                        ready = ("() => { const c = document.querySelectorAll('[data-testid=\"stMain\"] "
                                 f"[data-testid=\"stCode\"]'); return c.length > 1 && c[1].innerText.trim() === "
                                 f"{json.dumps(so_far)}; }}")
                        slide[name].append(stopwatch(page, "keydown", ready,
                                                     lambda slider=slider, key=key: slider.press(key))[1])
                    page.wait_for_timeout(200)
    print(f"3. Chromium, {len(enter['with'])} sentences each (Enter -> translation shown, page idle): with "
          f"{ms(enter['with'])}, without {ms(enter['without'])}: the figure adds "
          f"{1000 * (statistics.median(enter['with']) - statistics.median(enter['without'])):.1f} ms")
    print(f"   {len(slide['with'])} slider steps each (-> translation so far, page idle): with {ms(slide['with'])}, "
          f"without {ms(slide['without'])}: the figure adds "
          f"{1000 * (statistics.median(slide['with']) - statistics.median(slide['without'])):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the 10 sentences (AppTest: runs x 3)")
    args = parser.parse_args()
    engine(args.repeats)
    script(3 * args.repeats)
    browser(args.repeats)


if __name__ == "__main__":
    main()

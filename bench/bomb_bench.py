"""Upload each kind of "bomb" through the real UI and report the server's peak memory growth.

    python bench/bomb_bench.py [--only NAME ...] [--time-limit 900] [--observe 20]

Issue 24: a file of about 1 MB must not make the server allocate gigabytes before it is
refused. Each bomb gets a fresh `python serve.py` (headless, 127.0.0.1, a temporary checkpoint
folder holding the shipped default.pt, `FRA_ENG_PATH` set, `SEQ2SEQ_MAX_PARAMETERS=1000000`)
and a fresh Chromium (tests/browser/streamlit_server.py), and goes in through the widgets a
student uses:

* `ckpt-deflated-pt`, `ckpt-deflated-params`: a state_dict of 1 GiB of float32 zeros whose
  storage is deflated inside torch's zip (~1 MB on disk), uploaded in the sidebar as `.pt` and
  as `.params`;
* `params-stride0`: the book's 0.17.6 keys with hidden size 2,048, every tensor a stride-0
  view of one number (a few KB), uploaded in the sidebar and imported (vocabularies rebuilt
  from the book's file), which would build a ~88M-parameter model;
* `data-zip-1g`: a Tatoeba `fra-eng.zip` whose `fra.txt` inflates to 1 GiB (~1 MB), uploaded
  on the Train view as "Tatoeba file: upload";
* `data-zip-liar`: the same zip with its header saying 64 MiB - 1 byte (under the limit);
* `url-over-limit`: a link to the Train view asking for hidden size 2,048 and 2 layers (~90M
  parameters, over the server's 1,000,000), then *Start training*.

The page is opened and left idle first; then the server's peak mark is reset
(`/proc/<pid>/clear_refs` "5": VmHWM := VmRSS), the bomb goes in, and the bench watches for
`--observe` seconds after the page has finished. Reported per bomb: the server process's
VmHWM minus its VmRSS at the reset (the kernel's exact peak of the process), the growth of the
summed RSS of the server's descendants (training workers; sampled every 50 ms), and what the
page said. Target: under 100 MB each. Measured, not asserted by the test suite; the exit status is 1
when a bomb misses the target.

Bounded: six bombs at most, every browser wait at most 120 s, no bomb starts after
`--time-limit` seconds; servers and browsers are stopped on the way out, temporary files
removed (about 1 GiB of disk is used for a moment while the checkpoint bomb is made).
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import streamlit_server as sts  # noqa: E402

MiB = 2**20
TARGET_MB = 100
WAIT_MS = 120_000
MAX_PARAMETERS = 1_000_000
FRA_ENG = Path(os.environ.get("FRA_ENG_PATH", ROOT.parent / "shared" / "data" / "fra-eng.zip"))
STRIDE0_HIDDEN, STRIDE0_LAYERS, BOOK_EMBED = 2048, 2, 32
OVER_LIMIT_URL = "/Train?hiddens=2048&layers=2&embed_size=256&epochs=1"
ALERTS = '[data-testid="stAlert"], [data-testid="stException"]'


# -- the bombs ---------------------------------------------------------------------------------
def deflated_checkpoint(folder: Path, inflated: int = 1024 * MiB) -> Path:
    """torch.save of `inflated` bytes of zeros, its members re-zipped with deflate."""
    import torch
    plain, bomb = folder / "plain.pt", folder / "ckpt-deflated.zip"
    # zeros from calloc: untouched pages, so neither this process nor the file write fills memory
    torch.save({"encoder.embedding.weight": torch.zeros(inflated // (4 * BOOK_EMBED), BOOK_EMBED)}, plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for info in src.infolist():
            with src.open(info) as reader, out.open(info.filename, "w") as writer:
                shutil.copyfileobj(reader, writer, MiB)
    plain.unlink()
    return bomb


def stride0_params(folder: Path) -> Path:
    """The book's 0.17.6 state_dict keys and shapes for hidden size STRIDE0_HIDDEN, every tensor
    a stride-0 view of one float: a few KB declaring ~88M parameters."""
    import torch

    from core.book_weights import BOOK_NUM_EXAMPLES, BOOK_NUM_STEPS, book_vocabs
    from core.sources import read_tatoeba_file
    src_vocab, tgt_vocab, _ = book_vocabs(read_tatoeba_file(FRA_ENG), BOOK_NUM_EXAMPLES, BOOK_NUM_STEPS)
    H, E = STRIDE0_HIDDEN, BOOK_EMBED
    shapes: dict[str, tuple[int, ...]] = {"encoder.embedding.weight": (len(src_vocab), E),
                                          "decoder.embedding.weight": (len(tgt_vocab), E),
                                          "decoder.dense.weight": (len(tgt_vocab), H),
                                          "decoder.dense.bias": (len(tgt_vocab),)}
    for side, first_input in (("encoder", E), ("decoder", E + H)):   # the book's decoder: [x ⊕ c]
        for layer in range(STRIDE0_LAYERS):
            shapes |= {f"{side}.rnn.weight_ih_l{layer}": (3 * H, first_input if layer == 0 else H),
                       f"{side}.rnn.weight_hh_l{layer}": (3 * H, H),
                       f"{side}.rnn.bias_ih_l{layer}": (3 * H,), f"{side}.rnn.bias_hh_l{layer}": (3 * H,)}
    one = torch.full((1,), 0.01)
    path = folder / "stride0.params"
    torch.save({key: one.expand(*shape) for key, shape in shapes.items()}, path)
    return path


def data_zip(folder: Path, inflated: int = 1024 * MiB, declared: int | None = None) -> Path:
    """fra-eng.zip whose fra.txt inflates to `inflated` bytes of pairs; `declared`: the size its
    central directory claims instead (a hand-made bomb's lie)."""
    path = folder / ("fra-eng-liar.zip" if declared else "fra-eng.zip")
    chunk = b"go .\tva !\n" * (MiB // 10)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive, \
            archive.open("fra-eng/fra.txt", "w") as member:
        for _ in range(inflated // len(chunk)):
            member.write(chunk)
    if declared is not None:
        raw = path.read_bytes()
        at = raw.rindex(b"PK\x01\x02") + 24           # the central directory's uncompressed size
        path.write_bytes(raw[:at] + struct.pack("<L", declared) + raw[at + 4:])
    return path


# -- the server's memory -----------------------------------------------------------------------
def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def children_kib(pid: int) -> int:
    total = 0
    for child in descendants(pid):
        try:
            total += status_kib(child, "VmRSS")
        except (OSError, LookupError):            # exited meanwhile, or a zombie
            pass
    return total


class Watch:
    """The server's own peak (VmHWM, reset at the start) and its descendants' sampled peak RSS."""

    def __init__(self, pid: int):
        self.pid, self._stop = pid, threading.Event()
        Path(f"/proc/{pid}/clear_refs").write_text("5")          # VmHWM := VmRSS, now
        self.start_kib = status_kib(pid, "VmRSS")
        self.children_start_kib = self.children_peak_kib = children_kib(pid)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.children_peak_kib = max(self.children_peak_kib, children_kib(self.pid))

    def stop(self) -> tuple[float, float]:
        """(the server's peak growth, its descendants' peak growth) in MB."""
        self._stop.set()
        self._thread.join()
        return ((status_kib(self.pid, "VmHWM") - self.start_kib) / 1024,
                (self.children_peak_kib - self.children_start_kib) / 1024)


# -- driving the page --------------------------------------------------------------------------
def alerts(page) -> list[str]:
    return [" ".join(a.inner_text().split()) for a in page.locator(ALERTS).all()]


def sidebar_upload(path: Path, name: str, import_it: bool = False) -> Callable:
    def act(page, url: str) -> None:
        sts.open_view(page, url, "decode", WAIT_MS)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Upload a checkpoint").click()
        file_input = sidebar.locator('input[type="file"]')
        upload = {"name": name, "mimeType": "application/octet-stream", "buffer": path.read_bytes()}
        yield                                                      # measured from here
        sts.rerun(page, lambda: file_input.set_input_files(upload), WAIT_MS)
        offer = sidebar.get_by_role("button", name="Import")
        if import_it and offer.count() and offer.first.is_enabled():
            sts.rerun(page, lambda: offer.first.click(), WAIT_MS)
    return act


def train_upload(path: Path) -> Callable:
    def act(page, url: str) -> None:
        sts.open_view(page, url, "train", WAIT_MS)
        sts.choose(page, "Source", "Tatoeba file: upload fra.txt or fra-eng.zip", WAIT_MS)
        uploader = page.locator('[data-testid="stMain"] [data-testid="stFileUploader"]',
                                has_text="Pairs file").locator('input[type="file"]')
        upload = {"name": "fra-eng.zip", "mimeType": "application/zip", "buffer": path.read_bytes()}
        yield
        sts.rerun(page, lambda: uploader.set_input_files(upload), WAIT_MS)
    return act


def url_setup(query: str) -> Callable:
    def act(page, url: str) -> None:
        page.goto(url + query)
        sts.title(page).filter(has_text="Train").wait_for(timeout=WAIT_MS)
        sts.wait_idle(page, WAIT_MS)
        start = page.get_by_role("button", name="Start training")
        yield
        if start.is_enabled():
            sts.rerun(page, lambda: start.click(), WAIT_MS)
    return act


@dataclass
class Bomb:
    name: str
    what: str
    make: Callable[[Path], Callable]


BOMBS = [
    Bomb("ckpt-deflated-pt", "checkpoint .pt, 1 GiB of weights deflated",
         lambda d: sidebar_upload(deflated_checkpoint(d), "bomb.pt")),
    Bomb("ckpt-deflated-params", "book weights .params, 1 GiB deflated",
         lambda d: sidebar_upload(deflated_checkpoint(d), "bomb.params")),
    Bomb("params-stride0", f"book weights .params, stride-0, hidden {STRIDE0_HIDDEN}, imported",
         lambda d: sidebar_upload(stride0_params(d), "stride0.params", import_it=True)),
    Bomb("data-zip-1g", "Tatoeba zip inflating to 1 GiB", lambda d: train_upload(data_zip(d))),
    Bomb("data-zip-liar", "Tatoeba zip inflating to 1 GiB, header says 64 MiB - 1",
         lambda d: train_upload(data_zip(d, declared=64 * MiB - 1))),
    Bomb("url-over-limit", f"link asking for ~90M parameters (limit {MAX_PARAMETERS:,}), Start",
         lambda d: url_setup(OVER_LIMIT_URL)),
]


def run_bomb(bomb: Bomb, observe: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bomb-") as tmp:
        folder = Path(tmp)
        t0 = time.monotonic()
        act = bomb.make(folder)
        made = time.monotonic() - t0
        size = sum(p.stat().st_size for p in folder.iterdir())
        env = {"FRA_ENG_PATH": str(FRA_ENG), "SEQ2SEQ_MAX_PARAMETERS": str(MAX_PARAMETERS)}
        with sts.checkpoint_folder() as ckpts, sts.run_streamlit(ckpts, env=env) as server, \
                sts.chromium_context(default_timeout_ms=WAIT_MS) as ctx:
            page = sts.first_page(ctx)
            steps = act(page, server.url)
            next(steps)                                   # the page is open and idle
            before = set(alerts(page))
            watch = Watch(server.process.pid)
            t1 = time.monotonic()
            try:
                next(steps, None)
            except Exception as err:                      # a wait that hung: reported, not raised
                said = [f"bench: {type(err).__name__}: {str(err).splitlines()[0][:120]}"]
            else:
                said = []
            time.sleep(observe)                           # a background job may spend it later
            server_mb, children_mb = watch.stop()
            said += [a for a in alerts(page) if a not in before]
    return {"bomb": bomb, "file_kb": size / 1024, "made_s": made, "server_mb": server_mb,
            "children_mb": children_mb, "seconds": time.monotonic() - t1, "said": said}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", nargs="*", choices=[b.name for b in BOMBS], help="these bombs only")
    p.add_argument("--observe", type=float, default=20.0,
                   help="seconds to keep watching after the page finished (at most 120)")
    p.add_argument("--time-limit", type=float, default=900.0, help="seconds: no bomb starts after this")
    args = p.parse_args(argv)
    reason = sts.browser_missing_reason() or (None if FRA_ENG.is_file() else f"no book file at {FRA_ENG}")
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    bombs = [b for b in BOMBS if not args.only or b.name in args.only]
    t0, results = time.monotonic(), []
    for bomb in bombs:
        if time.monotonic() - t0 > args.time_limit:
            print(f"time limit reached: {len(results)} of {len(bombs)} bombs", file=sys.stderr)
            break
        try:
            res = run_bomb(bomb, min(max(args.observe, 0.0), 120.0))
        except Exception as err:                          # a server that did not start, a view that did not open
            print(f"{bomb.name}: not measured ({type(err).__name__}: {str(err)[:200]})", file=sys.stderr)
            continue
        results.append(res)
        print(f"{bomb.name}: server +{res['server_mb']:.0f} MB, workers +{res['children_mb']:.0f} MB",
              file=sys.stderr)

    print(f"\nbomb_bench: {len(results)} bomb(s), each on a fresh server; target: server peak growth "
          f"under {TARGET_MB} MB; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'bomb':<22} {'file':>8} {'server peak +MB':>16} {'workers +MB':>11} {'verdict':>8}  page said")
    print("-" * 100)
    for res in results:
        verdict = "ok" if res["server_mb"] < TARGET_MB and res["children_mb"] < TARGET_MB else "OVER"
        said = " | ".join(res["said"]) or "(nothing new)"
        print(f"{res['bomb'].name:<22} {res['file_kb']:>6.0f}KB {round(res['server_mb']):>16} "
              f"{round(res['children_mb']):>11} {verdict:>8}  {said[:300]}")
    for res in results:
        print(f"  {res['bomb'].name}: {res['bomb'].what}")
    missed = [r for r in results if r["server_mb"] >= TARGET_MB or r["children_mb"] >= TARGET_MB]
    return 1 if missed or len(results) < len(bombs) else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Start the playground: `streamlit run app.py`, with the engine imported before the first visitor.

    python serve.py [Streamlit's options, e.g. --server.port 8600 --server.headless true]

`streamlit run app.py` serves the same app, but Streamlit imports a page's modules only when the
first visitor's page runs: torch and the engine take about 3 s on a 2-core machine, and that
first visitor waits for them (bench/view_open_bench.py, bench/RESULTS.md §9). Here they are
imported while the server starts (and the checkpoint and data a first page shows are loaded),
so when it prints its address the first page draws at once.

Only definitions at the top: a worker process started with `spawn` imports this file again.
"""
from __future__ import annotations

import importlib
import logging
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
APP = ROOT / "app.py"
# Streamlit's cache decorators check their settings against a storage that exists only once the
# server runs, and say so at import; the real storage is looked up again at each call.
QUIET_AT_IMPORT = "streamlit.runtime.caching.cache_data_api"


# What the training workers' forkserver imports, not the pages (it loads the fused GRU kernel for
# the workers; `warm_up` loads it for this process itself, after the imports).
FOR_THE_WORKERS = {"core.service.worker_boot"}


def engine_modules() -> list[str]:
    """Every module of `core` and `ui` the pages import; none of them imports an optional
    package (Ray, d2l) at import time."""
    import core
    import ui
    return [info.name for package, prefix in ((core, "core."), (ui, "ui."))
            for info in pkgutil.walk_packages(package.__path__, prefix) if info.name not in FOR_THE_WORKERS]


def warm_up() -> None:
    """Import what every page imports, and load the first page's checkpoint and data into the
    shared caches, in the server's own process, before it serves."""
    importlib.import_module(QUIET_AT_IMPORT)   # first: Streamlit sets its logger's level when it is imported
    quiet = logging.getLogger(QUIET_AT_IMPORT)
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for name in engine_modules():
            importlib.import_module(name)
    finally:
        quiet.setLevel(level)
    from core import fast
    fast.load(timeout=fast.BUILD_WAIT_SECONDS)   # runs then train on one kernel from their first step
    from ui import models
    try:
        models.warm_caches()
    except Exception as err:   # e.g. an unreadable checkpoint: the page says so to whoever opens it
        logging.getLogger(__name__).warning("serve.py: the first page's checkpoint and data were not "
                                            "preloaded (%s)", err)


def main(argv: list[str] | None = None) -> int:
    """Warm up, then `streamlit run app.py ARGV` (which exits the process itself). The console
    script `seq2seq-playground` calls it with no arguments: the command line's are used."""
    argv = sys.argv[1:] if argv is None else argv
    warm_up()
    from streamlit.web import cli
    return cli.main(args=["run", str(APP), *argv], prog_name="streamlit")


if __name__ == "__main__":
    sys.exit(main())

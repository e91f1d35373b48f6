"""serve.py, the README's start command: `streamlit run app.py` with the engine imported first."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import serve

ROOT = serve.ROOT


@pytest.mark.process
def test_the_launcher_imports_torch_and_every_engine_and_page_module_before_serving_quietly():
    probe = ("import json, sys, serve; serve.warm_up(); "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('torch', 'core', 'ui', 'ray', 'd2l', 'streamlit'))))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert {"torch", "core.train", "core.service.serving", "ui.widgets", "ui.views.train_form"} <= loaded
    assert set(serve.engine_modules()) <= loaded
    assert not {m for m in loaded if m.split(".")[0] in ("ray", "d2l")}     # optional: never at start
    assert "core.service.worker_boot" not in loaded      # the workers' imports: it waits for the kernel build
    assert "No runtime found" not in done.stderr                             # no alarming start-up lines


def test_the_launcher_runs_streamlit_on_app_py_with_the_options_given(monkeypatch):
    from streamlit.web import cli
    called = {}
    monkeypatch.setattr(serve, "warm_up", lambda: called.setdefault("warmed", True))
    monkeypatch.setattr(cli, "main", lambda args, prog_name: called.update(args=args, prog=prog_name) or 0)
    assert serve.main(["--server.port", "8600"]) == 0
    assert called == {"warmed": True, "args": ["run", str(ROOT / "app.py"), "--server.port", "8600"],
                      "prog": "streamlit"}


def test_the_warmed_caches_are_what_a_first_train_page_loads_so_it_loads_nothing_itself(app_dir, monkeypatch):
    import ui.models
    from tests.test_pages import TRAIN, no_exception, open_page
    clear_loaders()
    ui.models.warm_caches()
    loads = []
    for name in ("prepare_data", "load_checkpoint"):
        real = getattr(ui.models, name)
        monkeypatch.setattr(ui.models, name, lambda *a, _real=real, _name=name, **k: loads.append(_name) or _real(*a, **k))
    at = no_exception(open_page(TRAIN))
    assert at.button and loads == []          # the page drew its form from the warmed caches
    clear_loaders()
    no_exception(open_page(TRAIN))
    assert sorted(set(loads)) == ["load_checkpoint", "prepare_data"]    # what it would have loaded


def clear_loaders() -> None:
    """Only the two loaders the warm-up fills (the other shared caches hold the server's queue)."""
    import ui.models
    ui.models._load_file.clear()
    ui.models._prepared.clear()


def test_the_warm_up_loads_the_checkpoint_the_sidebar_starts_with_default_first_then_newest(tmp_path, monkeypatch):
    import os
    import shutil
    import time

    from core.checkpoint import DEFAULT_CHECKPOINT, list_checkpoints
    folder = tmp_path / "ckpts"
    folder.mkdir()
    shutil.copy2(DEFAULT_CHECKPOINT, folder / "default.pt")
    shutil.copy2(DEFAULT_CHECKPOINT, folder / "newer.pt")
    later = time.time() + 60
    os.utime(folder / "newer.pt", (later, later))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", "ckpts")          # relative, as an operator may write it
    assert list_checkpoints() == [(folder / "default.pt").resolve(), (folder / "newer.pt").resolve()]
    (folder / "default.pt").unlink()
    assert list_checkpoints() == [(folder / "newer.pt").resolve()]

"""Shared fixtures: the book's code (d2l 0.17.6) and the book's data file."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from core.checkpoint import DEFAULT_CHECKPOINT, save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.train import start_run

ROOT = Path(__file__).resolve().parent.parent
SHARED_FRA_ENG = ROOT.parent / "shared" / "data" / "fra-eng.zip"
# The book's file where the project's layout puts it, for the tests (and the subprocesses they
# start) that read FRA_ENG_PATH themselves; scripts/test.sh sets the same.
if "FRA_ENG_PATH" not in os.environ and SHARED_FRA_ENG.is_file():
    os.environ["FRA_ENG_PATH"] = str(SHARED_FRA_ENG)


@pytest.fixture(scope="session")
def d2l():
    """d2l.torch from d2l==0.17.6 (installed by .ci/run; a test dependency only)."""
    from bench.d2l_reference import import_d2l
    return import_d2l()


@pytest.fixture(scope="session")
def book_decoder(d2l):
    from bench.d2l_reference import book_decoder_class
    return book_decoder_class(d2l)


@pytest.fixture(scope="session")
def fra_eng_path() -> Path:
    path = Path(os.environ.get("FRA_ENG_PATH", SHARED_FRA_ENG))
    if not path.is_file():
        pytest.skip(f"the book's fra-eng file is not at {path}")
    return path


@pytest.fixture(scope="session")
def fra_eng_text(fra_eng_path) -> str:
    from core.sources import read_tatoeba_file
    return read_tatoeba_file(fra_eng_path)


@pytest.fixture(autouse=True)
def _seed():
    """Fixed seed; one intra-op thread, so tests never oversubscribe the CPU beside a server."""
    torch.set_num_threads(1)
    torch.manual_seed(0)


@pytest.fixture
def checkpoint_dir(tmp_path, monkeypatch) -> Path:
    """An empty checkpoint folder the code under test sees as `checkpoints/`."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def ckpt_dir(tmp_path_factory) -> Path:
    """A checkpoint folder with one tiny model trained for two epochs on the shipped corpus."""
    folder = tmp_path_factory.mktemp("checkpoints")
    data = DataConfig(source="corpus", num_examples=300, num_test=30, batch_size=32)
    run = start_run(data, ModelConfig(embed_size=16, num_hiddens=16, num_layers=1), TrainConfig(num_epochs=2))
    run.train()
    save_checkpoint(run.checkpoint(), folder / "tiny.pt")
    return folder


@pytest.fixture
def app_dir(ckpt_dir, monkeypatch) -> Path:
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(ckpt_dir))
    return ckpt_dir


@pytest.fixture
def with_default(tmp_path, monkeypatch) -> Path:
    """A checkpoint folder holding the shipped default model (its own rule: encoder)."""
    shutil.copy(DEFAULT_CHECKPOINT, tmp_path / "default.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    return tmp_path


def pytest_sessionfinish(session, exitstatus):
    session.config._seq2seq_status = int(exitstatus)


def pytest_unconfigure(config):
    """Leave with pytest's verdict as soon as it is reported: the interpreter's own teardown
    (torch's and Ray's threads, a forkserver) once segfaulted after every test had passed, which
    turned a green run red. The verdict is what the tests said, not how the process died."""
    status = getattr(config, "_seq2seq_status", None)
    if status is not None:
        sys.stdout.flush(), sys.stderr.flush()
        os._exit(status)

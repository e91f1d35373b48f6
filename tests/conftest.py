"""Shared fixtures: the book's code (d2l 0.17.6) and the book's data file."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED_FRA_ENG = ROOT.parent / "shared" / "data" / "fra-eng.zip"


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


@pytest.fixture(scope="session", autouse=True)
def _fused_gru_settled():
    """Training switches to the fused GRU when its background build ends; settle that once,
    so no test sees the switch happen between two runs it compares."""
    from core.fast import fused_gru
    fused_gru.load(timeout=300)


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

"""The Exercises and Accumulation views, driven headless with AppTest.

AppTest never fires `run_every` fragments, so time is driven by calling `at.run()` again,
as the browser's polling would.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import core.exercises.experiments as ex
from core.checkpoint import save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.probes.accumulation import compare
from core.train import start_run
from tests.apptest_helpers import rerun_until

ROOT = Path(__file__).resolve().parent.parent
HOME, EXERCISES, ACCUMULATION = "app.py", "pages/5_🧪_Exercises.py", "pages/6_➕_Accumulation.py"
TINY = ex.BaseSetup(DataConfig(source="reverse", num_examples=48, num_test=8, batch_size=16, num_steps=5),
                    ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=2))


@pytest.fixture
def app_dir(tmp_path, monkeypatch) -> Path:
    """A checkpoint folder (and so an experiment cache) with one tiny checkpoint."""
    run = start_run(TINY.data, TINY.model, TrainConfig(num_epochs=1))
    run.train()
    save_checkpoint(run.checkpoint(), tmp_path / "tiny.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    return tmp_path


def open_page(page: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(page)
    return no_exception(at.run())


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("page", [EXERCISES, ACCUMULATION])
def test_the_page_renders_with_the_checkpoint_in_the_sidebar(app_dir, page):
    at = open_page(page)
    assert not at.error
    assert next(s for s in at.sidebar.selectbox if s.label == "In use on every page").value.endswith("tiny.pt")


@pytest.mark.trains
def test_exercises_offers_every_exercise_and_runs_one_in_the_background(app_dir, monkeypatch):
    monkeypatch.setattr(ex, "BASE", TINY)
    at = open_page(EXERCISES, **{"keep.exercises.pick": "mask"})
    assert len(next(s for s in at.selectbox if s.label == "Exercise").options) == 6
    at = no_exception(at.button(key="exercises.run").click().run())
    at = rerun_until(at, lambda page: page.info, "the experiment's reading")
    cached = ex.load_cached(next(e for e in ex.catalogue() if e.key == "mask"))
    assert cached is not None, "the experiment ended without caching its result"
    table = next(d.value for d in at.dataframe if "held-out BLEU (0–100)" in d.value.columns)
    assert table["held-out BLEU (0–100)"].tolist() == [v.bleu for v in cached.variants]
    assert f"{cached.variants[1].final_loss:.3f}" in at.info[0].value
    again = open_page(EXERCISES, **{"keep.exercises.pick": "mask"})   # a revisit: at once, from the cache
    assert again.info and again.button(key="exercises.run").label == "🔁 Re-run"


@pytest.mark.trains
def test_exercises_stop_ends_the_run_and_shows_what_it_measured_uncached(app_dir, monkeypatch):
    monkeypatch.setattr(ex, "BASE", ex.BaseSetup(TINY.data, TINY.model, TrainConfig(num_epochs=100_000)))
    at = open_page(EXERCISES, **{"keep.exercises.pick": "cell"})
    at = no_exception(at.button(key="exercises.run").click().run())
    at = no_exception(at.button(key="exercises.stop").click().run())
    at = rerun_until(at, lambda page: page.warning, "the stopped experiment's message")
    assert any("stopped" in w.value for w in at.warning) and any("stopped" in i.value for i in at.info)
    assert ex.load_cached(next(e for e in ex.catalogue() if e.key == "cell")) is None
    assert at.button(key="exercises.run").label == "▶️ Run"


def test_accumulation_shows_the_max_difference_core_computes(app_dir):
    at = open_page(ACCUMULATION, **{"keep.accum.batch": 32, "keep.accum.micro": 8})
    report = compare(32, 8, 0.005)
    assert metric(at, "Max |difference| (all parameters)") == f"{report.max_abs_diff:.2e}"
    assert metric(at, "Ratio sum / mean") == "32.0000"


def test_accumulation_refuses_micro_batches_that_do_not_divide_the_batch(app_dir):
    at = open_page(ACCUMULATION, **{"keep.accum.micro": 24})
    assert any("does not divide" in e.value for e in at.error) and not at.metric


def test_a_first_visit_shows_the_shipped_results_at_once_and_offers_a_live_rerun(app_dir, monkeypatch):
    monkeypatch.setattr(ex, "run_experiment", lambda *args, **kwargs: pytest.fail("it trained"))
    at = open_page(EXERCISES, **{"keep.exercises.pick": "teacher_forcing"})
    shipped = ex.load_cached(next(e for e in ex.catalogue() if e.key == "teacher_forcing"))
    table = next(d.value for d in at.dataframe if "held-out BLEU (0–100)" in d.value.columns)
    assert table["held-out BLEU (0–100)"].tolist() == [v.bleu for v in shipped.variants]
    assert at.button(key="exercises.run").label == "🔁 Re-run"

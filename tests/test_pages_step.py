"""The Step view (notes 7.5) and its two side items, driven headless with AppTest: the numbers
on the page are the ones core.step computes for the checkpoint in use."""
from __future__ import annotations

import json

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.step.batch import training_pairs
from core.step.session import open_step
from core.train import start_run
from tests.apptest_helpers import HANG_GUARD, finish, no_exception, rerun_until
from tests.apptest_helpers import open_page as open_with

STEP, DECODE, TRAIN = "pages/9_🦶_Step.py", "pages/3_🔎_Decode.py", "pages/1_🏋️_Train.py"
STAGES = ["1 · Data → teacher forcing", "2 · Forward and the masked loss", "3 · The number on the Train curve",
          "4 · Backward", "5 · Clipping", "6 · Adam's update", "7 · After the step", "8 · Sum vs mean, measured",
          "9 · Where the time goes"]


def open_page(page: str, **state) -> AppTest:
    """The page, its run waited for with the hang guard (never a deadline on its speed)."""
    return open_with(page, timeout=HANG_GUARD, **state)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def chart(at: AppTest, key: str) -> dict:
    return next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(key))


def test_the_step_view_opens_every_stage_with_the_numbers_core_computes(app_dir):
    at = open_page(STEP)
    assert [h.value for h in at.header] == STAGES
    tiny = load_checkpoint(app_dir / "tiny.pt")
    _session, report = open_step(tiny.model, tiny.model_config, tiny.src_vocab, tiny.tgt_vocab,
                                 tiny.data_config.num_steps, training_pairs(tiny.data_config, tiny.test_pairs),
                                 batch_size=tiny.data_config.batch_size, seed=0, lr=tiny.train_config.lr,
                                 theta=tiny.train_config.clip_theta, fresh=False, device=torch.device("cpu"))
    first = report.first
    assert metric(at, "Batch size") == str(tiny.data_config.batch_size)
    assert metric(at, "num_tokens = Y_valid_len.sum()") == str(first.printed.num_tokens)
    assert metric(at, "l.sum() / num_tokens") == f"{first.printed.printed:.5f}"
    assert metric(at, "‖g‖ before") == f"{first.clipping.norm:.4f}"
    assert any(f"{first.printed.printed:.4f}" in i.value for i in at.info)          # the identity, in a sentence
    assert float(metric(at, "max |by hand − autograd|")) < 1e-5
    table = at.dataframe[0].value
    assert table.iloc[0, 1].endswith("(<bos>)")                                      # the teacher-forcing table
    assert len(chart(at, "step.time_grads")["data"]) == 2                           # encoder and decoder over t


def test_step_again_continues_on_the_same_batch_and_draws_its_curve(app_dir):
    at = open_page(STEP)
    before = metric(at, "… after one step")
    at = no_exception(at.button(key="step.again").click().run())
    assert metric(at, "Steps taken on this batch") == "2"
    assert metric(at, "… after one step") == before                   # the first step's numbers stay
    at = no_exception(at.button(key="step.more").click().run())
    assert metric(at, "Steps taken on this batch") == "12"
    assert len(chart(at, "step.curve")["data"][0]["y"]) == 13         # before, then after each of 12 steps


def test_a_fresh_model_shows_its_xavier_initialisation_and_new_settings_take_a_new_step(app_dir):
    at = open_page(STEP, **{"keep.step.weights": "fresh", "keep.step.batch": 8, "keep.step.seed": 3})
    assert "The fresh model's weights: Xavier initialisation" in [h.value for h in at.header]
    assert metric(at, "Batch size") == "8" and metric(at, "Steps taken on this batch") == "1"
    assert any("Adam's first step" in i.value for i in at.info)


def test_without_a_checkpoint_the_step_view_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    at = open_page(STEP)
    assert any("needs a trained model" in w.value for w in at.warning) and not at.header


@pytest.fixture(scope="module")
def two_layers(tmp_path_factory):
    """A checkpoint folder with a two-layer model: nn.GRU's dropout acts between its layers."""
    folder = tmp_path_factory.mktemp("two-layers")
    run = start_run(DataConfig(source="corpus", num_examples=300, num_test=30, batch_size=32),
                    ModelConfig(embed_size=16, num_hiddens=16, num_layers=2, dropout=0.3), TrainConfig(num_epochs=2))
    run.train()
    save_checkpoint(run.checkpoint(), folder / "two.pt")
    return folder


def test_decode_with_dropout_on_shows_the_train_mode_runs_beside_eval_mode(two_layers, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(two_layers))
    at = open_page(DECODE, **{"keep.decode.sentence": "He's calm!", "keep.decode.dropout": True})
    runs = next(d.value for d in at.dataframe if "translation with dropout on" in d.value.columns)
    assert len(runs) == 8
    assert any("8 runs with dropout 0.3 on" in c.value for c in at.caption)
    assert len(set(runs["log P"])) > 1                                # every run its own probabilities
    seed = at.session_state["decode.dropout_seed"] if "decode.dropout_seed" in at.session_state else 0
    at = no_exception(at.button(key="decode.dropout_again").click().run())
    assert at.session_state["decode.dropout_seed"] == seed + 1


def test_decode_says_when_dropout_cannot_act_in_a_one_layer_model(app_dir):
    at = open_page(DECODE, **{"keep.decode.sentence": "He's calm!", "keep.decode.dropout": True})
    assert any("Dropout does not act in this model" in c.value for c in at.caption)


@pytest.mark.trains
@pytest.mark.process
def test_the_train_view_charts_the_gradient_norm_of_each_layer(app_dir):
    state = {"keep.train.source": "reverse", "keep.train.examples": 96, "keep.train.held_out": 8,
             "keep.train.batch": 16, "keep.train.num_steps": 6, "keep.train.embed_size": 8,
             "keep.train.hiddens": 8, "keep.train.layers": 1, "keep.train.epochs": 3,
             "keep.train.name": "layer-norms"}
    at = no_exception(open_page(TRAIN, **state))
    at = no_exception(at.button[0].click().run())                      # ▶️ Start training
    at = rerun_until(at, lambda page: any(c.proto.id.endswith("train.layer_norms") for c in page.get("plotly_chart")),
                     "the per-layer chart")
    names = [trace["name"] for trace in chart(at, "train.layer_norms")["data"]]
    assert names == ["encoder.embedding", "encoder.rnn.l0", "decoder.embedding", "decoder.rnn.l0", "decoder.dense"]
    finish(at)

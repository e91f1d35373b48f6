"""The Decode view's beam search (and attention) sections, driven headless with AppTest.

Like tests/test_pages.py: the app runs from `app.py` against a temporary checkpoint folder
(`SEQ2SEQ_CHECKPOINT_DIR`) holding one tiny checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.beam import beam_decode
from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.decode import greedy_decode
from core.metrics import bleu
from core.train import start_run

ROOT = Path(__file__).resolve().parent.parent
DECODE = "pages/3_🔎_Decode.py"
TIMEOUT = 60


def checkpoint_folder(tmp_path_factory, name: str, model: ModelConfig) -> Path:
    """A folder with one tiny model trained for two epochs on the shipped corpus."""
    folder = tmp_path_factory.mktemp(name)
    data = DataConfig(source="corpus", num_examples=300, num_test=30, batch_size=32)
    run = start_run(data, model, TrainConfig(num_epochs=2))
    run.train()
    save_checkpoint(run.checkpoint(), folder / f"{name}.pt")
    return folder


@pytest.fixture(scope="module")
def plain_dir(tmp_path_factory) -> Path:
    return checkpoint_folder(tmp_path_factory, "plain", ModelConfig(embed_size=16, num_hiddens=16, num_layers=1))


def open_decode(folder: Path, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(folder))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page(DECODE)
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m for m in at.metric if m.label == label).value


def nbest_frame(at: AppTest):
    return next(d.value for d in at.dataframe if "ended by" in d.value.columns)


def test_decode_shows_the_beam_search_core_gives(plain_dir, monkeypatch):
    sentence, reference = "He's calm!", "il est calme ."
    at = open_decode(plain_dir, monkeypatch, **{"keep.decode.sentence": sentence, "keep.decode.reference": reference,
                                                "keep.decode.beam_size": 4, "keep.decode.length_penalty": 0.5})
    ckpt = load_checkpoint(plain_dir / "plain.pt")
    num_steps = ckpt.data_config.num_steps
    expected = beam_decode(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, 4, 0.5, book=False)
    frame = nbest_frame(at)
    assert list(frame["translation"]) == [h.translation for h in expected.nbest]
    assert list(frame["log-prob"]) == [round(h.log_prob, 4) for h in expected.nbest]
    assert metric(at, "Beam log-prob") == f"{expected.best.log_prob:.4f}"
    assert metric(at, "Beam BLEU (k = 2)") == f"{bleu(expected.translation, reference, k=2):.4f}"
    greedy = greedy_decode(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, book=False)
    assert metric(at, "Greedy BLEU (k = 2)") == f"{bleu(greedy.translation, reference, k=2):.4f}"
    tree = next(spec for spec in (json.loads(p.proto.spec) for p in at.get("plotly_chart"))
                if "search tree" in spec["layout"]["title"]["text"])
    labels = [t for trace in tree["data"] for t in trace.get("text") or []]
    assert len(labels) == sum(len(nodes) for nodes in expected.steps) + 1        # every candidate and <bos>


def test_a_beam_of_one_shows_the_greedy_translation(plain_dir, monkeypatch):
    at = open_decode(plain_dir, monkeypatch, **{"keep.decode.beam_size": 1})
    frame = nbest_frame(at)
    assert len(frame) == 1 and frame["translation"][0] == at.code[0].value
    assert metric(at, "Beam log-prob") == metric(at, "Greedy log-prob")


# -- attention checkpoints ---------------------------------------------------------------------
HTML = "<img src=x onerror=\"document.title='owned'\">"


@pytest.fixture(scope="module")
def attention_dir(tmp_path_factory) -> Path:
    return checkpoint_folder(tmp_path_factory, "attention",
                             ModelConfig(embed_size=16, num_hiddens=16, num_layers=1, decoder="attention"))


def charts_by_title(at: AppTest) -> dict[str, dict]:
    specs = [json.loads(p.proto.spec) for p in at.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def test_decode_shows_where_an_attention_model_looks(attention_dir, monkeypatch):
    sentence = "He's calm!"
    at = open_decode(attention_dir, monkeypatch, **{"keep.decode.sentence": sentence})
    ckpt = load_checkpoint(attention_dir / "attention.pt")
    num_steps = ckpt.data_config.num_steps
    greedy = greedy_decode(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, book=False)
    n = greedy.source.valid_len
    specs = charts_by_title(at)
    heat = specs["Attention weights: each target step over the source tokens"]["data"][0]
    assert len(heat["z"]) == len(greedy.steps)
    for row, step in zip(heat["z"], greedy.steps):
        assert row == pytest.approx(step.attention[:n])
    bars = specs[f"Step {len(greedy.steps)}: attention over the source"]["data"][0]    # the slider starts at the end
    assert bars["y"] == pytest.approx(greedy.steps[-1].attention[:n])
    expected = beam_decode(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, 3, 0.0, book=False)
    assert list(nbest_frame(at)["translation"]) == [h.translation for h in expected.nbest]


def test_plain_models_show_no_attention(plain_dir, monkeypatch):
    titles = charts_by_title(open_decode(plain_dir, monkeypatch))
    assert not any("attention" in t.lower() for t in titles)


def test_attention_axes_show_html_as_text(attention_dir, monkeypatch):
    at = open_decode(attention_dir, monkeypatch, **{"keep.decode.sentence": HTML})
    heat = charts_by_title(at)["Attention weights: each target step over the source tokens"]
    ticks = heat["layout"]["xaxis"]["ticktext"]
    assert any("&lt;img" in t for t in ticks) and not any("<img" in t for t in ticks)

"""The Model view and the notes' presets, driven headless with AppTest: every number shown is
the one `core.probes` computes for the checkpoint in use."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.metrics import bleu_breakdown
from core.probes.accumulation import time_for_memory
from core.probes.anatomy import parameter_table, teacher_forced_batch, trace_forward
from core.probes.context import context_vectors, nearest
from core.probes.diagram import ATTENTION, CONTEXT, INITIAL_STATE, diagram_of
from core.train import start_run
from tests.apptest_helpers import no_exception, open_page
from ui import state

MODEL, MASKING, BLEU, ACCUMULATION = ("pages/0_🔬_Model.py", "pages/2_🎭_Masking.py", "pages/4_📏_BLEU.py",
                                      "pages/6_➕_Accumulation.py")


@pytest.fixture(scope="module", params=[ModelConfig(embed_size=8, num_hiddens=12, num_layers=2),
                                        ModelConfig(embed_size=8, num_hiddens=12, cell="lstm", context="encoder"),
                                        ModelConfig(embed_size=8, num_hiddens=12, decoder="attention")],
                ids=["gru", "lstm", "attention"])
def ckpt_dir(request, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("checkpoints")
    data = DataConfig(source="corpus", num_examples=200, num_test=40, batch_size=32)
    run = start_run(data, request.param, TrainConfig(num_epochs=1))
    run.train()
    save_checkpoint(run.checkpoint(), folder / "tiny.pt")
    return folder


@pytest.fixture
def tiny(ckpt_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(ckpt_dir))
    return load_checkpoint(ckpt_dir / "tiny.pt")


def frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_model_view_is_linked_right_after_home():
    from ui.sidebar import NAV
    assert [page for page, _, _ in NAV[:2]] == ["home", "model"]


def test_the_shape_table_is_the_traced_forward_pass_for_the_chosen_n_and_t(tiny):
    at = open_page(MODEL, **{"keep.model.n": 3, "keep.model.t": 7})
    X, valid, dec_X = teacher_forced_batch(tiny.test_pairs[:3], tiny.src_vocab, tiny.tgt_vocab, 7)
    trace = trace_forward(tiny.model, X, valid, dec_X)
    shapes = frame(at, "letters")
    assert shapes["shape"].tolist() == [t.shape_text for t in trace.tensors]
    assert shapes["letters"].tolist() == [t.letters_text for t in trace.tensors]
    assert "(3, 7)" in shapes["shape"].tolist()


def drawn_edges(at: AppTest) -> dict[tuple[str, str], str]:
    """The Model view's graphviz diagram: (from, to) -> that edge's DOT statement."""
    [chart] = at.get("graphviz_chart")
    edges = re.findall(r'^"([^"]+)" -> "([^"]+)" (.*)$', chart.proto.spec, re.MULTILINE)
    return {(a, b): rest for a, b, rest in edges}


def test_the_diagram_hands_the_encoders_state_and_context_to_the_decoder(tiny):
    at = open_page(MODEL, **{"keep.model.n": 3, "keep.model.t": 7})
    X, valid, dec_X = teacher_forced_batch(tiny.test_pairs[:3], tiny.src_vocab, tiny.tgt_vocab, 7)
    diagram = diagram_of(trace_forward(tiny.model, X, valid, dec_X))
    drawn = drawn_edges(at)
    # (a) the encoder's final state, all its layers, starts the decoder's RNN, its shape on the edge
    [state] = diagram.edges_of(INITIAL_STATE)
    assert state.shape_text in drawn["encoder.state", "decoder.rnn"]
    assert state.letters == ("L", "N", "H") and "(2, 3, 12)" in drawn["encoder.state", "decoder.rnn"]
    assert ("(h, c)" in drawn["encoder.state", "decoder.rnn"]) == (tiny.model_config.cell == "lstm")
    if tiny.model_config.decoder == "attention":      # (b) no fixed c: the decoder attends over all outputs
        assert ("encoder.state", "decoder.concat") not in drawn
        for e in diagram.edges_of(ATTENTION):
            assert e.shape_text in drawn[e.source, e.target]
        assert "(N, T, H) = (3, 7, 12)" in drawn["encoder.rnn", "attention"]
    else:                                              # (b) the context c enters every decoder step
        [context] = diagram.edges_of(CONTEXT)
        assert (context.source, context.target) == ("encoder.state", "decoder.concat")
        assert "(N, H) = (3, 12)" in context.shape_text and context.shape_text in drawn["encoder.state", "decoder.concat"]
    assert any("initial state" in c.value for c in at.caption)


def test_the_diagram_is_labelled_in_the_readers_language(tiny):
    at = open_page(MODEL, **{state.LANGUAGE: "zh"})
    drawn = drawn_edges(at)
    assert "初始状态" in drawn["encoder.state", "decoder.rnn"]
    assert "cluster_encoder { label=\"编码器\"" in at.get("graphviz_chart")[0].proto.spec


def test_parameter_counts_shown_add_up_to_the_models_total(tiny):
    at = open_page(MODEL)
    params = frame(at, "parameters")
    assert params["parameters"].tolist() == [r.count for r in parameter_table(tiny.model)]
    total = sum(p.numel() for p in tiny.model.parameters())
    assert any(f"{total:,}" in c.value for c in at.caption)


def test_choosing_a_tensor_shows_a_slice_of_its_values(tiny):
    at = open_page(MODEL, **{"keep.model.tensor": "encoder.rnn.output"})
    assert any("encoder.rnn.output[0]" in c.value for c in at.caption)


@pytest.mark.trains
def test_the_concatenation_check_and_a_timing_run_on_request(tiny):
    at = open_page(MODEL)
    assert any("differ by at most" in m.value for m in at.markdown)
    at = no_exception(at.button(key="model.time").click().run())
    timings = frame(at, "two ÷ one")
    assert timings["size"].tolist()[0].startswith("this model")
    assert at.info and "Measured on cpu" in at.info[0].value


def test_a_typed_sentence_is_placed_and_its_neighbours_listed(tiny):
    sentence = tiny.test_pairs[5][0]
    at = open_page(MODEL, **{"keep.model.sentence": sentence})
    neighbours = frame(at, "cosine")
    sources = [s for s, _ in tiny.test_pairs]
    query = context_vectors(tiny.model, [sentence], tiny.src_vocab, tiny.data_config.num_steps)[0]
    vectors = context_vectors(tiny.model, sources, tiny.src_vocab, tiny.data_config.num_steps)
    expected = [sources[i] for i, _ in nearest(vectors, query, 5)]
    assert neighbours["sentence"].tolist() == expected and neighbours["sentence"].tolist()[0] == sentence


def test_the_decoder_state_section_shows_the_drift_or_says_why_not(tiny):
    at = open_page(MODEL, **{"keep.model.sentence": "go ."})
    captions = " ".join(c.value for c in at.caption)
    if tiny.model_config.decoder == "attention":
        assert any("no single context" in i.value for i in at.info)
    else:
        assert "Step 0 starts from c" in captions and "Norms:" in captions


def test_an_empty_sentence_gets_a_prompt_not_an_error(tiny):
    at = open_page(MODEL, **{"keep.model.sentence": "   "})
    assert not at.error and any("Type a sentence" in i.value for i in at.info)


# -- the notes' presets ----------------------------------------------------------------------
def test_the_bleu_view_offers_the_notes_worked_example(tiny):
    at = open_page(BLEU, **{"keep.bleu.k": 2})
    at = no_exception(at.button(key="bleu.notes").click().run())
    assert at.text_input(key="keep.bleu.pred").value == "A B B C D"
    assert at.text_input(key="keep.bleu.ref").value == "A B C D E F"
    orders = bleu_breakdown("A B B C D", "A B C D E F", 2).orders
    assert (orders[0].matches, orders[0].total, orders[1].matches, orders[1].total) == (4, 5, 3, 4)


def test_the_masking_view_offers_both_of_the_notes_examples(tiny):
    at = open_page(MASKING, **{"keep.mask.maxlen": 5, "keep.mask.valid": "4"})
    at = no_exception(at.button(key="mask.notes_741").click().run())
    assert at.number_input(key="keep.mask.maxlen").value == 3 and at.text_input(key="keep.mask.valid").value == "1, 2"
    at = no_exception(at.button(key="mask.notes_742").click().run())
    labels = frame(at, "label")
    assert labels["label"].tolist() == ["A B C", "D <pad> <pad>"] and labels["valid_len"].tolist() == [3, 1]


def test_the_accumulation_view_shows_the_memory_it_saves_and_the_time_it_costs(tiny):
    at = open_page(ACCUMULATION, **{"keep.accum.batch": 32, "keep.accum.micro": 8})
    trade = time_for_memory(32, 8)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Activations kept, batch of 32"] == f"{trade.batch_bytes / 2**20:.2f} MiB"
    assert metrics["… micro-batch of 8"] == f"{trade.micro_bytes / 2**20:.2f} MiB"


def test_a_checkpoint_without_held_out_pairs_still_shows_its_model(tmp_path, monkeypatch):
    run = start_run(DataConfig(source="reverse", num_examples=40, num_test=0, batch_size=8, num_steps=6),
                    ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=1))
    run.train()
    save_checkpoint(run.checkpoint(), tmp_path / "no-held-out.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    at = open_page(MODEL)
    assert not at.error and frame(at, "letters")["shape"].tolist()[0] == "(1, 6)"
    assert any("fewer than two held-out pairs" in i.value for i in at.info)


def test_tracing_leaves_the_shared_model_without_hooks(tiny):
    X, valid, dec_X = teacher_forced_batch(tiny.test_pairs[:2], tiny.src_vocab, tiny.tgt_vocab, 5)
    trace_forward(tiny.model, X, valid, dec_X)
    assert not any(m._forward_hooks for m in tiny.model.modules())

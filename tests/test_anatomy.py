"""Inside the model: traced shapes follow the notes' formulas, counts add up, the concatenation
is the split product, PCA is deterministic, neighbours and context drift are measured right,
and saved activations grow with the micro-batch."""
from __future__ import annotations

import pytest
import torch

from core.config import ModelConfig
from core.data import Vocab
from core.model import build_model
from core.probes import anatomy, context, diagram
from core.probes.accumulation import saved_activation_bytes, time_for_memory

CONFIGS = {
    "gru": ModelConfig(embed_size=6, num_hiddens=8),
    "lstm": ModelConfig(embed_size=6, num_hiddens=8, cell="lstm"),
    "bridge": ModelConfig(embed_size=6, num_hiddens=8, dec_num_hiddens=12, dec_num_layers=1),
    "attention": ModelConfig(embed_size=6, num_hiddens=8, decoder="attention"),
    "lstm-attention": ModelConfig(embed_size=6, num_hiddens=8, cell="lstm", decoder="attention"),
}
VOCAB = Vocab([list("abcdefghij")], reserved_tokens=["<pad>", "<bos>", "<eos>"])


def batch(n: int = 3, steps: int = 5, vocab: int = 13):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, vocab, (n, steps), generator=g)
    return X, torch.full((n,), steps), torch.randint(0, vocab, (n, steps), generator=g)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_traced_shape_equals_the_notes_formula(name):
    net = build_model(CONFIGS[name], 13, 17)
    X, valid, Y = batch()
    trace = anatomy.trace_forward(net, X, valid, Y)
    for t in trace.tensors:
        assert t.shape == anatomy.letters_to_shape(t.letters, trace.sizes), t.key
        assert tuple(t.values.shape) == t.shape
    assert trace.sizes == {"N": 3, "T": 5, "D": 6, "H": 8, "L": 2, "V": 17,
                           "H'": 12 if name == "bridge" else 8, "L'": 1 if name == "bridge" else 2}


def test_the_plain_decoders_trace_has_the_notes_stages_and_the_context_is_concatenated():
    net = build_model(CONFIGS["gru"], 13, 17)
    X, valid, Y = batch()
    trace = anatomy.trace_forward(net, X, valid, Y)
    assert trace.get("encoder.rnn.output").letters == ("T", "N", "H")
    assert trace.get("encoder.rnn.state").letters == ("L", "N", "H")
    assert trace.get("decoder.rnn.input").letters == ("T", "N", "D + H")
    assert trace.get("decoder.dense.output").shape == (5, 3, 17)
    # the context is the encoder state's top layer, and it is what the decoder's input carries
    c = trace.get("context").values
    assert torch.equal(c, trace.get("encoder.rnn.state").values[-1])
    assert torch.allclose(trace.get("decoder.rnn.input").values[:, :, 6:], c.expand(5, 3, 8))


def test_an_lstm_trace_shows_h_and_c_and_takes_the_context_from_h():
    trace = anatomy.trace_forward(build_model(CONFIGS["lstm"], 13, 17), *batch()[:2], batch()[2])
    assert "encoder.rnn.cell" in trace.keys
    assert torch.equal(trace.get("context").values, trace.get("encoder.rnn.state").values[-1])
    assert not torch.equal(trace.get("context").values, trace.get("encoder.rnn.cell").values[-1])


@pytest.mark.parametrize("name", CONFIGS)
def test_parameter_counts_per_layer_add_up_to_the_models_total(name):
    net = build_model(CONFIGS[name], 13, 17)
    rows = anatomy.parameter_table(net)
    assert sum(r.count for r in rows) == sum(p.numel() for p in net.parameters())
    assert all(r.count == sum(torch.Size(s).numel() for _, s in r.tensors) for r in rows)


def test_a_tied_output_layers_shared_embedding_is_counted_once():
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, output_layer="tied"), 13, 17)
    assert sum(r.count for r in anatomy.parameter_table(net)) == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("name", ["gru", "lstm", "bridge", "attention"])
def test_one_product_with_the_concatenated_matrix_equals_the_two_split_products(name):
    net = build_model(CONFIGS[name], 13, 17)
    W, W_x, W_c = anatomy.split_input_weight(net)
    assert W_x.shape[1] == 6 and W_c.shape[1] == net.decoder.rnn.hidden_size
    check = anatomy.check_concatenation(net, torch.randn(4, 6), torch.randn(4, W_c.shape[1]))
    assert check.max_abs_difference < 1e-5
    assert check.gate_rows == (4 if "lstm" in name else 3) * net.decoder.rnn.hidden_size


def test_the_concatenation_timing_measures_both_and_the_reading_quotes_the_numbers():
    timing = anatomy.time_concatenation(8, 6, 8, 24, repeats=3, inner=2)
    assert timing.one_product_us[0] <= timing.one_product_us[1] and timing.two_products_us[0] > 0
    text = anatomy.read_timings([timing])
    assert f"{timing.one_product_us[1]:.1f} µs" in text and f"{timing.two_products_us[1]:.1f} µs" in text
    assert anatomy.timing_sizes(32, 64, 192)[0] == (32, 64, 192)
    assert all(g == 3 * h for _, h, g in anatomy.timing_sizes(32, 64, 192))


def fake_timing(one: float, two: float, h: int) -> anatomy.ConcatTiming:
    return anatomy.ConcatTiming(64, h // 2, h, 3 * h, (one, one), (two, two), 3, "cpu")


def test_the_reading_says_whether_the_notes_claim_held():
    assert "as the notes claim" in anatomy.read_timings([fake_timing(10, 20, 64), fake_timing(100, 150, 512)])
    assert "does not hold" in anatomy.read_timings([fake_timing(20, 20, 64), fake_timing(150, 100, 512)])
    mixed = anatomy.read_timings([fake_timing(10, 20, 64), fake_timing(100, 100, 512)])
    assert "D=32, H=64" in mixed and "not at the other sizes" in mixed


def test_pca_is_deterministic_and_finds_the_main_direction():
    g = torch.Generator().manual_seed(0)
    direction = torch.tensor([3.0, 4.0, 0.0]) / 5
    vectors = torch.randn(50, 1, generator=g) * 10 * direction + 0.01 * torch.randn(50, 3, generator=g)
    first, second = context.project_2d(vectors), context.project_2d(vectors.clone())
    assert torch.equal(first.points, second.points)
    assert torch.allclose(first.axes[0].abs(), direction, atol=1e-2) and first.explained[0] > 0.99
    assert torch.allclose(context.project_2d(-vectors).points[:, 0], -first.points[:, 0], atol=1e-4)
    assert torch.allclose(first.place(vectors), first.points, atol=1e-4)


def test_nearest_neighbours_by_cosine_similarity_on_a_constructed_case():
    vectors = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0], [10.0, 0.5]])
    found = context.nearest(vectors, torch.tensor([1.0, 0.0]), count=3, exclude=0)
    assert [i for i, _ in found] == [4, 1, 2]
    assert found[0][1] == pytest.approx(float(torch.nn.functional.cosine_similarity(vectors[4:5], vectors[0:1])))


def test_context_vectors_are_the_decoders_starting_context():
    net = build_model(CONFIGS["gru"], len(VOCAB), len(VOCAB))
    c = context.context_vectors(net, ["a b c", "d e"], VOCAB, 5)
    assert c.shape == (2, 8)
    X = torch.tensor([[VOCAB[t] for t in "a b c".split()] + [VOCAB["<eos>"], VOCAB["<pad>"]]])
    assert torch.allclose(c[0], net.encoder(X)[1][-1, 0], atol=1e-6)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_books_rule_feeds_the_previous_decoder_state_and_the_encoder_rule_keeps_c(cell):
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, cell=cell), len(VOCAB), len(VOCAB))
    book = context.decoder_trajectory(net, "a b c", VOCAB, VOCAB, 6, "book")
    fixed = context.decoder_trajectory(net, "a b c", VOCAB, VOCAB, 6, "encoder")
    assert book.drift[0] == pytest.approx(0.0, abs=1e-6) and all(d == pytest.approx(0, abs=1e-6) for d in fixed.drift)
    assert len(book.tokens) == book.hidden.shape[0] == book.contexts.shape[0]
    for t in range(1, len(book.tokens)):          # step t's context is step t-1's hidden state
        assert torch.allclose(book.contexts[t], book.hidden[t - 1], atol=1e-6)
    assert net.decoder.fixed_context is False      # the shared model was not changed
    with pytest.raises(ValueError, match="attention"):
        context.decoder_trajectory(build_model(CONFIGS["attention"], len(VOCAB), len(VOCAB)), "a", VOCAB, VOCAB, 4, "book")


def test_saved_activation_bytes_grow_linearly_with_the_micro_batch():
    from core.config import TrainConfig
    from core.trainer import Trainer
    net = build_model(ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0), len(VOCAB), len(VOCAB))
    trainer = Trainer(net, [], VOCAB, TrainConfig(), torch.device("cpu"))
    row = batch(1, 6, len(VOCAB))
    sizes = {}
    for n in (4, 8, 16):
        X, valid, Y = (t.repeat(n, *([1] * (t.dim() - 1))) for t in row)
        sizes[n] = saved_activation_bytes(trainer, (X, valid, Y, valid.clone()))
    assert sizes[16] - sizes[8] == 2 * (sizes[8] - sizes[4]) and sizes[16] > sizes[8] > sizes[4] > 0
    assert sizes[16] / sizes[4] == pytest.approx(4, rel=0.05)


def test_accumulating_four_micro_batches_keeps_a_quarter_of_the_activations():
    report = time_for_memory(batch_size=16, micro_batch=4, repeats=1,
                             model_config=ModelConfig(embed_size=8, num_hiddens=8, dropout=0.0))
    assert report.micro_bytes < report.batch_bytes and report.memory_ratio > 2.5
    assert report.batch_seconds > 0 and report.accumulated_seconds > 0


# -- the diagram: encoder and decoder side by side (issue 25, item 4) ----------------------------
DIAGRAMS = {**CONFIGS, "lstm-bridge": ModelConfig(embed_size=6, num_hiddens=8, dec_num_hiddens=12,
                                                  dec_num_layers=1, cell="lstm")}


def drawn(name: str) -> tuple[anatomy.ForwardTrace, diagram.Diagram]:
    trace = anatomy.trace_forward(build_model(DIAGRAMS[name], 13, 17), *batch())
    return trace, diagram.diagram_of(trace)


def test_the_trace_holds_the_teacher_forced_target_inputs():
    X, valid, dec_X = batch()
    trace = anatomy.trace_forward(build_model(CONFIGS["gru"], 13, 17), X, valid, dec_X)
    assert trace.get("target").letters == ("N", "T") and torch.equal(trace.get("target").values, dec_X.float())


@pytest.mark.parametrize("name", DIAGRAMS)
def test_the_diagram_puts_the_encoder_and_the_decoder_side_by_side(name):
    trace, d = drawn(name)
    assert [n.key for n in d.column(diagram.ENCODER)] == ["encoder.source", "encoder.embedding", "encoder.rnn",
                                                          "encoder.state"]
    assert [n.key for n in d.column(diagram.DECODER)] == ["decoder.target", "decoder.embedding", "decoder.concat",
                                                          "decoder.rnn", "decoder.dense", "decoder.logits"]
    # the decoder's concatenation is level with the encoder's final state, which feeds it across
    assert d.node("decoder.concat").row == d.node("encoder.state").row
    keys = {n.key for n in d.nodes}
    for e in d.edges:
        assert {e.source, e.target} <= keys, e
        assert e.shape == anatomy.letters_to_shape(e.letters, trace.sizes), e


@pytest.mark.parametrize("name", DIAGRAMS)
def test_the_encoders_final_state_of_all_layers_becomes_the_decoders_initial_state(name):
    trace, d = drawn(name)
    path = d.edges_of(diagram.INITIAL_STATE)
    bridged = "bridge" in name
    assert [(e.source, e.target) for e in path] == (
        [("encoder.state", "bridge"), ("bridge", "decoder.rnn")] if bridged else [("encoder.state", "decoder.rnn")])
    assert path[0].letters == ("L", "N", "H") and path[0].shape == (2, 3, 8)      # all L = 2 layers
    assert path[-1].shape == ((1, 3, 12) if bridged else (2, 3, 8))               # (L', N, H') after a bridge
    assert all(e.pair == ("lstm" in name) for e in path)


@pytest.mark.parametrize("name", ["gru", "lstm", "bridge", "lstm-bridge"])
def test_the_context_enters_the_concatenation_at_every_decoder_step(name):
    trace, d = drawn(name)
    [context] = d.edges_of(diagram.CONTEXT)
    assert (context.source, context.target) == ("bridge" if "bridge" in name else "encoder.state", "decoder.concat")
    assert context.every_step and context.letters == ("N", "H'" if "bridge" in name else "H")
    assert context.shape == trace.get("context").shape == (3, 12 if "bridge" in name else 8)
    assert not d.edges_of(diagram.ATTENTION) and "attention" not in {n.key for n in d.nodes}


@pytest.mark.parametrize("name", ["attention", "lstm-attention"])
def test_an_attention_decoder_attends_over_all_encoder_outputs_instead_of_a_fixed_context(name):
    trace, d = drawn(name)
    assert not d.edges_of(diagram.CONTEXT)
    attended = {(e.source, e.target): e for e in d.edges_of(diagram.ATTENTION)}
    assert set(attended) == {("encoder.rnn", "attention"), ("decoder.rnn", "attention"),
                             ("attention", "decoder.concat")}
    assert attended["encoder.rnn", "attention"].letters == ("N", "T", "H")          # every encoder step
    assert attended["encoder.rnn", "attention"].shape == (3, 5, 8)
    assert attended["attention", "decoder.concat"].every_step
    assert d.node("attention").column == diagram.BETWEEN


@pytest.mark.parametrize("name", DIAGRAMS)
def test_the_bridge_node_is_drawn_only_for_a_model_with_a_bridge(name):
    _, d = drawn(name)
    assert ("bridge" in {n.key for n in d.nodes}) == ("bridge" in name)


def test_an_lstms_state_edges_carry_the_h_c_pair_and_its_context_comes_from_h():
    _, d = drawn("lstm")
    [state] = d.edges_of(diagram.INITIAL_STATE)
    assert state.shape_text == "(h, c): 2 × (L, N, H) = 2 × (2, 3, 8)"
    assert "(h, c)" in d.node("encoder.state").label
    [context] = d.edges_of(diagram.CONTEXT)
    assert not context.pair and "of h" in context.label
    _, gru = drawn("gru")
    assert gru.edges_of(diagram.INITIAL_STATE)[0].shape_text == "(L, N, H) = (2, 3, 8)"

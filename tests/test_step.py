"""One training step opened up (core/step, the Step view): each stage's numbers, pinned against
the book's own code and against independent computations; and the two side items, the per-layer
gradient norms the trainer streams and decoding with dropout on."""
import copy
import math

import pytest
import torch

from core.config import DataConfig, ModelConfig, TrainConfig
from core.data import Vocab
from core.decode import decode_in_train_mode, greedy_decode
from core.history import StepEvent, layer_curves
from core.loss import MaskedSoftmaxCELoss
from core.model import build_model, xavier_init_weights
from core.step.backward import VOCAB_SIZED, WEIGHTS, time_step_grads
from core.step.batch import StepBatch, draw_batch, forcing_table, teacher_forcing_input, training_pairs
from core.step.init import XAVIER, fresh_model, init_table
from core.step.loss_parts import printed_loss
from core.step.scaling import sum_vs_mean
from core.step.session import StepSession, open_step
from core.step.timing import STAGES
from core.step.update import clip
from core.train import start_run
from core.trainer import layer_of

VOCAB = Vocab([[str(i) for i in range(12)]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
CPU = torch.device("cpu")
TINY = ModelConfig(embed_size=6, num_hiddens=8, num_layers=2, dropout=0.0)


def random_batch(n=8, steps=6, seed=0) -> StepBatch:
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(3, len(VOCAB), (n, steps), generator=g)
    Y = torch.randint(3, len(VOCAB), (n, steps), generator=g)
    valid = torch.randint(1, steps + 1, (n,), generator=g)
    Y = Y.masked_fill(torch.arange(steps)[None, :] >= valid[:, None], VOCAB["<pad>"])
    return StepBatch(X=X, X_valid_len=valid.clone(), Y=Y, Y_valid_len=valid, pairs=[([], [])] * n,
                     dec_input=teacher_forcing_input(Y, VOCAB["<bos>"]))


def tiny_net(config: ModelConfig = TINY, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(config, len(VOCAB), len(VOCAB))


# -- stage 1 -------------------------------------------------------------------------------------
def test_teacher_forcing_table_feeds_bos_then_the_previous_true_token_and_marks_padding():
    batch = random_batch(n=3, steps=6)
    for row in range(3):
        table = forcing_table(batch, VOCAB, row)
        valid = int(batch.Y_valid_len[row])
        assert [r.step for r in table] == [1, 2, 3, 4, 5, 6]
        assert table[0].input_token == "<bos>" and "start" in table[0].meaning
        assert [r.input_id for r in table[1:]] == batch.Y[row, :-1].tolist()
        assert [r.expected_id for r in table] == batch.Y[row].tolist()
        assert [r.padding for r in table] == [t >= valid for t in range(6)]
        assert all("padding" in r.meaning for r in table if r.padding)


def test_a_batch_twice_as_large_begins_with_the_same_pairs():
    pairs = [([f"s{i}"], [f"t{i}"]) for i in range(40)]
    vocab = Vocab([[f"s{i}" for i in range(40)], [f"t{i}" for i in range(40)]],
                  reserved_tokens=["<pad>", "<bos>", "<eos>"])
    single, double = (draw_batch(pairs, vocab, vocab, 4, size, seed=3) for size in (8, 16))
    assert double.pairs[:8] == single.pairs and torch.equal(double.Y[:8], single.Y)
    assert draw_batch(pairs, vocab, vocab, 4, 8, seed=4).pairs != single.pairs


def test_training_pairs_fall_back_to_the_held_out_pairs_when_the_data_file_is_missing(tmp_path):
    missing = DataConfig(source="tsv", path=str(tmp_path / "gone.tsv"))
    source = training_pairs(missing, [("go .", "va !")])
    assert not source.training and source.pairs == [(["go", "."], ["va", "!"])] and source.why_not
    corpus = training_pairs(DataConfig(source="corpus", num_examples=50, num_test=10), [])
    assert corpus.training and len(corpus.pairs) == 50


# -- stages 2 and 3 --------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_printed_loss_is_the_mean_per_token_cross_entropy_divided_by_num_steps(seed):
    g = torch.Generator().manual_seed(seed)
    n, steps, vocab = 4 + seed, 3 + seed, 7 + 2 * seed
    Y_hat = torch.randn(n, steps, vocab, generator=g) * 3
    Y = torch.randint(0, vocab, (n, steps), generator=g)
    valid = torch.randint(1, steps + 1, (n,), generator=g)
    l = MaskedSoftmaxCELoss()(Y_hat, Y, valid)
    printed = printed_loss(Y_hat, Y, valid, l)
    assert printed.printed == pytest.approx(float(l.sum()) / int(valid.sum()), rel=1e-6)
    assert printed.printed == pytest.approx(printed.per_token / steps, rel=1e-5)
    assert printed.perplexity == pytest.approx(math.exp(printed.per_token))
    assert f"{printed.printed:.4f}" in printed.sentence() and f"= {steps}" in printed.sentence()


def test_the_loss_parts_of_a_sentence_add_up_to_its_per_sequence_loss():
    session = StepSession(tiny_net(), random_batch(), lr=0.01, theta=1.0, device=CPU)
    loss = session.step(open_up=True).loss
    assert loss is not None and loss.y_hat_shape == (8, 6, len(VOCAB))
    for row in range(8):
        parts = loss.sentence(row)
        assert parts.mask == [int(t < int(session.batch.Y_valid_len[row])) for t in range(6)]
        assert parts.loss == pytest.approx(loss.l[row], rel=1e-5)
        assert sum(parts.masked) / 6 == pytest.approx(loss.l[row], rel=1e-5)
    assert loss.l_sum == pytest.approx(sum(loss.l), rel=1e-5)


# -- stage 4 --------------------------------------------------------------------------------------
def test_the_dense_layers_gradient_by_hand_equals_autograds():
    record = StepSession(tiny_net(), random_batch(), lr=0.01, theta=1.0, device=CPU).step(open_up=True)
    dense = record.dense
    assert dense is not None
    assert dense.h_shape == (6 * 8, 8) and dense.dy_shape == (6 * 8, len(VOCAB)) and dense.grad_shape == (8, len(VOCAB))
    assert dense.max_abs_diff < 1e-6 and dense.bias_max_abs_diff < 1e-6 and dense.grad_norm > 0


def test_the_dense_check_is_skipped_for_a_tied_output_layer():
    net = tiny_net(ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0, output_layer="tied"))
    assert StepSession(net, random_batch(), lr=0.01, theta=1.0, device=CPU).step(open_up=True).dense is None


def test_saved_tensors_are_counted_by_kind_and_the_logits_are_among_them():
    record = StepSession(tiny_net(), random_batch(), lr=0.01, theta=1.0, device=CPU).step(open_up=True)
    kinds = {s.kind: s for s in record.saved}
    assert kinds[VOCAB_SIZED].bytes >= 8 * 6 * len(VOCAB) * 4        # at least one (batch, steps, vocab) float tensor
    assert kinds[WEIGHTS].tensors > 0 and all(s.bytes >= 0 for s in record.saved)


def test_per_parameter_gradient_norms_are_taken_before_clipping():
    record = StepSession(tiny_net(), random_batch(), lr=0.01, theta=1e-3, device=CPU).step(open_up=True)
    total = math.sqrt(sum(g.norm ** 2 for g in record.grads))
    assert total == pytest.approx(record.clipping.norm, rel=1e-5) and record.clipping.clipped
    assert {g.layer for g in record.grads} == {"encoder.embedding", "encoder.rnn.l0", "encoder.rnn.l1",
                                               "decoder.embedding", "decoder.rnn.l0", "decoder.rnn.l1", "decoder.dense"}


@pytest.mark.parametrize("config", [TINY, ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0, decoder="attention"),
                                    ModelConfig(embed_size=6, num_hiddens=8, dropout=0.0, cell="lstm")])
def test_the_gradient_reaching_the_encoders_last_state_equals_the_one_the_real_model_sends_it(config):
    """The one-step-at-a-time replay computes the same function: the gradient at the encoder's last
    hidden state equals what the model run as usual (one nn.GRU call) sends back to its final state."""
    net, batch, loss = tiny_net(config), random_batch(), MaskedSoftmaxCELoss()
    grads = time_step_grads(net, batch, loss)
    kept = {}

    def keep(module, inputs, output):
        outputs, state = output
        hidden = state[0] if isinstance(state, tuple) else state
        for t in (outputs, hidden):
            t.retain_grad()
        kept.update(outputs=outputs, hidden=hidden)

    net.eval()
    handle = net.encoder.register_forward_hook(keep)
    loss(net(batch.X, batch.dec_input, batch.X_valid_len)[0], batch.Y, batch.Y_valid_len).sum().backward()
    handle.remove()
    last = kept["hidden"].grad[-1]
    if kept["outputs"].grad is not None:                   # attention reads the outputs too
        last = last + kept["outputs"].grad[-1]
    assert len(grads.encoder) == len(grads.decoder) == 6
    assert grads.encoder[-1] == pytest.approx(float(last.norm()), rel=1e-4)
    assert "× " in grads.sentence()


# -- the step against the book's train_seq2seq ---------------------------------------------------------
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_the_step_equals_one_step_of_the_books_train_seq2seq(d2l, book_decoder, dropout):
    """Same starting weights, same batch: one epoch of one batch of d2l 0.17.6's train_seq2seq
    (Xavier init, Adam, teacher forcing, MaskedSoftmaxCELoss, l.sum().backward(),
    grad_clipping(net, 1), optimizer.step()) and one StepSession.step give the same weights."""
    batch = random_batch(n=16, steps=7, seed=1)
    torch.manual_seed(0)
    book = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(VOCAB), 6, 8, 2, dropout=dropout),
                              book_decoder(len(VOCAB), 6, 8, 2, dropout=dropout))
    ours = build_model(ModelConfig(embed_size=6, num_hiddens=8, num_layers=2, dropout=dropout), len(VOCAB), len(VOCAB))
    ours.load_state_dict(book.state_dict())      # the embeddings, which the book's init leaves as they are
    # the book's loop starts with its own Xavier init, then the step draws dropout masks: the same
    # seed gives both models the same draws in the same order
    torch.manual_seed(7)
    d2l.train_seq2seq(book, [batch.tensors()], 0.005, 1, VOCAB, "cpu")
    torch.manual_seed(7)
    ours.apply(xavier_init_weights)
    session = StepSession(ours, batch, lr=0.005, theta=1.0, device=CPU)
    session.step()
    book_params = dict(book.named_parameters())
    for name, p in session.net.named_parameters():
        assert torch.allclose(p, book_params[name], atol=1e-6), name
    assert not all(torch.equal(p, q) for p, q in zip(ours.parameters(), session.net.parameters()))   # it moved


# -- stage 5 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [0.01, 100.0])
def test_clipping_matches_the_books_grad_clipping(d2l, scale):
    net = tiny_net()
    for p in net.parameters():
        p.grad = torch.randn_like(p) * scale
    twin = copy.deepcopy(net)
    for a, b in zip(net.parameters(), twin.parameters()):
        b.grad = a.grad.clone()
    expected = math.sqrt(sum(float((p.grad ** 2).sum()) for p in net.parameters()))
    clipping = clip(list(net.parameters()), 1.0)
    d2l.grad_clipping(twin, 1)
    for a, b in zip(net.parameters(), twin.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-7)
    assert clipping.norm == pytest.approx(expected, rel=1e-5)
    assert clipping.clipped == (expected > 1.0)
    assert clipping.scale == pytest.approx(min(1.0, 1.0 / expected), rel=1e-5)
    assert clipping.norm_after == pytest.approx(min(expected, 1.0), rel=1e-5)


# -- stages 6 and 7 -------------------------------------------------------------------------------------
def test_adams_first_step_moves_every_weight_with_a_gradient_by_about_lr():
    session = StepSession(tiny_net(), random_batch(), lr=0.01, theta=1e6, device=CPU)
    first = session.step(open_up=True).adam
    assert first.step == 1 and first.mean_abs_update == pytest.approx(0.01, rel=1e-3)
    embedding = next(p for p in first.params if p.name == "decoder.embedding.weight")
    assert embedding.moved < 1.0                       # rows of tokens absent from the batch get no gradient
    assert all(p.update_norm > 0 and p.ratio > 0 for p in first.params)
    second = session.step().adam
    assert second.step == 2 and second.mean_abs_update < first.mean_abs_update


def test_stepping_again_on_the_same_batch_memorises_it():
    session = StepSession(tiny_net(), random_batch(), lr=0.02, theta=1.0, device=CPU)
    first = session.step()
    assert first.loss_before == session.curve[0] and first.loss_after < first.loss_before
    for _ in range(15):
        session.step()
    assert len(session.curve) == 17 and session.curve[-1] < 0.7 * session.curve[0]
    assert all(after < before for before, after in zip(session.curve, session.curve[1:]))
    assert [r.step for r in session.records] == list(range(1, 17))


def test_a_step_never_changes_the_model_it_was_given():
    net = tiny_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    StepSession(net, random_batch(), lr=0.05, theta=1.0, device=CPU).step(open_up=True)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


# -- stage 8 --------------------------------------------------------------------------------------
def test_with_sum_the_gradient_doubles_with_a_doubled_batch_and_with_mean_it_stays():
    batch = random_batch()
    twice = StepBatch(**{name: torch.cat([getattr(batch, name)] * 2) for name in
                         ("X", "X_valid_len", "Y", "Y_valid_len", "dec_input")}, pairs=batch.pairs * 2)
    versus = sum_vs_mean(tiny_net(), batch, twice, MaskedSoftmaxCELoss())
    assert versus.growth("sum") == pytest.approx(2.0, rel=1e-4)
    assert versus.growth("mean") == pytest.approx(1.0, rel=1e-4)
    assert versus.double_size == 16 and "2.00×" in versus.sentence()


# -- stage 9, and the whole first step ---------------------------------------------------------------
def test_open_step_times_every_stage_and_a_fresh_model_shows_its_xavier_bounds():
    pairs = [([str(i), str(j)], [str(j), str(i)]) for i in range(12) for j in range(12)]
    source = training_pairs(DataConfig(source="corpus", num_examples=20, num_test=5), [])
    source.pairs = pairs
    session, report = open_step(tiny_net(), TINY, VOCAB, VOCAB, 5, source, batch_size=16, seed=2, lr=0.005,
                                theta=1.0, fresh=True, device=CPU)
    times = session.records[-1].times
    assert tuple(times.seconds) == STAGES and times.step == 1 and times.dominant() in STAGES
    assert report.scaling.batch_size == 16 and report.scaling.double_size == 32
    assert report.init is not None and report.batch.batch_size == 16
    xavier = [row for row in report.init if row.rule == XAVIER]
    assert xavier and all(-row.bound <= row.low and row.high <= row.bound for row in xavier)
    assert report.first.loss is not None and report.first.grads is not None
    assert times.sentence(report.scaling)


def test_a_fresh_model_is_the_same_for_the_same_seed_and_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    a, b = (fresh_model(TINY, len(VOCAB), len(VOCAB), seed=5) for _ in range(2))
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert {row.name for row in init_table(a)} == {name for name, _p in a.named_parameters()}


# -- side items: per-layer gradient norms, decoding with dropout on -------------------------------------
def test_layer_of_groups_each_rnn_layers_tensors_and_keeps_other_modules_whole():
    assert layer_of("encoder.rnn.weight_ih_l0") == "encoder.rnn.l0"
    assert layer_of("decoder.rnn.bias_hh_l1") == "decoder.rnn.l1"
    assert layer_of("decoder.dense.weight") == "decoder.dense"
    assert layer_of("encoder.embedding.weight") == "encoder.embedding"
    assert layer_of("decoder.attention.W_k.weight") == "decoder.attention"


def test_the_trainer_streams_each_layers_gradient_norm_and_together_they_make_the_total():
    run = start_run(DataConfig(source="reverse", num_examples=32, num_test=8, batch_size=16, num_steps=6),
                    ModelConfig(embed_size=8, num_hiddens=8, num_layers=2, dropout=0.0), TrainConfig(num_epochs=1))
    events = []
    run.train(events.append)
    steps = [e for e in events if isinstance(e, StepEvent)]
    assert len(steps) == 2
    for e in steps:
        assert list(e.layer_grad_norms) == ["encoder.embedding", "encoder.rnn.l0", "encoder.rnn.l1",
                                            "decoder.embedding", "decoder.rnn.l0", "decoder.rnn.l1", "decoder.dense"]
        assert math.sqrt(sum(v ** 2 for v in e.layer_grad_norms.values())) == pytest.approx(e.grad_norm, rel=1e-4)
    positions, curves = layer_curves(steps)
    assert positions == [1, 2] and curves["decoder.dense"] == [e.layer_grad_norms["decoder.dense"] for e in steps]


def test_decoding_in_train_mode_varies_from_run_to_run_and_leaves_the_model_in_eval_mode():
    net = tiny_net(ModelConfig(embed_size=16, num_hiddens=32, num_layers=2, dropout=0.5))
    net.eval()
    sentence = "3 4 5 6"
    runs = [r.translation for r in decode_in_train_mode(net, sentence, VOCAB, VOCAB, 8, runs=12, seed=0)]
    assert len(set(runs)) > 1
    again = decode_in_train_mode(net, sentence, VOCAB, VOCAB, 8, runs=12, seed=0)
    assert runs == [r.translation for r in again]                                     # a seed repeats
    assert not net.training
    plain = greedy_decode(net, sentence, VOCAB, VOCAB, 8, book=False).translation
    assert {greedy_decode(net, sentence, VOCAB, VOCAB, 8, book=False).translation for _ in range(3)} == {plain}

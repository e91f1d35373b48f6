"""Bahdanau attention: the book's numbers, masking, training, checkpoints, decoding, beam search."""
import threading

import pytest
import torch
from torch import nn

from core.attention import AdditiveAttention, Seq2SeqAttentionDecoder, masked_softmax
from core.beam import beam_decode
from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.decode import GreedyResult, encode_source, greedy_decode, greedy_steps, predict_seq2seq, translate
from core.model import build_model, count_parameters
from core.resources import parameter_count
from core.train import configs_from_args, start_run, train_parser
from tests.apptest_helpers import HANG_GUARD

NUM_STEPS = 6
ATTENTION = dict(embed_size=16, num_hiddens=24, num_layers=2, dropout=0.0, decoder="attention")


@pytest.fixture(scope="module")
def trained():
    data = DataConfig(source="reverse", num_examples=300, num_test=40, num_steps=NUM_STEPS)
    run = start_run(data, ModelConfig(**ATTENTION), TrainConfig(num_epochs=6, lr=0.01))
    result = run.train()
    return run, result


def book_attention_decoder(d2l):
    """d2l 0.17.6 section 10.4's decoder, as printed in the book."""
    class Seq2SeqAttentionDecoder(d2l.AttentionDecoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
            super().__init__(**kwargs)
            self.attention = d2l.AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
            self.dense = nn.Linear(num_hiddens, vocab_size)

        def init_state(self, enc_outputs, enc_valid_lens, *args):
            outputs, hidden_state = enc_outputs
            return (outputs.permute(1, 0, 2), hidden_state, enc_valid_lens)

        def forward(self, X, state):
            enc_outputs, hidden_state, enc_valid_lens = state
            X = self.embedding(X).permute(1, 0, 2)
            outputs, self._attention_weights = [], []
            for x in X:
                query = torch.unsqueeze(hidden_state[-1], dim=1)
                context = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)
                x = torch.cat((context, torch.unsqueeze(x, dim=1)), dim=-1)
                out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
                outputs.append(out)
                self._attention_weights.append(self.attention.attention_weights)
            outputs = self.dense(torch.cat(outputs, dim=0))
            return outputs.permute(1, 0, 2), [enc_outputs, hidden_state, enc_valid_lens]

        @property
        def attention_weights(self):
            return self._attention_weights
    return Seq2SeqAttentionDecoder


# -- the book's numbers ------------------------------------------------------------------------
def test_masked_softmax_equals_the_books(d2l):
    X = torch.rand(2, 2, 4)
    for valid_lens in (torch.tensor([2, 3]), torch.tensor([[1, 3], [2, 4]])):
        assert torch.allclose(masked_softmax(X, valid_lens), d2l.masked_softmax(X.clone(), valid_lens))
    assert torch.equal(masked_softmax(X, None), torch.softmax(X, dim=-1))


def test_masked_softmax_leaves_its_input_unchanged():
    X = torch.rand(2, 2, 4)
    before = X.clone()
    masked_softmax(X, torch.tensor([1, 2]))
    assert torch.equal(X, before)


def test_additive_attention_equals_the_books_example(d2l):
    """The book's example: queries (2, 1, 20), keys (2, 10, 2), values (2, 10, 4), valid_lens [2, 6]."""
    queries, keys = torch.normal(0, 1, (2, 1, 20)), torch.ones((2, 10, 2))
    values = torch.arange(40, dtype=torch.float32).reshape(1, 10, 4).repeat(2, 1, 1)
    valid_lens = torch.tensor([2, 6])
    book = d2l.AdditiveAttention(key_size=2, query_size=20, num_hiddens=8, dropout=0.1).eval()
    ours = AdditiveAttention(key_size=2, query_size=20, num_hiddens=8, dropout=0.1).eval()
    ours.load_state_dict(book.state_dict())
    context, weights = ours(queries, keys, values, valid_lens)
    assert torch.allclose(context, book(queries, keys, values, valid_lens))
    assert torch.equal(weights, book.attention_weights)        # returned here, kept on the module there
    # all keys equal: the weights are uniform over the valid positions, as the book's heatmap shows
    assert torch.allclose(weights[0, 0, :2], torch.full((2,), 0.5))
    assert torch.allclose(weights[1, 0, :6], torch.full((6,), 1 / 6))


def test_attention_weights_sum_to_one_over_valid_positions_and_are_zero_past_them():
    attention = AdditiveAttention(5, 7, 8, 0.0)
    queries, keys = torch.randn(3, 4, 7), torch.randn(3, 6, 5)
    valid_lens = torch.tensor([1, 4, 6])
    out, weights = attention(queries, keys, torch.randn(3, 6, 9), valid_lens)
    assert out.shape == (3, 4, 9) and weights.shape == (3, 4, 6)
    for b, n in enumerate(valid_lens.tolist()):
        assert torch.allclose(weights[b, :, :n].sum(-1), torch.ones(4))
        assert torch.all(weights[b, :, n:] == 0)


def test_decoder_weights_load_from_the_books_and_give_the_same_outputs(d2l):
    book = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(20, 8, 16, 2), book_attention_decoder(d2l)(22, 8, 16, 2)).eval()
    ours = build_model(ModelConfig(embed_size=8, num_hiddens=16, num_layers=2, dropout=0.0, decoder="attention"),
                       20, 22).eval()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in book.state_dict().items()}
    ours.load_state_dict(book.state_dict())
    X, Y, valid = torch.randint(0, 20, (4, 7)), torch.randint(0, 22, (4, 5)), torch.tensor([7, 3, 1, 5])
    ours_out, ours_state = ours(X, Y, valid)
    book_out, book_state = book(X, Y, valid)
    assert torch.allclose(ours_out, book_out, atol=1e-6)
    assert torch.allclose(ours_state[1], book_state[1], atol=1e-6)
    _, _, weights = ours.decoder.forward_with_attention(Y, ours.init_decoder_state(X, valid))
    assert len(weights) == 5
    for mine, theirs in zip(weights, book.decoder.attention_weights):
        assert mine.shape == (4, 1, 7) and torch.allclose(mine, theirs, atol=1e-6)


def test_shapes_of_outputs_state_and_weights():
    decoder = Seq2SeqAttentionDecoder(11, 4, 6, 2).eval()
    enc_outputs, hidden = torch.randn(5, 3, 6), torch.randn(2, 3, 6)      # (num_src_steps, batch, hiddens)
    state = decoder.init_state((enc_outputs, hidden), torch.tensor([5, 2, 1]))
    assert state[0].shape == (3, 5, 6)                                     # batch-first
    X = torch.randint(0, 11, (3, 4))
    out, (enc, h, valid), weights = decoder.forward_with_attention(X, state)
    assert out.shape == (3, 4, 11) and h.shape == (2, 3, 6) and torch.equal(enc, state[0])
    assert [w.shape for w in weights] == [(3, 1, 5)] * 4
    assert torch.equal(decoder(X, state)[0], out)                          # forward: the same, less the weights


def test_lstm_queries_come_from_h_not_c():
    decoder = Seq2SeqAttentionDecoder(11, 4, 6, 1, cell="lstm").eval()
    enc_outputs, h = torch.randn(5, 2, 6), torch.randn(1, 2, 6)
    X = torch.randint(0, 11, (2, 1))
    _, _, (first,) = decoder.forward_with_attention(
        X, decoder.init_state((enc_outputs, (h, torch.randn(1, 2, 6))), torch.tensor([5, 3])))
    _, _, (again,) = decoder.forward_with_attention(
        X, decoder.init_state((enc_outputs, (h, torch.randn(1, 2, 6))), torch.tensor([5, 3])))
    assert torch.equal(again, first)


def test_a_pass_leaves_nothing_on_the_model():
    net = build_model(ModelConfig(embed_size=4, num_hiddens=6, num_layers=1, decoder="attention"), 9, 9).eval()
    before = {name: set(vars(module)) for name, module in net.named_modules()}
    net(torch.randint(0, 9, (2, 5)), torch.randint(0, 9, (2, 3)), torch.tensor([5, 2]))
    assert {name: set(vars(module)) for name, module in net.named_modules()} == before


# -- config, parameters, CLI -------------------------------------------------------------------
def test_decoder_choice_is_validated():
    with pytest.raises(ValueError, match="decoder must be one of"):
        ModelConfig(decoder="transformer").validate()
    with pytest.raises(ValueError, match="attention decoder needs the encoder's sizes"):
        ModelConfig(decoder="attention", dec_num_hiddens=32).validate()
    ModelConfig(decoder="attention", dec_num_hiddens=64, dec_num_layers=2).validate()   # same sizes: no bridge


@pytest.mark.parametrize("config", [ModelConfig(decoder="attention"),
                                    ModelConfig(decoder="attention", cell="lstm", num_layers=3, embed_size=12)])
def test_parameter_estimate_is_exact_for_attention(config):
    assert parameter_count(config, 50, 70) == count_parameters(build_model(config, 50, 70))


def test_cli_flag_picks_the_decoder():
    assert configs_from_args(train_parser().parse_args(["--decoder", "attention"]))[1].decoder == "attention"
    assert configs_from_args(train_parser().parse_args([]))[1].decoder == "plain"


# -- training, checkpoints ---------------------------------------------------------------------
def test_a_tiny_attention_model_learns_to_reverse(trained):
    run, result = trained
    assert result.status == "finished"
    assert result.history.epoch_loss[-1] < 0.7 * result.history.epoch_loss[0]


def test_scheduled_sampling_trains_the_attention_decoder():
    data = DataConfig(source="reverse", num_examples=64, num_test=0, num_steps=NUM_STEPS, batch_size=32)
    run = start_run(data, ModelConfig(**ATTENTION), TrainConfig(num_epochs=1, teacher_forcing_ratio=0.5))
    assert run.train().status == "finished"


def test_attention_checkpoint_round_trips(trained, tmp_path):
    run, _ = trained
    path = save_checkpoint(run.checkpoint(), tmp_path / "attention.pt")
    loaded = load_checkpoint(path)
    assert loaded.model_config.decoder == "attention"
    assert isinstance(loaded.model.decoder, Seq2SeqAttentionDecoder)
    net = run.trainer.net.eval()
    X, valid = torch.randint(0, len(run.data.src_vocab), (3, NUM_STEPS)), torch.tensor([6, 2, 4])
    Y = torch.randint(0, len(run.data.tgt_vocab), (3, NUM_STEPS))
    with torch.no_grad():
        assert torch.equal(loaded.model.eval()(X, Y, valid)[0], net(X, Y, valid)[0])


# -- decoding ----------------------------------------------------------------------------------
def sentences(run) -> list[str]:
    return [" ".join(s) for s in run.data.test.source] + ["", "zzz", "a " * 20]


def test_greedy_steps_carry_attention_over_the_valid_source_positions(trained):
    run, _ = trained
    for sentence in sentences(run)[:10] + ["a b"]:
        result = greedy_decode(run.trainer.net, sentence, run.data.src_vocab, run.data.tgt_vocab, NUM_STEPS)
        n = result.source.valid_len
        for step in result.steps:
            assert len(step.attention) == NUM_STEPS
            assert sum(step.attention[:n]) == pytest.approx(1.0, abs=1e-5)
            assert all(w == 0 for w in step.attention[n:])


def test_two_sessions_decoding_on_one_shared_model_at_once_each_see_their_own_weights(trained):
    """The app caches one model for every session: two tabs' passes on it run at the same time."""
    run, _ = trained
    net, src, tgt = run.trainer.net, run.data.src_vocab, run.data.tgt_vocab
    inputs = ["a b c d e", "f"]                       # different lengths: weights over 6 and 2 positions
    alone = {s: [step.attention for step in greedy_decode(net, s, src, tgt, NUM_STEPS).steps] for s in inputs}
    # Each session's first attention call waits for the other's: both have computed their weights
    # before either decoder goes on, the interleaving a busy server makes by chance.
    meeting, first_call = threading.Barrier(2, timeout=HANG_GUARD), threading.local()

    def meet(module, args, output):
        if not getattr(first_call, "done", False):
            first_call.done = True
            meeting.wait()

    seen: dict[str, list] = {}

    def session(sentence: str) -> None:
        seen[sentence] = [step.attention for step in greedy_decode(net, sentence, src, tgt, NUM_STEPS).steps]

    hook = net.decoder.attention.register_forward_hook(meet)
    try:
        sessions = [threading.Thread(target=session, args=(s,)) for s in inputs]
        for thread in sessions:
            thread.start()
        for thread in sessions:
            thread.join()
    finally:
        hook.remove()
    for sentence in inputs:
        assert len(seen[sentence]) == len(alone[sentence])
        for mine, own in zip(seen[sentence], alone[sentence]):
            assert mine == pytest.approx(own, abs=1e-6), sentence


def test_plain_models_have_no_attention():
    net = build_model(ModelConfig(embed_size=4, num_hiddens=8, num_layers=1), 10, 10)
    from core.data import Vocab
    vocab = Vocab(list("abcdef"), reserved_tokens=["<pad>", "<bos>", "<eos>"])
    step = next(greedy_steps(net, encode_source("a b", vocab, 5), vocab, 5))
    assert step.attention is None


def test_predict_seq2seq_returns_the_books_attention_weights(trained):
    run, _ = trained
    net, src, tgt = run.trainer.net, run.data.src_vocab, run.data.tgt_vocab
    translation, weights = predict_seq2seq(net, "a b c", src, tgt, NUM_STEPS, "cpu", save_attention_weights=True)
    steps = greedy_decode(net, "a b c", src, tgt, NUM_STEPS).steps
    assert translation == GreedyResult(None, steps, "").translation and len(weights) == len(steps)
    # the book's plotting line works on them
    stacked = torch.cat([step[0][0][0] for step in weights], 0).reshape((1, 1, -1, NUM_STEPS))
    assert torch.allclose(stacked[0, 0], torch.tensor([s.attention for s in steps]))


def test_batched_translations_equal_one_by_one(trained):
    run, _ = trained
    net, src, tgt = run.trainer.net, run.data.src_vocab, run.data.tgt_vocab
    one_by_one = [predict_seq2seq(net, s, src, tgt, NUM_STEPS)[0] for s in sentences(run)]
    assert translate(net, sentences(run), src, tgt, NUM_STEPS, batch_size=7) == one_by_one


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_beam_search_works_with_attention(trained, cell):
    if cell == "gru":
        net, data = trained[0].trainer.net, trained[0].data
    else:
        run = start_run(DataConfig(source="reverse", num_examples=64, num_test=20, num_steps=NUM_STEPS),
                        ModelConfig(**{**ATTENTION, "cell": "lstm"}), TrainConfig(num_epochs=1))
        run.train()
        net, data = run.trainer.net, run.data
    for sentence in [" ".join(s) for s in data.test.source[:15]]:
        greedy = greedy_decode(net, sentence, data.src_vocab, data.tgt_vocab, NUM_STEPS)
        one = beam_decode(net, sentence, data.src_vocab, data.tgt_vocab, NUM_STEPS, 1)
        assert one.best.ids == [s.chosen_id for s in greedy.steps]
        wide = beam_decode(net, sentence, data.src_vocab, data.tgt_vocab, NUM_STEPS, 4, 0.75)
        source = encode_source(sentence, data.src_vocab, NUM_STEPS)
        for hyp in wide.nbest:
            forced = list(greedy_steps(net, source, data.tgt_vocab, len(hyp.ids), forced=dict(enumerate(hyp.ids))))
            assert hyp.log_prob == pytest.approx(GreedyResult(source, forced, "").log_prob, abs=1e-4)

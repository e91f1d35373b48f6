"""The model: the book's parameter names and function, LSTM, the bridge."""
import pytest
import torch

from core.config import ModelConfig
from core.decode import predict_seq2seq
from core.model import EncoderDecoder, Seq2SeqDecoder, Seq2SeqEncoder, build_model, top_hidden


def book_net(d2l, book_decoder, src=20, tgt=22):
    torch.manual_seed(0)
    return d2l.EncoderDecoder(d2l.Seq2SeqEncoder(src, 8, 16, 2), book_decoder(tgt, 8, 16, 2))


def test_state_dict_keys_and_shapes_equal_the_books(d2l, book_decoder):
    ours = EncoderDecoder(Seq2SeqEncoder(20, 8, 16, 2, 0.1), Seq2SeqDecoder(22, 8, 16, 2, 0.1))
    book = book_net(d2l, book_decoder)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in book.state_dict().items()}


def test_book_weights_load_and_give_the_same_outputs(d2l, book_decoder):
    book = book_net(d2l, book_decoder).eval()
    ours = build_model(ModelConfig(embed_size=8, num_hiddens=16, num_layers=2, dropout=0), 20, 22).eval()
    ours.load_state_dict(book.state_dict())
    X, dec_X = torch.randint(0, 20, (4, 7)), torch.randint(0, 22, (4, 7))
    out_ours, state_ours = ours(X, dec_X, torch.tensor([7, 5, 3, 1]))
    out_book, state_book = book(X, dec_X, torch.tensor([7, 5, 3, 1]))
    assert torch.equal(out_ours, out_book) and torch.equal(state_ours, state_book)
    assert out_ours.shape == (4, 7, 22) and state_ours.shape == (2, 4, 16)


def test_greedy_translations_equal_the_books_with_book_weights(d2l, book_decoder):
    src_vocab = d2l.Vocab([["go", ".", "i", "lost", "he's", "calm"]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    tgt_vocab = d2l.Vocab([[f"w{i}" for i in range(18)]], reserved_tokens=["<pad>", "<bos>", "<eos>"])
    for seed in range(5):
        torch.manual_seed(seed)
        book = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(src_vocab), 8, 16, 2),
                                  book_decoder(len(tgt_vocab), 8, 16, 2))
        ours = build_model(ModelConfig(embed_size=8, num_hiddens=16), len(src_vocab), len(tgt_vocab))
        ours.load_state_dict(book.state_dict())
        for sentence in ["go .", "i lost .", "he's calm .", "unknown words here"]:
            expected = d2l.predict_seq2seq(book, sentence, src_vocab, tgt_vocab, 10, "cpu")[0]
            assert predict_seq2seq(ours, sentence, src_vocab, tgt_vocab, 10, "cpu")[0] == expected


def test_lstm_context_comes_from_h_not_c():
    decoder = Seq2SeqDecoder(10, 4, 6, 2, cell="lstm").eval()
    X = torch.randint(0, 10, (3, 5))
    h, c = torch.randn(2, 3, 6), torch.randn(2, 3, 6)
    assert torch.equal(top_hidden((h, c)), h[-1])
    out, (h2, c2) = decoder(X, (h, c))
    assert out.shape == (3, 5, 10) and h2.shape == c2.shape == (2, 3, 6)

    def decoded_with_context(context):
        emb = decoder.embedding(X).permute(1, 0, 2)
        rnn_out, _ = decoder.rnn(torch.cat((emb, context.repeat(5, 1, 1)), 2), (h, c))
        return decoder.dense(rnn_out).permute(1, 0, 2)
    assert torch.allclose(out, decoded_with_context(h[-1]))
    assert not torch.allclose(out, decoded_with_context(c[-1]))


def test_lstm_model_trains_a_step():
    net = build_model(ModelConfig(cell="lstm", embed_size=4, num_hiddens=6), 10, 12)
    out, state = net(torch.randint(0, 10, (2, 5)), torch.randint(0, 12, (2, 5)), torch.tensor([5, 3]))
    assert isinstance(state, tuple) and out.shape == (2, 5, 12)
    out.sum().backward()
    assert net.encoder.rnn.weight_hh_l0.grad.abs().sum() > 0


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_bridge_joins_different_sizes_and_layer_counts(cell):
    config = ModelConfig(cell=cell, embed_size=4, num_hiddens=6, num_layers=2, dec_num_hiddens=10, dec_num_layers=3)
    net = build_model(config, 10, 12)
    assert hasattr(net, "bridge") and net.decoder.rnn.hidden_size == 10 and net.decoder.rnn.num_layers == 3
    X, dec_X, valid = torch.randint(0, 10, (2, 5)), torch.randint(0, 12, (2, 5)), torch.tensor([5, 3])
    out, _ = net(X, dec_X, valid)
    out.sum().backward()
    assert net.bridge.connector.weight.grad.abs().sum() > 0       # the bridge is on the path
    with torch.no_grad():
        net.bridge.connector.weight.zero_()
    assert not torch.allclose(net(X, dec_X, valid)[0], out)


def test_equal_sizes_need_no_bridge():
    assert not hasattr(build_model(ModelConfig(), 10, 10), "bridge")


def test_xavier_init_is_applied_to_rnn_and_linear_weights():
    torch.manual_seed(0)
    net = build_model(ModelConfig(embed_size=8, num_hiddens=16), 30, 30)
    bound = (6 / (16 + 40)) ** 0.5          # decoder weight_ih_l0: (3*16, 8+16)
    w = net.decoder.rnn.weight_ih_l0
    assert w.abs().max() <= (6 / (w.shape[0] + w.shape[1])) ** 0.5 and bound > 0
    assert net.decoder.dense.weight.abs().max() <= (6 / (16 + 30)) ** 0.5


@pytest.mark.parametrize("bad", [dict(embed_size=0), dict(num_hiddens=-1), dict(num_layers=100),
                                 dict(cell="rnn"), dict(dropout=float("nan")), dict(dec_num_hiddens=0)])
def test_invalid_model_configs_are_refused(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad).validate()


def test_fixed_encoder_context_is_the_same_at_every_decoding_step():
    torch.manual_seed(0)
    book = build_model(ModelConfig(embed_size=4, num_hiddens=6, dropout=0.0), 10, 12).eval()
    fixed = build_model(ModelConfig(embed_size=4, num_hiddens=6, dropout=0.0, context="encoder"), 10, 12).eval()
    fixed.load_state_dict(book.state_dict())                  # same parameters, other context rule
    X, dec_X, valid = torch.randint(0, 10, (2, 5)), torch.randint(0, 12, (2, 5)), torch.tensor([5, 3])
    assert torch.allclose(book(X, dec_X, valid)[0], fixed(X, dec_X, valid)[0])   # whole sequence: equal
    state_b, state_f = book.init_decoder_state(X, valid), fixed.init_decoder_state(X, valid)
    encoder_top = state_f[1]
    steps_b, steps_f = [], []
    for t in range(5):
        y_b, state_b = book.decoder(dec_X[:, t:t + 1], state_b)
        y_f, state_f = fixed.decoder(dec_X[:, t:t + 1], state_f)
        steps_b.append(y_b), steps_f.append(y_f)
        assert torch.equal(state_f[1], encoder_top)
    assert torch.allclose(torch.cat(steps_f, 1), fixed(X, dec_X, valid)[0], atol=1e-6)   # step by step == whole
    assert not torch.allclose(torch.cat(steps_b, 1), book(X, dec_X, valid)[0])          # the book's quirk


def test_fixed_context_works_with_lstm_and_the_bridge():
    net = build_model(ModelConfig(cell="lstm", embed_size=4, num_hiddens=6, dec_num_hiddens=8, context="encoder"), 10, 12)
    out, ((h, c), context) = net(torch.randint(0, 10, (2, 5)), torch.randint(0, 12, (2, 5)), torch.tensor([5, 3]))
    assert out.shape == (2, 5, 12) and context.shape == (2, 8) and h.shape == (2, 2, 8)

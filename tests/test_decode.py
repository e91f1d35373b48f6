"""Greedy decoding: steps, stops, forced tokens, and batched == one by one."""
import pytest
import torch

from core.config import DataConfig, ModelConfig, TrainConfig
from core.decode import encode_source, greedy_decode, predict_seq2seq, trajectory, translate
from core.train import start_run


@pytest.fixture(scope="module")
def trained():
    data = DataConfig(source="reverse", num_examples=400, num_test=100, num_steps=8)
    run = start_run(data, ModelConfig(embed_size=16, num_hiddens=32), TrainConfig(num_epochs=15, lr=0.01))
    run.train()
    return run


def test_source_is_tokenized_with_eos_and_padding(trained):
    vocab = trained.data.src_vocab
    enc = encode_source("a b zzz", vocab, 8)
    assert enc.tokens == ["a", "b", "zzz"] and enc.unknown == [False, False, True]
    assert enc.ids[-1] == vocab["<eos>"] and enc.padded[4:] == [vocab["<pad>"]] * 4 and enc.valid_len == 4
    long = encode_source(" ".join(["a"] * 20), vocab, 8)
    assert long.truncated and len(long.padded) == 8 and long.valid_len == 8


def test_view_preprocessing_splits_punctuation_like_the_book():
    from core.data import Vocab
    assert encode_source("Go.", Vocab(), 5, book=False).tokens == ["go", "."]
    assert encode_source("Go.", Vocab(), 5, book=True).tokens == ["go."]


def test_steps_carry_full_distributions_and_stop_at_eos(trained):
    result = greedy_decode(trained.trainer.net, "a b c", trained.data.src_vocab, trained.data.tgt_vocab, 8)
    assert result.stop_reason == "eos" and result.steps[-1].chosen_token == "<eos>"
    assert result.steps[0].input_token == "<bos>"
    for step in result.steps:
        assert step.probs.shape == (len(trained.data.tgt_vocab),)
        assert float(step.probs.sum()) == pytest.approx(1.0, abs=1e-5)
        assert step.chosen_id == int(step.probs.argmax()) and step.entropy >= 0
        assert step.top_k(trained.data.tgt_vocab, 3)[0][0] == step.chosen_token


def test_decoding_stops_after_num_steps_without_eos(trained):
    net, src, tgt = trained.trainer.net, trained.data.src_vocab, trained.data.tgt_vocab
    result = greedy_decode(net, "a", src, tgt, 2, forced={0: tgt["b"], 1: tgt["b"]})
    assert result.stop_reason == "num_steps" and len(result.steps) == 2


def test_forcing_a_token_continues_greedily_from_it(trained):
    net, src, tgt = trained.trainer.net, trained.data.src_vocab, trained.data.tgt_vocab
    result = greedy_decode(net, "a b c", src, tgt, 8, forced={0: tgt["a"]})
    assert result.steps[0].forced and result.steps[0].chosen_token == "a"
    assert result.steps[1].input_token == "a" and not result.steps[1].forced


def test_batched_translations_equal_one_by_one(trained):
    sentences = [" ".join(s) for s in trained.data.test.source] + ["", "zzz unknown", "a " * 30]
    net, src, tgt = trained.trainer.net, trained.data.src_vocab, trained.data.tgt_vocab
    one_by_one = [predict_seq2seq(net, s, src, tgt, 8, "cpu")[0] for s in sentences]
    assert translate(net, sentences, src, tgt, 8, batch_size=37) == one_by_one


def test_trajectory_has_a_row_per_step_and_the_chosen_tokens_as_columns(trained):
    tgt = trained.data.tgt_vocab
    result = greedy_decode(trained.trainer.net, "a b", trained.data.src_vocab, tgt, 8)
    columns, matrix = trajectory(result.steps, tgt, top_k=3)
    assert len(matrix) == len(result.steps) and all(len(row) == len(columns) for row in matrix)
    assert all(step.chosen_token in columns for step in result.steps)


def test_predict_seq2seq_keeps_the_books_signature(trained):
    net, src, tgt = trained.trainer.net, trained.data.src_vocab, trained.data.tgt_vocab
    translation, weights = predict_seq2seq(net, "a b", src, tgt, 8, torch.device("cpu"), save_attention_weights=False)
    assert isinstance(translation, str) and weights == []

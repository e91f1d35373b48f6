"""Beam search: beam 1 is greedy, scores are sums of step log-probs, the tree is consistent."""
import itertools

import pytest
import torch

from core.beam import beam_decode, beam_search, normalised_score, select_state
from core.config import DataConfig, ModelConfig, TrainConfig
from core.data import Vocab
from core.decode import GreedyResult, encode_source, greedy_decode, greedy_steps
from core.model import build_model
from core.train import start_run

NUM_STEPS = 8
SMALL = dict(embed_size=16, num_hiddens=32, num_layers=2, dropout=0.0)


def train_tiny(epochs: int, **model) -> tuple:
    data = DataConfig(source="reverse", num_examples=400, num_test=60, num_steps=NUM_STEPS)
    run = start_run(data, ModelConfig(**{**SMALL, **model}), TrainConfig(num_epochs=epochs, lr=0.01))
    run.train()
    return run.trainer.net, run.data


@pytest.fixture(scope="module")
def trained():
    """A GRU with the book's context, trained until it mostly reverses."""
    return train_tiny(12)


@pytest.fixture(scope="module", params=[dict(cell="lstm"), dict(context="encoder"),
                                        dict(cell="lstm", context="encoder", num_layers=1)],
                ids=["lstm-book", "gru-encoder", "lstm-encoder"])
def variant(request):
    """Other decoder states: LSTM (h, c), (rnn_state, context), ((h, c), context); briefly trained."""
    return train_tiny(2, **request.param)


def sentences(data) -> list[str]:
    return [" ".join(s) for s in data.test.source] + ["", "zzz unknown", "a " * 30, "b"]


def forced_log_prob(net, source, ids, tgt_vocab) -> float:
    """The log-probability of `ids` recomputed step by step, independently of the search."""
    steps = list(greedy_steps(net, source, tgt_vocab, len(ids), forced=dict(enumerate(ids))))
    return GreedyResult(source, steps, "").log_prob


def check_beam_equals_greedy(net, data):
    """Over many sentences, and with num_steps = 3 so that some are cut off before <eos>."""
    cases = [(s, NUM_STEPS) for s in sentences(data)] + [(s, 3) for s in sentences(data)[:20]]
    stops = set()
    for sentence, num_steps in cases:
        greedy = greedy_decode(net, sentence, data.src_vocab, data.tgt_vocab, num_steps)
        beam = beam_decode(net, sentence, data.src_vocab, data.tgt_vocab, num_steps, beam_size=1)
        assert beam.best.ids == [s.chosen_id for s in greedy.steps], sentence
        assert beam.translation == greedy.translation
        assert beam.best.ended_by == greedy.stop_reason
        assert beam.best.log_prob == pytest.approx(greedy.log_prob, abs=1e-4)
        stops.add(greedy.stop_reason)
    assert stops == {"eos", "num_steps"}


def test_beam_of_one_is_greedy_decoding(trained):
    check_beam_equals_greedy(*trained)


def test_beam_of_one_is_greedy_for_lstm_and_encoder_context(variant):
    check_beam_equals_greedy(*variant)


@pytest.mark.parametrize("length_penalty", [0.0, 0.75])
def test_scores_are_sums_of_step_log_probs(trained, length_penalty):
    net, data = trained
    for sentence in sentences(data)[:10]:
        result = beam_decode(net, sentence, data.src_vocab, data.tgt_vocab, NUM_STEPS, 4, length_penalty)
        for step, nodes in enumerate(result.steps):
            for node in nodes:
                before = result.steps[step - 1][node.parent].log_prob if step else 0.0
                assert node.log_prob == pytest.approx(before + node.step_log_prob, abs=1e-9)
                assert node.score == pytest.approx(node.log_prob / len(node.ids) ** length_penalty)
        source = encode_source(sentence, data.src_vocab, NUM_STEPS)
        for hyp in result.nbest:
            assert hyp.log_prob == pytest.approx(forced_log_prob(net, source, hyp.ids, data.tgt_vocab), abs=1e-4)


@pytest.mark.parametrize("beam_size,length_penalty", [(2, 0.0), (4, 0.0), (4, 1.0), (10, 0.75)])
def test_the_winner_has_the_best_score_of_all_finished_hypotheses(trained, beam_size, length_penalty):
    net, data = trained
    for sentence in sentences(data)[:10]:
        result = beam_decode(net, sentence, data.src_vocab, data.tgt_vocab, NUM_STEPS, beam_size, length_penalty)
        finished = [n for nodes in result.steps for n in nodes if n.finished]
        assert len(result.nbest) == len(finished) == beam_size   # the vocabulary is larger than the beam
        assert result.best.score == max(n.score for n in finished)
        assert [h.score for h in result.nbest] == sorted((h.score for h in result.nbest), reverse=True)
        assert result.steps[result.best.step][result.best.index].ids == result.best.ids


def test_tree_parent_links_are_consistent(trained):
    net, data = trained
    result = beam_decode(net, "a b c d", data.src_vocab, data.tgt_vocab, NUM_STEPS, 3)
    eos, done = data.tgt_vocab["<eos>"], 0
    for step, nodes in enumerate(result.steps):
        parents = sorted({n.parent for n in nodes})
        if step == 0:
            assert parents == [-1]
        else:
            before = result.steps[step - 1]
            assert parents == [i for i, n in enumerate(before) if n.kept and not n.finished]
            assert all(n.ids == before[n.parent].ids + [n.token_id] for n in nodes)
        kept = [n for n in nodes if n.kept]
        assert len(kept) == result.beam_size - done                    # the beam shrinks as hypotheses finish
        pruned = [n.log_prob for n in nodes if not n.kept]
        assert not pruned or min(n.log_prob for n in kept) >= max(pruned)
        assert all(n.finished == (n.kept and (n.token_id == eos or step == NUM_STEPS - 1)) for n in nodes)
        done += sum(n.finished for n in nodes)
    path = result.path()
    assert [result.steps[s][i].token_id for s, i in path] == result.best.ids
    assert [s for s, _ in path] == list(range(len(result.best.ids)))


def test_each_hypothesis_is_extended_by_its_top_tokens(trained):
    net, data = trained
    source = encode_source("c a b", data.src_vocab, NUM_STEPS)
    result = beam_search(net, source, data.tgt_vocab, NUM_STEPS, 5)
    first = next(greedy_steps(net, source, data.tgt_vocab, NUM_STEPS))
    assert [n.token for n in result.steps[0]] == [t for t, _ in first.top_k(data.tgt_vocab, 5)]
    assert all(n.kept for n in result.steps[0])


def test_a_beam_as_wide_as_the_tree_is_exact_search():
    """With every candidate kept, the winner is the best of all sequences (brute force)."""
    torch.manual_seed(3)
    vocab = Vocab(["x"], reserved_tokens=["<pad>", "<bos>", "<eos>"])   # 5 tokens: 4 + 16 * 5 nodes fit
    net = build_model(ModelConfig(embed_size=4, num_hiddens=8, num_layers=1, dropout=0.0), 6, len(vocab))
    source = encode_source("x y", vocab, 3)
    for length_penalty in (0.0, 0.75):
        result = beam_search(net, source, vocab, 3, beam_size=100, length_penalty=length_penalty)
        assert len(result.steps[2]) == sum(not n.finished for n in result.steps[1]) * len(vocab)
        best = max(normalised_score(forced_log_prob(net, source, list(ids), vocab), len(ids), length_penalty)
                   for ids in complete_sequences(len(vocab), vocab["<eos>"], 3))
        assert result.best.score == pytest.approx(best, abs=1e-5)


def complete_sequences(vocab_size: int, eos: int, num_steps: int):
    """Every output of at most num_steps tokens that ends with <eos> or is cut at num_steps."""
    for n in range(1, num_steps + 1):
        for ids in itertools.product(range(vocab_size), repeat=n):
            if eos not in ids[:-1] and (ids[-1] == eos or n == num_steps):
                yield ids


def test_results_are_ranked_by_the_length_normalised_score(trained):
    net, data = trained
    raw = beam_decode(net, "a b c", data.src_vocab, data.tgt_vocab, NUM_STEPS, 6, 0.0)
    mean = beam_decode(net, "a b c", data.src_vocab, data.tgt_vocab, NUM_STEPS, 6, 1.0)
    assert raw.best.log_prob == max(h.log_prob for h in raw.nbest)
    assert mean.best.log_prob / mean.best.length == pytest.approx(max(h.log_prob / h.length for h in mean.nbest))


def test_select_state_picks_rows_along_each_tensors_batch_dimension():
    h, c, context = torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(3, 4)
    index = torch.tensor([2, 2, 0])
    (h2, c2), ctx2 = select_state(((h, c), context), index)
    assert torch.equal(h2, h[:, [2, 2, 0]]) and torch.equal(c2, c[:, [2, 2, 0]])
    assert torch.equal(ctx2, context[[2, 2, 0]])


@pytest.mark.parametrize("beam_size", [0, -1, 1.5, True, 101, "3"])
def test_an_invalid_beam_size_is_refused(trained, beam_size):
    net, data = trained
    with pytest.raises(ValueError, match="beam_size"):
        beam_decode(net, "a", data.src_vocab, data.tgt_vocab, NUM_STEPS, beam_size)


@pytest.mark.parametrize("length_penalty", [-0.5, float("nan"), float("inf"), 6.0])
def test_an_invalid_length_penalty_is_refused(trained, length_penalty):
    net, data = trained
    with pytest.raises(ValueError, match="length_penalty"):
        beam_decode(net, "a", data.src_vocab, data.tgt_vocab, NUM_STEPS, 2, length_penalty)


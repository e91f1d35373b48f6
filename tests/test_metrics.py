"""BLEU: the book's score, its breakdown, and corpus BLEU against sacrebleu."""
import math

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st

from core.metrics import bleu, bleu_breakdown, corpus_bleu


def test_the_notes_example_p1_and_p2():
    parts = bleu_breakdown("A B B C D", "A B C D E F", k=2)
    assert [o.p_n for o in parts.orders] == [4 / 5, 3 / 4]
    assert parts.brevity_penalty == pytest.approx(math.exp(1 - 6 / 5))
    assert [g.matched for g in parts.orders[0].ngrams] == [True, True, False, True, True]
    assert parts.orders[0].ngrams[2].clipped          # the second B: reference has only one


@pytest.mark.parametrize("pred,label,k", [("va !", "va !", 2), ("il est mouillé .", "il est calme .", 2),
                                          ("je suis chez moi l'ai .", "je suis chez moi .", 2),
                                          ("a a a a", "a", 1), ("a b c d e", "a b c", 4), ("", "a b", 1)])
def test_bleu_equals_the_books(d2l, pred, label, k):
    assert bleu(pred, label, k) == d2l.bleu(pred, label, k)


words = st.lists(st.sampled_from(["a", "b", "c", "d", ""]), min_size=0, max_size=8).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(pred=words, label=words, k=st.integers(1, 4))
def test_bleu_equals_the_books_wherever_the_book_is_defined(d2l, pred, label, k):
    try:
        expected = d2l.bleu(pred, label, k)
    except (ZeroDivisionError, ValueError):       # the book crashes when pred has < k tokens
        assert 0.0 <= bleu(pred, label, k) <= 1.0
        return
    assert bleu(pred, label, k) == pytest.approx(expected, abs=1e-12)


def test_breakdown_multiplies_back_to_the_score():
    parts = bleu_breakdown("the cat sat on the mat", "the cat is on the mat", 4)
    product = parts.brevity_penalty * math.prod(o.p_n ** o.weight for o in parts.orders)
    assert parts.score == pytest.approx(product) and [o.weight for o in parts.orders] == [0.5, 0.25, 0.125, 0.0625]


def test_prediction_shorter_than_k_skips_the_missing_orders():
    parts = bleu_breakdown("va", "va !", 2)
    assert parts.orders[1].skipped and parts.orders[1].factor == 1.0 and parts.orders[1].p_n is None
    assert parts.score == pytest.approx(math.exp(1 - 2 / 1))
    assert bleu("a", "a", 4) == 1.0


def test_invalid_k_is_refused():
    with pytest.raises(ValueError):
        bleu("a", "a", 0)


CORPUS = [("il est calme .", "il est calme ."), ("je suis chez moi l'ai .", "je suis chez moi ."),
          ("va !", "va !"), ("elle est très fatiguée aujourd'hui .", "elle est fatiguée ."),
          ("nous sommes", "nous sommes prêts ."), ("x y z", "a b c")]


@pytest.mark.parametrize("n", [1, 2, 3, len(CORPUS)])
def test_corpus_bleu_equals_sacrebleu(n):
    hyps, refs = [h for h, _ in CORPUS[:n]], [r for _, r in CORPUS[:n]]
    expected = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none")
    ours = corpus_bleu(hyps, refs)
    assert ours.score == pytest.approx(expected.score, abs=1e-9)
    assert ours.precisions == pytest.approx(expected.precisions)
    assert ours.brevity_penalty == pytest.approx(expected.bp)


def test_corpus_bleu_of_empty_predictions_is_zero():
    theirs = sacrebleu.corpus_bleu(["", ""], [["a b", "c"]], tokenize="none").score
    assert corpus_bleu(["", ""], ["a b", "c"]).score == 0.0 == theirs

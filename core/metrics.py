"""BLEU: the book's sentence score (notes 7.8), its breakdown, and standard corpus BLEU.

The book's score is
    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)
with clipped n-gram matches. Sentences are split on single spaces, as in the book.
The book's code crashes when the prediction has fewer than k tokens; ours returns a
value there and equals the book's everywhere else:
- an order n longer than the prediction has no n-grams: it is skipped (factor 1),
  so the brevity penalty alone accounts for the short prediction;
- an empty string is, as in the book, one empty token: "" against "a b" scores 0.0.
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field


@dataclass
class NgramMatch:
    ngram: str
    ref_count: int       # occurrences in the reference
    matched: bool        # counted as a match (clipped counts: each reference n-gram once)
    clipped: bool        # present in the reference but its count was already used up


@dataclass
class OrderBreakdown:
    n: int
    ngrams: list[NgramMatch]
    matches: int
    total: int           # n-grams in the prediction (0: order skipped)
    weight: float        # 1 / 2**n

    @property
    def skipped(self) -> bool:
        return self.total == 0

    @property
    def p_n(self) -> float | None:
        return None if self.skipped else self.matches / self.total

    @property
    def factor(self) -> float:
        return 1.0 if self.skipped else math.pow(self.p_n, self.weight)


@dataclass
class BleuBreakdown:
    pred_tokens: list[str]
    label_tokens: list[str]
    k: int
    brevity_penalty: float
    orders: list[OrderBreakdown] = field(default_factory=list)

    @property
    def score(self) -> float:
        return math.prod([self.brevity_penalty] + [o.factor for o in self.orders])


def _ngrams(tokens: list[str], n: int) -> list[str]:
    return [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _order(pred_tokens: list[str], label_tokens: list[str], n: int) -> OrderBreakdown:
    label_subs = collections.Counter(_ngrams(label_tokens, n))
    remaining = collections.Counter(label_subs)
    rows, matches = [], 0
    for gram in _ngrams(pred_tokens, n):
        matched = remaining[gram] > 0
        if matched:
            remaining[gram] -= 1
            matches += 1
        rows.append(NgramMatch(gram, label_subs[gram], matched, label_subs[gram] > 0 and not matched))
    return OrderBreakdown(n, rows, matches, len(rows), math.pow(0.5, n))


def bleu_breakdown(pred_seq: str, label_seq: str, k: int) -> BleuBreakdown:
    """Every n-gram of the prediction, matched or not, p_n, weights and brevity penalty."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    penalty = math.exp(min(0, 1 - len_label / len_pred))
    orders = [_order(pred_tokens, label_tokens, n) for n in range(1, k + 1)]
    return BleuBreakdown(pred_tokens, label_tokens, k, penalty, orders)


def bleu(pred_seq: str, label_seq: str, k: int) -> float:
    """The book's BLEU of one prediction against one reference."""
    return bleu_breakdown(pred_seq, label_seq, k).score


@dataclass
class CorpusBleu:
    score: float                 # 0..100, as sacrebleu reports it
    precisions: list[float]      # 0..100 per order
    brevity_penalty: float
    sys_len: int
    ref_len: int


def corpus_bleu(predictions: list[str], references: list[str], max_order: int = 4) -> CorpusBleu:
    """Standard corpus BLEU (uniform weights, clipped counts summed over the corpus,
    'exp' smoothing of zero counts): equal to sacrebleu's on whitespace-tokenized text."""
    if len(predictions) != len(references):
        raise ValueError("predictions and references must have the same length")
    correct, total = [0] * max_order, [0] * max_order
    sys_len = ref_len = 0
    for pred, ref in zip(predictions, references):
        pred_tokens, ref_tokens = pred.split(), ref.split()
        sys_len, ref_len = sys_len + len(pred_tokens), ref_len + len(ref_tokens)
        for n in range(1, max_order + 1):
            ref_counts = collections.Counter(_ngrams(ref_tokens, n))
            pred_counts = collections.Counter(_ngrams(pred_tokens, n))
            correct[n - 1] += sum(min(c, ref_counts[g]) for g, c in pred_counts.items())
            total[n - 1] += max(0, len(pred_tokens) - n + 1)
    precisions = _smoothed_precisions(correct, total)
    if sys_len == 0:
        return CorpusBleu(0.0, precisions, 0.0, sys_len, ref_len)
    penalty = 1.0 if sys_len >= ref_len else math.exp(1 - ref_len / sys_len)
    log_sum = sum(math.log(p) if p > 0 else -9999999999 for p in precisions)
    return CorpusBleu(penalty * math.exp(log_sum / max_order), precisions, penalty, sys_len, ref_len)


def _smoothed_precisions(correct: list[int], total: list[int]) -> list[float]:
    """sacrebleu's 'exp' smoothing: the i-th zero count becomes 1 / 2**i matches."""
    precisions, smooth = [0.0] * len(correct), 1.0
    for i, (c, t) in enumerate(zip(correct, total)):
        if t == 0:
            break
        if c == 0:
            smooth *= 2
            precisions[i] = 100.0 / (smooth * t)
        else:
            precisions[i] = 100.0 * c / t
    return precisions

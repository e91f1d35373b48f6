"""BLEU: the book's sentence score (notes 7.8) and its breakdown; corpus scores through sacrebleu.

The book's score is
    exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..k} p_n ** (1 / 2**n)
with clipped n-gram matches. Sentences are split on single spaces, as in the book.
The book's code crashes when the prediction has fewer than k tokens; ours returns a
value there and equals the book's everywhere else:
- an order n longer than the prediction has no n-grams: it is skipped (factor 1),
  so the brevity penalty alone accounts for the short prediction;
- an empty string is, as in the book, one empty token: "" against "a b" scores 0.0.

Corpus BLEU takes the run's tokenizer (`DataConfig.tokenizer`): text of the `space` tokenizer
is split on whitespace only (`tok:none`); text of the `char` tokenizer goes through sacrebleu's
Chinese tokenizer (`tok:zh`), the standard one for Chinese BLEU, which splits CJK characters
itself and treats other text as the 13a tokenizer does. Either way the space-joined tokens go
in as they are. chrF reads characters and ignores spaces: it needs no tokenizer.
"""
from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field

from sacrebleu.metrics import BLEU, CHRF

from .i18n import Text


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
        p_n = self.p_n              # None exactly when the order is skipped
        return 1.0 if p_n is None else math.pow(p_n, self.weight)


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
        raise ValueError(Text("k must be at least 1, got {k}", k=k))
    pred_tokens, label_tokens = pred_seq.split(" "), label_seq.split(" ")
    len_pred, len_label = len(pred_tokens), len(label_tokens)
    penalty = math.exp(min(0, 1 - len_label / len_pred))
    orders = [_order(pred_tokens, label_tokens, n) for n in range(1, k + 1)]
    return BleuBreakdown(pred_tokens, label_tokens, k, penalty, orders)


def bleu(pred_seq: str, label_seq: str, k: int) -> float:
    """The book's BLEU of one prediction against one reference."""
    return bleu_breakdown(pred_seq, label_seq, k).score


# sacrebleu's `tokenize` for each of our tokenizers (core.config.TOKENIZERS)
SACREBLEU_TOKENIZE = {"space": "none", "char": "zh"}


@dataclass
class CorpusBleu:
    score: float                 # 0..100, as sacrebleu reports it
    precisions: list[float]      # 0..100 per order
    brevity_penalty: float
    sys_len: int
    ref_len: int
    signature: str = ""          # sacrebleu's, e.g. nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|version:2.6.0


@dataclass
class CorpusChrf:
    score: float                 # 0..100: character n-gram F-score (chrF2)
    signature: str = ""


@dataclass
class CorpusScores:
    bleu: CorpusBleu
    chrf: CorpusChrf


def _bleu_metric(tokenizer: str = "space") -> BLEU:
    """A fresh metric per call (sessions score on many threads). The text is already tokenized
    (preprocess_nmt puts spaces around punctuation), so with `space` it is split on whitespace
    only, and sacrebleu's warning about tokenized input does not apply (force)."""
    if tokenizer not in SACREBLEU_TOKENIZE:
        raise ValueError(Text("{name} must be one of {choices}, got {value!r}", name="tokenizer",
                              choices=tuple(SACREBLEU_TOKENIZE), value=tokenizer))
    return BLEU(tokenize=SACREBLEU_TOKENIZE[tokenizer], force=True)


def _signature(metric) -> str:
    """sacrebleu's signature string; it knows the number of references once a score was computed."""
    if not hasattr(metric, "num_refs"):
        metric.corpus_score([""], [[""]])
    return metric.get_signature().format()


def _check_lengths(predictions: list[str], references: list[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(Text("predictions and references must have the same length"))


def corpus_bleu(predictions: list[str], references: list[str], tokenizer: str = "space") -> CorpusBleu:
    """Standard corpus BLEU, computed by sacrebleu (uniform weights over 1-4-grams, clipped
    counts summed over the corpus, 'exp' smoothing), on whitespace-tokenized text (`space`)
    or with sacrebleu's Chinese tokenizer (`char`)."""
    _check_lengths(predictions, references)
    metric = _bleu_metric(tokenizer)
    if not predictions:         # sacrebleu needs at least one sentence
        return CorpusBleu(0.0, [0.0] * 4, 0.0, 0, 0, _signature(metric))
    result = metric.corpus_score(predictions, [references])
    return CorpusBleu(result.score, list(result.precisions), result.bp, result.sys_len, result.ref_len,
                      _signature(metric))


def corpus_chrf(predictions: list[str], references: list[str]) -> CorpusChrf:
    """sacrebleu's chrF: character n-grams, so a near-miss word still earns partial credit."""
    _check_lengths(predictions, references)
    metric = CHRF()
    score = metric.corpus_score(predictions, [references]).score if predictions else 0.0
    return CorpusChrf(score, _signature(metric))


def corpus_scores(predictions: list[str], references: list[str], tokenizer: str = "space") -> CorpusScores:
    """Corpus BLEU (tokenized for the run's `tokenizer`) and chrF."""
    return CorpusScores(corpus_bleu(predictions, references, tokenizer), corpus_chrf(predictions, references))

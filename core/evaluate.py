"""Held-out evaluation: batched greedy translations, the book's BLEU per sentence, corpus BLEU."""
from __future__ import annotations

from dataclasses import dataclass

from .metrics import CorpusBleu, bleu, corpus_bleu
from .data import Vocab
from .decode import translate


@dataclass
class EvalReport:
    rows: list[dict]             # {src, ref, pred, bleu} with the book's BLEU (k=2)
    corpus: CorpusBleu           # standard corpus BLEU, 0..100

    def worst(self, count: int = 10) -> list[dict]:
        return sorted(self.rows, key=lambda r: r["bleu"])[:count]

    @property
    def mean_sentence_bleu(self) -> float:
        return sum(r["bleu"] for r in self.rows) / len(self.rows) if self.rows else 0.0


def evaluate_pairs(net, pairs: list[tuple[str, str]], src_vocab: Vocab, tgt_vocab: Vocab,
                   num_steps: int, k: int = 2) -> EvalReport:
    """Translate every source of `pairs` and score it against its reference."""
    preds = translate(net, [s for s, _ in pairs], src_vocab, tgt_vocab, num_steps)
    rows = [{"src": s, "ref": r, "pred": p, "bleu": bleu(p, r, k)} for (s, r), p in zip(pairs, preds)]
    return EvalReport(rows, corpus_bleu(preds, [r for _, r in pairs]))


if __name__ == "__main__":
    from .cli import evaluate_main

    raise SystemExit(evaluate_main())

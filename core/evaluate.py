"""Held-out evaluation: batched greedy translations, the book's BLEU per sentence, corpus scores,
and `python -m core.evaluate`."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace

from . import cli
from .checkpoint import CheckpointError, load_checkpoint
from .data import DataError, Vocab
from .decode import translate
from .metrics import CorpusScores, bleu, corpus_scores
from .sources import BOOK_EXAMPLES, data_source, load_split


@dataclass
class EvalReport:
    rows: list[dict]             # {src, ref, pred, bleu} with the book's BLEU (k=2)
    corpus: CorpusScores         # sacrebleu's corpus BLEU (0..100) and chrF, with signatures

    def worst(self, count: int = 10) -> list[dict]:
        return sorted(self.rows, key=lambda r: r["bleu"])[:count]

    @property
    def mean_sentence_bleu(self) -> float:
        return sum(r["bleu"] for r in self.rows) / len(self.rows) if self.rows else 0.0


def evaluate_pairs(net, pairs: list[tuple[str, str]], src_vocab: Vocab, tgt_vocab: Vocab,
                   num_steps: int, k: int = 2, tokenizer: str = "space") -> EvalReport:
    """Translate every source of `pairs` and score it against its reference; `tokenizer` is
    the model's `data_config.tokenizer` (it splits the sources and picks corpus BLEU's tokenizer)."""
    preds = translate(net, [s for s, _ in pairs], src_vocab, tgt_vocab, num_steps, tokenizer=tokenizer)
    rows = [{"src": s, "ref": r, "pred": p, "bleu": bleu(p, r, k)} for (s, r), p in zip(pairs, preds)]
    return EvalReport(rows, corpus_scores(preds, [r for _, r in pairs], tokenizer))


def evaluate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.evaluate",
                                description="Book examples with BLEU (k=2) and held-out corpus BLEU.")
    p.add_argument("checkpoint")
    p.add_argument("--data", default=None, help="evaluate on these pairs instead of the run's held-out pairs")
    p.add_argument("--num-test", type=int, default=None)
    p.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = evaluate_parser().parse_args(argv)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        pairs = ckpt.test_pairs
        if args.data:
            source, path = data_source(args.data)
            config = replace(ckpt.data_config, source=source, path=path,
                             num_test=args.num_test or ckpt.data_config.num_test)
            pairs = load_split(config)[1].sentences()
    except (ValueError, DataError, CheckpointError) as err:
        return cli.fail(err)
    num_steps, tokenizer = ckpt.data_config.num_steps, ckpt.data_config.tokenizer
    examples = evaluate_pairs(ckpt.model, BOOK_EXAMPLES, ckpt.src_vocab, ckpt.tgt_vocab, num_steps,
                              tokenizer=tokenizer)
    for row in examples.rows:
        print(f"{row['src']} => {row['pred']}, bleu {row['bleu']:.3f}")
    held_out = evaluate_pairs(ckpt.model, pairs, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, tokenizer=tokenizer)
    scores = held_out.corpus
    print(f"held-out corpus BLEU {scores.bleu.score:.2f}, chrF {scores.chrf.score:.2f} on {len(pairs)} pairs "
          f"(mean sentence BLEU k=2: {held_out.mean_sentence_bleu:.3f}); sacrebleu {scores.bleu.signature}")
    if args.json:
        cli.print_json({"examples": examples.rows, "corpus_bleu": scores.bleu.score, "chrf": scores.chrf.score,
                        "bleu_signature": scores.bleu.signature, "chrf_signature": scores.chrf.signature,
                        "num_test": len(pairs), "mean_sentence_bleu": held_out.mean_sentence_bleu,
                        "tokenizer": tokenizer})
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Command lines: `python -m core.train` and `python -m core.evaluate`.

Both end with one JSON line of metrics when given `--json`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import fused_gru
from .checkpoint import CheckpointError, checkpoint_path, load_checkpoint, save_checkpoint
from .config import DataConfig, ModelConfig, TrainConfig
from .data import DataError
from .evaluate import evaluate_pairs
from .run import BOOK_EXAMPLES, start_run
from .train import EpochEvent


def data_source(value: str) -> tuple[str, str | None]:
    """`--data`: a source name, `fra-eng` (the book's file), or a file path."""
    if value in ("corpus", "copy", "reverse", "sort"):
        return value, None
    if value == "fra-eng":
        from .sources import download_fra_eng
        import os
        return "tatoeba", os.environ.get("FRA_ENG_PATH") or str(download_fra_eng())
    path = Path(value)
    kind = "tatoeba" if path.suffix == ".zip" or path.name == "fra.txt" else "tsv"
    return kind, str(path)


def train_parser() -> argparse.ArgumentParser:
    d, m, t = DataConfig(), ModelConfig(), TrainConfig()
    p = argparse.ArgumentParser(prog="python -m core.train", description="Train the chapter's seq2seq model.")
    p.add_argument("--data", default="corpus", help="corpus | copy | reverse | sort | fra-eng | PATH")
    p.add_argument("--num-examples", type=int, default=d.num_examples)
    p.add_argument("--num-test", type=int, default=d.num_test)
    p.add_argument("--embed-size", type=int, default=m.embed_size)
    p.add_argument("--num-hiddens", type=int, default=m.num_hiddens)
    p.add_argument("--num-layers", type=int, default=m.num_layers)
    p.add_argument("--dec-num-hiddens", type=int, default=None)
    p.add_argument("--dec-num-layers", type=int, default=None)
    p.add_argument("--dropout", type=float, default=m.dropout)
    p.add_argument("--cell", choices=["gru", "lstm"], default=m.cell)
    p.add_argument("--context", choices=["book", "encoder"], default=m.context,
                   help="decoder context at inference: the book's state[-1], or the fixed encoder state")
    p.add_argument("--decoder", choices=["plain", "attention"], default=m.decoder,
                   help="plain = the chapter's decoder; attention = Bahdanau attention (d2l 10.4)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--num-steps", type=int, default=d.num_steps)
    p.add_argument("--min-freq", type=int, default=d.min_freq)
    p.add_argument("--lr", type=float, default=t.lr)
    p.add_argument("--epochs", type=int, default=t.num_epochs)
    p.add_argument("--clip", type=float, default=t.clip_theta)
    p.add_argument("--teacher-forcing-ratio", type=float, default=t.teacher_forcing_ratio)
    p.add_argument("--accumulation-steps", type=int, default=t.accumulation_steps)
    p.add_argument("--reduction", choices=["sum", "mean"], default=t.reduction)
    p.add_argument("--unmasked", action="store_true", help="the exercise's loss without the mask")
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("--device", default=t.device)
    p.add_argument("--out", default=None, help="checkpoint file (default: checkpoints/latest.pt)")
    p.add_argument("--resume", default=None, help="checkpoint to continue training")
    p.add_argument("--json", action="store_true", help="end with one JSON line of metrics")
    return p


def configs_from_args(args) -> tuple[DataConfig, ModelConfig, TrainConfig]:
    source, path = data_source(args.data)
    data = DataConfig(source, path, args.num_examples, args.num_test, args.num_steps,
                      args.batch_size, args.min_freq, args.seed)
    model = ModelConfig(args.cell, args.embed_size, args.num_hiddens, args.num_layers, args.dropout,
                        args.dec_num_hiddens, args.dec_num_layers, args.context, args.decoder)
    train = TrainConfig(args.lr, args.epochs, args.clip, args.teacher_forcing_ratio,
                        args.accumulation_steps, args.reduction, not args.unmasked, args.seed, args.device)
    return data, model, train


def progress_printer(stream=sys.stderr):
    """A one-line progress bar with loss, tokens/s and ETA, redrawn after each epoch."""
    def on_event(event) -> None:
        if not isinstance(event, EpochEvent):
            return
        done = event.epoch / event.num_epochs
        bar = "#" * int(30 * done) + "." * (30 - int(30 * done))
        per_epoch = event.elapsed / max(event.epoch, 1)
        eta = per_epoch * (event.num_epochs - event.epoch)
        stream.write(f"\repoch {event.epoch}/{event.num_epochs} [{bar}] loss {event.loss:.4f} "
                     f"{event.tokens_per_second:,.0f} tok/s ETA {eta:5.0f}s")
        stream.flush()
        if event.epoch == event.num_epochs:
            stream.write("\n")
    return on_event


BUILD_WAIT_SECONDS = 120.0      # the fused GRU's first build takes ~10 s; past this, nn.GRU runs


def train_main(argv: list[str] | None = None) -> int:
    args = train_parser().parse_args(argv)
    try:
        data_config, model_config, train_config = configs_from_args(args)
        resume = load_checkpoint(args.resume) if args.resume else None
        if resume is not None:
            model_config = resume.model_config
        run = start_run(data_config, model_config, train_config, resume=resume)
    except (ValueError, DataError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    kernel = "nn.GRU"
    if run.trainer.device.type == "cpu":
        fused_gru.load(timeout=BUILD_WAIT_SECONDS)   # the whole run on one kernel
        kernel = fused_gru.status()
    print(f"{len(run.data.train)} training pairs, {len(run.data.test)} held out; vocab "
          f"{len(run.data.src_vocab)} / {len(run.data.tgt_vocab)}; device {run.trainer.device}; {kernel}",
          file=sys.stderr)
    result = run.train(progress_printer(), sample_every=0)
    out = Path(args.out) if args.out else checkpoint_path("latest")
    save_checkpoint(run.checkpoint(), out)
    print(f"{result.message}: loss {result.final_loss:.3f}, {result.tokens_per_second:,.1f} tokens/sec "
          f"on {run.trainer.device}; saved {out}", file=sys.stderr)
    if args.json:
        print(json.dumps({**result.summary(), "checkpoint": str(out), "device": str(run.trainer.device),
                          "gru": kernel}))
    return 0 if result.status != "diverged" else 1


def evaluate_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.evaluate",
                                description="Book examples with BLEU (k=2) and held-out corpus BLEU.")
    p.add_argument("checkpoint")
    p.add_argument("--data", default=None, help="evaluate on these pairs instead of the run's held-out pairs")
    p.add_argument("--num-test", type=int, default=None)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    try:
        ckpt = load_checkpoint(args.checkpoint)
        pairs = ckpt.test_pairs
        if args.data:
            from .sources import load_split
            source, path = data_source(args.data)
            config = DataConfig(**{**ckpt.data_config.to_dict(), "source": source, "path": path,
                                   "num_test": args.num_test or ckpt.data_config.num_test})
            test = load_split(config)[1]
            pairs = [(" ".join(s), " ".join(t)) for s, t in zip(test.source, test.target)]
    except (ValueError, DataError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    num_steps = ckpt.data_config.num_steps
    examples = evaluate_pairs(ckpt.model, BOOK_EXAMPLES, ckpt.src_vocab, ckpt.tgt_vocab, num_steps)
    for row in examples.rows:
        print(f"{row['src']} => {row['pred']}, bleu {row['bleu']:.3f}")
    held_out = evaluate_pairs(ckpt.model, pairs, ckpt.src_vocab, ckpt.tgt_vocab, num_steps)
    print(f"held-out corpus BLEU {held_out.corpus.score:.2f} on {len(pairs)} pairs "
          f"(mean sentence BLEU k=2: {held_out.mean_sentence_bleu:.3f})")
    if args.json:
        print(json.dumps({"examples": examples.rows, "corpus_bleu": held_out.corpus.score,
                          "num_test": len(pairs), "mean_sentence_bleu": held_out.mean_sentence_bleu}))
    return 0

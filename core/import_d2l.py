"""`python -m core.import_d2l`: weights trained with the book's code -> a playground checkpoint.

    python -m core.import_d2l seq2seq.params --api 0.17.6|1.0 --out mine [--data fra-eng|PATH]
        [--num-examples 600 | --num-train 512 --num-val 128] [--num-steps T] [--cell gru|lstm]
        [--src-vocab F --tgt-vocab F] [--json]

The vocabularies are rebuilt as that API's loader builds them from the same file and settings
(0.17.6: `load_data_nmt(batch, num_steps=10, num_examples=600)`; 1.0: `MTFraEng(batch,
num_steps=9, num_train=512, num_val=128)`), or read from vocabulary files exported from the
notebook (`idx_to_token` as JSON, or one token a line). With `--export CHECKPOINT` it goes the
other way: `OUT.params` with that API's keys plus `OUT.src-vocab.txt` and `OUT.tgt-vocab.txt`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import cli
from .book_weights import (
    API,
    APIS,
    BOOK_NUM_EXAMPLES,
    BOOK_NUM_STEPS,
    NUM_STEPS_10,
    NUM_TRAIN_10,
    NUM_VAL_10,
    export_state_dict,
    import_state_dict,
    read_vocab_file,
)
from .checkpoint import CheckpointError, checkpoint_path, load_checkpoint, sanitize_name, save_checkpoint
from .config import CELLS
from .data import DataError
from .sources import read_tatoeba_file


def import_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core.import_d2l", description=__doc__.split("\n")[0])
    p.add_argument("params", nargs="?", help="the state_dict file (torch.save(net.state_dict(), ...))")
    p.add_argument("--api", default=API, help=f"the book's code that trained it: {' or '.join(APIS)}")
    p.add_argument("--out", required=True, help="checkpoint name (under checkpoints/), or with --export a file stem")
    p.add_argument("--data", default="fra-eng", help="fra-eng (the book's file: $FRA_ENG_PATH, the cache or a download) "
                   "or a fra.txt / zip PATH (offline: the notebook's fra-eng.zip)")
    p.add_argument("--num-examples", type=int, default=BOOK_NUM_EXAMPLES, help="0.17.6's load_data_nmt")
    p.add_argument("--num-train", type=int, default=NUM_TRAIN_10, help="1.0's MTFraEng")
    p.add_argument("--num-val", type=int, default=NUM_VAL_10, help="1.0's MTFraEng")
    p.add_argument("--num-steps", type=int, default=None,
                   help=f"default {BOOK_NUM_STEPS} (0.17.6), {NUM_STEPS_10} (1.0)")
    p.add_argument("--cell", choices=CELLS, default=None, help="checked against the tensors when given")
    p.add_argument("--src-vocab", default=None, help="the notebook's source vocabulary (JSON list or a token a line)")
    p.add_argument("--tgt-vocab", default=None)
    p.add_argument("--export", metavar="CHECKPOINT", default=None, help="write a playground checkpoint for the book")
    p.add_argument("--json", action="store_true")
    return p


def _import(args: argparse.Namespace) -> dict:
    if not args.params:
        raise ValueError("give the state_dict file to import (or --export CHECKPOINT)")
    if (args.src_vocab is None) != (args.tgt_vocab is None):
        raise ValueError("give both --src-vocab and --tgt-vocab, or neither")
    vocabs = None
    if args.src_vocab:
        vocabs = (read_vocab_file(Path(args.src_vocab).read_bytes(), args.src_vocab, "source"),
                  read_vocab_file(Path(args.tgt_vocab).read_bytes(), args.tgt_vocab, "target"))
    data_path = None if args.data == "fra-eng" else args.data
    text = None if vocabs is not None or data_path is None else read_tatoeba_file(data_path)
    raw = Path(args.params).read_bytes()
    ckpt = import_state_dict(raw, Path(args.params).name, data_text=text, data_path=data_path,
                             num_examples=args.num_examples, num_steps=args.num_steps, num_train=args.num_train,
                             num_val=args.num_val, vocabs=vocabs, cell=args.cell, api=args.api)
    out = save_checkpoint(ckpt, checkpoint_path(sanitize_name(args.out)))
    cli.say(f"{ckpt.origin}: vocab {len(ckpt.src_vocab)} / {len(ckpt.tgt_vocab)}, "
            f"{len(ckpt.test_pairs)} held-out pairs; saved {out}")
    return {"checkpoint": str(out), "origin": ckpt.origin, "src_vocab": len(ckpt.src_vocab),
            "tgt_vocab": len(ckpt.tgt_vocab), "model": ckpt.model_config.to_dict(), "held_out": len(ckpt.test_pairs)}


def _export(args: argparse.Namespace) -> dict:
    params, src, tgt = export_state_dict(load_checkpoint(args.export), api=args.api)
    stem = Path(args.out)
    files = {"params": stem.with_suffix(".params"), "src_vocab": Path(f"{stem}.src-vocab.txt"),
             "tgt_vocab": Path(f"{stem}.tgt-vocab.txt")}
    files["params"].write_bytes(params)
    files["src_vocab"].write_text(src + "\n", encoding="utf-8")
    files["tgt_vocab"].write_text(tgt + "\n", encoding="utf-8")
    cli.say("wrote " + ", ".join(str(f) for f in files.values()))
    return {k: str(v) for k, v in files.items()}


def main(argv: list[str] | None = None) -> int:
    args = import_parser().parse_args(argv)
    try:
        result = _export(args) if args.export else _import(args)
    except (ValueError, DataError, CheckpointError, OSError) as err:
        return cli.fail(err)
    if args.json:
        cli.print_json(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Our engine against the book's code (d2l==0.17.6), side by side in one process.

    python bench/vs_book.py                       # every section, 3 repeats
    python bench/vs_book.py --sections train --repeats 1 --epochs 300
    sections: data, eval, train (the book's setup), large (20,000 pairs, 256/256), growth

Needs the book's package (`pip install --no-deps d2l==0.17.6 matplotlib requests`, as
`.ci/run` does) and the book's file (`FRA_ENG_PATH`, default ../shared/data/fra-eng.zip).
Runs of the book and ours alternate, so both see the same machine state; each section
prints min / median / max of (ours / book) speed ratios over the repeats.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.d2l_reference import book_decoder_class, import_d2l  # noqa: E402
from core.config import DataConfig, ModelConfig, TrainConfig  # noqa: E402
from core.decode import translate  # noqa: E402
from core.metrics import bleu  # noqa: E402
from core.model import build_model  # noqa: E402
from core.sources import BOOK_EXAMPLES, prepare_data, read_tatoeba_file  # noqa: E402
from core.train import start_run  # noqa: E402

FRA_ENG = Path(os.environ.get("FRA_ENG_PATH", ROOT.parent / "shared" / "data" / "fra-eng.zip"))


def book_env():
    """d2l with `read_data_nmt` reading our local copy instead of downloading."""
    d2l = import_d2l()
    text = read_tatoeba_file(FRA_ENG)
    d2l.read_data_nmt = lambda: text
    return d2l, book_decoder_class(d2l)


def ratio_line(name: str, ours: list[float], book: list[float], unit: str) -> str:
    ratios = [o / b for o, b in zip(ours, book)]
    return (f"{name}: ours {statistics.median(ours):,.1f} {unit}, book {statistics.median(book):,.1f} {unit}; "
            f"ratio min {min(ratios):.2f}x / median {statistics.median(ratios):.2f}x / max {max(ratios):.2f}x")


# -- training ------------------------------------------------------------------------------
def book_train(d2l, Decoder, num_examples, epochs, embed, hiddens, seed):
    torch.manual_seed(seed)
    train_iter, src_vocab, tgt_vocab = d2l.load_data_nmt(64, 10, num_examples)
    net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(src_vocab), embed, hiddens, 2, 0.1),
                             Decoder(len(tgt_vocab), embed, hiddens, 2, 0.1))
    tokens = sum(int(b[3].sum()) for b in train_iter) * epochs
    out, start = io.StringIO(), time.perf_counter()
    with contextlib.redirect_stdout(out):
        d2l.train_seq2seq(net, train_iter, 0.005, epochs, tgt_vocab, "cpu")
    seconds = time.perf_counter() - start
    loss = float(re.search(r"loss ([0-9.]+)", out.getvalue()).group(1))
    examples = [d2l.predict_seq2seq(net, s, src_vocab, tgt_vocab, 10, "cpu")[0] for s, _ in BOOK_EXAMPLES]
    return tokens / seconds, loss, examples


def our_train(num_examples, epochs, embed, hiddens, seed, context="book"):
    data = DataConfig(source="tatoeba", path=str(FRA_ENG), num_examples=num_examples, num_test=0, seed=seed)
    run = start_run(data, ModelConfig(embed_size=embed, num_hiddens=hiddens, context=context),
                    TrainConfig(num_epochs=epochs, seed=seed, device="cpu"))
    result = run.train()
    examples = translate(run.trainer.net, [s for s, _ in BOOK_EXAMPLES], run.data.src_vocab, run.data.tgt_vocab, 10)
    return result.tokens_per_second, result.final_loss, examples


def section_train(args, d2l, Decoder, num_examples, embed, hiddens, epochs, label):
    ours, book = [], []
    for repeat in range(args.repeats):
        b = book_train(d2l, Decoder, num_examples, epochs, embed, hiddens, repeat)
        o = our_train(num_examples, epochs, embed, hiddens, repeat)
        book.append(b[0]), ours.append(o[0])
        print(f"  [{label} #{repeat}] book {b[0]:,.0f} tok/s loss {b[1]:.4f} | ours {o[0]:,.0f} tok/s loss {o[1]:.4f}")
        runs = [("book", b[2]), ("ours", o[2])]
        if args.encoder_context:     # same training, the fixed encoder context at inference
            enc = our_train(num_examples, epochs, embed, hiddens, repeat, "encoder")
            runs.append((f"ours, encoder ctx (loss {enc[1]:.4f})", enc[2]))
        for name, preds in runs:
            scores = [bleu(p, ref, 2) for p, (_, ref) in zip(preds, BOOK_EXAMPLES)]
            print(f"      {name:>34}: " + " | ".join(f"{p} ({s:.3f})" for p, s in zip(preds, scores))
                  + f"  sum {sum(scores):.3f}")
    print(ratio_line(f"training tokens/s, {label}", ours, book, "tok/s"))


# -- evaluation ----------------------------------------------------------------------------
def section_eval(args, d2l, Decoder):
    data = prepare_data(DataConfig(source="tatoeba", path=str(FRA_ENG), num_examples=600, num_test=2000))
    torch.manual_seed(0)
    net = build_model(ModelConfig(), len(data.src_vocab), len(data.tgt_vocab)).eval()
    book_net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(data.src_vocab), 32, 64, 2, 0.1),
                                  Decoder(len(data.tgt_vocab), 32, 64, 2, 0.1))
    book_net.load_state_dict(net.state_dict())
    sentences = [" ".join(s) for s in data.test.source]
    refs = [" ".join(t) for t in data.test.target]
    ours, book = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        book_preds = [d2l.predict_seq2seq(book_net, s, data.src_vocab, data.tgt_vocab, 10, "cpu")[0] for s in sentences]
        book_scores = [d2l.bleu(p, r, 2) for p, r in zip(book_preds, refs)]
        book.append(len(sentences) / (time.perf_counter() - start))
        start = time.perf_counter()
        our_preds = translate(net, sentences, data.src_vocab, data.tgt_vocab, 10)
        our_scores = [bleu(p, r, 2) for p, r in zip(our_preds, refs)]
        ours.append(len(sentences) / (time.perf_counter() - start))
        assert our_preds == book_preds and our_scores == book_scores, "translations differ"
    print(f"  {len(sentences)} held-out sentences, identical translations and BLEU")
    print(ratio_line("evaluation (greedy + BLEU)", ours, book, "sentences/s"))


# -- data pipeline -------------------------------------------------------------------------
def section_data(args, d2l):
    ours, book = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        d2l.load_data_nmt(64, 10, 600)
        book.append(1 / (time.perf_counter() - start))
        start = time.perf_counter()
        prepare_data(DataConfig(source="tatoeba", path=str(FRA_ENG), num_examples=600, num_test=0))
        ours.append(1 / (time.perf_counter() - start))
    print(ratio_line("data pipeline, 600 examples (file read included)", ours, book, "loads/s"))
    start = time.perf_counter()
    data = prepare_data(DataConfig(source="tatoeba", path=str(FRA_ENG), num_examples=200_000, num_test=0))
    print(f"data pipeline, full file: {len(data.train):,} pairs in {time.perf_counter() - start:.2f} s")


# -- cost growth ---------------------------------------------------------------------------
def growth_one(impl: str, num_examples: int) -> None:
    """One epoch in this (fresh) process; prints epoch seconds and peak memory as JSON."""
    import json
    if impl == "ours":
        from core.fast import fused_gru
        fused_gru.load(timeout=300)          # loaded before the clock starts, as in main()
    start = time.perf_counter()
    if impl == "book":
        d2l, Decoder = book_env()
        train_iter, src_vocab, tgt_vocab = d2l.load_data_nmt(64, 10, num_examples)
        net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(src_vocab), 32, 64, 2, 0.1),
                                 Decoder(len(tgt_vocab), 32, 64, 2, 0.1))
        pairs = len(train_iter.dataset)
        load = time.perf_counter() - start
        with contextlib.redirect_stdout(io.StringIO()):
            d2l.train_seq2seq(net, train_iter, 0.005, 1, tgt_vocab, "cpu")
    else:
        data = DataConfig(source="tatoeba", path=str(FRA_ENG), num_examples=num_examples, num_test=0)
        run = start_run(data, ModelConfig(), TrainConfig(num_epochs=1, device="cpu"))
        pairs = len(run.data.train)
        load = time.perf_counter() - start
        run.train()
    epoch = time.perf_counter() - start - load
    peak_mib = peak_rss_mib()
    print(json.dumps({"impl": impl, "pairs": pairs, "load_s": load, "epoch_s": epoch, "peak_mib": peak_mib}))


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it is not inherited over exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def section_growth(args) -> None:
    import json
    import subprocess
    print("cost growth (one epoch, book sizes, one fresh process each):")
    print(f"  {'pairs':>8} | {'ours load s':>11} {'ours epoch s':>12} {'ours peak MiB':>13} | "
          f"{'book load s':>11} {'book epoch s':>12} {'book peak MiB':>13}")
    for n in (600, 5_000, 20_000, 167_130):
        row = {}
        for impl in ("ours", "book"):
            out = subprocess.run([sys.executable, __file__, "--growth-one", impl, str(n)],
                                 capture_output=True, text=True, check=True).stdout
            row[impl] = json.loads(out.strip().splitlines()[-1])
        o, b = row["ours"], row["book"]
        print(f"  {o['pairs']:>8,} | {o['load_s']:>11.2f} {o['epoch_s']:>12.2f} {o['peak_mib']:>13.0f} | "
              f"{b['load_s']:>11.2f} {b['epoch_s']:>12.2f} {b['peak_mib']:>13.0f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sections", default="data,eval,train,large,growth")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--epochs", type=int, default=300, help="epochs of the book-setup training section")
    p.add_argument("--large-epochs", type=int, default=2)
    p.add_argument("--encoder-context", action="store_true",
                   help="also train ours with the fixed encoder context and show its translations")
    p.add_argument("--growth-one", nargs=2, metavar=("IMPL", "N"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.growth_one:
        return growth_one(args.growth_one[0], int(args.growth_one[1]))
    torch.set_num_threads(torch.get_num_threads())
    from core.fast import fused_gru
    fused_gru.load(timeout=300)     # built before any timing (once per machine, ~10 s)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores; "
          f"ours trains with the {fused_gru.status()}; file {FRA_ENG}")
    d2l, Decoder = book_env()
    sections = args.sections.split(",")
    if "data" in sections:
        section_data(args, d2l)
    if "eval" in sections:
        section_eval(args, d2l, Decoder)
    if "train" in sections:
        section_train(args, d2l, Decoder, 600, 32, 64, args.epochs, "book setup (600 pairs, 32/64)")
    if "growth" in sections:
        section_growth(args)
    if "large" in sections:
        section_train(args, d2l, Decoder, 20_000, 256, 256, args.large_epochs, "20,000 pairs, 256/256")


if __name__ == "__main__":
    main()

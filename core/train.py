"""A whole training run from configs, the book's `train_seq2seq`, and `python -m core.train`.

`start_run` validates the configs, loads the data, builds the seeded model (or takes a
resumed one) and makes a `Trainer` with the loss the configs name; `TrainingRun.train` runs
it with the subscribers a caller asks for. The CLI below, the Train view (through
`core.service.jobs`) and the Exercises all train this way, so there is one way to train.
"""
from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from . import cli, fast
from .checkpoint import Checkpoint, CheckpointError, checkpoint_path, load_checkpoint, save_checkpoint
from .config import (
    CELLS,
    CONTEXTS,
    DECODERS,
    OUTPUT_LAYERS,
    REDUCTIONS,
    TOKENIZERS,
    DataConfig,
    ModelConfig,
    TrainConfig,
)
from .data import BatchIterator, DataError, NMTData, Vocab
from .device import pick_device
from .encoder_decoder import EncoderDecoder
from .history import History, TrainResult
from .i18n import Text
from .loss import make_loss
from .model import build_model, xavier_init_weights
from .output_layers import returns_log_probs
from .resources import check_fits
from .sampling import SampleTranslations
from .sources import data_source, prepare_data, sample_pairs
from .trainer import Trainer


@dataclass
class TrainingRun:
    data: NMTData
    data_config: DataConfig
    model_config: ModelConfig
    train_config: TrainConfig
    trainer: Trainer
    result: TrainResult | None = None

    def train(self, on_event: Callable | None = None, stop: threading.Event | None = None,
              sample_every: int = 0) -> TrainResult:
        """Train; every `sample_every` epochs a few translations join the events and the history."""
        if sample_every:
            on_event = SampleTranslations(self.trainer.net, sample_pairs(self.data_config, self.data),
                                          self.data.src_vocab, self.data.tgt_vocab, self.data_config.num_steps,
                                          sample_every, self.trainer.history, on_event,
                                          tokenizer=self.data_config.tokenizer, train_targets=self.data.train.target)
        self.result = self.trainer.run(on_event, stop)
        return self.result

    def checkpoint(self) -> Checkpoint:
        return Checkpoint(self.trainer.net, self.model_config, self.data_config, self.train_config,
                          self.data.src_vocab, self.data.tgt_vocab, self.trainer.history,
                          self.trainer.optimizer.state_dict(), self.data.test.sentences())


def start_run(data_config: DataConfig, model_config: ModelConfig, train_config: TrainConfig,
              raw: bytes | None = None, resume: Checkpoint | None = None) -> TrainingRun:
    """Validate, load the data, build the seeded model (or take the resumed one), make a trainer."""
    for config in (data_config, model_config):
        config.validate()
    train_config.validate(batch_size=data_config.batch_size)
    device = pick_device(train_config.device)
    torch.manual_seed(train_config.seed)
    if resume is not None:
        # its vocabularies hold its tokenizer's tokens: a resumed run keeps that tokenizer
        data_config = replace(data_config, tokenizer=resume.data_config.tokenizer)
        data = _resumed_data(resume, data_config, raw)
        net, history, opt_state = resume.model, resume.history, resume.optimizer_state
    else:
        data = prepare_data(data_config, raw)
        check_fits(model_config, len(data.src_vocab), len(data.tgt_vocab), data_config.batch_size,
                   data_config.num_steps, device)
        net = build_model(model_config, len(data.src_vocab), len(data.tgt_vocab))
        history, opt_state = History(), None
    generator = torch.Generator().manual_seed(train_config.seed + len(history.epoch_loss))
    batches = BatchIterator(data, data_config.batch_size, shuffle=True, generator=generator)
    loss = make_loss(train_config.masked, log_probs=returns_log_probs(model_config.output_layer))
    trainer = Trainer(net, batches, data.tgt_vocab, train_config, device, history, opt_state, loss=loss, fused=True)
    return TrainingRun(data, data_config, model_config, train_config, trainer)


def _resumed_data(resume: Checkpoint, data_config: DataConfig, raw: bytes | None) -> NMTData:
    """The same pairs as the original run, encoded with the checkpoint's own vocabularies."""
    data = prepare_data(resume.data_config if raw is None else data_config, raw)
    return NMTData(data.train, data.test, resume.src_vocab, resume.tgt_vocab, data_config.num_steps)


def continue_run(ckpt: Checkpoint, more_epochs: int, raw: bytes | None = None,
                 device: str = "auto") -> TrainingRun:
    """Train a saved run `more_epochs` further: the same pairs and split with its own vocabularies,
    its weights, optimizer state, hyperparameters and curves; epochs and steps count on."""
    if isinstance(more_epochs, bool) or not isinstance(more_epochs, int) or more_epochs < 1:
        raise ValueError(Text("more epochs must be a whole number of at least 1, got {value!r}", value=more_epochs))
    done = len(ckpt.history.epoch_loss)
    train_config = replace(ckpt.train_config, num_epochs=done + more_epochs, device=device)
    return start_run(ckpt.data_config, ckpt.model_config, train_config, raw=raw, resume=ckpt)


def train_seq2seq(net: EncoderDecoder, data_iter: Iterable, lr: float, num_epochs: int,
                  tgt_vocab: Vocab, device) -> TrainResult:
    """The book's function: Xavier init, then the one loop with the book's settings."""
    net.apply(xavier_init_weights)
    config = TrainConfig(lr=lr, num_epochs=num_epochs)
    result = Trainer(net, data_iter, tgt_vocab, config, torch.device(device)).run()   # the learner's nn.GRU
    print(f"loss {result.final_loss:.3f}, {result.tokens_per_second:.1f} tokens/sec on {device}")
    return result


# -- python -m core.train --------------------------------------------------------------------


def train_parser() -> argparse.ArgumentParser:
    d, m, t = DataConfig(), ModelConfig(), TrainConfig()
    p = argparse.ArgumentParser(prog="python -m core.train", description="Train the chapter's seq2seq model.")
    p.add_argument("--data", default="corpus", help="corpus | copy | reverse | sort | fra-eng | PATH")
    p.add_argument("--num-examples", type=int, default=d.num_examples)
    p.add_argument("--num-test", type=int, default=d.num_test)
    p.add_argument("--tokenizer", choices=TOKENIZERS, default=d.tokenizer,
                   help="space = the book's split on spaces; char = one token per CJK character")
    p.add_argument("--embed-size", type=int, default=m.embed_size)
    p.add_argument("--num-hiddens", type=int, default=m.num_hiddens)
    p.add_argument("--num-layers", type=int, default=m.num_layers)
    p.add_argument("--dec-num-hiddens", type=int, default=None)
    p.add_argument("--dec-num-layers", type=int, default=None)
    p.add_argument("--dropout", type=float, default=m.dropout)
    p.add_argument("--cell", choices=CELLS, default=m.cell)
    p.add_argument("--context", choices=CONTEXTS, default=m.context,
                   help="decoder context at inference: the book's state[-1], or the fixed encoder state")
    p.add_argument("--decoder", choices=DECODERS, default=m.decoder,
                   help="plain = the chapter's decoder; attention = Bahdanau attention (d2l 10.4)")
    p.add_argument("--output-layer", choices=OUTPUT_LAYERS, default=m.output_layer,
                   help="dense = the book's; tied or adaptive softmax (notes 7.9.6)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--num-steps", type=int, default=d.num_steps)
    p.add_argument("--min-freq", type=int, default=d.min_freq)
    p.add_argument("--lr", type=float, default=t.lr)
    p.add_argument("--epochs", type=int, default=t.num_epochs)
    p.add_argument("--clip", type=float, default=t.clip_theta)
    p.add_argument("--teacher-forcing-ratio", type=float, default=t.teacher_forcing_ratio)
    p.add_argument("--accumulation-steps", type=int, default=t.accumulation_steps)
    p.add_argument("--reduction", choices=REDUCTIONS, default=t.reduction)
    p.add_argument("--unmasked", action="store_true", help="the exercise's loss without the mask")
    p.add_argument("--seed", type=int, default=t.seed)
    p.add_argument("--device", default=t.device)
    p.add_argument("--out", default=None, help="checkpoint file (default: checkpoints/latest.pt)")
    p.add_argument("--resume", default=None, help="checkpoint to continue training")
    p.add_argument("--json", action="store_true", help="end with one JSON line of metrics")
    return p


def configs_from_args(args: argparse.Namespace) -> tuple[DataConfig, ModelConfig, TrainConfig]:
    source, path = data_source(args.data)
    data = DataConfig(source=source, path=path, num_examples=args.num_examples, num_test=args.num_test,
                      num_steps=args.num_steps, batch_size=args.batch_size, min_freq=args.min_freq,
                      seed=args.seed, tokenizer=args.tokenizer)
    model = ModelConfig(cell=args.cell, embed_size=args.embed_size, num_hiddens=args.num_hiddens,
                        num_layers=args.num_layers, dropout=args.dropout, dec_num_hiddens=args.dec_num_hiddens,
                        dec_num_layers=args.dec_num_layers, context=args.context, decoder=args.decoder,
                        output_layer=args.output_layer)
    train = TrainConfig(lr=args.lr, num_epochs=args.epochs, clip_theta=args.clip,
                        teacher_forcing_ratio=args.teacher_forcing_ratio,
                        accumulation_steps=args.accumulation_steps, reduction=args.reduction,
                        masked=not args.unmasked, seed=args.seed, device=args.device)
    return data, model, train


def main(argv: list[str] | None = None) -> int:
    args = train_parser().parse_args(argv)
    try:
        data_config, model_config, train_config = configs_from_args(args)
        resume = load_checkpoint(args.resume) if args.resume else None
        if resume is not None:
            model_config = resume.model_config
        run = start_run(data_config, model_config, train_config, resume=resume)
    except (ValueError, DataError, CheckpointError) as err:
        return cli.fail(err)
    kernel = str(fast.kernel_text(run.trainer.fused))   # what start_run chose, before the first step
    cli.say(f"{len(run.data.train)} training pairs, {len(run.data.test)} held out; vocab "
            f"{len(run.data.src_vocab)} / {len(run.data.tgt_vocab)}; device {run.trainer.device}; {kernel}")
    with cli.EpochProgress(train_config.num_epochs, done=len(run.trainer.history.epoch_loss)) as progress:
        result = run.train(progress)
    out = Path(args.out) if args.out else checkpoint_path("latest")
    save_checkpoint(run.checkpoint(), out)
    cli.say(f"{result.message}: loss {result.final_loss:.3f}, {result.tokens_per_second:,.1f} tokens/sec "
            f"on {run.trainer.device}; saved {out}")
    if args.json:
        cli.print_json({**result.summary(), "checkpoint": str(out), "device": str(run.trainer.device),
                        "gru": kernel})
    return 0 if result.status != "diverged" else 1


if __name__ == "__main__":
    sys.exit(main())

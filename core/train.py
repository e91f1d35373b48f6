"""A whole training run from configs, the book's `train_seq2seq`, and `python -m core.train`.

`start_run` validates the configs, loads the data, builds the seeded model (or takes a
resumed one) and makes a `Trainer` with the loss the configs name; `TrainingRun.train` runs
it with the subscribers a caller asks for. The CLI below, the Train view (through
`core.service.jobs`) and the Exercises all train this way, so there is one way to train.

A run that trains in another process travels as a `RunSpec` (configs, the data's bytes, the
checkpoint it resumes), never built: `plan_run` reads from the spec what the run would cost
(its parameters, its training pairs) without building a model, so a server checks its limits
first; `build_run` builds the run where it trains.
"""
from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from . import cli, fast
from .checkpoint import Checkpoint, CheckpointError, checkpoint_path, load_checkpoint, save_checkpoint
from .config import FILE_SOURCES, DataConfig, ModelConfig, TrainConfig
from .data import BatchIterator, DataError, NMTData, Vocab, build_vocabs
from .data_files import read_data_file
from .device import pick_device
from .encoder_decoder import EncoderDecoder
from .history import History, Status, TrainResult
from .i18n import Text
from .loss import make_loss
from .model import build_model, parameter_count, xavier_init_weights
from .output_layers import returns_log_probs
from .resources import check_fits
from .sampling import SampleTranslations
from .settings import add_flags, from_args
from .sources import data_source, load_split, prepare_data, sample_pairs
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
    _validate(data_config, model_config, train_config)
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
    loss = make_loss(train_config.masked, log_probs=returns_log_probs(model_config.output_layer),
                     label_smoothing=train_config.label_smoothing)
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
    train_config = _continued(ckpt, more_epochs, device)
    return start_run(ckpt.data_config, ckpt.model_config, train_config, raw=raw, resume=ckpt)


def _validate(data_config: DataConfig, model_config: ModelConfig, train_config: TrainConfig) -> None:
    for config in (data_config, model_config):
        config.validate()
    train_config.validate(batch_size=data_config.batch_size)


def _continued(ckpt: Checkpoint, more_epochs: int, device: str) -> TrainConfig:
    """The checkpoint's own hyperparameters, `more_epochs` further (epochs count on), on `device`."""
    if isinstance(more_epochs, bool) or not isinstance(more_epochs, int) or more_epochs < 1:
        raise ValueError(Text("more epochs must be a whole number of at least 1, got {value!r}", value=more_epochs))
    return replace(ckpt.train_config, num_epochs=len(ckpt.history.epoch_loss) + more_epochs, device=device)


# -- a run as it travels to the process that trains it ----------------------------------------


@dataclass(frozen=True)
class RunSpec:
    """What a run is built from, small and picklable: never the built run.

    A continued run names its checkpoint (`resume`: a file's path, or an upload's bytes) and
    carries what the server read of it, the epochs it had trained and its vocabularies' sizes:
    the server checks its limits from these, and `build_run` refuses a checkpoint that is no
    longer the one they were read from."""
    data_config: DataConfig
    model_config: ModelConfig
    train_config: TrainConfig            # num_epochs: the epoch it ends at (a continued run counts on)
    raw: bytes | None = field(default=None, repr=False)     # an uploaded data file's bytes
    resume: str | bytes | None = field(default=None, repr=False)
    epochs_done: int = 0                 # what the checkpoint to resume had trained
    vocab_sizes: tuple[int, int] | None = None   # (source, target) of the checkpoint to resume

    @property
    def epochs(self) -> int:
        """The epochs this run trains now."""
        return self.train_config.num_epochs - self.epochs_done


def continue_spec(ckpt: Checkpoint, more_epochs: int, resume: str | bytes, raw: bytes | None = None,
                  device: str = "auto") -> RunSpec:
    """The spec of `continue_run(ckpt, more_epochs, raw, device)`, for the checkpoint `ckpt` as
    read from `resume` (its file's path or its bytes)."""
    return RunSpec(data_config=ckpt.data_config, model_config=ckpt.model_config,
                   train_config=_continued(ckpt, more_epochs, device), raw=raw, resume=resume,
                   epochs_done=len(ckpt.history.epoch_loss), vocab_sizes=(len(ckpt.src_vocab), len(ckpt.tgt_vocab)))


@dataclass(frozen=True)
class RunPlan:
    """What a run would ask for, read from its spec before anything is built."""
    epochs: int
    parameters: int
    train_pairs: int


def plan_run(spec: RunSpec) -> RunPlan:
    """Validate the configs and read the data, then count what the run would build: no model, no
    optimizer. Reading the data (the pairs and a new run's vocabularies, no arrays) is bounded
    by what an upload may weigh; the parameters come from the config and the vocabularies' sizes
    (`core.model.parameter_count`); the memory estimate is checked as `start_run` checks it."""
    data_config, model_config = spec.data_config, spec.model_config
    _validate(data_config, model_config, spec.train_config)
    device = pick_device(spec.train_config.device)
    train, _held_out = load_split(data_config, spec.raw)
    if len(train) == 0:
        raise DataError(Text("{description}: no training pairs", description=train.description))
    if spec.vocab_sizes is None:
        src_vocab, tgt_vocab = (len(vocab) for vocab in build_vocabs(train, data_config.min_freq))
    else:
        src_vocab, tgt_vocab = spec.vocab_sizes
    check_fits(model_config, src_vocab, tgt_vocab, data_config.batch_size, data_config.num_steps, device)
    return RunPlan(epochs=spec.epochs, parameters=parameter_count(model_config, src_vocab, tgt_vocab),
                   train_pairs=len(train))


def self_contained(spec: RunSpec) -> RunSpec:
    """`spec` with the files it names read into it, for a worker on another machine (Ray) whose
    disk is not the server's: the checkpoint to resume as its bytes, a data file's as `raw`."""
    resume = Path(spec.resume).read_bytes() if isinstance(spec.resume, str) else spec.resume
    raw = spec.raw
    if raw is None and spec.data_config.source in FILE_SOURCES and spec.data_config.path:
        raw = read_data_file(spec.data_config.path)     # bounded like an upload
    return replace(spec, resume=resume, raw=raw)


def build_run(spec: RunSpec) -> TrainingRun:
    """The run `spec` describes, built where it trains: data, model (or the resumed one), Adam, trainer."""
    if spec.resume is None:
        return start_run(spec.data_config, spec.model_config, spec.train_config, raw=spec.raw)
    ckpt = load_checkpoint(spec.resume)
    device = spec.train_config.device
    if spec.epochs < 1 or continue_spec(ckpt, spec.epochs, spec.resume, spec.raw, device) != spec:
        raise CheckpointError(Text("the checkpoint to continue was changed after this run was set up: "
                                   "start the run again"))
    return continue_run(ckpt, spec.epochs, raw=spec.raw, device=device)


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
    p = argparse.ArgumentParser(prog="python -m core.train", description="Train the chapter's seq2seq model.")
    p.add_argument("--data", default="corpus", help="corpus | copy | reverse | sort | fra-eng | PATH")
    add_flags(p, DataConfig, ModelConfig, TrainConfig)    # one flag per declared setting (core/settings.py)
    p.add_argument("--out", default=None, help="checkpoint file (default: checkpoints/latest.pt)")
    p.add_argument("--resume", default=None, help="checkpoint to continue training")
    p.add_argument("--json", action="store_true", help="end with one JSON line of metrics")
    return p


def configs_from_args(args: argparse.Namespace) -> tuple[DataConfig, ModelConfig, TrainConfig]:
    source, path = data_source(args.data)
    return (DataConfig(source=source, path=path, **from_args(DataConfig, args)),
            ModelConfig(**from_args(ModelConfig, args)), TrainConfig(**from_args(TrainConfig, args)))


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
    return 0 if result.status != Status.DIVERGED else 1


if __name__ == "__main__":
    sys.exit(main())

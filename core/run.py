"""A whole training run from configs: data, seeded model, trainer, checkpoint.

The CLI (`python -m core.train`) and the Train view (through `core.jobs`) both call
`start_run` and `TrainingRun.train`, so there is one way to train.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from .checkpoint import Checkpoint
from .config import DataConfig, ModelConfig, TrainConfig
from .data import BatchIterator, NMTData
from .device import pick_device
from .model import build_model
from .resources import check_fits
from .sources import prepare_data
from .train import History, Trainer, TrainResult

# The chapter's four sentences and the book's references (notes 7.8).
BOOK_EXAMPLES = [("go .", "va !"), ("i lost .", "j'ai perdu ."),
                 ("he's calm .", "il est calme ."), ("i'm home .", "je suis chez moi .")]


def sample_sentences(data: NMTData, count: int = 4) -> list[tuple[str, str]]:
    """The book's examples on fra-eng or the corpus; otherwise the first held-out pairs."""
    if data.train.description.startswith(("Tatoeba", "the playground corpus")):
        return BOOK_EXAMPLES[:count]
    pool = data.test if len(data.test) else data.train
    return [(" ".join(s), " ".join(t)) for s, t in zip(pool.source[:count], pool.target[:count])]


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
        self.result = self.trainer.run(on_event, stop, sample_sentences(self.data), sample_every,
                                       self.data.src_vocab, self.data_config.num_steps)
        return self.result

    def checkpoint(self) -> Checkpoint:
        test = [(" ".join(s), " ".join(t)) for s, t in zip(self.data.test.source, self.data.test.target)]
        return Checkpoint(self.trainer.net, self.model_config, self.data_config, self.train_config,
                          self.data.src_vocab, self.data.tgt_vocab, self.trainer.history,
                          self.trainer.optimizer.state_dict(), test)


def start_run(data_config: DataConfig, model_config: ModelConfig, train_config: TrainConfig,
              raw: bytes | None = None, resume: Checkpoint | None = None) -> TrainingRun:
    """Validate, load the data, build the seeded model (or take the resumed one), make a trainer."""
    for config in (data_config, model_config):
        config.validate()
    train_config.validate(batch_size=data_config.batch_size)
    device = pick_device(train_config.device)
    torch.manual_seed(train_config.seed)
    if resume is not None:
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
    trainer = Trainer(net, batches, data.tgt_vocab, train_config, device, history, opt_state)
    return TrainingRun(data, data_config, model_config, train_config, trainer)


def _resumed_data(resume: Checkpoint, data_config: DataConfig, raw: bytes | None) -> NMTData:
    """The same pairs as the original run, encoded with the checkpoint's own vocabularies."""
    data = prepare_data(resume.data_config if raw is None else data_config, raw)
    return NMTData(data.train, data.test, resume.src_vocab, resume.tgt_vocab, data_config.num_steps)


def needs_data_file(config: DataConfig) -> bool:
    """Whether the run's pairs came from a file (a path, or an upload that must be given again)."""
    return config.source in ("tatoeba", "tsv")


def continue_run(ckpt: Checkpoint, more_epochs: int, raw: bytes | None = None,
                 device: str = "auto") -> TrainingRun:
    """Train a saved run `more_epochs` further: the same pairs and split with its own vocabularies,
    its weights, optimizer state, hyperparameters and curves; epochs and steps count on."""
    if isinstance(more_epochs, bool) or not isinstance(more_epochs, int) or more_epochs < 1:
        raise ValueError(f"more epochs must be a whole number of at least 1, got {more_epochs!r}")
    done = len(ckpt.history.epoch_loss)
    train_config = replace(ckpt.train_config, num_epochs=done + more_epochs, device=device)
    return start_run(ckpt.data_config, ckpt.model_config, train_config, raw=raw, resume=ckpt)

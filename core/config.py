"""Configs for data, model and training, with the book's defaults.

Validation happens once, at the edge (CLI flags, UI widgets, checkpoint loading),
by calling ``validate()``; every problem becomes a ``ValueError`` that says what to fix.
"""
from __future__ import annotations

import math
from dataclasses import Field, asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

from .i18n import Text

SYNTHETIC_TASKS = ("copy", "reverse", "sort")
FILE_SOURCES = ("tatoeba", "tsv")            # pairs read from a file (a path or an upload)
SOURCES = ("corpus", *SYNTHETIC_TASKS, *FILE_SOURCES)
CELLS = ("gru", "lstm")
CONTEXTS = ("book", "encoder")
DECODERS = ("plain", "attention")
REDUCTIONS = ("sum", "mean")
DEVICES = ("auto", "cpu", "cuda", "mps")          # "cuda:N" is accepted too
OUTPUT_LAYERS = ("dense", "tied", "adaptive")   # notes 7.9.6; "dense" is the book's
TOKENIZERS = ("space", "char")   # "space" is the book's; "char": one token per CJK character (core/data.py)
MAX_SIZE = 4096          # embed / hidden sizes above this are a typo, not an experiment
MAX_LAYERS = 8
MAX_NUM_STEPS = 200
MAX_EPOCHS = 100_000
MAX_BATCH = 8192


def _check(condition: bool, message: Text) -> None:
    if not condition:
        raise ValueError(message)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    _check(isinstance(value, int) and not isinstance(value, bool),
           Text("{name} must be an integer, got {value!r}", name=name, value=value))
    _check(low <= value <= high,
           Text("{name} must be between {low} and {high}, got {value}", name=name, low=low, high=high, value=value))


def _check_float(name: str, value: Any, low: float, high: float, *, open_low: bool = False) -> None:
    _check(isinstance(value, (int, float)) and not isinstance(value, bool),
           Text("{name} must be a number, got {value!r}", name=name, value=value))
    _check(math.isfinite(value), Text("{name} must be finite, got {value}", name=name, value=value))
    if open_low:
        _check(value > low, Text("{name} must be greater than {low}, got {value}", name=name, low=low, value=value))
    else:
        _check(value >= low, Text("{name} must be at least {low}, got {value}", name=name, low=low, value=value))
    _check(value <= high, Text("{name} must be at most {high}, got {value}", name=name, high=high, value=value))


def _one_of(name: str, choices: tuple, value: Any) -> Text:
    """The message of a setting outside its choices (a code name, its options, what was given)."""
    return Text("{name} must be one of {choices}, got {value!r}", name=name, choices=choices, value=value)


_C = TypeVar("_C", bound="_Config")   # from_dict gives the subclass it is called on


class _Config:
    """Shared helpers: plain-dict round trip for checkpoints and JSON. Every subclass is a
    dataclass with a `validate()`."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]   # set by @dataclass on each subclass

    def validate(self) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls: type[_C], values: dict[str, Any]) -> _C:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        _check(not unknown, Text("unknown {config} fields: {fields}", config=cls.__name__, fields=sorted(unknown)))
        config = cls(**values)
        config.validate()
        return config


@dataclass
class DataConfig(_Config):
    """Where the pairs come from and how they become (batch, num_steps) arrays."""
    source: str = "corpus"          # one of SOURCES
    path: str | None = None         # file for "tatoeba" / "tsv"
    num_examples: int = 600         # book semantics: lines 0..num_examples of the file
    num_test: int = 200             # held-out pairs, never trained on
    num_steps: int = 10
    batch_size: int = 64
    min_freq: int = 2
    seed: int = 0                   # split and synthetic tasks
    tokenizer: str = "space"        # one of TOKENIZERS; checkpoints saved before it load as "space"

    def validate(self) -> None:
        _check(self.source in SOURCES, _one_of("source", SOURCES, self.source))
        _check(self.tokenizer in TOKENIZERS, _one_of("tokenizer", TOKENIZERS, self.tokenizer))
        _check(self.source not in FILE_SOURCES or bool(self.path),
               Text("source {source!r} needs a file path", source=self.source))
        _check_int("num_examples", self.num_examples, 1, 1_000_000)
        _check_int("num_test", self.num_test, 0, 100_000)
        _check_int("num_steps", self.num_steps, 2, MAX_NUM_STEPS)
        _check_int("batch_size", self.batch_size, 1, MAX_BATCH)
        _check_int("min_freq", self.min_freq, 0, 1_000_000)
        _check_int("seed", self.seed, 0, 2**32 - 1)

    def to_dict(self) -> dict[str, Any]:
        """Without `tokenizer` when it is the book's "space": such a run saves the same dict as
        before the field existed, so its checkpoints and the exercises' result hashes stay as
        they were (and `from_dict` fills the default back in)."""
        values = super().to_dict()
        if values["tokenizer"] == "space":
            del values["tokenizer"]
        return values


@dataclass
class ModelConfig(_Config):
    """The book's encoder-decoder; dec_* default to the encoder's sizes (no bridge)."""
    cell: str = "gru"
    embed_size: int = 32
    num_hiddens: int = 64
    num_layers: int = 2
    dropout: float = 0.1
    dec_num_hiddens: int | None = None
    dec_num_layers: int | None = None
    context: str = "book"           # "book": d2l 0.17.6's state[-1]; "encoder": fixed (see model.py)
    decoder: str = "plain"          # "attention": Bahdanau attention (core/attention.py); ignores context
    output_layer: str = "dense"     # one of OUTPUT_LAYERS (core/output_layers.py)

    @property
    def decoder_hiddens(self) -> int:
        return self.dec_num_hiddens or self.num_hiddens

    @property
    def decoder_layers(self) -> int:
        return self.dec_num_layers or self.num_layers

    @property
    def needs_bridge(self) -> bool:
        return (self.decoder_hiddens, self.decoder_layers) != (self.num_hiddens, self.num_layers)

    def validate(self) -> None:
        _check(self.cell in CELLS, _one_of("cell", CELLS, self.cell))
        _check(self.context in CONTEXTS, _one_of("context", CONTEXTS, self.context))
        _check(self.decoder in DECODERS, _one_of("decoder", DECODERS, self.decoder))
        _check(self.output_layer in OUTPUT_LAYERS, _one_of("output_layer", OUTPUT_LAYERS, self.output_layer))
        _check_int("embed_size", self.embed_size, 1, MAX_SIZE)
        _check_int("num_hiddens", self.num_hiddens, 1, MAX_SIZE)
        _check_int("num_layers", self.num_layers, 1, MAX_LAYERS)
        _check_float("dropout", self.dropout, 0.0, 0.9)
        if self.dec_num_hiddens is not None:
            _check_int("dec_num_hiddens", self.dec_num_hiddens, 1, MAX_SIZE)
        if self.dec_num_layers is not None:
            _check_int("dec_num_layers", self.dec_num_layers, 1, MAX_LAYERS)
        # Attention reads the encoder outputs with the decoder's state as the query, and that
        # state starts as the encoder's: both need the encoder's sizes, so no bridge.
        _check(self.decoder == "plain" or not self.needs_bridge,
               Text("the attention decoder needs the encoder's sizes: leave the decoder's own hidden size "
                    "and layer count unset (no bridge), or use the plain decoder"))


@dataclass
class TrainConfig(_Config):
    """The book's training loop and the knobs the chapter's exercises turn."""
    lr: float = 0.005
    num_epochs: int = 300
    clip_theta: float = 1.0
    teacher_forcing_ratio: float = 1.0   # 1.0 = the book; lower mixes in own predictions
    accumulation_steps: int = 1          # micro-batches per optimizer step
    reduction: str = "sum"               # "sum" = the book's l.sum().backward()
    masked: bool = True                  # False = the exercise's unmasked loss
    seed: int = 0
    device: str = "auto"

    def validate(self, batch_size: int | None = None) -> None:
        _check_float("lr", self.lr, 0.0, 10.0, open_low=True)
        _check_int("num_epochs", self.num_epochs, 1, MAX_EPOCHS)
        _check_float("clip_theta", self.clip_theta, 0.0, 1e6, open_low=True)
        _check_float("teacher_forcing_ratio", self.teacher_forcing_ratio, 0.0, 1.0)
        _check_int("accumulation_steps", self.accumulation_steps, 1, MAX_BATCH)
        _check(self.reduction in REDUCTIONS, _one_of("reduction", REDUCTIONS, self.reduction))
        _check(isinstance(self.masked, bool), Text("masked must be True or False"))
        _check_int("seed", self.seed, 0, 2**32 - 1)
        _check(self.device in DEVICES or self.device.startswith("cuda:"),
               Text("device must be auto, cpu, cuda or mps, got {device!r}", device=self.device))
        if batch_size is not None:
            _check(self.accumulation_steps <= batch_size,
                   Text("accumulation_steps ({steps}) cannot exceed batch_size ({batch_size}): "
                        "each micro-batch needs at least one pair",
                        steps=self.accumulation_steps, batch_size=batch_size))

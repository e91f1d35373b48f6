"""Configs for data, model and training, with the book's defaults.

Each setting is declared once, on its field (core/settings.py): its bounds or choices, its link
parameter, flag, label and help. Validation happens once, at the edge (CLI flags, UI widgets,
checkpoint loading), by calling ``validate()``, which checks every declared field and then the
rules that join two of them; every problem becomes a ``ValueError`` that says what to fix.
"""
from __future__ import annotations

from dataclasses import Field, asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

from .i18n import N_, Text
from .settings import INT, Setting, choice, declared, integer, knob, real, require, switch

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

# one seed for the split, the synthetic data and the initialisation (DataConfig's and TrainConfig's)
SEED = Setting(kind=INT, low=0, high=2**32 - 1, url="seed", label=N_("Seed"),
               help=N_("One seed for the split, synthetic data and initialisation, as in the CLI."))


_C = TypeVar("_C", bound="_Config")   # from_dict gives the subclass it is called on


class _Config:
    """Shared helpers: plain-dict round trip for checkpoints and JSON. Every subclass is a
    dataclass with a `validate()`."""

    __dataclass_fields__: ClassVar[dict[str, Field[Any]]]   # set by @dataclass on each subclass

    def validate(self) -> None:
        """Every declared field against its declaration; subclasses add the rules joining two."""
        for setting in declared(type(self)):
            setting.check(getattr(self, setting.name))

    def to_dict(self) -> dict[str, Any]:
        values = asdict(self)
        for setting in declared(type(self)):
            if setting.omit_default and values[setting.name] == setting.default:
                del values[setting.name]
        return values

    @classmethod
    def from_dict(cls: type[_C], values: dict[str, Any]) -> _C:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        require(not unknown, Text("unknown {config} fields: {fields}", config=cls.__name__, fields=sorted(unknown)))
        config = cls(**values)
        config.validate()
        return config


@dataclass
class DataConfig(_Config):
    """Where the pairs come from and how they become (batch, num_steps) arrays."""
    # the command line's --data names source and path at once; a link's "source" is the form's own
    source: str = choice("corpus", SOURCES, flag=None)
    path: str | None = None         # file for "tatoeba" / "tsv"
    num_examples: int = integer(600, 1, 1_000_000, url="examples", label=N_("Examples"), unit="pairs",
                                help=N_("The book's meaning: lines 0..num_examples of the file."))
    num_test: int = integer(200, 0, 100_000, url="held_out", label=N_("Held out"), unit="pairs",
                            help=N_("Pairs never trained on, for honest BLEU."))
    num_steps: int = integer(10, 2, MAX_NUM_STEPS, url="num_steps", label="num_steps", unit="tokens",
                             help=N_("Sentences are truncated or padded to this many tokens."))
    batch_size: int = integer(64, 1, MAX_BATCH, url="batch", label=N_("Batch size"), unit="pairs")
    min_freq: int = integer(2, 0, 1_000_000, url="min_freq", label="min_freq", help=N_("Rarer tokens become <unk>."))
    seed: int = knob(0, SEED)
    # "space" is the book's; checkpoints saved before the field existed load as "space"
    tokenizer: str = choice("space", TOKENIZERS, url="tokenizer", label=N_("Tokenizer"), omit_default=True,
                            help=N_("The book splits on spaces, so a Chinese sentence would be one token: char makes "
                                    "each Chinese character a token and keeps spaces and Latin words as the book does."))

    def validate(self) -> None:
        super().validate()
        require(self.source not in FILE_SOURCES or bool(self.path),
                Text("source {source!r} needs a file path", source=self.source))


@dataclass
class ModelConfig(_Config):
    """The book's encoder-decoder; dec_* default to the encoder's sizes (no bridge)."""
    cell: str = choice("gru", CELLS, url="cell", label=N_("Cell"))
    embed_size: int = integer(32, 1, MAX_SIZE, url="embed_size", label=N_("Embed size"))
    num_hiddens: int = integer(64, 1, MAX_SIZE, url="hiddens", label=N_("Hidden size"))
    num_layers: int = integer(2, 1, MAX_LAYERS, url="layers", label=N_("Layers"))
    dropout: float = real(0.1, 0.0, 0.9, url="dropout", label=N_("Dropout"))
    # None: the encoder's (no bridge)
    dec_num_hiddens: int | None = integer(None, 1, MAX_SIZE, url="dec_hiddens", label=N_("Decoder hidden size"))
    dec_num_layers: int | None = integer(None, 1, MAX_LAYERS, url="dec_layers", label=N_("Decoder layers"))
    # "book": d2l 0.17.6's state[-1]; "encoder": fixed (see model.py)
    context: str = choice("book", CONTEXTS, url="context", label=N_("Decoder context at inference"),
                          help=N_("Training is the same either way. encoder = the encoder's final state at every "
                                  "step, as the chapter's figure draws it and d2l 1.0 does; book = d2l 0.17.6's "
                                  "state[-1], which at inference is the previous decoder state (see the README)."))
    # "attention": Bahdanau attention (core/attention.py); ignores context
    decoder: str = choice("plain", DECODERS, url="decoder", label=N_("Decoder"),
                          help=N_("attention = Bahdanau attention over the encoder outputs (d2l 10.4); "
                                  "it needs the encoder's sizes (no bridge) and ignores the context choice."))
    output_layer: str = choice("dense", OUTPUT_LAYERS,   # core/output_layers.py; no widget or link
                               help=N_("dense = the book's; tied or adaptive softmax (notes 7.9.6)"))

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
        super().validate()
        # Attention reads the encoder outputs with the decoder's state as the query, and that
        # state starts as the encoder's: both need the encoder's sizes, so no bridge.
        require(self.decoder == "plain" or not self.needs_bridge,
                Text("the attention decoder needs the encoder's sizes: leave the decoder's own hidden size "
                     "and layer count unset (no bridge), or use the plain decoder"))


@dataclass
class TrainConfig(_Config):
    """The book's training loop and the knobs the chapter's exercises turn."""
    lr: float = real(0.005, 0.0, 10.0, open_low=True, url="lr", label=N_("Learning rate"))
    num_epochs: int = integer(300, 1, MAX_EPOCHS, url="epochs", flag="--epochs", label=N_("Epochs"), unit="epochs")
    clip_theta: float = real(1.0, 0.0, 1e6, open_low=True, url="clip", flag="--clip",
                             label=N_("Clip θ (gradient norm)"))
    # 1.0 = the book; lower mixes in own predictions
    teacher_forcing_ratio: float = real(1.0, 0.0, 1.0, url="tf", label=N_("Teacher forcing ratio"),
                                        help=N_("1 = the book: always feed the true previous token."))
    accumulation_steps: int = integer(1, 1, MAX_BATCH, url="accum", label=N_("Accumulation steps"),
                                      help=N_("Micro-batches per optimizer step; they add up to one batch."))
    reduction: str = choice("sum", REDUCTIONS, url="reduction", label=N_("Reduction"),
                            help=N_("sum = the book's l.sum().backward()"))
    masked: bool = switch(True, url="masked", flag="--unmasked", label=N_("Masked loss (the book)"),
                          help=N_("Off = the exercise's loss that also scores padding."))
    label_smoothing: float = real(0.0, 0.0, 0.5, url="label_smoothing", label=N_("Label smoothing"), omit_default=True,
                                  help=N_("0 = the book: the target token is the whole truth. ε > 0 trains "
                                          "towards 1 − ε on it and ε spread over the whole vocabulary, "
                                          "so the model is less sure of itself."))
    seed: int = knob(0, SEED)
    device: str = choice("auto", DEVICES, also="cuda:", url="device", label=N_("Device"))

    def validate(self, batch_size: int | None = None) -> None:
        super().validate()
        if batch_size is not None:
            require(self.accumulation_steps <= batch_size,
                    Text("accumulation_steps ({steps}) cannot exceed batch_size ({batch_size}): "
                         "each micro-batch needs at least one pair",
                         steps=self.accumulation_steps, batch_size=batch_size))

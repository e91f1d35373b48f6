"""The Train view's setup: data source + preview, and every hyperparameter with the book's
defaults (the config dataclasses' defaults) and bounds (the MAX_* constants of core.config).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import streamlit as st

from core.checkpoint import checkpoint_path, sanitize_name
from core.config import MAX_BATCH, MAX_EPOCHS, MAX_LAYERS, MAX_NUM_STEPS, MAX_SIZE, DataConfig, ModelConfig, TrainConfig
from core.data import DataError, NMTData
from core.device import describe_devices
from core.sources import download_fra_eng

from . import charts, models, state
from .state import kept
from .widgets import guarded, md_code, show_error

D, M, T = DataConfig(), ModelConfig(), TrainConfig()
DEFAULT_SAMPLE_EVERY = 10
SOURCES = {   # choice -> (label, DataConfig.source, how the file arrives)
    "corpus": ("Playground corpus (shipped, English → French)", "corpus", None),
    "reverse": ("Synthetic: reverse a letter sequence", "reverse", None),
    "copy": ("Synthetic: copy a letter sequence", "copy", None),
    "sort": ("Synthetic: sort a letter sequence", "sort", None),
    "tatoeba-upload": ("Tatoeba file: upload fra.txt or fra-eng.zip", "tatoeba", "upload"),
    "tatoeba-book": ("Tatoeba fra-eng: the book's download", "tatoeba", "book"),
    "tsv-upload": ("Your TSV file (source<TAB>target): upload", "tsv", "upload"),
    "tatoeba-path": ("Tatoeba file: local path", "tatoeba", "path"),
    "tsv-path": ("TSV file: local path", "tsv", "path"),
}


@dataclass
class Setup:
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    raw: bytes | None        # an uploaded file's bytes
    name: str                # run name as typed; sanitized when the run starts
    sample_every: int


def local_paths_allowed() -> bool:
    return os.environ.get("SEQ2SEQ_ALLOW_LOCAL_PATHS") == "1"


def setup_form() -> Setup | None:
    """All setup widgets; None while the data is not usable yet (missing upload, bad file)."""
    st.subheader("1 · Data")
    data, raw, seed = _data_section()
    st.subheader("2 · Model")
    model = _model_section()
    st.subheader("3 · Training")
    train, name, sample_every = _train_section(seed)
    return None if data is None else Setup(data, model, train, raw, name, sample_every)


def _data_section() -> tuple[DataConfig | None, bytes | None, int]:
    """(config, uploaded bytes, seed); config is None while the data cannot be used."""
    choices = [k for k, (_, _, how) in SOURCES.items() if how != "path" or local_paths_allowed()]
    c = st.columns([3, 1, 1, 1, 1, 1, 1])
    choice = c[0].selectbox("Source", choices, format_func=lambda k: SOURCES[k][0], **kept("train.source", "corpus"))
    num_examples = c[1].number_input("Examples", 1, 1_000_000, **kept("train.num_examples", D.num_examples),
                                     help="The book's meaning: lines 0..num_examples of the file.")
    num_test = c[2].number_input("Held out", 0, 100_000, **kept("train.num_test", D.num_test),
                                 help="Pairs never trained on, for honest BLEU.")
    num_steps = c[3].number_input("num_steps", 2, MAX_NUM_STEPS, **kept("train.num_steps", D.num_steps),
                                  help="Sentences are truncated or padded to this many tokens.")
    batch_size = c[4].number_input("Batch size", 1, MAX_BATCH, **kept("train.batch_size", D.batch_size))
    min_freq = c[5].number_input("min_freq", 0, 1_000_000, **kept("train.min_freq", D.min_freq),
                                 help="Rarer tokens become <unk>.")
    seed = c[6].number_input("Seed", 0, 2**32 - 1, **kept("train.seed", D.seed),
                             help="One seed for the split, synthetic data and initialisation, as in the CLI.")
    _, source, how = SOURCES[choice]
    path, raw = _data_file(choice, how)
    if how is not None and path is None:
        return None, None, seed
    config = DataConfig(source, path, num_examples, num_test, num_steps, batch_size, min_freq, seed)
    data = guarded("This data cannot be used", models.prepared_data, config, raw,
                   hint="Check the file (UTF-8, one `source<TAB>target` pair per line) or pick another source.")
    if data is None:
        return None, None, seed
    _preview(data, config)
    return config, raw, seed


def _data_file(choice: str, how: str | None) -> tuple[str | None, bytes | None]:
    """(path or upload name, uploaded bytes) for the file-based sources."""
    if how == "upload":
        upload = st.file_uploader("Pairs file", type=["txt", "tsv", "zip"], key=f"train.upload.{choice}")
        return (upload.name, upload.getvalue()) if upload is not None else (None, None)
    if how == "path":
        path = st.text_input("Path on the server", **kept(f"train.path.{choice}", "")).strip()
        return (path or None), None
    if how == "book":
        return _book_file(), None
    return None, None


def book_files() -> list[str]:
    """Where this app reads the book's fra-eng file: FRA_ENG_PATH, then this tab's download."""
    return [p for p in (os.environ.get("FRA_ENG_PATH"), state.get("train.fra_eng")) if p]


def _book_file() -> str | None:
    path = next(iter(book_files()), None)
    if path:
        st.caption(f"Using {md_code(path)}.")
        return path
    st.info("The book's `fra-eng.zip` (Tatoeba pairs) is downloaded once, checked against the "
            "book's SHA-1 and cached.", icon="ℹ️")
    if st.button("⬇️ Download fra-eng.zip", key="train.download"):
        try:
            with st.spinner("Downloading…"):
                state.put("train.fra_eng", str(download_fra_eng()))
            st.rerun()
        except DataError as err:
            show_error("The download was refused", err)
        except OSError as err:   # URLError, timeouts, DNS: no internet
            show_error("Could not download the book's file (no internet?)", err,
                       hint="Upload `fra-eng.zip` or `fra.txt` with *Tatoeba file: upload* instead, "
                            "or set `FRA_ENG_PATH` to a local copy.")
    return None


def warn_if_taken(name: str) -> None:
    """Say which file the run will be saved as when the name had to be cleaned, and when it
    would overwrite one (a name that cannot be used is shown as an error)."""
    path = guarded("Bad run name", lambda: checkpoint_path(sanitize_name(name)))
    if path is None:
        return
    if path.is_file():
        st.caption(f"⚠️ {md_code(path.name)} exists and will be overwritten.")
    elif path.stem not in (name.strip(), name.strip().removesuffix(".pt")):
        st.caption(f"Will be saved as {md_code(path.name)} (letters, digits, `_ . -` only, at most 64).")


def _preview(data: NMTData, config: DataConfig) -> None:
    c = st.columns(5)
    c[0].metric("Training pairs", f"{len(data.train):,}")
    c[1].metric("Held-out pairs", f"{len(data.test):,}")
    c[2].metric("Source vocab", f"{len(data.src_vocab):,}")
    c[3].metric("Target vocab", f"{len(data.tgt_vocab):,}")
    c[4].metric("Malformed lines skipped", f"{data.train.skipped:,}")
    if len(data.test) < config.num_test:
        st.caption(f"{len(data.test):,} held out, not {config.num_test:,}: at most a fifth of the pairs is "
                   "held out, so a small dataset still has pairs to train on.")
    left, right = st.columns(2)
    left.dataframe({"source": [" ".join(s) for s in data.train.source[:8]],
                    "target": [" ".join(t) for t in data.train.target[:8]]}, hide_index=True)
    with right:
        charts.show(charts.histogram({"source": [len(s) for s in data.train.source],
                                      "target": [len(t) for t in data.train.target]},
                                     "Sentence lengths (tokens, before <eos>)", "tokens", bin_size=1),
                    key="train.lengths")


def _model_section() -> ModelConfig:
    c = st.columns(5)
    cell = c[0].radio("Cell", ["gru", "lstm"], horizontal=True, **kept("train.cell", M.cell))
    embed = c[1].number_input("Embed size", 1, MAX_SIZE, **kept("train.embed", M.embed_size))
    hiddens = c[2].number_input("Hidden size", 1, MAX_SIZE, **kept("train.hiddens", M.num_hiddens))
    layers = c[3].number_input("Layers", 1, MAX_LAYERS, **kept("train.layers", M.num_layers))
    dropout = c[4].slider("Dropout", 0.0, 0.9, step=0.05, **kept("train.dropout", M.dropout))
    c = st.columns([2, 1, 1, 1.4, 1.2])
    own = c[0].toggle("Decoder has its own size (joined by a bridge: Linear + tanh)",
                      **kept("train.bridge", False))
    dec_hiddens = c[1].number_input("Decoder hidden size", 1, MAX_SIZE, disabled=not own,
                                    **kept("train.dec_hiddens", M.num_hiddens))
    dec_layers = c[2].number_input("Decoder layers", 1, MAX_LAYERS, disabled=not own,
                                   **kept("train.dec_layers", M.num_layers))
    context = c[3].radio("Decoder context at inference", ["book", "encoder"], horizontal=True,
                         **kept("train.context", M.context),
                         help="book = d2l 0.17.6: state[-1] of the running decoder state; "
                              "encoder = the encoder's final state at every step (see the README).")
    decoder = c[4].radio("Decoder", ["plain", "attention"], horizontal=True, **kept("train.decoder", M.decoder),
                         help="attention = Bahdanau attention over the encoder outputs (d2l 10.4); "
                              "it needs the encoder's sizes (no bridge) and ignores the context choice.")
    return ModelConfig(cell, embed, hiddens, layers, dropout,
                       dec_hiddens if own else None, dec_layers if own else None, context, decoder)


def _train_section(seed: int) -> tuple[TrainConfig, str, int]:
    c = st.columns(5)
    lr = c[0].number_input("Learning rate", 0.0001, 10.0, step=0.001, format="%.4f", **kept("train.lr", T.lr))
    epochs = c[1].number_input("Epochs", 1, MAX_EPOCHS, **kept("train.epochs", T.num_epochs))
    clip = c[2].number_input("Clip θ (gradient norm)", 0.01, 1e6, **kept("train.clip", T.clip_theta))
    accumulation = c[3].number_input("Accumulation steps", 1, MAX_BATCH, **kept("train.accum", T.accumulation_steps),
                                     help="Micro-batches per optimizer step; they add up to one batch.")
    ratio = c[4].slider("Teacher forcing ratio", 0.0, 1.0, step=0.05, **kept("train.tf", T.teacher_forcing_ratio),
                        help="1 = the book: always feed the true previous token.")
    c = st.columns(5)
    masked = c[0].toggle("Masked loss (the book)", **kept("train.masked", T.masked),
                         help="Off = the exercise's loss that also scores padding.")
    reduction = c[1].radio("Reduction", ["sum", "mean"], horizontal=True, **kept("train.reduction", T.reduction),
                           help="sum = the book's l.sum().backward()")
    device = c[2].selectbox("Device", ["auto", "cpu", "cuda", "mps"], **kept("train.device", T.device),
                            help=describe_devices())
    sample_every = c[3].number_input("Sample every (epochs)", 1, MAX_EPOCHS, **kept("train.sample_every", DEFAULT_SAMPLE_EVERY))
    name = c[4].text_input("Run name", **kept("train.name", time.strftime("run-%m%d-%H%M%S")))
    st.caption(f"🖥️ {describe_devices()}")
    warn_if_taken(name)
    config = TrainConfig(lr, epochs, clip, ratio, accumulation, reduction, masked, seed, device)
    return config, name, sample_every

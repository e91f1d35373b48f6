"""The Train view's setup: data source + preview, and every hyperparameter with the book's
defaults (the config dataclasses' defaults) and bounds (the MAX_* constants of core.config).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.checkpoint import checkpoint_path, sanitize_name
from core.config import (CELLS, CONTEXTS, DECODERS, DEVICES, MAX_BATCH, MAX_EPOCHS, MAX_LAYERS, MAX_NUM_STEPS, MAX_SIZE,
                         REDUCTIONS, DataConfig, ModelConfig, TrainConfig)
from core.data import DataError, NMTData
from core.device import describe_devices
from core.setups import LINK_SOURCES, TRAIN_FIELDS
from core.sources import MAX_FILE_BYTES, download_fra_eng

from .. import charts, links, models, server, state
from ..state import kept
from ..widgets import guarded, md_code, show_error

D, M, T = DataConfig(), ModelConfig(), TrainConfig()
DEFAULT_SAMPLE_EVERY = 10
PREVIEW_PAIRS = 8
APP_CONTEXT = "encoder"   # the app decodes as the chapter's figure draws it; the book's rule is one click away
SOURCE_CHOICES = {   # choice -> (label, DataConfig.source, how the file arrives)
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
    may_save: bool = True    # False: a checkpoint has this name and overwriting it was not chosen


def local_paths_allowed() -> bool:
    return os.environ.get("SEQ2SEQ_ALLOW_LOCAL_PATHS") == "1"


LINK_KEYS = {   # URL parameter (core.setups.TRAIN_FIELDS) -> the kept widget value it sets
    "source": state.TRAIN_SOURCE, "examples": state.TRAIN_EXAMPLES, "held_out": state.TRAIN_HELD_OUT,
    "num_steps": state.TRAIN_NUM_STEPS, "batch": state.TRAIN_BATCH, "min_freq": state.TRAIN_MIN_FREQ,
    "seed": state.TRAIN_SEED, "cell": state.TRAIN_CELL, "embed_size": state.TRAIN_EMBED, "hiddens": state.TRAIN_HIDDENS,
    "layers": state.TRAIN_LAYERS, "dropout": state.TRAIN_DROPOUT, "bridge": state.TRAIN_BRIDGE,
    "dec_hiddens": state.TRAIN_DEC_HIDDENS, "dec_layers": state.TRAIN_DEC_LAYERS, "context": state.TRAIN_CONTEXT,
    "decoder": state.TRAIN_DECODER, "lr": state.TRAIN_LR, "epochs": state.TRAIN_EPOCHS, "clip": state.TRAIN_CLIP,
    "accum": state.TRAIN_ACCUM, "tf": state.TRAIN_TEACHER_FORCING, "masked": state.TRAIN_MASKED,
    "reduction": state.TRAIN_REDUCTION, "device": state.TRAIN_DEVICE, "sample_every": state.TRAIN_SAMPLE_EVERY,
}


def link_defaults() -> dict[str, object]:
    """Each URL parameter's default: what the widget shows before anyone changes it."""
    return {"source": "corpus", "examples": D.num_examples, "held_out": D.num_test, "num_steps": D.num_steps,
            "batch": D.batch_size, "min_freq": D.min_freq, "seed": D.seed, "cell": M.cell, "embed_size": M.embed_size,
            "hiddens": M.num_hiddens, "layers": M.num_layers, "dropout": M.dropout, "bridge": False,
            "dec_hiddens": M.num_hiddens, "dec_layers": M.num_layers, "context": APP_CONTEXT, "decoder": M.decoder,
            "lr": T.lr, "epochs": min(T.num_epochs, server.limits().max_epochs or MAX_EPOCHS), "clip": T.clip_theta,
            "accum": T.accumulation_steps, "tf": T.teacher_forcing_ratio, "masked": T.masked,
            "reduction": T.reduction, "device": T.device, "sample_every": DEFAULT_SAMPLE_EVERY}


def setup_form() -> Setup | None:
    """All setup widgets, filled from a shared link first; None while the data is not usable
    yet (missing upload, bad file)."""
    highs = {"epochs": server.limits().max_epochs} if server.limits().max_epochs else None
    links.follow_url("train", TRAIN_FIELDS, LINK_KEYS, link_defaults(), highs)
    links.show_problems("train")
    st.subheader("1 · Data")
    data, raw, seed = _data_section()
    st.subheader("2 · Model")
    model = _model_section()
    st.subheader("3 · Training")
    train, name, sample_every, may_save = _train_section(seed)
    _link_section()
    if data is None:
        return None
    return Setup(data=data, model=model, train=train, raw=raw, name=name, sample_every=sample_every,
                 may_save=may_save)


def _data_section() -> tuple[DataConfig | None, bytes | None, int]:
    """(config, uploaded bytes, seed); config is None while the data cannot be used."""
    choices = [k for k, (_, _, how) in SOURCE_CHOICES.items() if how != "path" or local_paths_allowed()]
    c = st.columns([3, 1, 1, 1, 1, 1, 1])
    choice = c[0].selectbox("Source", choices, format_func=lambda k: SOURCE_CHOICES[k][0],
                             **kept(state.TRAIN_SOURCE, "corpus"))
    num_examples = c[1].number_input("Examples", 1, 1_000_000, **kept(state.TRAIN_EXAMPLES, D.num_examples),
                                     help="The book's meaning: lines 0..num_examples of the file.")
    num_test = c[2].number_input("Held out", 0, 100_000, **kept(state.TRAIN_HELD_OUT, D.num_test),
                                 help="Pairs never trained on, for honest BLEU.")
    num_steps = c[3].number_input("num_steps", 2, MAX_NUM_STEPS, **kept(state.TRAIN_NUM_STEPS, D.num_steps),
                                  help="Sentences are truncated or padded to this many tokens.")
    batch_size = c[4].number_input("Batch size", 1, MAX_BATCH, **kept(state.TRAIN_BATCH, D.batch_size))
    min_freq = c[5].number_input("min_freq", 0, 1_000_000, **kept(state.TRAIN_MIN_FREQ, D.min_freq),
                                 help="Rarer tokens become <unk>.")
    seed = c[6].number_input("Seed", 0, 2**32 - 1, **kept(state.TRAIN_SEED, D.seed),
                             help="One seed for the split, synthetic data and initialisation, as in the CLI.")
    _, source, how = SOURCE_CHOICES[choice]
    path, raw = _data_file(choice, how)
    if how is not None and path is None:
        return None, None, seed
    config = DataConfig(source=source, path=path, num_examples=num_examples, num_test=num_test,
                        num_steps=num_steps, batch_size=batch_size, min_freq=min_freq, seed=seed)
    data = guarded("This data cannot be used", models.prepared_data, config, raw,
                   hint="Check the file (UTF-8, one `source<TAB>target` pair per line) or pick another source.")
    if data is None:
        return None, None, seed
    _preview(data, config)
    return config, raw, seed


def _data_file(choice: str, how: str | None) -> tuple[str | None, bytes | None]:
    """(path or upload name, uploaded bytes) for the file-based sources."""
    if how == "upload":
        upload = st.file_uploader("Pairs file", type=["txt", "tsv", "zip"], key=f"train.upload.{choice}",
                                  max_upload_size=server.upload_limit_mb(MAX_FILE_BYTES // 2**20))
        return (upload.name, upload.getvalue()) if upload is not None else (None, None)
    if how == "path":
        path = st.text_input("Path on the server", **kept(state.TRAIN_PATH + choice, "")).strip()
        return (path or None), None
    if how == "book":
        return _book_file(), None
    return None, None


def _book_file() -> str | None:
    path = next(iter(models.book_files()), None)
    if path:
        st.caption(f"Using {md_code(path)}.")
        return path
    st.info("The book's `fra-eng.zip` (Tatoeba pairs) is downloaded once, checked against the "
            "book's SHA-1 and cached.", icon="ℹ️")
    if st.button("⬇️ Download fra-eng.zip", key="train.download"):
        try:
            with st.spinner("Downloading…"):
                state.put(state.FRA_ENG_DOWNLOAD, str(download_fra_eng()))
            st.rerun()
        except DataError as err:
            show_error("The download was refused", err)
        except OSError as err:   # URLError, timeouts, DNS: no internet
            show_error("Could not download the book's file (no internet?)", err,
                       hint="Upload `fra-eng.zip` or `fra.txt` with *Tatoeba file: upload* instead, "
                            "or set `FRA_ENG_PATH` to a local copy.")
    return None


def _link_section() -> None:
    """The address bar follows the form; the link is offered to copy."""
    values = {name: state.get_kept(key) for name, key in LINK_KEYS.items()}
    carried = values["source"] in LINK_SOURCES
    if not carried:
        del values["source"]
    params = links.keep_in_url("train", TRAIN_FIELDS, values, link_defaults())
    links.share_box("Copy link to this setup", params,
                    "" if carried else "A link cannot carry an uploaded file or a server path: the source is left out.")


def new_run_name() -> str:
    return time.strftime("run-%m%d-%H%M%S")


def renew_run_name() -> None:
    """After a start: the next run gets a fresh default name (set before the field is drawn)."""
    state.put(state.TRAIN_RENAME, True)


def overwrite_choice(name: str, form: str = "setup") -> bool:
    """Whether the run may be saved under `name`: yes when no file has it; when one does, only
    if the user ticks "overwrite" for this run. Also says when the name had to be cleaned."""
    path = guarded("Bad run name", lambda: checkpoint_path(sanitize_name(name)))
    if path is None:
        return False
    if path.is_file():
        return st.checkbox(f"Overwrite {path.name}: it holds an earlier run", value=False,
                           key=f"{state.TRAIN_OVERWRITE}{form}.{path.stem}",
                           help="Unticked, Start refuses this name; pick another one to keep both runs.")
    if path.stem not in (name.strip(), name.strip().removesuffix(".pt")):
        st.caption(f"Will be saved as {md_code(path.name)} (letters, digits, `_ . -` only, at most 64).")
    return True


def clamp_kept(name: str, most: float) -> None:
    """A kept value above a server limit (a URL's, or one set since) comes down to it: a
    number_input refuses a value past its max_value."""
    value = state.get_kept(name)
    if isinstance(value, (int, float)) and value > most:
        state.set_kept(name, most)


def server_caption() -> None:
    """Where runs train on this server, and its limits, under the Start button."""
    setup = server.serving()
    limits = setup.limits
    said = [f"{name} {value:,g}" if isinstance(value, float) else f"{name} {value:,}" for name, value in (
        ("epochs", limits.max_epochs), ("parameters", limits.max_parameters),
        ("training pairs", limits.max_train_pairs), ("minutes", limits.max_minutes)) if value is not None]
    queue = setup.queue
    busy = f"; now {len(queue.running())} training, {len(queue.waiting())} waiting" if queue.running() else ""
    st.caption(f"🧑‍🏫 Runs train in {setup.where}{busy}. "
               + (f"This server allows at most: {', '.join(said)} per run." if said else ""))
    if setup.problem:
        st.error(setup.problem, icon="🛑")


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
    head = data.train.subset(range(min(PREVIEW_PAIRS, len(data.train))))
    # a static table and the length chart on request: the view is usable before plotly and the
    # data grid would have loaded in the browser (bench/view_open_bench.py)
    st.table(pd.DataFrame(head.sentences(), columns=["source", "target"]))
    if st.toggle("Show sentence lengths", key=state.TRAIN_SHOW_LENGTHS):
        charts.show(charts.histogram({"source": [len(s) for s in data.train.source],
                                      "target": [len(t) for t in data.train.target]},
                                     "Sentence lengths (tokens, before <eos>)", "tokens", bin_size=1),
                    key="train.lengths")


def _model_section() -> ModelConfig:
    c = st.columns(5)
    cell = c[0].radio("Cell", CELLS, horizontal=True, **kept(state.TRAIN_CELL, M.cell))
    embed = c[1].number_input("Embed size", 1, MAX_SIZE, **kept(state.TRAIN_EMBED, M.embed_size))
    hiddens = c[2].number_input("Hidden size", 1, MAX_SIZE, **kept(state.TRAIN_HIDDENS, M.num_hiddens))
    layers = c[3].number_input("Layers", 1, MAX_LAYERS, **kept(state.TRAIN_LAYERS, M.num_layers))
    dropout = c[4].slider("Dropout", 0.0, 0.9, step=0.05, **kept(state.TRAIN_DROPOUT, M.dropout))
    c = st.columns([2, 1, 1, 1.4, 1.2])
    own = c[0].toggle("Decoder has its own size (joined by a bridge: Linear + tanh)",
                      **kept(state.TRAIN_BRIDGE, False))
    dec_hiddens = c[1].number_input("Decoder hidden size", 1, MAX_SIZE, disabled=not own,
                                    **kept(state.TRAIN_DEC_HIDDENS, M.num_hiddens))
    dec_layers = c[2].number_input("Decoder layers", 1, MAX_LAYERS, disabled=not own,
                                   **kept(state.TRAIN_DEC_LAYERS, M.num_layers))
    context = c[3].radio("Decoder context at inference", CONTEXTS, horizontal=True,
                         **kept(state.TRAIN_CONTEXT, APP_CONTEXT),
                         help="Training is the same either way. encoder = the encoder's final state at every "
                              "step, as the chapter's figure draws it and d2l 1.0 does; book = d2l 0.17.6's "
                              "state[-1], which at inference is the previous decoder state (see the README).")
    c[3].caption("encoder: the context the model was trained with; book: d2l 0.17.6's rule, which feeds "
                 "the previous decoder state at inference")
    decoder = c[4].radio("Decoder", DECODERS, horizontal=True, **kept(state.TRAIN_DECODER, M.decoder),
                         help="attention = Bahdanau attention over the encoder outputs (d2l 10.4); "
                              "it needs the encoder's sizes (no bridge) and ignores the context choice.")
    return ModelConfig(cell=cell, embed_size=embed, num_hiddens=hiddens, num_layers=layers, dropout=dropout,
                       dec_num_hiddens=dec_hiddens if own else None, dec_num_layers=dec_layers if own else None,
                       context=context, decoder=decoder)


def _train_section(seed: int) -> tuple[TrainConfig, str, int, bool]:
    c = st.columns(5)
    lr = c[0].number_input("Learning rate", 0.0001, 10.0, step=0.001, format="%.4f", **kept(state.TRAIN_LR, T.lr))
    most_epochs = server.limits().max_epochs or MAX_EPOCHS     # the operator's limit is the widget's bound
    epochs_kwargs = kept(state.TRAIN_EPOCHS, min(T.num_epochs, most_epochs))
    clamp_kept(state.TRAIN_EPOCHS, most_epochs)
    epochs = c[1].number_input("Epochs", 1, most_epochs, **epochs_kwargs)
    clip = c[2].number_input("Clip θ (gradient norm)", 0.01, 1e6, **kept(state.TRAIN_CLIP, T.clip_theta))
    accumulation = c[3].number_input("Accumulation steps", 1, MAX_BATCH,
                                     **kept(state.TRAIN_ACCUM, T.accumulation_steps),
                                     help="Micro-batches per optimizer step; they add up to one batch.")
    ratio = c[4].slider("Teacher forcing ratio", 0.0, 1.0, step=0.05,
                        **kept(state.TRAIN_TEACHER_FORCING, T.teacher_forcing_ratio),
                        help="1 = the book: always feed the true previous token.")
    c = st.columns(5)
    masked = c[0].toggle("Masked loss (the book)", **kept(state.TRAIN_MASKED, T.masked),
                         help="Off = the exercise's loss that also scores padding.")
    reduction = c[1].radio("Reduction", REDUCTIONS, horizontal=True, **kept(state.TRAIN_REDUCTION, T.reduction),
                           help="sum = the book's l.sum().backward()")
    device = c[2].selectbox("Device", DEVICES, **kept(state.TRAIN_DEVICE, T.device),
                            help=describe_devices())
    sample_every = c[3].number_input("Sample every (epochs)", 1, MAX_EPOCHS,
                                     **kept(state.TRAIN_SAMPLE_EVERY, DEFAULT_SAMPLE_EVERY))
    if state.get(state.TRAIN_RENAME):
        state.set_kept(state.TRAIN_NAME, new_run_name())
        state.put(state.TRAIN_RENAME, False)
    name = c[4].text_input("Run name", **kept(state.TRAIN_NAME, new_run_name()))
    st.caption(f"🖥️ {describe_devices()}")
    may_save = overwrite_choice(name)
    config = TrainConfig(lr=lr, num_epochs=epochs, clip_theta=clip, teacher_forcing_ratio=ratio,
                         accumulation_steps=accumulation, reduction=reduction, masked=masked, seed=seed, device=device)
    return config, name, sample_every, may_save

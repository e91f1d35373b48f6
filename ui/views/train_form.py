"""The Train view's setup: data source + preview, and every hyperparameter with the book's
defaults (the config dataclasses' defaults) and bounds (the MAX_* constants of core.config).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import streamlit as st

from core.checkpoint import checkpoint_path, sanitize_name
from core.config import (
    CELLS,
    CONTEXTS,
    DECODERS,
    DEVICES,
    MAX_BATCH,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_NUM_STEPS,
    MAX_SIZE,
    REDUCTIONS,
    TOKENIZERS,
    DataConfig,
    ModelConfig,
    TrainConfig,
)
from core.data import DataError, NMTData
from core.device import describe_devices
from core.setups import LINK_SOURCES, TRAIN_FIELDS
from core.sources import MAX_FILE_BYTES, download_fra_eng

from .. import charts, i18n, links, models, server, state
from ..context_choice import CONTEXT_LABELS
from ..i18n import N_, _, shown_as
from ..state import kept
from ..text import markdown_table, md_code
from ..widgets import guarded, show_error

D, M, T = DataConfig(), ModelConfig(), TrainConfig()
DEFAULT_SAMPLE_EVERY = 10
PREVIEW_PAIRS = 8
APP_CONTEXT = "encoder"   # the app decodes as the chapter's figure draws it; the book's rule is one click away
SOURCE_CHOICES = {   # choice -> (label, translated where shown; DataConfig.source; how the file arrives)
    "corpus": (N_("Playground corpus (shipped, English → French)"), "corpus", None),
    "reverse": (N_("Synthetic: reverse a letter sequence"), "reverse", None),
    "copy": (N_("Synthetic: copy a letter sequence"), "copy", None),
    "sort": (N_("Synthetic: sort a letter sequence"), "sort", None),
    "tatoeba-upload": (N_("Tatoeba file: upload fra.txt or fra-eng.zip"), "tatoeba", "upload"),
    "tatoeba-book": (N_("Tatoeba fra-eng: the book's download"), "tatoeba", "book"),
    "tsv-upload": (N_("Your TSV file (source<TAB>target): upload"), "tsv", "upload"),
    "tatoeba-path": (N_("Tatoeba file: local path"), "tatoeba", "path"),
    "tsv-path": (N_("TSV file: local path"), "tsv", "path"),
}
# The shown names of option values that are English words (the values stay: URLs, CLI, configs
# compare them); gru/lstm, sum/mean and the device names are code names and show as they are.
DECODER_LABELS = {"plain": N_("plain"), "attention": N_("attention")}
DEVICE_LABELS = {"auto": N_("auto")}
TOKENIZER_LABELS = {"space": N_("space (the book's)"), "char": N_("char (one token per CJK character)")}


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
    "tokenizer": state.TRAIN_TOKENIZER,
}


def link_defaults() -> dict[str, object]:
    """Each URL parameter's default: what the widget shows before anyone changes it."""
    return {"source": "corpus", "examples": D.num_examples, "held_out": D.num_test, "num_steps": D.num_steps,
            "batch": D.batch_size, "min_freq": D.min_freq, "seed": D.seed, "cell": M.cell, "embed_size": M.embed_size,
            "hiddens": M.num_hiddens, "layers": M.num_layers, "dropout": M.dropout, "bridge": False,
            "dec_hiddens": M.num_hiddens, "dec_layers": M.num_layers, "context": APP_CONTEXT, "decoder": M.decoder,
            "lr": T.lr, "epochs": min(T.num_epochs, server.limits().max_epochs or MAX_EPOCHS), "clip": T.clip_theta,
            "accum": T.accumulation_steps, "tf": T.teacher_forcing_ratio, "masked": T.masked,
            "reduction": T.reduction, "device": T.device, "sample_every": DEFAULT_SAMPLE_EVERY,
            "tokenizer": D.tokenizer}


def setup_form() -> Setup | None:
    """All setup widgets, filled from a shared link first; None while the data is not usable
    yet (missing upload, bad file)."""
    highs = {"epochs": server.limits().max_epochs} if server.limits().max_epochs else None
    links.follow_url("train", TRAIN_FIELDS, LINK_KEYS, link_defaults(), highs)
    links.show_problems("train")
    st.subheader(_("1 · Data"))
    data, raw, seed = _data_section()
    st.subheader(_("2 · Model"))
    model = _model_section()
    st.subheader(_("3 · Training"))
    train, name, sample_every, may_save = _train_section(seed)
    _link_section()
    if data is None:
        return None
    return Setup(data=data, model=model, train=train, raw=raw, name=name, sample_every=sample_every,
                 may_save=may_save)


def _data_section() -> tuple[DataConfig | None, bytes | None, int]:
    """(config, uploaded bytes, seed); config is None while the data cannot be used."""
    choices = [k for k, (_label, _source, how) in SOURCE_CHOICES.items() if how != "path" or local_paths_allowed()]
    c = st.columns([3, 1, 1, 1, 1, 1, 1])
    choice = c[0].selectbox(_("Source"), choices, format_func=shown_as({k: v[0] for k, v in SOURCE_CHOICES.items()}),
                             **kept(state.TRAIN_SOURCE, "corpus"))
    num_examples = c[1].number_input(_("Examples"), 1, 1_000_000, **kept(state.TRAIN_EXAMPLES, D.num_examples),
                                     help=_("The book's meaning: lines 0..num_examples of the file."))
    num_test = c[2].number_input(_("Held out"), 0, 100_000, **kept(state.TRAIN_HELD_OUT, D.num_test),
                                 help=_("Pairs never trained on, for honest BLEU."))
    num_steps = c[3].number_input("num_steps", 2, MAX_NUM_STEPS, **kept(state.TRAIN_NUM_STEPS, D.num_steps),
                                  help=_("Sentences are truncated or padded to this many tokens."))
    batch_size = c[4].number_input(_("Batch size"), 1, MAX_BATCH, **kept(state.TRAIN_BATCH, D.batch_size))
    min_freq = c[5].number_input("min_freq", 0, 1_000_000, **kept(state.TRAIN_MIN_FREQ, D.min_freq),
                                 help=_("Rarer tokens become <unk>."))
    seed = c[6].number_input(_("Seed"), 0, 2**32 - 1, **kept(state.TRAIN_SEED, D.seed),
                             help=_("One seed for the split, synthetic data and initialisation, as in the CLI."))
    source, how = SOURCE_CHOICES[choice][1:]   # not `_, …`: `_` translates
    path, raw = _data_file(choice, how)
    tokenizer = _tokenizer() if how is not None else "space"
    if how is not None and path is None:
        return None, None, seed
    config = DataConfig(source=source, path=path, num_examples=num_examples, num_test=num_test,
                        num_steps=num_steps, batch_size=batch_size, min_freq=min_freq, seed=seed,
                        tokenizer=tokenizer)
    data = guarded(_("This data cannot be used"), models.prepared_data, config, raw,
                   hint=_("Check the file (UTF-8, one `source<TAB>target` pair per line) or pick another source."))
    if data is None:
        return None, None, seed
    _preview(data, config)
    return config, raw, seed


def _tokenizer() -> str:
    """How a file's sentences become tokens: the book's spaces, or one per CJK character."""
    return st.radio(_("Tokenizer"), TOKENIZERS, horizontal=True, format_func=shown_as(TOKENIZER_LABELS),
                    **kept(state.TRAIN_TOKENIZER, "space"),
                    help=_("The book splits on spaces, so a Chinese sentence would be one token: char makes "
                           "each Chinese character a token and keeps spaces and Latin words as the book does."))


def _data_file(choice: str, how: str | None) -> tuple[str | None, bytes | None]:
    """(path or upload name, uploaded bytes) for the file-based sources."""
    if how == "upload":
        upload = st.file_uploader(_("Pairs file"), type=["txt", "tsv", "zip"], key=f"train.upload.{choice}",
                                  max_upload_size=server.upload_limit_mb(MAX_FILE_BYTES // 2**20))
        return (upload.name, upload.getvalue()) if upload is not None else (None, None)
    if how == "path":
        path = st.text_input(_("Path on the server"), **kept(state.TRAIN_PATH + choice, "")).strip()
        return (path or None), None
    if how == "book":
        return _book_file(), None
    return None, None


def _book_file() -> str | None:
    path = next(iter(models.book_files()), None)
    if path:
        st.caption(_("Using {path}.").format(path=md_code(path)))
        return path
    st.info(_("The book's `fra-eng.zip` (Tatoeba pairs) is downloaded once, checked against the "
              "book's SHA-1 and cached."), icon="ℹ️")
    if st.button(_("⬇️ Download fra-eng.zip"), key="train.download"):
        try:
            with st.spinner(_("Downloading…")):
                state.put(state.FRA_ENG_DOWNLOAD, str(download_fra_eng()))
            st.rerun()
        except DataError as err:
            show_error(_("The download was refused"), err)
        except OSError as err:   # URLError, timeouts, DNS: no internet
            show_error(_("Could not download the book's file (no internet?)"), err,
                       hint=_("Upload `fra-eng.zip` or `fra.txt` with *Tatoeba file: upload* instead, "
                              "or set `FRA_ENG_PATH` to a local copy."))
    return None


def _link_section() -> None:
    """The address bar follows the form; the link is offered to copy."""
    values = {name: state.get(state.KEEP + key) for name, key in LINK_KEYS.items()}
    values = {name: value for name, value in values.items() if value is not None}   # widgets not drawn
    carried = values.get("source") in LINK_SOURCES
    if not carried:
        values.pop("source", None)
    params = links.keep_in_url("train", TRAIN_FIELDS, values, link_defaults())
    links.share_box(_("Copy link to this setup"), params,
                    "" if carried else _("A link cannot carry an uploaded file or a server path: "
                                         "the source is left out."))


def new_run_name() -> str:
    return time.strftime("run-%m%d-%H%M%S")


def renew_run_name() -> None:
    """After a start: the next run gets a fresh default name (set before the field is drawn)."""
    state.put(state.TRAIN_RENAME, True)


def overwrite_choice(name: str, form: str = "setup") -> bool:
    """Whether the run may be saved under `name`: yes when no file has it; when one does, only
    if the user ticks "overwrite" for this run. Also says when the name had to be cleaned."""
    path = guarded(_("Bad run name"), lambda: checkpoint_path(sanitize_name(name)))
    if path is None:
        return False
    if path.is_file():
        return st.checkbox(_("Overwrite {file}: it holds an earlier run").format(file=path.name), value=False,
                           key=f"{state.TRAIN_OVERWRITE}{form}.{path.stem}",
                           help=_("Unticked, Start refuses this name; pick another one to keep both runs."))
    if path.stem not in (name.strip(), name.strip().removesuffix(".pt")):
        st.caption(_("Will be saved as {file} (letters, digits, `_ . -` only, at most 64).")
                   .format(file=md_code(path.name)))
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
    said = [_(limit).format(value=f"{value:,g}" if isinstance(value, float) else f"{value:,}")
            for limit, value in ((N_("epochs {value}"), limits.max_epochs),
                                 (N_("parameters {value}"), limits.max_parameters),
                                 (N_("training pairs {value}"), limits.max_train_pairs),
                                 (N_("minutes {value}"), limits.max_minutes)) if value is not None]
    queue = setup.queue
    where = (_("🧑‍🏫 Runs train in {where}; now {running} training, {waiting} waiting.")
             .format(where=i18n.said(setup.where), running=len(queue.running()), waiting=len(queue.waiting()))
             if queue.running() else _("🧑‍🏫 Runs train in {where}.").format(where=i18n.said(setup.where)))
    # setup.where and setup.problem are the engine's words (Texts)
    st.caption(where + " " + (_("This server allows at most: {limits} per run.").format(limits=", ".join(said))
                              if said else ""))
    if setup.problem:
        st.error(i18n.said(setup.problem), icon="🛑")


def _preview(data: NMTData, config: DataConfig) -> None:
    c = st.columns(5)
    c[0].metric(_("Training pairs"), f"{len(data.train):,}")
    c[1].metric(_("Held-out pairs"), f"{len(data.test):,}")
    c[2].metric(_("Source vocab"), f"{len(data.src_vocab):,}")
    c[3].metric(_("Target vocab"), f"{len(data.tgt_vocab):,}")
    c[4].metric(_("Malformed lines skipped"), f"{data.train.skipped:,}")
    if len(data.test) < config.num_test:
        st.caption(_("{held:,} held out, not {asked:,}: at most a fifth of the pairs is held out, so a small "
                     "dataset still has pairs to train on.").format(held=len(data.test), asked=config.num_test))
    head = data.train.subset(range(min(PREVIEW_PAIRS, len(data.train))))
    # a Markdown table and the length chart on request: the view is usable before plotly, the
    # data grid or st.table's Arrow reader (1 MB of script) would have loaded in the browser
    # (bench/view_open_bench.py)
    st.markdown(markdown_table([_("source"), _("target")], head.sentences()))
    if st.toggle(_("Show sentence lengths"), key=state.TRAIN_SHOW_LENGTHS):
        charts.show(charts.histogram({_("source"): [len(s) for s in data.train.source],
                                      _("target"): [len(t) for t in data.train.target]},
                                     _("Sentence lengths (tokens, before <eos>)"), _("tokens"), bin_size=1),
                    key="train.lengths")


def _model_section() -> ModelConfig:
    c = st.columns(5)
    cell = c[0].radio(_("Cell"), CELLS, horizontal=True, **kept(state.TRAIN_CELL, M.cell))
    embed = c[1].number_input(_("Embed size"), 1, MAX_SIZE, **kept(state.TRAIN_EMBED, M.embed_size))
    hiddens = c[2].number_input(_("Hidden size"), 1, MAX_SIZE, **kept(state.TRAIN_HIDDENS, M.num_hiddens))
    layers = c[3].number_input(_("Layers"), 1, MAX_LAYERS, **kept(state.TRAIN_LAYERS, M.num_layers))
    dropout = c[4].slider(_("Dropout"), 0.0, 0.9, step=0.05, **kept(state.TRAIN_DROPOUT, M.dropout))
    c = st.columns([2, 1, 1, 1.4, 1.2])
    own = c[0].toggle(_("Decoder has its own size (joined by a bridge: Linear + tanh)"),
                      **kept(state.TRAIN_BRIDGE, False))
    dec_hiddens = c[1].number_input(_("Decoder hidden size"), 1, MAX_SIZE, disabled=not own,
                                    **kept(state.TRAIN_DEC_HIDDENS, M.num_hiddens))
    dec_layers = c[2].number_input(_("Decoder layers"), 1, MAX_LAYERS, disabled=not own,
                                   **kept(state.TRAIN_DEC_LAYERS, M.num_layers))
    context = c[3].radio(_("Decoder context at inference"), CONTEXTS, horizontal=True,
                         format_func=shown_as(CONTEXT_LABELS), **kept(state.TRAIN_CONTEXT, APP_CONTEXT),
                         help=_("Training is the same either way. encoder = the encoder's final state at every "
                                "step, as the chapter's figure draws it and d2l 1.0 does; book = d2l 0.17.6's "
                                "state[-1], which at inference is the previous decoder state (see the README)."))
    c[3].caption(_("encoder: the context the model was trained with; book: d2l 0.17.6's rule, which feeds "
                   "the previous decoder state at inference"))
    decoder = c[4].radio(_("Decoder"), DECODERS, horizontal=True, format_func=shown_as(DECODER_LABELS),
                         **kept(state.TRAIN_DECODER, M.decoder),
                         help=_("attention = Bahdanau attention over the encoder outputs (d2l 10.4); "
                                "it needs the encoder's sizes (no bridge) and ignores the context choice."))
    return ModelConfig(cell=cell, embed_size=embed, num_hiddens=hiddens, num_layers=layers, dropout=dropout,
                       dec_num_hiddens=dec_hiddens if own else None, dec_num_layers=dec_layers if own else None,
                       context=context, decoder=decoder)


def _train_section(seed: int) -> tuple[TrainConfig, str, int, bool]:
    c = st.columns(5)
    lr = c[0].number_input(_("Learning rate"), 0.0001, 10.0, step=0.001, format="%.4f", **kept(state.TRAIN_LR, T.lr))
    most_epochs = server.limits().max_epochs or MAX_EPOCHS     # the operator's limit is the widget's bound
    epochs_kwargs = kept(state.TRAIN_EPOCHS, min(T.num_epochs, most_epochs))
    clamp_kept(state.TRAIN_EPOCHS, most_epochs)
    epochs = c[1].number_input(_("Epochs"), 1, most_epochs, **epochs_kwargs)
    clip = c[2].number_input(_("Clip θ (gradient norm)"), 0.01, 1e6, **kept(state.TRAIN_CLIP, T.clip_theta))
    accumulation = c[3].number_input(_("Accumulation steps"), 1, MAX_BATCH,
                                     **kept(state.TRAIN_ACCUM, T.accumulation_steps),
                                     help=_("Micro-batches per optimizer step; they add up to one batch."))
    ratio = c[4].slider(_("Teacher forcing ratio"), 0.0, 1.0, step=0.05,
                        **kept(state.TRAIN_TEACHER_FORCING, T.teacher_forcing_ratio),
                        help=_("1 = the book: always feed the true previous token."))
    c = st.columns(5)
    masked = c[0].toggle(_("Masked loss (the book)"), **kept(state.TRAIN_MASKED, T.masked),
                         help=_("Off = the exercise's loss that also scores padding."))
    reduction = c[1].radio(_("Reduction"), REDUCTIONS, horizontal=True, **kept(state.TRAIN_REDUCTION, T.reduction),
                           help=_("sum = the book's l.sum().backward()"))
    device = c[2].selectbox(_("Device"), DEVICES, format_func=shown_as(DEVICE_LABELS),
                            **kept(state.TRAIN_DEVICE, T.device), help=describe_devices(i18n.current()))
    sample_every = c[3].number_input(_("Sample every (epochs)"), 1, MAX_EPOCHS,
                                     **kept(state.TRAIN_SAMPLE_EVERY, DEFAULT_SAMPLE_EVERY))
    if state.get(state.TRAIN_RENAME):
        state.set_kept(state.TRAIN_NAME, new_run_name())
        state.put(state.TRAIN_RENAME, False)
    name = c[4].text_input(_("Run name"), **kept(state.TRAIN_NAME, new_run_name()))
    st.caption(f"🖥️ {describe_devices(i18n.current())}")
    may_save = overwrite_choice(name)
    config = TrainConfig(lr=lr, num_epochs=epochs, clip_theta=clip, teacher_forcing_ratio=ratio,
                         accumulation_steps=accumulation, reduction=reduction, masked=masked, seed=seed, device=device)
    return config, name, sample_every, may_save

"""The Train view's setup: data source + preview, and every hyperparameter with the book's
defaults, bounds, labels and help as the settings declare them (core/settings.py, on the config
dataclasses' fields; `ui.setting_widgets` draws them). This module chooses each widget's kind and
place, and the few defaults the app picks itself (`FORM_DEFAULTS`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.checkpoint import checkpoint_path, sanitize_name
from core.config import DataConfig, ModelConfig, TrainConfig
from core.data import DataError, NMTData
from core.device import describe_devices
from core.service.limits import bounds
from core.settings import FLOAT, INT
from core.setups import LINK_SOURCES, TRAIN_FIELDS, TRAIN_SETTINGS, FormSetup
from core.sources import MAX_FILE_BYTES, download_fra_eng

from .. import charts, i18n, jobs, links, models, server, state, workspace
from ..context_choice import CONTEXT_LABELS
from ..guards import guarded, show_error
from ..i18n import N_, _, shown_as
from ..setting_widgets import SettingWidgets
from ..state import kept
from ..text import markdown_table, md_code

DEFAULT_SAMPLE_EVERY = FormSetup().sample_every
PREVIEW_PAIRS = 8
APP_CONTEXT = "encoder"   # the app decodes as the chapter's figure draws it; the book's rule is one click away
# the defaults the app picks itself, where the declaration's is not the widget's: the context above,
# and a decoder's own sizes (None in the config: the encoder's) starting at the encoder's
FORM_DEFAULTS = {"context": APP_CONTEXT, "dec_hiddens": ModelConfig().num_hiddens,
                 "dec_layers": ModelConfig().num_layers}
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


def _form() -> SettingWidgets:
    """The Train form's settings, each with its default: what the widget shows before anyone changes
    it and what a link leaves out (the declared default or the app's, a number's lowered to the
    server's limit)."""
    limits = server.limits()
    defaults: dict[str, Any] = {}
    for url, setting in TRAIN_SETTINGS.items():
        default = FORM_DEFAULTS.get(url, setting.default)
        defaults[url] = min(default, bounds(setting, limits)[1]) if setting.kind in (INT, FLOAT) else default
    return SettingWidgets(TRAIN_SETTINGS, defaults, limits)


def setup_form() -> Setup | None:
    """All setup widgets, filled from a shared link first; None while the data is not usable
    yet (missing upload, bad file)."""
    form = _form()
    links.follow_url("train", TRAIN_FIELDS, form.keys(), form.defaults, form.highs())
    links.show_problems("train")
    st.subheader(_("1 · Data"))
    data, raw = _data_section(form)
    st.subheader(_("2 · Model"))
    model = _model_section(form)
    st.subheader(_("3 · Training"))
    train, name, sample_every, may_save = _train_section(form)
    _link_section(form)
    if data is None:
        return None
    return Setup(data=data, model=model, train=train, raw=raw, name=name, sample_every=sample_every,
                 may_save=may_save)


def _data_section(form: SettingWidgets) -> tuple[DataConfig | None, bytes | None]:
    """(config, uploaded bytes); config is None while the data cannot be used."""
    choices = [k for k, (_label, _source, how) in SOURCE_CHOICES.items() if how != "path" or local_paths_allowed()]
    c = st.columns([3, 1, 1, 1, 1, 1, 1])
    choice = form.select(c[0], "source", options=choices,
                         format_func=shown_as({k: v[0] for k, v in SOURCE_CHOICES.items()}))
    for column, url in zip(c[1:], ("examples", "held_out", "num_steps", "batch", "min_freq", "seed")):
        form.number(column, url)
    source, how = SOURCE_CHOICES[choice][1:]   # not `_, …`: `_` translates
    path, raw = _data_file(choice, how)
    # a file's sentences may be Chinese; the shipped and synthetic pairs are split as the book does
    tokenizer = form.radio(st, "tokenizer", format_func=shown_as(TOKENIZER_LABELS)) if how is not None else "space"
    if how is not None and path is None:
        return None, None
    config = form.config(DataConfig, source=source, path=path, tokenizer=tokenizer)
    data = guarded(_("This data cannot be used"), models.prepared_data, config, raw,
                   hint=_("Check the file (UTF-8, one `source<TAB>target` pair per line) or pick another source."))
    if data is None:
        return None, None
    _preview(data, config)
    return config, raw


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
        st.caption(_("Using {path}.").format(path=md_code(os.path.basename(path))))   # not the server's folders
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


def _link_section(form: SettingWidgets) -> None:
    """The address bar follows the form; the link is offered to copy."""
    values = {url: state.get(state.KEEP + key) for url, key in form.keys().items()}
    values = {url: value for url, value in values.items() if value is not None}   # widgets not drawn
    carried = values.get("source") in LINK_SOURCES
    if not carried:
        values.pop("source", None)
    params = links.keep_in_url("train", TRAIN_FIELDS, values, form.defaults)
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
    path = guarded(_("Bad run name"), lambda: checkpoint_path(sanitize_name(name), workspace.folder()))
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


def server_caption() -> None:
    """Where runs train on this server, and its limits, under the Start button."""
    setup = server.serving()
    limits = setup.limits
    said = [_(limit).format(value=f"{value:,g}" if isinstance(value, float) else f"{value:,}")
            for limit, value in ((N_("epochs {value}"), limits.max_epochs),
                                 (N_("parameters {value}"), limits.max_parameters),
                                 (N_("training pairs {value}"), limits.max_train_pairs),
                                 (N_("minutes {value}"), limits.max_minutes)) if value is not None]
    where = _("🧑‍🏫 Runs train in {where}.").format(where=i18n.said(setup.where))
    # setup.where and setup.problem are the engine's words (Texts)
    st.caption(where + " " + (_("This server allows at most: {limits} per run.").format(limits=", ".join(said))
                              if said else ""))
    jobs.queue_counts()         # the queue's counts, redrawn while it is busy: drawn here once, they would go stale
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


def _model_section(form: SettingWidgets) -> ModelConfig:
    c = st.columns(5)
    form.radio(c[0], "cell")
    for column, url in zip(c[1:4], ("embed_size", "hiddens", "layers")):
        form.number(column, url)
    form.slider(c[4], "dropout", step=0.05)
    c = st.columns([2, 1, 1, 1.4, 1.2])
    own = form.toggle(c[0], "bridge")
    dec_hiddens = form.number(c[1], "dec_hiddens", disabled=not own)
    dec_layers = form.number(c[2], "dec_layers", disabled=not own)
    form.radio(c[3], "context", format_func=shown_as(CONTEXT_LABELS))
    c[3].caption(_("encoder: the context the model was trained with; book: d2l 0.17.6's rule, which feeds "
                   "the previous decoder state at inference"))
    form.radio(c[4], "decoder", format_func=shown_as(DECODER_LABELS))
    return form.config(ModelConfig, dec_num_hiddens=dec_hiddens if own else None,
                       dec_num_layers=dec_layers if own else None)


def _train_section(form: SettingWidgets) -> tuple[TrainConfig, str, int, bool]:
    c = st.columns(5)
    form.number(c[0], "lr", step=0.001, format="%.4f")
    for column, url in zip(c[1:4], ("epochs", "clip", "accum")):
        form.number(column, url)
    form.slider(c[4], "tf", step=0.05)
    c = st.columns(6)
    form.toggle(c[0], "masked")
    form.slider(c[1], "label_smoothing", step=0.05)
    form.radio(c[2], "reduction")
    form.select(c[3], "device", format_func=shown_as(DEVICE_LABELS), help=describe_devices(i18n.current()))
    sample_every = form.number(c[4], "sample_every")
    if state.get(state.TRAIN_RENAME):
        state.set_kept(state.TRAIN_NAME, new_run_name())
        state.put(state.TRAIN_RENAME, False)
    name = c[5].text_input(_("Run name"), **kept(state.TRAIN_NAME, new_run_name()))
    st.caption(f"🖥️ {describe_devices(i18n.current())}")
    may_save = overwrite_choice(name)
    return form.config(TrainConfig), name, sample_every, may_save

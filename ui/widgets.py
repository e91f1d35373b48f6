"""Pieces every page shares: page frame + sidebar checkpoint picker, token chips, errors.

User text is never interpreted: chips escape it with `html.escape`, error messages with
`md_escape`, and translations are shown with `st.code`.
"""
from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import streamlit as st

from core.book_weights import origin_text
from core.checkpoint import Checkpoint, checkpoint_dir
from core.device import one_thread_per_job
from core.i18n import message_of
from core.model import count_parameters
from core.service.operator import operator_token
from core.setups import (
    MAX_TEXT_CHARS,  # per text field; longer text is cut, with a message
    )

from . import book_import, context_choice, i18n, jobs, models, server, state
from .i18n import N_, _
from .models import CheckpointRef
from .polling import WAITING_SECONDS, poll
from .text import md_code, md_escape

T = TypeVar("T")
PAGES = {   # legacy multipage: the file name gives the URL path (/Train, /Masking, ...)
    "home": "app.py",
    "model": "pages/0_🔬_Model.py",
    "train": "pages/1_🏋️_Train.py",
    "masking": "pages/2_🎭_Masking.py",
    "decode": "pages/3_🔎_Decode.py",
    "bleu": "pages/4_📏_BLEU.py",
    "exercises": "pages/5_🧪_Exercises.py",
    "accumulation": "pages/6_➕_Accumulation.py",
    "operator": "pages/7_🛠️_Operator.py",
}
NAV = [   # (page, label, icon): the sidebar's links, drawn by start_page (config.toml hides
           # Streamlit's own list, which names the home page after its file, "app")
    ("home", N_("Home"), "🔁"),
    ("model", N_("Model"), "🔬"),
    ("train", N_("Train"), "🏋️"),
    ("masking", N_("Masking"), "🎭"),
    ("decode", N_("Decode"), "🔎"),
    ("bleu", N_("BLEU"), "📏"),
    ("exercises", N_("Exercises"), "🧪"),
    ("accumulation", N_("Accumulation"), "➕"),
]
BADGE_SECONDS = 2.0       # the sidebar badge's polling interval while this tab's job trains


@dataclass
class Active:
    """The checkpoint in use on every page (both None when there is none), with the decoder
    context rule chosen in the sidebar."""
    ref: CheckpointRef | None
    ckpt: Checkpoint | None

    @property
    def key(self) -> str:
        """Changes with the checkpoint's contents and its context rule: the key of what is computed from it."""
        return f"{models.cache_key(self.ref)}:{self.ckpt.model_config.context}" if self.ref and self.ckpt else ""


# -- text a user types -------------------------------------------------------------------------
def long_text_input(where, label: str, name: str, default: str, **kwargs) -> str:
    """A kept text input that takes any length and uses the first MAX_TEXT_CHARS characters,
    saying so (a widget's own max_chars silently drops a longer paste)."""
    text = where.text_input(label, **state.kept(name, default), **kwargs)
    if len(text) > MAX_TEXT_CHARS:
        st.warning(_("{field}: {count:,} characters; the first {most:,} are used.").format(
            field=label, count=len(text), most=MAX_TEXT_CHARS), icon="✂️")
        return text[:MAX_TEXT_CHARS]
    return text


# -- errors ------------------------------------------------------------------------------------
def show_error(what: str, err: BaseException | str, hint: str = "") -> None:
    st.error(f"**{md_escape(what)}**: {md_escape(i18n.said(err))}" + (f"  \n{hint}" if hint else ""), icon="⚠️")


def guarded(what: str, fn: Callable[..., T], *args, hint: str = "", **kwargs) -> T | None:
    """Call `fn`; a user-caused failure becomes a message saying what to do, and None.

    CheckpointError, DataError and config validation errors are all ValueErrors.
    """
    try:
        return fn(*args, **kwargs)
    except ValueError as err:
        show_error(what, err, hint)
        return None


# -- page frame and sidebar --------------------------------------------------------------------
def start_page(title: str, icon: str, job_badge: bool = True) -> Active:
    """Page config and the sidebar (checkpoint picker, this tab's training job); the active checkpoint.

    `job_badge=False`: no training-job badge in the sidebar (the Train view shows the job
    itself; a second polling fragment there would take time from the training thread)."""
    st.set_page_config(page_title=f"{_(title)} · seq2seq playground", page_icon=icon, layout="wide")
    server.check_settings()
    one_thread_per_job()
    with st.sidebar:
        i18n.picker()
        nav = st.container()          # drawn after the picker: the links carry the context rule it settles
        active = _checkpoint_picker()
        with nav:
            _navigation()
        if job_badge:
            _job_status()
    return active


OPERATOR_LINK = ("operator", N_("Operator"), "🛠️")   # only where the operator set a token


def _navigation() -> None:
    """The links to every view, carrying the reader's language."""
    with st.container(key="nav"):
        for page, label, icon in NAV + ([OPERATOR_LINK] if operator_token(os.environ) else []):
            st.page_link(PAGES[page], label=_(label), icon=icon, query_params=context_choice.link_params())
    st.divider()


def make_active(path: str) -> None:
    """Callback: use this checkpoint file on every page from now on."""
    state.put(state.ACTIVE_CHECKPOINT, models.file_ref(path).key)


def _remember_pick(picker: str) -> None:
    state.put(state.ACTIVE_CHECKPOINT, state.get(picker))


def _picker_key(keys: list[str], active: str) -> str:
    """The picker's widget key: new whenever the list or the checkpoint in use changes, so
    the widget starts afresh at `index` and never holds a stale value. (With one fixed key, a
    checkpoint saved by a run, listed before the one in use, showed up as selected after a
    page switch while the pages went on using the other.)"""
    return f"{state.PICKER}.{zlib.crc32(chr(0).join(keys + [active]).encode()):08x}"


def _take_upload(name: str, raw: bytes) -> None:
    """Use an uploaded checkpoint on every page, if it loads; weights trained with the book's
    code go to the import form; anything else says what the file is, and the checkpoint in use
    stays as it was."""
    by_name = models.refused_by_name(name)            # a text file, say: no need to read it
    if by_name is not None:
        state.put(state.UPLOAD_ERROR, (name, by_name))
        return
    found = book_import.book_state_dict(raw, name)
    if found is not None:
        book_import.offer(name, raw, found)
        state.put(state.UPLOAD_ERROR, None)
        return
    refused = raised_by(models.try_upload, name, raw)
    # kept as the engine said it (a Text), so it is shown in the language the reader picks next
    state.put(state.UPLOAD_ERROR, None if refused is None else (name, message_of(refused)))
    if refused is None:
        state.put(state.ACTIVE_CHECKPOINT, models.add_upload(name, raw).key)


def _upload_error() -> None:
    refused = state.get(state.UPLOAD_ERROR)
    if refused:
        name, why = refused
        st.error(_("**Could not load {file}**, so the checkpoint in use is unchanged: {error}").format(
            file=md_escape(name), error=md_escape(i18n.said(why))), icon="⚠️")


def raised_by(fn: Callable[..., object], *args) -> ValueError | None:
    """The ValueError `fn(*args)` raised, or None when it succeeded."""
    try:
        fn(*args)
    except ValueError as err:
        return err
    return None


def guarded_message(fn: Callable[..., object], *args) -> str | None:
    """None when `fn(*args)` succeeds; the message of the ValueError it raised otherwise (in the
    reader's language)."""
    refused = raised_by(fn, *args)
    return None if refused is None else i18n.said(refused)


def _checkpoint_picker() -> Active:
    st.subheader(_("🧠 Checkpoint"))
    slot = st.container()             # the picker goes above the uploader, but needs its result
    with st.expander(_("Upload a checkpoint (.pt) or the book's weights (.params)"),
                     expanded=state.get(state.PENDING_IMPORT) is not None):
        upload = st.file_uploader(_("Checkpoint file"), key=state.UPLOADER,   # any file: ours says why not
                                  label_visibility="collapsed", max_upload_size=server.upload_limit_mb())
        if upload is not None and state.get(state.LAST_UPLOAD) != upload.file_id:   # a new file: try it
            state.put(state.LAST_UPLOAD, upload.file_id)
            _take_upload(upload.name, upload.getvalue())
        _upload_error()
    book_import.import_form()
    refs = {ref.key: ref for ref in models.available()}
    with slot:
        if not refs:
            st.warning(_("No checkpoint in {folder} yet: train one on the Train page or upload one below.").format(
                folder=md_code(str(checkpoint_dir()))), icon="🧭")
            return Active(None, None)
        if state.get(state.ACTIVE_CHECKPOINT) not in refs:
            state.put(state.ACTIVE_CHECKPOINT, next(iter(refs)))
        keys, active = list(refs), state.get(state.ACTIVE_CHECKPOINT)
        picker = _picker_key(keys, active)
        key = st.selectbox(_("In use on every page"), keys, index=keys.index(active),
                           format_func=lambda k: refs[k].label, key=picker, on_change=_remember_pick, args=(picker,))
        ckpt = guarded(_("Could not load {checkpoint}").format(checkpoint=refs[key].label), models.load, refs[key],
                       hint=_("Pick another checkpoint, or train a new one."))
        if ckpt is not None:
            st.caption(checkpoint_line(ckpt))
            ckpt = context_choice.rule_picker(refs[key], ckpt)
    return Active(refs[key], ckpt)


SOURCE_LABELS = {   # a DataConfig.source (a config value) as the reader reads it beside a checkpoint
    "corpus": N_("corpus"), "copy": N_("copy task"), "reverse": N_("reverse task"), "sort": N_("sort task"),
    "tatoeba": N_("Tatoeba"), "tsv": N_("TSV"),
}


def source_label(source: str) -> str:
    return _(SOURCE_LABELS[source]) if source in SOURCE_LABELS else source


def checkpoint_line(ckpt: Checkpoint) -> str:
    m, h = ckpt.model_config, ckpt.history
    if ckpt.origin and not h.epoch_loss:
        trained = i18n.said(origin_text(ckpt.origin, short=True)).split(",")[0]
    elif h.epoch_loss:
        trained = _("{epochs} epochs, loss {loss:.3f}").format(epochs=len(h.epoch_loss), loss=h.epoch_loss[-1])
    else:
        trained = _("{epochs} epochs").format(epochs=len(h.epoch_loss))
    return _("{cell} {layers}×{hiddens}, {source} data, {trained}").format(
        cell=m.cell.upper(), layers=m.num_layers, hiddens=m.num_hiddens,
        source=source_label(ckpt.data_config.source), trained=trained)


def _job_status() -> None:
    job = jobs.current()
    if job is None:
        return
    if not job.alive:
        _job_badge()
    elif job.waiting:
        poll(_waiting_badge, WAITING_SECONDS)
    else:
        poll(_job_badge, BADGE_SECONDS)   # also the job's heartbeat while this tab is on another page


def _waiting_badge() -> None:
    """The badge of a run in the queue, polled seldom; once it starts, the page reruns and polls
    it at a running job's pace."""
    job = jobs.current()
    if job is not None and not job.waiting:       # started, or ended without starting
        st.rerun()
    _job_badge()


def _job_badge() -> None:
    job = jobs.current()
    if job is not None:
        snap = job.snapshot()
        if snap.waiting and snap.place:
            text = _("🏋️ {run}: {status}, number {place} in the queue").format(
                run=md_escape(job.name), status=status_word(snap.status), place=snap.place)
        else:
            text = _("🏋️ {run}: {status}, epoch {epoch}/{total}").format(
                run=md_escape(job.name), status=status_word(snap.status), epoch=snap.epoch, total=snap.num_epochs)
        st.progress(snap.progress, text=text)


STATUS_WORDS = {   # a job's status (core.service.jobs) as the reader's word for it; the status itself stays data
    "created": N_("created"), "queued": N_("queued"), "running": N_("running"), "finished": N_("finished"),
    "stopped": N_("stopped"), "diverged": N_("diverged"), "failed": N_("failed"),
}


def status_word(status: str) -> str:
    return _(STATUS_WORDS[status]) if status in STATUS_WORDS else status


def no_checkpoint(what: str) -> None:
    """Say clearly why there is no model to use, and offer training."""
    if models.available():          # there are checkpoints: the one picked did not load
        st.warning(_("{what} needs a model, and the checkpoint picked in the sidebar could not be loaded "
                     "(the sidebar says why): pick another one there, or train a new one.").format(what=what),
                   icon="🧭")
    else:
        st.warning(_("{what} needs a trained model and none is available: the shipped "
                     "`checkpoints/default.pt` is missing and no other checkpoint was found. "
                     "Train one (a synthetic task takes seconds) or upload a `.pt` file in the sidebar.").format(
                         what=what), icon="🧭")
    st.page_link(PAGES["train"], label=_("Train a model"), icon="🏋️", query_params=context_choice.link_params())


def checkpoint_facts(ckpt: Checkpoint) -> dict[str, str]:
    d, m, h = ckpt.data_config, ckpt.model_config, ckpt.history
    sizes = dict(cell=m.cell.upper(), embed=m.embed_size, layers=m.num_layers, hiddens=m.num_hiddens,
                 decoder_layers=m.decoder_layers, decoder_hiddens=m.decoder_hiddens, dropout=m.dropout,
                 parameters=count_parameters(ckpt.model))
    model = (_("{cell}, embed {embed}, {layers}×{hiddens}, decoder {decoder_layers}×{decoder_hiddens} via a bridge, "
               "dropout {dropout}, {parameters:,} parameters") if m.needs_bridge else
             _("{cell}, embed {embed}, {layers}×{hiddens}, dropout {dropout}, {parameters:,} parameters"))
    data = (_("{source} ({path}), num_steps {num_steps}") if d.path else _("{source}, num_steps {num_steps}"))
    training = (_("{epochs} epochs, final loss {loss:.4f}") if h.epoch_loss else _("{epochs} epochs")).format(
        epochs=len(h.epoch_loss), loss=h.epoch_loss[-1] if h.epoch_loss else 0.0)
    return {
        _("data"): data.format(source=source_label(d.source), path=d.path, num_steps=d.num_steps),
        _("model"): model.format(**sizes),
        _("decoder context"): _("Bahdanau attention over the encoder outputs") if m.decoder == "attention"
                              else _("the encoder's state at every step") if m.context == "encoder"
                              else _("the book's state[-1] of the running decoder state"),
        _("vocabularies"): _("source {src:,} tokens, target {tgt:,} tokens").format(
            src=len(ckpt.src_vocab), tgt=len(ckpt.tgt_vocab)),
        **({_("origin"): i18n.said(origin_text(ckpt.origin))} if ckpt.origin else {}),
        _("training"): training,
        _("held-out pairs"): f"{len(ckpt.test_pairs):,}",
    }



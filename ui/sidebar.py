"""The sidebar every page draws: the language, the links to every view, and the checkpoint in use,
picked among those this tab may use (upload, the book-weights import and the decoder-context
rule included). `draw()` returns that checkpoint once, as an `Active`.

What a tab may use (`ui.models.available`): the checkpoint folder's own files, its browser's
workspace (`ui.workspace`), its uploads; the operator also every other workspace. The picker
offers nothing else, and the checkpoint in use is always one it offers, so neither a stale
session value nor a link can bring another student's model into a tab.
"""
from __future__ import annotations

import contextlib
import os
import zlib
from dataclasses import dataclass

import streamlit as st

from core.checkpoint import Checkpoint
from core.i18n import message_of
from core.service.operator import operator_token

from . import book_import, context_choice, i18n, models, server, state, workspace
from .checkpoint_facts import checkpoint_line
from .guards import guarded
from .i18n import N_, _
from .models import CheckpointRef
from .text import md_escape

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
    "step": "pages/9_🦶_Step.py",
}
NAV = [   # (page, label, icon): the sidebar's links (config.toml hides Streamlit's own list,
          # which names the home page after its file, "app")
    ("home", N_("Home"), "🔁"),
    ("model", N_("Model"), "🔬"),
    ("train", N_("Train"), "🏋️"),
    ("step", N_("Step"), "🦶"),
    ("masking", N_("Masking"), "🎭"),
    ("decode", N_("Decode"), "🔎"),
    ("bleu", N_("BLEU"), "📏"),
    ("exercises", N_("Exercises"), "🧪"),
    ("accumulation", N_("Accumulation"), "➕"),
]
OPERATOR_LINK = ("operator", N_("Operator"), "🛠️")   # only where the operator set a token


@dataclass(frozen=True)
class Active:
    """The checkpoint in use on every page (both None when there is none), decoding with the
    context rule chosen in the sidebar."""
    ref: CheckpointRef | None
    ckpt: Checkpoint | None

    @property
    def key(self) -> str:
        """What is computed from it is keyed by this: its identity, its version and its context rule."""
        if self.ref is None or self.ckpt is None:
            return ""
        return f"{self.ref.key}@{self.ref.version}:{self.ckpt.model_config.context}"


def draw() -> Active:
    """The whole sidebar; the checkpoint in use."""
    with st.sidebar:
        i18n.picker()
        nav = st.container()          # drawn after the picker: the links carry the context rule it settles
        active = _checkpoint_picker()
        with nav:
            _navigation()
        workspace.keep_in_browser()
    return active


def _navigation() -> None:
    """The links to every view, carrying the reader's language."""
    with st.container(key="nav"):
        for page, label, icon in NAV + ([OPERATOR_LINK] if operator_token(os.environ) else []):
            st.page_link(PAGES[page], label=_(label), icon=icon, query_params=context_choice.link_params())
    st.divider()


def make_active(path: str) -> None:
    """Callback: use this checkpoint file (a run this tab saved) on every page from now on."""
    with contextlib.suppress(OSError):      # deleted since the button was drawn: what is in use stays
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
    stays as it was. The bytes are hashed once and read once (`models.read_upload`)."""
    by_name = models.refused_by_name(name)            # a text file, say: no need to read it
    if by_name is not None:
        state.put(state.UPLOAD_ERROR, (name, by_name))
        return
    key = models.upload_key(raw)
    try:
        found = models.read_upload(key, name, raw)
    except ValueError as refused:
        # kept as the engine said it (a Text), so it is shown in the language the reader picks next
        state.put(state.UPLOAD_ERROR, (name, message_of(refused)))
        return
    state.put(state.UPLOAD_ERROR, None)
    if found.book is not None:
        book_import.offer_book(name, found.book)
    else:
        state.put(state.ACTIVE_CHECKPOINT, models.add_upload(key, name, raw).key)


def _upload_error() -> None:
    refused = state.get(state.UPLOAD_ERROR)
    if refused:
        name, why = refused
        st.error(_("**Could not load {file}**, so the checkpoint in use is unchanged: {error}").format(
            file=md_escape(name), error=md_escape(i18n.said(why))), icon="⚠️")


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
            st.warning(_("No checkpoint here yet: train one on the Train page or upload one below."), icon="🧭")
            return Active(None, None)
        if state.get(state.ACTIVE_CHECKPOINT) not in refs:      # none yet, or not this tab's to use
            state.put(state.ACTIVE_CHECKPOINT, next(iter(refs)))
        keys, active = list(refs), state.get(state.ACTIVE_CHECKPOINT)
        picker = _picker_key(keys, active)
        key = st.selectbox(_("In use on every page"), keys, index=keys.index(active),
                           format_func=lambda k: refs[k].label, key=picker, on_change=_remember_pick, args=(picker,),
                           help=_("The shared checkpoints, and those this browser trained, imported or uploaded: "
                                  "other browsers on this server do not see yours."))
        ckpt = guarded(_("Could not load {checkpoint}").format(checkpoint=refs[key].label), models.load, refs[key],
                       hint=_("Pick another checkpoint, or train a new one."))
        if ckpt is not None:
            st.caption(checkpoint_line(ckpt))
            ckpt = context_choice.rule_picker(refs[key], ckpt)
    return Active(refs[key], ckpt)

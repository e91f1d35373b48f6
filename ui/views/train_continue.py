"""The Train view's "continue" form: train the checkpoint in use further (`core.train.continue_spec`).

The run goes on from where it stopped: same pairs and split, its vocabularies, weights,
Adam state and hyperparameters; its curves and epoch count continue. A checkpoint names its
data file by path; that path is read only when it is the book's file this app already uses
or when local paths are allowed: any other file must be uploaded again, so a checkpoint
cannot make the server read a file of its choosing.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.checkpoint import Checkpoint
from core.config import MAX_EPOCHS
from core.sources import MAX_FILE_BYTES, needs_data_file
from core.train import RunSpec, continue_spec

from .. import models, server, state
from ..checkpoint_facts import checkpoint_line, source_label
from ..i18n import _
from ..sidebar import Active
from ..state import kept
from ..text import md_code, md_escape
from .train_form import local_paths_allowed, overwrite_choice


@dataclass
class Continuation:
    name: str                                 # run name as typed; sanitized when the run starts
    spec: Callable[[], RunSpec]               # what a worker builds the continued run from
    may_save: bool = True                     # False: that name is taken and overwriting was not chosen


def continue_form(active: Active, device: str) -> Continuation | None:
    """The widgets; a Continuation when the checkpoint in use can be trained further."""
    if active.ckpt is None or active.ref is None:
        st.info(_("Pick a checkpoint in the sidebar to train it further."), icon="🧠")
        return None
    ckpt, ref = active.ckpt, active.ref
    done = len(ckpt.history.epoch_loss)
    st.markdown(_("**{name}**: {summary}, lr {lr:g}, batch {batch}.").format(
        name=md_escape(ref.label), summary=md_escape(checkpoint_line(ckpt)), lr=ckpt.train_config.lr,
        batch=ckpt.data_config.batch_size))
    c = st.columns([1, 2])
    more = c[0].number_input(_("More epochs"), 1, MAX_EPOCHS, **kept(state.TRAIN_MORE_EPOCHS, 10))
    name = c[1].text_input(_("Run name for the continued model"),
                           **kept(state.TRAIN_MORE_NAME + ref.key, f"{Path(ckpt.name or 'run').stem}-more"))
    may_save = overwrite_choice(name, form="continue")
    ready, raw = _data_file(ckpt)
    if not ready:
        return None
    st.caption(_("Trains epochs {first}–{last} on {source} data with the saved optimizer state; the Device "
                 "choice in the setup applies. The checkpoint in use is not changed: the continued model is "
                 "saved under the run name above.").format(first=done + 1, last=done + more,
                                                          source=source_label(ckpt.data_config.source)))

    def spec() -> RunSpec:
        # the checkpoint as saved (not the sidebar's copy with another decoding rule): its worker reads the same
        return continue_spec(models.load(ref), int(more), resume=models.checkpoint_source(ref), raw=raw, device=device)
    return Continuation(name, spec, may_save)


def _data_file(ckpt: Checkpoint) -> tuple[bool, bytes | None]:
    """(whether the run's pairs can be read, the bytes of a re-uploaded file)."""
    config = ckpt.data_config
    if not needs_data_file(config):
        return True, None
    path = config.path or ""
    if _readable(path):
        st.caption(_("Its pairs: {path}.").format(path=md_code(Path(path).name)))   # never the server's folders
        return True, None
    upload = st.file_uploader(_("This run trained on {file}: upload that file again")
                              .format(file=md_code(Path(path).name)),
                              type=["txt", "tsv", "zip"], key="train.more_upload",
                              max_upload_size=server.upload_limit_mb(MAX_FILE_BYTES // 2**20))
    return (True, upload.getvalue()) if upload is not None else (False, None)


def _readable(path: str) -> bool:
    """The book's file this app already reads, or any file when local paths are allowed."""
    allowed = local_paths_allowed() or any(_same_file(path, p) for p in models.book_files())
    return allowed and Path(path).is_file()


def _same_file(a: str, b: str) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False

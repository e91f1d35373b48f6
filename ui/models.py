"""Cached loaders: checkpoints, held-out evaluations and data previews, each built once.

Checkpoints are cached by (path, mtime, size), so a re-saved file is loaded again,
and uploads by the SHA-256 of their bytes. Cached objects are shared by all sessions:
pages only read them (decode, evaluate), never train them.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import streamlit as st

from core.checkpoint import (
    Checkpoint,
    CheckpointError,
    checkpoint_dir,
    checkpoint_path,
    list_checkpoints,
    load_checkpoint,
)
from core.config import DataConfig
from core.data import NMTData
from core.evaluate import EvalReport, evaluate_pairs
from core.exercises.context import ContextMap, build_context_map
from core.i18n import Text
from core.sources import load_split, prepare_data

from . import state
from .i18n import _


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint the sidebar can offer: a file in the checkpoint folder or an upload."""
    key: str        # "file:<path>" or "upload:<sha256 prefix>"
    label: str

    @property
    def path(self) -> Path | None:
        return Path(self.key[len("file:"):]) if self.key.startswith("file:") else None


def file_ref(path: str | Path) -> CheckpointRef:
    path = Path(path).resolve()
    default = path == checkpoint_path("default")
    return CheckpointRef(f"file:{path}", _("{file} (shipped default)").format(file=path.name) if default else path.name)


def available() -> list[CheckpointRef]:
    """Files in the checkpoint folder (default first, then newest), then this tab's uploads."""
    files = [file_ref(p) for p in list_checkpoints(checkpoint_dir())]
    uploads = [_upload_ref(key, name) for key, (name, _raw) in state.get(state.UPLOADS, {}).items()]
    return files + uploads


def add_upload(name: str, raw: bytes) -> CheckpointRef:
    """Remember an uploaded checkpoint in this tab; loading it checks it."""
    key = _upload_key(raw)
    uploads = state.get(state.UPLOADS, {})
    uploads[key] = (name, raw)
    state.put(state.UPLOADS, uploads)
    return _upload_ref(key, name)


def _upload_ref(key: str, name: str) -> CheckpointRef:
    return CheckpointRef(key, _("{file} (uploaded)").format(file=name))


def book_files() -> list[str]:
    """Where this app reads the book's fra-eng file: FRA_ENG_PATH, then this tab's download."""
    return [p for p in (os.environ.get("FRA_ENG_PATH"), state.get(state.FRA_ENG_DOWNLOAD)) if p]


def with_context(key: str, ckpt: Checkpoint, rule: str) -> Checkpoint:
    """The checkpoint decoding with this context rule: itself, or a cached copy with the rule
    switched (the shared model is never changed)."""
    return ckpt if ckpt.model_config.context == rule else _switched(key, ckpt, rule)


@st.cache_resource(max_entries=8, show_spinner=False)
def _switched(key: str, _ckpt: Checkpoint, rule: str) -> Checkpoint:
    other = copy.deepcopy(_ckpt)
    other.model.decoder.fixed_context = rule == "encoder"
    other.model_config = replace(other.model_config, context=rule)
    return other


CHECKPOINT_SUFFIXES = (".pt", ".pth", ".params")   # .params is what the book's notebooks save
DATA_SUFFIXES = (".txt", ".tsv", ".zip", ".csv")     # sentence pairs: the Train page's data


def refused_by_name(name: str) -> Text | None:
    """Why a file with this name is no checkpoint (said before reading it), or None. The sidebar's
    uploader takes any file, so that a text file gets this instead of Streamlit's own bare
    "text/plain files are not allowed"."""
    suffix = Path(name).suffix.lower()
    if suffix in CHECKPOINT_SUFFIXES:
        return None
    if suffix in DATA_SUFFIXES:
        return Text("{file} is not a checkpoint but, by its name, data: a checkpoint is a model's weights, the "
                    ".pt file a run on the Train page saves (or the book's .params). Sentence pairs in a text "
                    "file (.txt, .tsv or fra-eng.zip) are training data: upload them on the Train page, under "
                    "Data → Source", file=name)
    return Text("{file} is not a checkpoint: a checkpoint is a model's weights, the .pt file a run on the "
                "Train page saves (or .pth, or the book's .params)", file=name)


def try_upload(name: str, raw: bytes) -> Checkpoint:
    """Load an uploaded file as a checkpoint (cached), or CheckpointError saying what it is."""
    with st.spinner(_("Loading the uploaded checkpoint…")):
        return _load_upload(_upload_key(raw), name, raw)


def _upload_key(raw: bytes) -> str:
    return f"upload:{hashlib.sha256(raw).hexdigest()[:16]}"


def cache_key(ref: CheckpointRef) -> str:
    """Changes whenever the checkpoint's contents can have changed."""
    if ref.path is None:
        return ref.key
    stat = ref.path.stat()
    return f"{ref.key}:{stat.st_mtime_ns}:{stat.st_size}"


def load(ref: CheckpointRef) -> Checkpoint:
    """The checkpoint behind `ref`, from the cache when unchanged; CheckpointError otherwise."""
    if ref.path is not None:
        if not ref.path.is_file():
            raise CheckpointError(_("{file}: the file is gone; pick another checkpoint").format(file=ref.path.name))
        stat = ref.path.stat()
        with st.spinner(_("Loading the checkpoint…")):
            return _load_file(str(ref.path), stat.st_mtime_ns, stat.st_size)
    name, raw = state.get(state.UPLOADS, {})[ref.key]
    with st.spinner(_("Loading the uploaded checkpoint…")):
        return _load_upload(ref.key, name, raw)


def load_private_copy(ref: CheckpointRef) -> Checkpoint:
    """A copy of the checkpoint behind `ref`, to train further while every page keeps
    decoding with the cached one."""
    return copy.deepcopy(load(ref))


# The cached loaders show no spinner of their own: a decorator's text is fixed at import, before
# the reader's language is known. Their callers open one in it (shown only after half a second,
# so a cache hit shows nothing).
@st.cache_resource(max_entries=8, show_spinner=False)
def _load_file(path: str, mtime_ns: int, size: int) -> Checkpoint:
    return load_checkpoint(path, name=Path(path).name)


@st.cache_resource(max_entries=4, show_spinner=False)
def _load_upload(key: str, name: str, _raw: bytes) -> Checkpoint:
    return load_checkpoint(_raw, name=name)


def evaluation(key: str, ckpt: Checkpoint) -> EvalReport:
    """Held-out evaluation of a checkpoint, computed once per checkpoint version (`key`)."""
    with st.spinner(_("Translating the held-out pairs…")):
        return _evaluation(key, ckpt)


@st.cache_resource(max_entries=8, show_spinner=False)
def _evaluation(key: str, _ckpt: Checkpoint) -> EvalReport:
    return evaluate_pairs(_ckpt.model, _ckpt.test_pairs, _ckpt.src_vocab, _ckpt.tgt_vocab,
                          _ckpt.data_config.num_steps, tokenizer=_ckpt.data_config.tokenizer)


def context_map(key: str, ckpt: Checkpoint, sentences: list[str]) -> ContextMap:
    """These sentences' context vectors, their 2-D PCA and translations, once per checkpoint."""
    with st.spinner(_("Encoding the held-out sentences…")):
        return _context_map(key, ckpt, sentences)


@st.cache_resource(max_entries=4, show_spinner=False)
def _context_map(key: str, _ckpt: Checkpoint, _sentences: list[str]) -> ContextMap:
    return build_context_map(_ckpt.model, _sentences, _ckpt.src_vocab, _ckpt.tgt_vocab, _ckpt.data_config.num_steps)


@st.cache_resource(max_entries=4, show_spinner=False)
def _prepared(config_json: str, digest: str | None, _raw: bytes | None) -> NMTData:
    return prepare_data(DataConfig(**json.loads(config_json)), _raw)


def warm_caches() -> None:
    """Load what a new tab's first page needs into the shared caches (st.cache_resource lives in
    the server's process, not in a session): the checkpoint the sidebar starts with and the Train
    view's default data. serve.py calls it before the server answers."""
    first = next(iter(list_checkpoints(checkpoint_dir())), None)
    if first is not None:
        stat = first.stat()
        _load_file(str(first), stat.st_mtime_ns, stat.st_size)
    _prepared(json.dumps(DataConfig().to_dict(), sort_keys=True), None, None)


def prepared_data(config: DataConfig, raw: bytes | None) -> NMTData:
    """`core.sources.prepare_data`, cached by the config and the upload's hash."""
    digest = hashlib.sha256(raw).hexdigest() if raw is not None else None
    with st.spinner(_("Preparing the data…")):
        return _prepared(json.dumps(config.to_dict(), sort_keys=True), digest, raw)


@st.cache_data(show_spinner=False)
def corpus_size() -> tuple[int, int]:
    """(pairs, malformed lines) of the shipped corpus: the whole file as one training split."""
    pairs, _test = load_split(DataConfig(source="corpus", num_examples=1_000_000, num_test=0))
    return len(pairs), pairs.skipped

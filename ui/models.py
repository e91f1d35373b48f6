"""Which checkpoints a tab may use, and cached loaders: checkpoints, held-out evaluations and
data previews, each built once.

A tab lists the checkpoint folder's own files (shared by every browser), its browser's workspace
(`ui.workspace`) and its own uploads; the operator also every other workspace. Checkpoints are
cached by (path, mtime, size), so a re-saved file is loaded again, and uploads by the SHA-256 of
their bytes. Cached objects are shared by all sessions: pages only read them (decode, evaluate),
never train them.
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
from core.i18n import Text
from core.probes.context import ContextMap, build_context_map
from core.service.workspaces import every_workspace, workspace_checkpoints
from core.sources import load_split, prepare_data
from core.upload import Upload, open_upload

from . import operator_session, server, state, workspace
from .i18n import _


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint the sidebar can offer.

    `key` is its one identity (session state, widget keys, the decoder-context choice), and holds
    no server path: "shared:<file>" (the checkpoint folder's own files), "mine:<file>" (this
    browser's workspace), "upload:<sha256 prefix>" (this tab's upload) or, listed for the operator
    only, "workspace:<id>/<file>". Where the file lies is `path`, resolved here and never shown;
    `version` changes whenever the file does, so what is computed from it is keyed by both."""
    key: str
    label: str
    path: Path | None = None      # None: an upload, held in this tab's session
    version: str = ""             # a file's mtime and size when listed

    @property
    def name(self) -> str:
        """The file's name, or the upload's content key: what a link may name it by."""
        return self.path.name if self.path is not None else self.key


SHARED, MINE, OTHERS, UPLOAD = "shared:", "mine:", "workspace:", "upload:"


def file_ref(path: str | Path) -> CheckpointRef:
    """The checkpoint file at `path` (in the checkpoint folder or a workspace) as the sidebar lists it."""
    path = Path(path).resolve()
    stat = path.stat()
    version = f"{stat.st_mtime_ns}:{stat.st_size}"
    if path.parent == checkpoint_dir().resolve():
        default = path == checkpoint_path("default")
        label = _("{file} (shipped default)").format(file=path.name) if default else path.name
        return CheckpointRef(SHARED + path.name, label, path, version)
    if path.parent == workspace.folder().resolve():
        return CheckpointRef(MINE + path.name, path.name, path, version)
    owner = path.parent.name          # another browser's workspace: only the operator lists it
    return CheckpointRef(f"{OTHERS}{owner}/{path.name}", _("{file} (workspace {workspace})").format(
        file=path.name, workspace=owner[:6]), path, version)


def available() -> list[CheckpointRef]:
    """What this tab may use: the checkpoint folder's files (default first, then newest), this
    browser's workspace (newest first), this tab's uploads; for the operator, every workspace."""
    files = list_checkpoints(checkpoint_dir()) + workspace_checkpoints(workspace.current())
    if operator_session.signed_in():               # the operator lists everyone's
        files += [path for owner, paths in every_workspace().items() if owner != workspace.current()
                  for path in paths]
    refs = [file_ref(p) for p in files if p.is_file()]     # a file deleted since it was listed is left out
    uploads = [_upload_ref(key, name) for key, (name, _raw) in state.get(state.UPLOADS, {}).items()]
    return refs + uploads


def add_upload(key: str, name: str, raw: bytes) -> CheckpointRef:
    """Remember an uploaded checkpoint (its `upload_key`) in this tab; loading it checks it."""
    uploads = state.get(state.UPLOADS, {})
    uploads[key] = (name, raw)
    state.put(state.UPLOADS, uploads)
    return _upload_ref(key, name)


def _upload_ref(key: str, name: str) -> CheckpointRef:
    return CheckpointRef(key, _("{file} (uploaded)").format(file=name))


def book_files() -> list[str]:
    """Where this app reads the book's fra-eng file: FRA_ENG_PATH, then this tab's download."""
    return [p for p in (os.environ.get("FRA_ENG_PATH"), state.get(state.FRA_ENG_DOWNLOAD)) if p]


def with_context(ref: CheckpointRef, ckpt: Checkpoint, rule: str) -> Checkpoint:
    """The checkpoint decoding with this context rule: itself, or a cached copy with the rule
    switched (the shared model is never changed)."""
    return ckpt if ckpt.model_config.context == rule else _switched(f"{ref.key}@{ref.version}", ckpt, rule)


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


def read_upload(key: str, name: str, raw: bytes) -> Upload:
    """What an uploaded file (its `upload_key`) is: a checkpoint, or the book's weights for the
    import form (`core.upload.open_upload`: read once, within the operator's limits; cached, so
    using it on every page reads it no more), or CheckpointError saying what it is instead."""
    limits = server.limits()
    with st.spinner(_("Loading the uploaded checkpoint…")):
        return _read_upload(key, name, raw, limits.max_upload_mb * 2**20, limits.max_parameters)


def upload_key(raw: bytes) -> str:
    """An upload's identity: the same bytes are the same checkpoint, whatever the file's name."""
    return f"{UPLOAD}{hashlib.sha256(raw).hexdigest()[:16]}"


def load(ref: CheckpointRef) -> Checkpoint:
    """The checkpoint behind `ref`, from the cache when unchanged; CheckpointError otherwise."""
    if ref.path is not None:
        if not ref.path.is_file():
            raise CheckpointError(_("{file}: the file is gone; pick another checkpoint").format(file=ref.path.name))
        stat = ref.path.stat()
        with st.spinner(_("Loading the checkpoint…")):
            return _load_file(str(ref.path), stat.st_mtime_ns, stat.st_size)
    name, raw = state.get(state.UPLOADS, {})[ref.key]
    checkpoint = read_upload(ref.key, name, raw).checkpoint
    assert checkpoint is not None, "only a checkpoint is added to the uploads"
    return checkpoint


def checkpoint_source(ref: CheckpointRef) -> str | bytes:
    """What a training worker reads the checkpoint behind `ref` from, to train it further: its
    file, or the upload's bytes. The worker loads its own copy; the cached one keeps decoding
    for every page."""
    if ref.path is not None:
        return str(ref.path)
    return state.get(state.UPLOADS, {})[ref.key][1]


# The cached loaders show no spinner of their own: a decorator's text is fixed at import, before
# the reader's language is known. Their callers open one in it (shown only after half a second,
# so a cache hit shows nothing).
@st.cache_resource(max_entries=8, show_spinner=False)
def _load_file(path: str, mtime_ns: int, size: int) -> Checkpoint:
    return load_checkpoint(path, name=Path(path).name)


@st.cache_resource(max_entries=4, show_spinner=False)
def _read_upload(key: str, name: str, _raw: bytes, max_bytes: int, max_parameters: int | None) -> Upload:
    return open_upload(_raw, name, max_bytes=max_bytes, max_parameters=max_parameters)


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

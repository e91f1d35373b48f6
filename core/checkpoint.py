"""Checkpoints: weights, configs, both vocabularies and the history in one file.

Only plain containers (dicts, lists, strings, numbers, tensors) are stored, and loading uses
`torch.load(weights_only=True)`, so a malicious pickle never runs. Writes go to a temporary
file in the same folder and are renamed into place: a crash mid-write leaves the old file.
"""
from __future__ import annotations

import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import DataConfig, ModelConfig, TrainConfig
from .data import Vocab
from .history import History
from .i18n import Text, message_of
from .model import EncoderDecoder, build_model

FORMAT = "seq2seq-playground"
VERSION = 1
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "default.pt"
MAX_CHECKPOINT_BYTES = 512 * 2**20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


@dataclass
class Checkpoint:
    model: EncoderDecoder
    model_config: ModelConfig
    data_config: DataConfig
    train_config: TrainConfig
    src_vocab: Vocab
    tgt_vocab: Vocab
    history: History
    optimizer_state: dict | None
    test_pairs: list[tuple[str, str]]   # held-out pairs of the run, for evaluation
    name: str = ""
    origin: str = ""                    # where the weights came from when not trained here


def checkpoint_dir() -> Path:
    return Path(os.environ.get("SEQ2SEQ_CHECKPOINT_DIR", CHECKPOINT_DIR))


def sanitize_name(name: str) -> str:
    """A user's run name -> a safe file stem (letters, digits, `_ . -`), or ValueError."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "-", name.strip()).strip("-.")[:64]
    stem = stem[:-3] if stem.endswith(".pt") else stem
    if not stem or not _NAME.match(stem):
        raise ValueError(Text("{name!r} is not a usable checkpoint name: use letters, digits, _ . -", name=name))
    return stem


def checkpoint_path(name: str, directory: Path | None = None) -> Path:
    """The file for `name` inside the checkpoint folder; never a path outside it."""
    if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise ValueError(Text("{name!r} is not a checkpoint name (no paths, no leading dot)", name=name))
    stem = name[:-3] if name.endswith(".pt") else name
    if not _NAME.match(stem):
        raise ValueError(Text("{name!r} is not a checkpoint name: use letters, digits, _ . -", name=name))
    folder = (directory or checkpoint_dir()).resolve()
    path = (folder / f"{stem}.pt").resolve()
    if path.parent != folder:
        raise ValueError(Text("{name!r} points outside the checkpoint folder", name=name))
    return path


def list_checkpoints(directory: Path | None = None) -> list[Path]:
    """Complete checkpoint files (resolved), the folder's own default.pt first, then newest first
    (temporary files never show)."""
    folder = directory or checkpoint_dir()
    files = [p.resolve() for p in folder.glob("*.pt") if _NAME.match(p.stem)] if folder.is_dir() else []
    default = (folder / "default.pt").resolve()
    return sorted(files, key=lambda p: (p != default, -p.stat().st_mtime))


def checkpoint_payload(ckpt: Checkpoint) -> dict:
    return {
        "format": FORMAT, "version": VERSION,
        "model_config": ckpt.model_config.to_dict(),
        "data_config": ckpt.data_config.to_dict(),
        "train_config": ckpt.train_config.to_dict(),
        "src_vocab": ckpt.src_vocab.to_dict(), "tgt_vocab": ckpt.tgt_vocab.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in ckpt.model.state_dict().items()},
        "optimizer": ckpt.optimizer_state,
        "history": ckpt.history.to_dict(),
        "test_pairs": [list(p) for p in ckpt.test_pairs],
        "origin": ckpt.origin,
    }


def save_checkpoint(ckpt: Checkpoint, path: str | os.PathLike) -> Path:
    """Write atomically: temporary file in the same folder, fsync, rename."""
    return _write_atomically(path, lambda f: torch.save(checkpoint_payload(ckpt), f))


def write_checkpoint_bytes(data: bytes, path: str | os.PathLike) -> Path:
    """A checkpoint serialized elsewhere (a worker process, a Ray actor), written atomically."""
    return _write_atomically(path, lambda f: f.write(data))


def _write_atomically(path: str | os.PathLike, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)            # mkstemp makes it owner-only; a checkpoint is not a secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(source: str | os.PathLike | bytes, name: str | None = None,
                    device: torch.device | str = "cpu") -> Checkpoint:
    """Load and check a checkpoint from a path or bytes; CheckpointError names the file."""
    label = name or (str(source) if not isinstance(source, bytes) else "upload")
    payload = _read_payload(source, label)
    try:
        model_config = ModelConfig.from_dict(payload["model_config"])
        data_config = DataConfig.from_dict(payload["data_config"])
        train_config = TrainConfig.from_dict(payload["train_config"])
        src_vocab, tgt_vocab = Vocab.from_dict(payload["src_vocab"]), Vocab.from_dict(payload["tgt_vocab"])
        history = History.from_dict(payload.get("history") or {})
        test_pairs = [(str(s), str(t)) for s, t in payload.get("test_pairs") or []]
        origin = str(payload.get("origin") or "")
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(Text("{label}: invalid contents ({reason})", label=label,
                                   reason=message_of(err))) from None
    model = build_model(model_config, len(src_vocab), len(tgt_vocab))
    load_weights(model, payload["state_dict"], label)
    return Checkpoint(model.to(device), model_config, data_config, train_config, src_vocab, tgt_vocab,
                      history, payload.get("optimizer"), test_pairs, Path(label).stem, origin)


def _read_payload(source, label: str) -> dict:
    try:
        if isinstance(source, bytes):
            raw = source
        else:
            path = Path(source)
            if not path.is_file():
                raise CheckpointError(Text("{label}: no such file", label=label))
            if path.stat().st_size > MAX_CHECKPOINT_BYTES:
                raise CheckpointError(Text("{label}: larger than {size} MiB", label=label,
                                           size=MAX_CHECKPOINT_BYTES // 2**20))
            raw = path.read_bytes()
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except Exception as err:   # truncated zip, foreign pickle, refused global: all "not ours"
        # torch's own text suggests weights_only=False, i.e. running the file's code: not shown
        raise CheckpointError(Text("{label}: not a seq2seq-playground checkpoint, or a damaged one "
                                   "(PyTorch could not read it safely: {error}; a pickle of Python "
                                   "objects, such as a whole model saved with `torch.save(net, ...)` or a Vocab, is "
                                   "never unpickled here, since that would run its code). Use a .pt "
                                   "file saved by the Train page or `python -m core.train`.",
                                   label=label, error=type(err).__name__)) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(Text("{label}: not a seq2seq-playground checkpoint: {description}",
                                   label=label, description=describe_foreign(payload)))
    if payload.get("version") != VERSION:
        raise CheckpointError(Text("{label}: checkpoint version {version!r}, expected {expected}",
                                   label=label, version=payload.get("version"), expected=VERSION))
    if not isinstance(payload.get("state_dict"), dict):
        raise CheckpointError(Text("{label}: no weights in this checkpoint", label=label))
    return payload


def is_state_dict(value) -> bool:
    """A non-empty dict of name -> tensor, as `net.state_dict()` is."""
    return isinstance(value, dict) and bool(value) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def describe_foreign(payload) -> Text:
    """What a file PyTorch could read, but that is not a playground checkpoint, holds, and what to do."""
    weights_only = Text("the weights alone, as `torch.save(net.state_dict(), ...)` writes them. A playground "
                        "checkpoint also holds the model's settings and both vocabularies, which the weights "
                        "cannot tell; use a .pt file saved by the Train page or `python -m core.train`")
    if is_state_dict(payload):
        keys = list(payload)
        return Text("it is a bare state_dict of {count} tensors ({first}, …): {weights_only}",
                    count=len(keys), first=keys[0], weights_only=weights_only)
    if isinstance(payload, dict):
        inner = next((k for k, v in payload.items() if is_state_dict(v)), None)
        if inner is not None:
            return Text("it is a dict holding a state_dict under {key!r}: {weights_only}",
                        key=inner, weights_only=weights_only)
        return Text("it is a dict with the keys {keys}", keys=sorted(map(str, payload))[:6])
    return Text("it holds a {type}, not a dict", type=type(payload).__name__)


def load_weights(model: EncoderDecoder, state_dict: dict, label: str) -> None:
    """Load `state_dict` into `model` after checking every key, shape and value; CheckpointError
    says which key is missing or unexpected, which shape disagrees, which tensor is not finite."""
    expected = model.state_dict()
    if set(state_dict) != set(expected):
        missing, unexpected = sorted(set(expected) - set(state_dict)), sorted(set(state_dict) - set(expected))
        parts = (([Text("missing {keys}", keys=missing[:4])] if missing else [])
                 + ([Text("unexpected {keys}", keys=unexpected[:4])] if unexpected else []))
        problems = parts[0] if len(parts) == 1 else Text("{first}; {second}", first=parts[0], second=parts[1])
        raise CheckpointError(Text("{label}: weights do not match the model its config describes: {problems}",
                                   label=label, problems=problems))
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor) or tensor.shape != expected[key].shape:
            shape = getattr(tensor, "shape", None)
            raise CheckpointError(Text("{label}: {key} has shape {shape}, expected {expected} "
                                       "(vocabulary or size mismatch)", label=label, key=key,
                                       shape=tuple(shape) if shape is not None else "?",
                                       expected=tuple(expected[key].shape)))
        if not torch.isfinite(tensor).all():
            raise CheckpointError(Text("{label}: {key} holds NaN or infinite values", label=label, key=key))
    model.load_state_dict(state_dict)

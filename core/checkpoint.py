"""Checkpoints: weights, configs, both vocabularies and the history in one file.

Only plain containers (dicts, lists, strings, numbers, tensors) are stored, and loading uses
`torch.load(weights_only=True)`, so a malicious pickle never runs; every size the file declares
is checked before that memory is spent (`core/torch_file.py`, where `CheckpointError` is defined),
and the model's parameter count before it is built. Writes go to a temporary file in the same
folder and are renamed into place: a crash or a full disk mid-write leaves the old file.
"""
from __future__ import annotations

import errno
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .config import DataConfig, ModelConfig, TrainConfig
from .data import Vocab
from .history import History
from .i18n import Text, message_of
from .model import EncoderDecoder, build_model, parameter_count
from .torch_file import CheckpointError, CheckpointTooLarge, read_torch_file

FORMAT = "seq2seq-playground"
VERSION = 1
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINT_DIR / "default.pt"
MAX_CHECKPOINT_BYTES = 512 * 2**20
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


# what a model reads from its vocabularies: the source is padded and ends with <eos>; the decoder
# starts from <bos>, stops at <eos>, and the loss masks <pad>
NEEDED_TOKENS = {"source": ("<pad>", "<eos>"), "target": ("<pad>", "<bos>", "<eos>")}


class CheckpointWriteError(CheckpointError, OSError):
    """The checkpoint could not be written (the file that was there is left as it was); an OSError
    too, so callers that catch those still do. The message names the file, never its folder."""


class DiskFull(CheckpointWriteError):
    """No space left on the disk of the checkpoint folder."""


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


class _Recorded:
    """A file whose write remembers the OSError it raised: torch.save reports a failed write as its
    own `unexpected pos …` RuntimeError, so the real reason (a full disk) is read from here."""

    def __init__(self, f):
        self.f, self.error = f, None

    def write(self, data) -> int:
        try:
            return self.f.write(data)
        except OSError as err:
            self.error = err
            raise

    def __getattr__(self, name: str):
        return getattr(self.f, name)


def _write_atomically(path: str | os.PathLike, write) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    except OSError as err:
        raise _write_error(err, path) from None
    try:
        with os.fdopen(fd, "wb") as raw:
            f = _Recorded(raw)
            try:
                write(f)
            except Exception as err:
                if f.error is None:
                    raise
                raise f.error from err
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)            # mkstemp makes it owner-only; a checkpoint is not a secret
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno is not None:
            raise _write_error(err, path) from None
        raise
    return path


def _write_error(err: OSError, path: Path) -> CheckpointWriteError:
    """What a failed write says to a reader: the file's name and what to do, not the server's path."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFull(Text("{file} was not saved: the disk of the checkpoint folder is full. Free some space (or "
                             "delete old checkpoints) and save again; the checkpoint that was there is unchanged",
                             file=path.name))
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CheckpointWriteError(Text("{file} was not saved: the checkpoint folder is read-only on this server. "
                                         "The operator can make it writable or point SEQ2SEQ_CHECKPOINT_DIR at a "
                                         "writable folder", file=path.name))
    return CheckpointWriteError(Text("{file} was not saved: {reason}", file=path.name,
                                     reason=err.strerror or type(err).__name__))


def load_checkpoint(source: str | os.PathLike | bytes, name: str | None = None,
                    device: torch.device | str = "cpu", *, max_bytes: int = MAX_CHECKPOINT_BYTES,
                    max_parameters: int | None = None) -> Checkpoint:
    """Load and check a checkpoint from a path or bytes; CheckpointError names the file. `max_bytes`
    bounds the file and every size it declares, `max_parameters` the model it describes (a
    server passes its operator's limits); both are checked before that memory is spent."""
    # a file is named by its name only: the folder is the server's, and messages reach pages
    label = name or (Path(source).name if not isinstance(source, bytes) else "upload")
    if not isinstance(source, bytes):
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(Text("{label}: no such file", label=label))
        if path.stat().st_size > max_bytes:
            raise CheckpointTooLarge(Text("{label}: larger than {size} MiB", label=label, size=max_bytes // 2**20))
        source = path.read_bytes()
    payload = read_torch_file(source, label, max_bytes, unreadable_checkpoint(label))
    return checkpoint_from_payload(playground_payload(payload, label), label, device, max_parameters)


def unreadable_checkpoint(label: str) -> Callable[[str], Text]:
    """The message for a file PyTorch cannot read safely, given what failed."""
    # torch's own text suggests weights_only=False, i.e. running the file's code: not shown
    return lambda error: Text("{label}: not a seq2seq-playground checkpoint, or a damaged one "
                              "(PyTorch could not read it safely: {error}; a pickle of Python "
                              "objects, such as a whole model saved with `torch.save(net, ...)` or a Vocab, is "
                              "never unpickled here, since that would run its code). Use a .pt "
                              "file saved by the Train page or `python -m core.train`.",
                              label=label, error=error)


def checkpoint_from_payload(payload: dict, label: str, device: torch.device | str = "cpu",
                            max_parameters: int | None = None) -> Checkpoint:
    """A playground checkpoint from what its file held (`playground_payload`): settings and
    vocabularies checked, the model's size checked before it is built, then every weight."""
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
    check_tokens(src_vocab, "source", label)
    check_tokens(tgt_vocab, "target", label)
    check_parameters(model_config, len(src_vocab), len(tgt_vocab), label, max_parameters)
    weights = check_weights(expected_weights(model_config, len(src_vocab), len(tgt_vocab)), payload["state_dict"],
                            label)
    model = build_model(model_config, len(src_vocab), len(tgt_vocab))
    model.load_state_dict(weights)
    return Checkpoint(model.to(device), model_config, data_config, train_config, src_vocab, tgt_vocab,
                      history, payload.get("optimizer"), test_pairs, Path(label).stem, origin)


def playground_payload(payload: object, label: str) -> dict:
    """What `torch.load` gave, if it is a playground checkpoint of this version with weights."""
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(Text("{label}: not a seq2seq-playground checkpoint: {description}",
                                   label=label, description=describe_foreign(payload)))
    if payload.get("version") != VERSION:
        raise CheckpointError(Text("{label}: checkpoint version {version!r}, expected {expected}",
                                   label=label, version=payload.get("version"), expected=VERSION))
    if not isinstance(payload.get("state_dict"), dict):
        raise CheckpointError(Text("{label}: no weights in this checkpoint", label=label))
    return payload


def check_tokens(vocab: Vocab, side: str, label: str) -> None:
    """CheckpointError naming the special tokens (NEEDED_TOKENS) this vocabulary lacks."""
    missing = [token for token in NEEDED_TOKENS[side] if token not in vocab]
    if missing:
        which = Text("the source vocabulary") if side == "source" else Text("the target vocabulary")
        raise CheckpointError(Text("{label}: {vocabulary} has no {tokens}, which the model needs (the book's "
                                   "vocabularies hold <pad>, <bos> and <eos>): not the vocabulary these weights "
                                   "were trained with", label=label, vocabulary=which, tokens=", ".join(missing)))


def check_parameters(config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, label: str,
                     max_parameters: int | None = None) -> None:
    """Before the model is built: its parameters, counted from the settings, within the operator's limit."""
    count = parameter_count(config, src_vocab_size, tgt_vocab_size)
    if max_parameters is not None and count > max_parameters:
        raise CheckpointTooLarge(Text("{label}: its model has {count} parameters; this server allows at most "
                                      "{allowed} (SEQ2SEQ_MAX_PARAMETERS)", label=label, count=format(count, ","),
                                      allowed=format(max_parameters, ",")))


def expected_weights(config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> dict[str, torch.Tensor]:
    """The names, shapes and types of the weights a model of `config` has, from a model built on
    the meta device, which allocates nothing: a file's weights are checked against it before the
    real model is built, so weights that do not fit never cost a model's memory."""
    with torch.device("meta"):
        return build_model(config, src_vocab_size, tgt_vocab_size).state_dict()


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


def check_weights(expected: dict[str, torch.Tensor], state_dict: dict, label: str,
                  file_key: Callable[[str], str] = str) -> dict[str, torch.Tensor]:
    """`state_dict` as the model's own types (float32), after checking every key, shape, type and
    value against `expected`; CheckpointError says which key is missing or unexpected, which shape
    disagrees, which tensor holds no floats or is not finite as float32. `file_key` writes a key as
    the file does (d2l 1.0's, for its weights)."""
    if set(state_dict) != set(expected):
        missing = sorted(map(file_key, set(expected) - set(state_dict)))
        unexpected = sorted(map(file_key, set(state_dict) - set(expected)))
        parts = (([Text("missing {keys}", keys=missing[:4])] if missing else [])
                 + ([Text("unexpected {keys}", keys=unexpected[:4])] if unexpected else []))
        problems = parts[0] if len(parts) == 1 else Text("{first}; {second}", first=parts[0], second=parts[1])
        raise CheckpointError(Text("{label}: weights do not match the model its config describes: {problems}",
                                   label=label, problems=problems))
    weights = {}
    for key, tensor in state_dict.items():
        if not isinstance(tensor, torch.Tensor) or tensor.shape != expected[key].shape:
            shape = getattr(tensor, "shape", None)
            raise CheckpointError(Text("{label}: {key} has shape {shape}, expected {expected} "
                                       "(vocabulary or size mismatch)", label=label, key=file_key(key),
                                       shape=tuple(shape) if shape is not None else "?",
                                       expected=tuple(expected[key].shape)))
        if not tensor.is_floating_point():      # load_state_dict would cast ints, bools, even complex silently
            raise CheckpointError(Text("{label}: {key} holds {dtype} values, not floating-point weights",
                                       label=label, key=file_key(key), dtype=str(tensor.dtype).removeprefix("torch.")))
        weight = tensor.to(expected[key].dtype)   # checked after the cast: float64 past float32's range is inf here
        if not torch.isfinite(weight).all():
            if torch.isfinite(tensor).all():
                raise CheckpointError(Text("{label}: {key} holds values beyond float32's range (±3.4e38), which "
                                           "would become infinite", label=label, key=file_key(key)))
            raise CheckpointError(Text("{label}: {key} holds NaN or infinite values", label=label, key=file_key(key)))
        weights[key] = weight
    return weights

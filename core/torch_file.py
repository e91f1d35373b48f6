"""A file written by `torch.save`, read within a byte limit: how checkpoints and the book's weights arrive.

`torch.load(weights_only=True)` never runs a file's code, but it believes the sizes the file
declares. An upload of about 1 MB could make the server spend gigabytes in two ways:

- a zip member stored compressed inflates to whatever its header says, and only then would
  a size be checked;
- a tensor can be a stride-0 view, one stored number declaring 4096 × 4096 of them: free to
  load, 64 MB as soon as anything copies it (a cast, a finite check, a model built to its size).

So the declared sizes are checked first: every zip member's uncompressed size, added up,
against the limit, and the compressed ones against what weights ever compress to; each
compressed member inflated once as a stream, a megabyte at a time and never past its declared
size, to see that it holds what it declares. Only then does PyTorch
read the file, and every tensor it gives back must be backed by as many stored bytes as it has
elements, all of them together within the limit. The limit is a number the caller passes (the
operator's upload limit on a server): the engine knows nothing of the service's settings.
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .i18n import Text

# torch.save's format before PyTorch 1.6: a pickle that starts with this magic number, whose
# storages are allocated at the size the pickle declares before their bytes are read
_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
_CHUNK = 2**20
# Trained weights are noise to deflate: a checkpoint zipped again shrinks by about a tenth. A bomb
# of zeros shrinks a thousandfold, so one under the upload limit could still cost that limit.
_MAX_RATIO = 10


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


class CheckpointTooLarge(CheckpointError):
    """Refused by the sizes it declares, before the memory they describe was spent."""


def mib(size: int) -> str:
    return f"{size / 2**20:,.1f}"


def read_torch_file(raw: bytes, label: str, max_bytes: int, unreadable: Callable[[str], Text]) -> Any:
    """`torch.load(raw, weights_only=True)` once the sizes the file declares fit `max_bytes`.
    CheckpointTooLarge says which size did not; `unreadable(what failed)` is the caller's message
    for a file PyTorch cannot read (a damaged file, a pickle of Python objects)."""
    if len(raw) > max_bytes:
        raise CheckpointTooLarge(Text("{label}: {size} MiB, more than the {limit} MiB this server takes",
                                      label=label, size=mib(len(raw)), limit=mib(max_bytes)))
    if raw.startswith(_LEGACY_MAGIC):
        raise CheckpointError(Text("{label}: saved in PyTorch's format from before version 1.6, whose sizes "
                                   "cannot be checked before loading: load it with a current PyTorch and save it "
                                   "again with torch.save", label=label))
    _check_archive(raw, label, max_bytes, unreadable)
    try:
        payload = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as err:   # truncated zip, foreign pickle, refused global: the caller says what to do
        raise CheckpointError(unreadable(type(err).__name__)) from None
    check_tensors(payload, label, max_bytes)
    return payload


def _check_archive(raw: bytes, label: str, max_bytes: int, unreadable: Callable[[str], Text]) -> None:
    """The zip's declared sizes against the limit, then its compressed members inflated as a stream."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            if declared > max_bytes:
                raise CheckpointTooLarge(Text(
                    "{label}: its parts declare {size} MiB once unpacked, more than the {limit} MiB this server "
                    "takes; refused before unpacking anything", label=label, size=mib(declared), limit=mib(max_bytes)))
            compressed = [m for m in members if m.compress_type != zipfile.ZIP_STORED]   # torch.save stores
            inflated, packed = sum(m.file_size for m in compressed), sum(m.compress_size for m in compressed)
            if inflated > _MAX_RATIO * packed + _CHUNK:
                raise CheckpointTooLarge(Text(
                    "{label}: its compressed parts declare {size} MiB from {packed} MiB, more than weights ever "
                    "compress (at most {ratio}×); refused before unpacking anything: save it with torch.save, "
                    "which does not compress", label=label, size=mib(inflated), packed=mib(packed), ratio=_MAX_RATIO))
            for member in compressed:
                _inflate_capped(archive, member)
    except CheckpointError:
        raise
    except Exception as err:   # not a zip, a damaged one, a method PyTorch's reader has no inflater for
        raise CheckpointError(unreadable(type(err).__name__)) from None


def _inflate_capped(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    """Inflate one member a chunk at a time, holding none of it: zipfile never inflates past the
    declared size and checks the CRC at the end, so a member that lies about its size fails here."""
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise zipfile.BadZipFile(f"compression method {member.compress_type}")
    inflated = 0
    with archive.open(member) as stream:
        while chunk := stream.read(_CHUNK):
            inflated += len(chunk)
    if inflated != member.file_size:
        raise zipfile.BadZipFile(f"{member.filename}: {inflated} bytes, {member.file_size} declared")


def check_tensors(payload: Any, label: str, max_bytes: int) -> None:
    """Every tensor in `payload` dense on the CPU and backed by its own stored bytes, and all of
    them together within `max_bytes`, before anything copies one."""
    total = 0
    for key, tensor in tensors_in(payload):
        if tensor.layout != torch.strided or tensor.device.type != "cpu":
            raise CheckpointError(Text("{label}: {key} is a {layout} tensor on {device}; weights are dense tensors",
                                       label=label, key=key, layout=str(tensor.layout).removeprefix("torch."),
                                       device=tensor.device.type))
        size = tensor.numel() * tensor.element_size()
        if size > tensor.untyped_storage().nbytes():
            raise CheckpointError(Text(
                "{label}: {key} declares {count} values of shape {shape} but stores only {stored} bytes for them "
                "(a view that repeats its numbers): refused before it is expanded", label=label, key=key,
                count=format(tensor.numel(), ","), shape=tuple(tensor.shape), stored=tensor.untyped_storage().nbytes()))
        total += size
    if total > max_bytes:
        raise CheckpointTooLarge(Text("{label}: its tensors hold {size} MiB, more than the {limit} MiB this server "
                                      "takes", label=label, size=mib(total), limit=mib(max_bytes)))


def tensors_in(payload: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """(path, tensor) for every tensor in nested dicts, lists and tuples. Iterative, and each
    container is visited once: a pickle can nest deeper than Python recurses, and share one
    list between two parents at every level (a few bytes that a naive walk takes 2^depth steps over)."""
    stack: list[tuple[str, Any]] = [("", payload)]
    seen: set[int] = set()
    while stack:
        path, value = stack.pop()
        if isinstance(value, torch.Tensor):
            yield path, value
        elif isinstance(value, (dict, list, tuple)) and id(value) not in seen:
            seen.add(id(value))
            items = list(value.items() if isinstance(value, dict) else enumerate(value))
            # reversed onto the stack, so they come off in the file's order (a message names the first)
            stack.extend((f"{path}/{key}" if path else str(key), item) for key, item in reversed(items))

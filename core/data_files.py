"""A data file's bytes, read within bounds: refused before the memory is spent, never after.

A pairs file (`fra.txt`, a TSV) may come as itself or inside a zip. Every way in is bounded by
`MAX_FILE_BYTES`:

* a file on disk by its size on disk, before it is read;
* a zip by what it declares first: its table of contents (`MAX_ZIP_DIRECTORY_BYTES`, so a zip of
  a million empty entries is not parsed into a million objects) and its pairs member's size;
  only then is the member inflated, through a stream that stops at the limit whatever the
  header said (a ~1 MB zip can inflate to gigabytes);
* text by its bytes: UTF-8, and no NUL byte anywhere. A NUL is what a binary file or a broken
  export holds; inside a sentence it would become part of a token in the vocabulary.

Over-limit files raise `DataTooLarge`, every other refusal `DataError`; both say which file.
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO

from .data import DataError
from .i18n import Text

MAX_FILE_BYTES = 64 * 1024 * 1024           # larger files, or zips inflating to more, are refused
# fra-eng.zip's table of contents is 150 bytes; 1 MiB still lists thousands of files, and bounds
# what `zipfile` builds from it (one object per entry) to a few MiB.
MAX_ZIP_DIRECTORY_BYTES = 1024 * 1024
INFLATE_CHUNK = 1024 * 1024                 # inflated a chunk at a time: the cap acts within a chunk
# `zipfile` inflates these with a bounded output per read; its bzip2 and LZMA readers inflate
# each read whole (4 KB of bzip2 can become gigabytes), so those members are refused.
BOUNDED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
OTHER_METHODS = {zipfile.ZIP_BZIP2: "bzip2", zipfile.ZIP_LZMA: "LZMA"}
PAIRS_SUFFIXES = (".txt", ".tsv")
BOOK_MEMBER = "fra-eng/fra.txt"             # the book's fra-eng.zip: fra.txt and _about.txt
ZIP_MAGIC = b"PK\x03\x04"
_END_OF_DIRECTORY = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_END_RECORD = struct.Struct("<4s4H2LH")     # zip's end of central directory record, 22 bytes
_MAX_ZIP_COMMENT = 65535


class DataTooLarge(DataError):
    """A data file, or what a zip inflates to, is over the size limit: refused unread."""


def _mib(size: int) -> float:
    return size / 2**20


def check_size(size: int, name: str) -> None:
    """Refuse `size` bytes of file `name` if they are over `MAX_FILE_BYTES`."""
    if size > MAX_FILE_BYTES:
        raise DataTooLarge(Text("{name}: {size:.0f} MiB is over the {limit} MiB limit",
                                name=name, size=_mib(size), limit=MAX_FILE_BYTES // 2**20))


def read_data_file(path: str | os.PathLike) -> bytes:
    """The bytes of a data file on disk, refused by its size before it is read."""
    path = Path(path)
    if not path.is_file():
        raise DataError(Text("{path}: no such file", path=path.name))   # its name: the folder is the server's
    check_size(path.stat().st_size, path.name)
    return path.read_bytes()


def decode_text(raw: bytes | bytearray, name: str) -> str:
    """Bytes of a text file -> str, refusing binary or non-UTF-8 content with a clear error."""
    check_size(len(raw), name)
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError(Text("{name}: this looks like a binary file, not tab-separated text (a NUL byte at "
                             "byte {byte})", name=name, byte=nul))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(Text("{name}: not UTF-8 text (byte {byte}); save it as UTF-8",
                             name=name, byte=err.start)) from None


def read_text_bytes(raw: bytes, name: str) -> str:
    """The text of a pairs file, given either the file itself or a zip that holds it."""
    return decode_text(unzip_pairs(raw, name) if raw[:4] == ZIP_MAGIC else raw, name)


def unzip_pairs(raw: bytes, name: str) -> bytearray:
    """The pairs file in a zip (`fra-eng/fra.txt`, else the first .txt/.tsv that is not an
    `_about` file), inflated only if it declares a size under the limit, and then with a cap."""
    check_size(len(raw), name)
    _check_directory(raw, name)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            member = _pairs_member(archive, name)
            _check_member(member, name)
            with archive.open(member) as stream:
                return read_capped(stream, member.filename, name)
    except (zipfile.BadZipFile, zlib.error, EOFError):   # a bad CRC, a truncated or garbled stream
        raise DataError(Text("{name}: a corrupt zip file", name=name)) from None


def read_capped(stream: IO[bytes], member: str, name: str) -> bytearray:
    """All of `stream`, a chunk at a time, refused as soon as it passes `MAX_FILE_BYTES`:
    the cap holds even where a header lied about the size."""
    out = bytearray()
    while chunk := stream.read(INFLATE_CHUNK):
        out += chunk
        if len(out) > MAX_FILE_BYTES:
            raise DataTooLarge(Text("{name}: {member} inflates to more than the {limit} MiB limit",
                                    name=name, member=member, limit=MAX_FILE_BYTES // 2**20))
    return out


def _check_directory(raw: bytes, name: str) -> None:
    """Refuse a zip whose table of contents is too large to parse, before `zipfile` parses it.
    The end record is found as `zipfile` finds it (at the very end, else the last one within
    a comment's length of the end); a ZIP64 archive, which declares its sizes elsewhere, is
    refused: a pairs file under the limit never needs one."""
    tail = raw[-(_END_RECORD.size + _MAX_ZIP_COMMENT + 1):]
    at = len(tail) - _END_RECORD.size
    if not (tail[at:at + 4] == _END_OF_DIRECTORY and tail[-2:] == b"\0\0"):
        at = tail.rfind(_END_OF_DIRECTORY)
    if at < 0 or len(tail) - at < _END_RECORD.size:
        raise DataError(Text("{name}: a corrupt zip file", name=name))
    if at >= 20 and tail[at - 20:at - 16] == _ZIP64_LOCATOR:
        raise DataError(Text("{name}: a ZIP64 archive; zip the pairs file as an ordinary zip", name=name))
    directory_size = _END_RECORD.unpack(tail[at:at + _END_RECORD.size])[5]
    if directory_size > MAX_ZIP_DIRECTORY_BYTES:
        raise DataTooLarge(Text("{name}: the zip's list of files takes {size:.1f} MiB, over the {limit} MiB "
                                "limit: zip only the pairs file", name=name, size=_mib(directory_size),
                                limit=MAX_ZIP_DIRECTORY_BYTES // 2**20))


def _pairs_member(archive: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    members = [m for m in archive.infolist()
               if m.filename.endswith(PAIRS_SUFFIXES) and "_about" not in m.filename]
    if not members:
        raise DataError(Text("{name}: the zip holds no .txt or .tsv file of pairs", name=name))
    return next((m for m in members if m.filename == BOOK_MEMBER), members[0])


def _check_member(member: zipfile.ZipInfo, name: str) -> None:
    """What the member declares, checked before a byte of it is inflated."""
    if member.flag_bits & 0x1:
        raise DataError(Text("{name}: {member} is encrypted; zip it again without a password",
                             name=name, member=member.filename))
    if member.compress_type not in BOUNDED_METHODS:
        method = OTHER_METHODS.get(member.compress_type, str(member.compress_type))
        raise DataError(Text("{name}: {member} is compressed with {method}; zip it again with the usual "
                             "method (deflate)", name=name, member=member.filename, method=method))
    if member.file_size > MAX_FILE_BYTES:
        raise DataTooLarge(Text("{name}: {member} would inflate to {size:.0f} MiB, over the {limit} MiB limit",
                                name=name, member=member.filename, size=_mib(member.file_size),
                                limit=MAX_FILE_BYTES // 2**20))

"""Data files are bounded before memory is spent on them: zips by what they declare and by a
capped inflation, files on disk by their size, text by its bytes (no NUL anywhere)."""
from __future__ import annotations

import io
import pathlib
import struct
import tracemalloc
import zipfile

import pytest

import core.data_files
from core.config import DataConfig
from core.data_files import DataTooLarge, read_capped
from core.sources import DataError, load_split, read_tatoeba_bytes, read_tatoeba_file

PAIRS = b"Go.\tVa !\nHi.\tSalut.\nRun!\tCours !\nWho?\tQui ?\nWow!\tCa alors !\n"
MiB = 2**20
# offsets in a central directory entry ("PK\x01\x02"): the zip's own declarations of a member
FLAG_BITS, FILE_SIZE = 8, 24


def zipped(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def inflating_to(size: int) -> bytes:
    """fra.txt of `size` bytes of pairs, deflated a chunk at a time (a ~1000:1 bomb)."""
    buffer, line = io.BytesIO(), b"a\tb\n" * (MiB // 4)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("fra.txt", "w") as member:
        for _ in range(size // MiB):
            member.write(line)
    return buffer.getvalue()


def declaring(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    """`raw` with one field of its (first) central directory entry set to `value`: a header
    that lies, as a hand-made bomb's would."""
    at = raw.rindex(b"PK\x01\x02") + offset
    return raw[:at] + struct.pack(fmt, value) + raw[at + struct.calcsize(fmt):]


def test_a_zip_member_declaring_more_than_the_limit_is_refused_before_a_byte_is_inflated(monkeypatch):
    bomb = declaring(zipped({"fra.txt": PAIRS}), FILE_SIZE, "<L", 1024 * MiB)   # says 1 GiB
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *args, **kwargs: opened.append(args))
    with pytest.raises(DataTooLarge, match=r"fra.txt would inflate to 1024 MiB, over the 64 MiB limit"):
        read_tatoeba_bytes(bomb, "bomb.zip")
    assert opened == []


def test_a_header_that_understates_the_size_stops_the_inflation_at_what_it_declared(monkeypatch):
    monkeypatch.setattr(core.data_files, "MAX_FILE_BYTES", MiB)
    bomb = declaring(inflating_to(64 * MiB), FILE_SIZE, "<L", MiB // 2)       # 64 MiB that says 512 KiB
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="corrupt zip"):                    # its CRC is that of 64 MiB
            read_tatoeba_bytes(bomb, "liar.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB, f"{peak / MiB:.0f} MiB allocated for a member refused at 1 MiB"


def test_the_inflation_cap_stops_a_stream_as_soon_as_it_passes_the_limit(monkeypatch):
    monkeypatch.setattr(core.data_files, "MAX_FILE_BYTES", 3 * MiB)
    monkeypatch.setattr(core.data_files, "INFLATE_CHUNK", MiB)
    stream = io.BytesIO(b"x" * (10 * MiB))
    with pytest.raises(DataTooLarge, match=r"liar.zip: fra.txt inflates to more than the 3 MiB limit"):
        read_capped(stream, "fra.txt", "liar.zip")
    assert stream.tell() == 4 * MiB                                            # one chunk past, no more
    assert read_capped(io.BytesIO(b"x" * (3 * MiB)), "fra.txt", "ok.zip") == b"x" * (3 * MiB)


def test_a_zip_inflating_past_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(core.data_files, "MAX_FILE_BYTES", 2 * MiB)
    with pytest.raises(DataTooLarge, match=r"would inflate to 4 MiB, over the 2 MiB limit"):
        load_split(DataConfig(source="tatoeba", path="big.zip"), inflating_to(4 * MiB))


@pytest.mark.parametrize("method,said", [(zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "LZMA")],
                         ids=["bzip2", "lzma"])
def test_members_whose_inflation_zipfile_cannot_bound_are_refused(method, said):
    with pytest.raises(DataError, match=f"fra.txt is compressed with {said}; zip it again"):
        read_tatoeba_bytes(zipped({"fra.txt": PAIRS}, method), "packed.zip")


def test_an_encrypted_member_is_refused_with_a_clear_error():
    locked = declaring(zipped({"fra.txt": PAIRS}), FLAG_BITS, "<H", 0x1)
    with pytest.raises(DataError, match="fra.txt is encrypted; zip it again without a password"):
        read_tatoeba_bytes(locked, "locked.zip")


def test_a_zip_listing_too_many_files_is_refused_before_its_list_is_parsed(monkeypatch):
    monkeypatch.setattr(core.data_files, "MAX_ZIP_DIRECTORY_BYTES", 4096)
    many = zipped({f"part-{i:04d}.txt": b"" for i in range(200)} | {"fra.txt": PAIRS})
    parsed = []
    monkeypatch.setattr(zipfile.ZipFile, "_RealGetContents", lambda self: parsed.append(self))
    with pytest.raises(DataTooLarge, match="the zip's list of files takes"):
        read_tatoeba_bytes(many, "many.zip")
    assert parsed == []


def test_a_zip64_archive_is_refused():
    raw = zipped({"fra.txt": PAIRS})
    end = raw.rindex(b"PK\x05\x06")
    zip64 = raw[:end] + b"PK\x06\x07" + bytes(16) + raw[end:]                 # a ZIP64 locator before the end
    with pytest.raises(DataError, match="a ZIP64 archive"):
        read_tatoeba_bytes(zip64, "big64.zip")


def test_a_file_on_disk_over_the_limit_is_refused_before_it_is_read(monkeypatch, tmp_path):
    monkeypatch.setattr(core.data_files, "MAX_FILE_BYTES", 100)
    path = tmp_path / "fra.txt"
    path.write_bytes(PAIRS * 10)
    monkeypatch.setattr(pathlib.Path, "read_bytes", lambda self: pytest.fail("read before its size was checked"))
    with pytest.raises(DataTooLarge, match="over the 0 MiB limit"):
        read_tatoeba_file(path)
    with pytest.raises(DataTooLarge):
        load_split(DataConfig(source="tsv", path=str(path)))


@pytest.mark.parametrize("source", ["tsv", "tatoeba"])
def test_a_nul_byte_anywhere_in_a_data_file_is_refused_and_never_reaches_the_vocabulary(source):
    raw = PAIRS * 20_000 + b"Go\x00od.\tBien.\n"                            # the NUL past the first 64 KiB
    nul = len(PAIRS) * 20_000 + 2
    with pytest.raises(DataError, match=f"binary file, not tab-separated text \\(a NUL byte at byte {nul}\\)"):
        load_split(DataConfig(source=source, path="pairs.txt", num_examples=200_000), raw)
    with pytest.raises(DataError, match=f"a NUL byte at byte {nul}"):
        load_split(DataConfig(source=source, path="pairs.zip", num_examples=200_000), zipped({"fra.txt": raw}))


def test_a_zipped_tsv_reads_as_the_tsv_itself():
    config = DataConfig(source="tsv", path="pairs.zip", num_test=0)
    assert (load_split(config, zipped({"notes_about.txt": b"x", "pairs.tsv": PAIRS}))[0].sentences()
            == load_split(config, PAIRS)[0].sentences())


def test_a_missing_or_oversized_data_file_is_named_without_the_servers_folder(tmp_path, monkeypatch):
    with pytest.raises(DataError) as missing:
        core.data_files.read_data_file(tmp_path / "gone" / "fra.txt")
    assert "fra.txt" in str(missing.value) and str(tmp_path) not in str(missing.value)
    big = tmp_path / "big.tsv"
    big.write_bytes(b"a\tb\n" * 64)
    monkeypatch.setattr(core.data_files, "MAX_FILE_BYTES", 16)
    with pytest.raises(DataTooLarge) as over:
        core.data_files.read_data_file(big)
    assert "big.tsv" in str(over.value) and str(tmp_path) not in str(over.value)


def test_a_bad_data_file_or_checkpoint_is_named_in_messages_without_the_servers_folder(tmp_path):
    from core.checkpoint import CheckpointError, load_checkpoint
    binary = tmp_path / "fra.txt"
    binary.write_bytes(b"Go.\tVa !\n\x00\x01")
    with pytest.raises(DataError) as bad_data:
        read_tatoeba_file(binary)
    with pytest.raises(CheckpointError) as gone:
        load_checkpoint(tmp_path / "run.pt")
    for err, name in ((bad_data, "fra.txt"), (gone, "run.pt")):
        assert name in str(err.value) and str(tmp_path) not in str(err.value), err.value

"""Model files a class server must survive (issue 24): every size a file declares is checked before
the memory is spent, values a model must never silently take are refused naming the tensor or the
token, and a save that cannot be written says why and loses nothing."""
from __future__ import annotations

import errno
import io
import os
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import pytest
import torch

import core.book_weights
import core.checkpoint
from core.book_weights import api_key, import_state_dict, read_state_dict, read_vocab_file
from core.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointTooLarge,
    CheckpointWriteError,
    DiskFull,
    checkpoint_payload,
    load_checkpoint,
    save_checkpoint,
    write_checkpoint_bytes,
)
from core.config import DataConfig, ModelConfig, TrainConfig
from core.data import Vocab
from core.history import History
from core.model import build_model, count_parameters, parameter_count
from core.upload import open_upload
from tests.apptest_helpers import HANG_GUARD, no_exception, open_page

SPECIALS = ["<unk>", "<pad>", "<bos>", "<eos>"]
SMALL = ModelConfig(embed_size=8, num_hiddens=8, num_layers=2)
SRC, TGT = 12, 14
MiB = 2**20


def vocab(size: int, tokens: list[str] = SPECIALS) -> Vocab:
    return Vocab.from_dict({"idx_to_token": tokens + [f"w{i}" for i in range(size - len(tokens))]})


def book_weights(config: ModelConfig = SMALL) -> dict[str, torch.Tensor]:
    """What a notebook's `net.state_dict()` holds: the book's keys (d2l 0.17.6's, the playground's)."""
    return build_model(config, SRC, TGT).state_dict()


def saved(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def import_with_vocab_files(weights: bytes | dict, **kwargs) -> Checkpoint:
    return import_state_dict(weights, "seq2seq.params", vocabs=(vocab(SRC), vocab(TGT)), data_path="fra.txt",
                             **kwargs)


def checkpoint(config: ModelConfig = SMALL) -> Checkpoint:
    return Checkpoint(model=build_model(config, SRC, TGT), model_config=config, data_config=DataConfig(),
                      train_config=TrainConfig(), src_vocab=vocab(SRC), tgt_vocab=vocab(TGT), history=History(),
                      optimizer_state=None, test_pairs=[], name="small")


def forbid_inflating_or_loading(monkeypatch) -> None:
    """From now on, any attempt to inflate a zip member or to hand the file to PyTorch fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the file was inflated or loaded before its declared sizes were checked")
    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)
    monkeypatch.setattr(torch, "load", refuse)


@pytest.fixture
def no_model_built(monkeypatch):
    """Building a real model fails the test (a model on the meta device allocates nothing)."""
    def only_on_meta(*args, **kwargs):
        assert torch.get_default_device().type == "meta", "a model was built before the file was refused"
        return build_model(*args, **kwargs)
    monkeypatch.setattr(core.checkpoint, "build_model", only_on_meta)
    monkeypatch.setattr(core.book_weights, "build_model", only_on_meta)


# -- 1. compressed members: declared sizes first, inflation streamed with a cap -------------------------
def rezipped(raw: bytes, extra: dict[str, bytes] | None = None) -> bytes:
    """The same zip with every member deflated, as a file zipped again by hand is, plus `extra` members."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            target.writestr(member.filename, source.read(member))
        for name, data in (extra or {}).items():
            target.writestr(name, data)
    return out.getvalue()


def test_a_compressed_file_is_refused_by_its_declared_sizes_before_anything_is_inflated(monkeypatch):
    bomb = rezipped(saved(book_weights()), {"archive/data/99": bytes(8 * MiB)})   # 8 MiB of zeros: a few KB
    assert len(bomb) < 64 * 2**10
    forbid_inflating_or_loading(monkeypatch)
    for read in (lambda: load_checkpoint(bomb, name="bomb.pt", max_bytes=MiB),
                 lambda: read_state_dict(bomb, "bomb.params", max_bytes=MiB),
                 lambda: open_upload(bomb, "bomb.pt", max_bytes=MiB)):
        with pytest.raises(CheckpointTooLarge, match=r"bomb\.p\w+: its parts declare 8\.\d MiB once unpacked, more "
                                                     r"than the 1\.0 MiB this server takes"):
            read()


def test_a_compressed_file_under_the_limit_that_would_unpack_a_thousandfold_is_refused_before_inflating(
        monkeypatch):
    bomb = rezipped(saved(book_weights()), {"archive/data/99": bytes(32 * MiB)})  # under the 512 MiB limit
    forbid_inflating_or_loading(monkeypatch)
    with pytest.raises(CheckpointTooLarge, match=r"bomb\.pt: its compressed parts declare 32\.\d MiB from 0\.\d MiB, "
                                                 r"more than weights ever compress \(at most 10×\)"):
        open_upload(bomb, "bomb.pt", max_bytes=512 * MiB)


def with_declared_size(raw: bytes, member: str, size: int) -> bytes:
    """The zip with `member`'s uncompressed size rewritten (local header and central directory): a liar."""
    data = bytearray(raw)
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        offset = archive.getinfo(member).header_offset
    struct.pack_into("<I", data, offset + 22, size)
    at = data.find(b"PK\x01\x02")
    while at != -1:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46:at + 46 + name_length] == member.encode():
            struct.pack_into("<I", data, at + 24, size)
        at = data.find(b"PK\x01\x02", at + 1)
    return bytes(data)


def test_a_member_that_inflates_past_its_declared_size_is_refused_before_pytorch_reads_it(monkeypatch):
    liar = with_declared_size(rezipped(saved(book_weights()), {"archive/extra": bytes(4 * MiB)}), "archive/extra", 1000)
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(1))
    with pytest.raises(CheckpointError, match=r"liar\.pt: not a seq2seq-playground checkpoint, or a damaged one "
                                              r"\(PyTorch could not read it safely: BadZipFile"):
        load_checkpoint(liar, name="liar.pt", max_bytes=MiB)
    assert loads == []


def test_an_honest_compressed_checkpoint_and_the_books_weights_still_load():
    ckpt = load_checkpoint(rezipped(saved(checkpoint_payload(checkpoint()))), name="zipped.pt", max_bytes=MiB)
    assert ckpt.model_config == SMALL
    assert import_with_vocab_files(rezipped(saved(book_weights())), max_bytes=MiB).model_config.num_hiddens == 8


def test_a_file_in_pytorchs_format_before_1_6_is_refused_saying_how_to_save_it_again():
    buffer = io.BytesIO()
    torch.save(book_weights(), buffer, _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match=r"old\.params: saved in PyTorch's format from before version 1\.6.*"
                                              r"save it again"):
        read_state_dict(buffer.getvalue(), "old.params")


# -- 2. shapes and parameter counts before any model is built --------------------------------------------
def expanded(config: ModelConfig) -> dict[str, torch.Tensor]:
    """A state_dict of the model `config` describes whose every tensor is one stored zero repeated (stride 0)."""
    with torch.device("meta"):
        shapes = {key: value.shape for key, value in build_model(config, SRC, TGT).state_dict().items()}
    return {key: torch.zeros(1).expand(shape) for key, shape in shapes.items()}


def test_a_tiny_state_dict_of_stride_0_views_declaring_a_huge_model_is_refused_before_it_is_built(no_model_built):
    raw = saved(expanded(ModelConfig(embed_size=4096, num_hiddens=4096, num_layers=2)))
    assert len(raw) < 64 * 2**10
    with pytest.raises(CheckpointError, match=r"seq2seq\.params: encoder\.embedding\.weight declares 49,152 "
                                              r"values of shape \(12, 4096\) but stores only 4 bytes"):
        import_with_vocab_files(raw)
    with pytest.raises(CheckpointError, match="stores only 4 bytes"):
        open_upload(raw, "seq2seq.params", max_bytes=512 * MiB)


def test_many_views_of_one_stored_tensor_count_as_what_they_take_once_copied():
    shared = torch.zeros(25_000)                                   # 100 kB stored once, viewed 20 times
    raw = saved({f"w{i}": shared[:] for i in range(20)})
    with pytest.raises(CheckpointTooLarge, match=r"views\.params: its tensors hold 1\.9 MiB, more than the 1\.0 MiB"):
        read_state_dict(raw, "views.params", max_bytes=MiB)


def test_a_checkpoint_whose_settings_describe_a_bigger_model_than_its_weights_is_refused_before_building(
        no_model_built):
    payload = checkpoint_payload(checkpoint())
    payload["model_config"]["num_hiddens"] = 4096
    with pytest.raises(CheckpointError, match=r"big\.pt: encoder\.rnn\.weight_ih_l0 has shape \(24, 8\), "
                                              r"expected \(12288, 8\)"):
        load_checkpoint(saved(payload), name="big.pt")


def test_a_model_past_the_operators_parameter_limit_is_refused_before_it_is_built(no_model_built):
    count = parameter_count(SMALL, SRC, TGT)
    with pytest.raises(CheckpointTooLarge, match=rf"its model has {count:,} parameters; this server allows at most "
                                                 rf"{count - 1:,} \(SEQ2SEQ_MAX_PARAMETERS\)"):
        load_checkpoint(saved(checkpoint_payload(checkpoint())), name="mine.pt", max_parameters=count - 1)
    with pytest.raises(CheckpointTooLarge, match="SEQ2SEQ_MAX_PARAMETERS"):
        open_upload(saved(book_weights()), "seq2seq.params", max_bytes=MiB, max_parameters=count - 1)
    with pytest.raises(CheckpointTooLarge, match="SEQ2SEQ_MAX_PARAMETERS"):
        import_with_vocab_files(saved(book_weights()), max_parameters=count - 1)


@pytest.mark.parametrize("config", [
    ModelConfig(cell="gru", embed_size=8, num_hiddens=16, num_layers=1),
    ModelConfig(cell="lstm", embed_size=8, num_hiddens=16, num_layers=3),
    ModelConfig(cell="gru", embed_size=8, num_hiddens=16, num_layers=2, decoder="attention"),
    ModelConfig(cell="lstm", embed_size=8, num_hiddens=16, num_layers=2, decoder="attention"),
    ModelConfig(cell="gru", embed_size=8, num_hiddens=16, num_layers=2, dec_num_hiddens=12, dec_num_layers=1),
    ModelConfig(cell="lstm", embed_size=8, num_hiddens=16, num_layers=1, dec_num_hiddens=12, dec_num_layers=3),
    ModelConfig(embed_size=8, num_hiddens=16, output_layer="tied"),
    ModelConfig(embed_size=16, num_hiddens=16, output_layer="tied"),
    ModelConfig(embed_size=8, num_hiddens=16, num_layers=2, output_layer="adaptive"),
], ids=["gru", "lstm-3-layers", "gru-attention", "lstm-attention", "gru-bridge", "lstm-bridge", "tied-projected",
        "tied", "adaptive"])
@pytest.mark.parametrize("vocab_sizes", [(5, 3), (40, 57)])
def test_the_parameter_count_from_the_settings_equals_the_built_models(config, vocab_sizes):
    assert parameter_count(config, *vocab_sizes) == count_parameters(build_model(config, *vocab_sizes))


# -- 3, 4. values the weights must never silently take --------------------------------------------------
def test_float64_weights_beyond_float32s_range_are_refused_after_the_cast():
    weights = book_weights()
    weights["decoder.dense.weight"] = weights["decoder.dense.weight"].double() * 1e300     # finite in float64
    with pytest.raises(CheckpointError, match=r"decoder\.dense\.weight holds values beyond float32's range"):
        import_with_vocab_files(saved(weights))
    payload = checkpoint_payload(checkpoint())
    payload["state_dict"]["encoder.embedding.weight"] = torch.full((SRC, 8), 1e39, dtype=torch.float64)
    with pytest.raises(CheckpointError, match=r"encoder\.embedding\.weight holds values beyond float32's range"):
        load_checkpoint(saved(payload), name="wide.pt")


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_int_bool_and_complex_weights_are_refused_naming_the_tensor(dtype):
    weights = book_weights()
    weights["encoder.rnn.weight_hh_l1"] = torch.ones(weights["encoder.rnn.weight_hh_l1"].shape, dtype=dtype)
    name = str(dtype).removeprefix("torch.")
    with pytest.raises(CheckpointError, match=rf"encoder\.rnn\.weight_hh_l1 holds {name} values, not floating-point"):
        import_with_vocab_files(saved(weights))
    payload = checkpoint_payload(checkpoint())
    payload["state_dict"]["decoder.dense.bias"] = torch.ones(TGT, dtype=dtype)
    with pytest.raises(CheckpointError, match=rf"decoder\.dense\.bias holds {name} values"):
        load_checkpoint(saved(payload), name="ints.pt")


# -- 5, 6. vocabulary files -------------------------------------------------------------------------------
def test_vocabulary_files_without_pad_bos_or_eos_are_refused_naming_the_missing_tokens():
    with pytest.raises(CheckpointError, match=r"tgt\.txt: the target vocabulary has no <pad>, <bos>, <eos>"):
        read_vocab_file(b"<unk>\nle\nchat\n", "tgt.txt", "target")
    with pytest.raises(CheckpointError, match=r"src\.json: the source vocabulary has no <eos>, which") as said:
        read_vocab_file(b'["<unk>", "<pad>", "<bos>", "go"]', "src.json", "source")
    assert "<pad>" not in str(said.value).split("which")[0].split("has no")[1]
    assert "<bos>" not in read_vocab_file(b"<unk>\n<pad>\n<eos>\ngo", "src.txt", "source")   # d2l 1.0's source
    with pytest.raises(CheckpointError, match=r"the target vocabulary has no <bos>"):
        import_state_dict(saved(book_weights()), "seq2seq.params", data_path="fra.txt",
                          vocabs=(vocab(SRC), vocab(TGT, ["<unk>", "<pad>", "<eos>", "x"])))


@pytest.mark.parametrize("raw", [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'["<unk>", "<pad>"',
                                 b'[["<unk>"], "<pad>"]', b'[{"<unk>": 0}]', b'["<unk>", "\\x"]'],
                         ids=["deep", "deep-balanced", "unclosed", "nested", "object", "bad-escape"])
def test_malformed_or_deeply_nested_vocabulary_json_is_a_checkpoint_error(raw):
    with pytest.raises(CheckpointError, match=r"vocab\.json: not (a vocabulary|valid JSON)"):
        read_vocab_file(raw, "vocab.json")


def test_brackets_and_quotes_inside_tokens_are_still_tokens():
    vocab_json = b'["<unk>", "<pad>", "<bos>", "<eos>", "[", "]]", "{", "say \\"[hi]\\""]'
    assert read_vocab_file(vocab_json, "tgt.json", "target").idx_to_token[4:] == ["[", "]]", "{", 'say "[hi]"']


# -- 7. a d2l 1.0 file missing one key ---------------------------------------------------------------------
@pytest.mark.parametrize("missing", ["encoder.rnn.weight_ih_l1", "encoder.rnn.weight_hh_l0", "decoder.rnn.bias_hh_l1",
                                     "decoder.dense.weight"])
def test_a_d2l_10_file_missing_one_key_names_that_key_and_no_other(missing):
    weights = {api_key(key, "1.0"): value for key, value in book_weights().items()}     # encoder.rnn.rnn.…
    del weights[api_key(missing, "1.0")]
    with pytest.raises(CheckpointError) as said:
        import_with_vocab_files(saved(weights), api="1.0")
    message = str(said.value)
    assert repr(api_key(missing, "1.0")) in message and "unexpected" not in message, message
    assert sum(key in message for key in weights) == 0, message


# -- 8. a full disk, a read-only folder ------------------------------------------------------------------
class FullDisk:
    """A file on a disk with `room` bytes left: a write past them fails as the kernel's would."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.f.write(data)

    def __getattr__(self, name: str):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()


def test_a_full_disk_during_a_save_says_so_and_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(checkpoint(), tmp_path / "mine.pt")
    before = path.read_bytes()
    real = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: FullDisk(real(fd, *a, **k), room=1000))
    for save in (lambda: save_checkpoint(checkpoint(ModelConfig(num_hiddens=16)), path),
                 lambda: write_checkpoint_bytes(bytes(5000), path)):
        with pytest.raises(DiskFull, match=r"mine\.pt was not saved: the disk of the checkpoint folder is full") as said:
            save()
        assert isinstance(said.value, OSError) and "unexpected pos" not in str(said.value)
        assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine.pt"]
    monkeypatch.undo()
    assert load_checkpoint(path).model_config == SMALL


def read_only_below(folder: Path, monkeypatch) -> None:
    """Writing a file anywhere under `folder` fails as on a read-only folder (the tests run as root, whom
    a chmod would not stop)."""
    real = tempfile.mkstemp

    def mkstemp(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(folder.resolve()):
            raise PermissionError(errno.EACCES, "Permission denied", str(dir))
        return real(*args, dir=dir, **kwargs)
    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)


def test_a_read_only_checkpoint_folder_says_so_without_the_servers_path(tmp_path, monkeypatch):
    read_only_below(tmp_path, monkeypatch)
    with pytest.raises(CheckpointWriteError, match=r"mine\.pt was not saved: the checkpoint folder is read-only") as said:
        save_checkpoint(checkpoint(), tmp_path / "mine.pt")
    assert str(tmp_path) not in str(said.value) and isinstance(said.value, OSError)
    assert not (tmp_path / "mine.pt").exists()


def test_the_read_only_message_is_said_in_chinese_to_a_chinese_reader(tmp_path, monkeypatch):
    from core.i18n import text_in
    read_only_below(tmp_path, monkeypatch)
    with pytest.raises(CheckpointWriteError) as said:
        save_checkpoint(checkpoint(), tmp_path / "mine.pt")
    chinese = text_in(said.value, "zh")
    assert "mine.pt" in chinese and "只读" in chinese, chinese


# -- 9. the sidebar's import into a read-only folder -------------------------------------------------------
def all_text(at) -> str:
    kinds = ("markdown", "caption", "error", "warning", "info", "success", "code", "text", "title", "subheader")
    return "\n".join(str(element.value) for kind in kinds for element in at.get(kind))


def uploader(at, key: str):
    return next(u for u in at.sidebar.get("file_uploader") if u.key == key)


def test_importing_the_books_weights_into_a_read_only_folder_says_so_on_the_page(tmp_path, monkeypatch):
    shutil.copy(core.checkpoint.DEFAULT_CHECKPOINT, tmp_path / "default.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    read_only_below(tmp_path, monkeypatch)
    at = open_page("app.py", timeout=HANG_GUARD, **{"_pending_import": ("seq2seq.params", saved(book_weights()), "GRU"),
                                                    "import.api": "0.17.6", "import.how": "from vocabulary files"})
    assert any("holds weights trained with the book's code" in i.value for i in at.sidebar.info)
    uploader(at, "import.src").upload("src.txt", "\n".join(vocab(SRC).idx_to_token).encode(), "text/plain")
    uploader(at, "import.tgt").upload("tgt.txt", "\n".join(vocab(TGT).idx_to_token).encode(), "text/plain")
    at = no_exception(no_exception(at.run()).sidebar.button(key="import.go").click().run())
    said = " ".join(e.value for e in at.sidebar.error)
    assert "Not imported" in said and "read-only" in said and "seq2seq.pt" in said, said
    assert str(tmp_path) not in all_text(at) and not list(tmp_path.rglob("seq2seq*.pt"))
    assert at.session_state["_pending_import"] is not None            # the weights still wait: nothing lost

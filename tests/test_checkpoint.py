"""Checkpoints: round trip, atomic writes, safe loading, clear errors, names inside the folder."""
import io
import os
import pickle

import pytest
import torch

from core.checkpoint import (
    CheckpointError,
    checkpoint_path,
    checkpoint_payload,
    list_checkpoints,
    load_checkpoint,
    sanitize_name,
    save_checkpoint,
)
from core.config import DataConfig, ModelConfig, TrainConfig
from core.train import start_run


def checkpoint_bytes(ckpt) -> bytes:
    """What an upload of this checkpoint's file holds."""
    buffer = io.BytesIO()
    torch.save(checkpoint_payload(ckpt), buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def run():
    data = DataConfig(source="copy", num_examples=64, num_test=8, batch_size=16, num_steps=6)
    r = start_run(data, ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=1))
    r.train()
    return r


def test_round_trip_keeps_weights_configs_vocabs_and_history(run, checkpoint_dir):
    path = save_checkpoint(run.checkpoint(), checkpoint_path("mine"))
    ckpt = load_checkpoint(path)
    for key, value in run.trainer.net.state_dict().items():
        assert torch.equal(ckpt.model.state_dict()[key], value.cpu())
    assert ckpt.model_config == run.model_config and ckpt.data_config == run.data_config
    assert ckpt.src_vocab.idx_to_token == run.data.src_vocab.idx_to_token
    assert ckpt.history.step_loss == run.trainer.history.step_loss and len(ckpt.test_pairs) == 8
    assert ckpt.optimizer_state is not None and list_checkpoints() == [path]
    assert load_checkpoint(checkpoint_bytes(run.checkpoint()), name="upload.pt").model_config == run.model_config


def test_a_failed_write_leaves_the_previous_file_intact(run, checkpoint_dir, monkeypatch):
    path = save_checkpoint(run.checkpoint(), checkpoint_dir / "keep.pt")
    before = path.read_bytes()

    def crash(obj, f, *a, **k):
        f.write(b"half a file")
        raise OSError("disk full")
    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        save_checkpoint(run.checkpoint(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in checkpoint_dir.iterdir()) == ["keep.pt"]


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ.get('EXPLOIT_MARKER', '/tmp/x')}",))


def test_a_malicious_pickle_never_runs(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EXPLOIT_MARKER", str(marker))
    evil = tmp_path / "evil.pt"
    torch.save({"format": "seq2seq-playground", "x": Exploit()}, evil)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(evil)
    raw = pickle.dumps(Exploit())
    with pytest.raises(CheckpointError):
        load_checkpoint(raw, name="evil2.pt")
    assert not marker.exists()


def test_truncated_corrupt_and_foreign_files_give_errors_naming_the_file(run, tmp_path):
    good = checkpoint_bytes(run.checkpoint())
    cases = {"truncated.pt": good[: len(good) // 2], "corrupt.pt": b"\x00garbage" * 10,
             "empty.pt": b""}
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(CheckpointError, match=name) as caught:
            load_checkpoint(tmp_path / name)
        assert "saved by the Train page" in str(caught.value) and "weights_only" not in str(caught.value)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="foreign.pt: not a seq2seq-playground checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")


def test_a_vocabulary_mismatch_is_reported(run, tmp_path):
    ckpt = run.checkpoint()
    ckpt.tgt_vocab.idx_to_token = ckpt.tgt_vocab.idx_to_token + ["extra"]
    save_checkpoint(ckpt, tmp_path / "mismatch.pt")
    ckpt.tgt_vocab.idx_to_token = ckpt.tgt_vocab.idx_to_token[:-1]
    with pytest.raises(CheckpointError, match="mismatch.pt: .*vocabulary or size mismatch"):
        load_checkpoint(tmp_path / "mismatch.pt")


@pytest.mark.parametrize("name", ["../../x", "/etc/y", "..", ".hidden", "a/b", "a\\b", "", "x\x00y", "-" * 70])
def test_checkpoint_names_never_leave_the_folder(name, checkpoint_dir):
    with pytest.raises(ValueError):
        checkpoint_path(name)


def test_checkpoint_path_stays_inside_the_folder(checkpoint_dir):
    assert checkpoint_path("run-1").parent == checkpoint_dir.resolve()
    assert checkpoint_path("run-1.pt").name == "run-1.pt"


@pytest.mark.parametrize("raw,expected", [("my run!", "my-run"), ("../../etc/passwd", "etc-passwd"), ("ok.pt", "ok")])
def test_user_names_are_sanitized(raw, expected):
    assert sanitize_name(raw) == expected
    with pytest.raises(ValueError):
        sanitize_name("../..")


def test_temporary_files_are_never_listed(checkpoint_dir, run):
    (checkpoint_dir / ".tmp-abc.part").write_bytes(b"partial")
    save_checkpoint(run.checkpoint(), checkpoint_dir / "real.pt")
    assert [p.name for p in list_checkpoints()] == ["real.pt"]

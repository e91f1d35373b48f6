"""Hardening of the views: faults and hostile uploads give messages, never tracebacks or code runs."""
from __future__ import annotations

import os

import pytest
import torch

import core.train
from tests.apptest_helpers import rerun_until, workspace_of
from tests.test_pages import DECODE, HOME, TRAIN, by_label, no_exception, open_page, tiny_run_state


def wait_until_done(at):
    return rerun_until(at, lambda page: page.get("download_button"), "the run to end and save")


def test_a_nan_loss_stops_the_run_with_a_message_and_keeps_the_last_good_checkpoint(app_dir, monkeypatch):
    original = core.train.Trainer._step
    calls = {"n": 0}

    def step_then_nan(self, batch):
        loss_sum, tokens, norm = original(self, batch)
        calls["n"] += 1
        return (loss_sum * float("nan") if calls["n"] > 3 else loss_sum), tokens, norm
    monkeypatch.setattr(core.train.Trainer, "_step", step_then_nan)
    monkeypatch.setenv("SEQ2SEQ_WORKERS", "thread")     # the patched step runs in this process
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=50, name="nan-run")))
    at = wait_until_done(no_exception(at.button[0].click().run()))
    assert any("loss became nan" in m.value for m in [*at.error, *at.warning])
    from core.checkpoint import load_checkpoint
    kept = load_checkpoint(workspace_of(at) / "nan-run.pt")
    assert len(kept.history.step_loss) == 3 and all(torch.isfinite(p).all() for p in kept.model.parameters())


def test_an_exception_in_the_training_job_reaches_the_page_and_the_app_keeps_working(app_dir, monkeypatch):
    def boom(self, batch):
        raise RuntimeError("simulated failure in the worker")
    monkeypatch.setattr(core.train.Trainer, "_step", boom)
    monkeypatch.setenv("SEQ2SEQ_WORKERS", "thread")     # the patched step runs in this process
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=5, name="boom-run")))
    at = no_exception(at.button[0].click().run())
    at = rerun_until(at, lambda page: any("simulated failure" in e.value for e in page.error), "the job's error")
    assert any("simulated failure" in e.value for e in at.error)
    at.switch_page(DECODE)
    assert no_exception(at.run()).code            # other views still work


def test_a_model_too_big_for_memory_is_refused_with_a_message(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(embed_size=4096, hiddens=4096, layers=8, batch=8192,
                                                        num_steps=200, name="huge")))
    at = no_exception(at.button[0].click().run())
    assert any("GiB" in e.value for e in at.error) and not (workspace_of(at) / "huge.pt").exists()


class Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['EXPLOIT_MARKER']}",))


def test_a_malicious_checkpoint_upload_never_runs_and_names_the_file(app_dir, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("EXPLOIT_MARKER", str(marker))
    import io
    buffer = io.BytesIO()
    torch.save({"format": "seq2seq-playground", "x": Exploit()}, buffer)
    at = open_page(HOME)
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("evil.pt", buffer.getvalue(),
                                                                 "application/octet-stream").run())
    assert any("evil.pt" in e.value for e in at.sidebar.error) and not marker.exists()


@pytest.mark.parametrize("raw,message", [(b"\x00\x01\x02binary" * 50, "binary"), (b"caf\xe9\tx\n" * 5, "UTF-8")])
def test_a_bad_dataset_upload_is_refused_with_a_message(app_dir, raw, message):
    at = no_exception(open_page(TRAIN, **{"keep.train.source": "tsv-upload"}))
    uploader = next(u for u in at.get("file_uploader") if u not in at.sidebar.get("file_uploader"))
    at = no_exception(uploader.upload("data.tsv", raw, "text/tab-separated-values").run())
    assert any(message in e.value for e in at.error)


def test_a_tsv_upload_shows_how_many_malformed_lines_were_skipped(app_dir):
    rows = "".join(f"word{i} .\tmot{i} .\n" for i in range(40)) + "no tab here\nanother bad line\n\tempty source\n"
    at = no_exception(open_page(TRAIN, **{"keep.train.source": "tsv-upload"}))
    uploader = next(u for u in at.get("file_uploader") if u not in at.sidebar.get("file_uploader"))
    at = no_exception(uploader.upload("data.tsv", rows.encode(), "text/tab-separated-values").run())
    assert by_label(at.metric, "Malformed lines skipped").value == "3"


def test_the_data_preview_shows_uploaded_pairs_as_text_in_a_table_they_cannot_break(app_dir):
    rows = "".join(f"a{i} | b <b>bold</b> .\tx | y [link](javascript:alert({i})) .\n" for i in range(24))
    at = no_exception(open_page(TRAIN, **{"keep.train.source": "tsv-upload"}))
    uploader = next(u for u in at.get("file_uploader") if u not in at.sidebar.get("file_uploader"))
    at = no_exception(uploader.upload("data.tsv", rows.encode(), "text/tab-separated-values").run())
    table = next(m.value for m in at.markdown if m.value.startswith("| source | target |"))
    lines = table.splitlines()
    assert len(lines) == 2 + 8 and all(line.count(" | ") == 1 for line in lines)   # two cells a row
    assert "\\|" in table and "\\<b\\>" in table and "\\[link\\]" in table


def test_a_markdown_table_keeps_each_cell_in_its_row_and_shows_it_literally():
    from ui.text import markdown_table
    table = markdown_table(["source", "target"], [("a\nb | c", "\\ *x* `y`"), ("go .", "va !")])
    lines = table.splitlines()
    assert lines[:2] == ["| source | target |", "| --- | --- |"] and len(lines) == 4
    assert lines[2] == "| a b \\| c | \\\\ \\*x\\* \\`y\\` |" and lines[3] == "| go . | va ! |"


def test_local_paths_are_offered_only_when_the_operator_enables_them(app_dir, monkeypatch):
    monkeypatch.delenv("SEQ2SEQ_ALLOW_LOCAL_PATHS", raising=False)
    at = no_exception(open_page(TRAIN))
    assert not any("local path" in o for w in at.selectbox for o in w.options)
    monkeypatch.setenv("SEQ2SEQ_ALLOW_LOCAL_PATHS", "1")
    at = no_exception(open_page(TRAIN))
    assert any("local path" in o for w in at.selectbox for o in w.options)

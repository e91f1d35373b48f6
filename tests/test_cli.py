"""The command lines end with one JSON line of metrics."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.trains
@pytest.mark.process
def test_train_then_evaluate_end_with_json_metrics(tmp_path):
    out = tmp_path / "cli.pt"
    train = run_module("core.train", "--data", "reverse", "--num-examples", "200", "--epochs", "2",
                       "--embed-size", "8", "--num-hiddens", "8", "--out", str(out), "--json")
    assert train.returncode == 0, train.stderr
    metrics = json.loads(train.stdout.strip().splitlines()[-1])
    assert {"final_loss", "train_seconds", "tokens", "tokens_per_second"} <= set(metrics)
    if shutil.which("c++") or shutil.which("g++"):
        assert metrics["gru"] == "fused GRU kernel"      # built before training starts
    assert metrics["tokens"] > 0 and out.is_file() and "epoch 2/2" in train.stderr
    evaluation = run_module("core.evaluate", str(out), "--json")
    assert evaluation.returncode == 0, evaluation.stderr
    report = json.loads(evaluation.stdout.strip().splitlines()[-1])
    assert [row["src"] for row in report["examples"]] == ["go .", "i lost .", "he's calm .", "i'm home ."]
    assert {"src", "pred", "ref", "bleu"} <= set(report["examples"][0]) and 0 <= report["corpus_bleu"] <= 100


@pytest.mark.process
def test_bad_flags_give_a_clear_error_not_a_traceback(tmp_path):
    result = run_module("core.train", "--lr", "-1", "--out", str(tmp_path / "x.pt"))
    assert result.returncode == 2 and "lr must be greater than 0" in result.stderr and "Traceback" not in result.stderr
    missing = run_module("core.evaluate", str(tmp_path / "nope.pt"))
    assert missing.returncode == 2 and "nope.pt: no such file" in missing.stderr

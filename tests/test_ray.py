"""Past one server: runs on a real local Ray cluster, started by the test (`ray start --head`).

Two runs train at once through the app's job API (`core.service.serving`: the queue and the Ray
runner the app uses when SEQ2SEQ_RAY_ADDRESS is set); their events and checkpoints come back;
one stops within a second; the other's worker is killed: the run ends with a message and
the last checkpoint the app received is kept. A cluster that cannot be reached is reported,
and the local fallback is used only where it is allowed. The cluster runs with Ray's token
authentication, as docs/SERVING.md sets a class's up: the app connects with the token, and a
client without it is refused. Marked slow (the cluster takes ~10 s).
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.checkpoint import load_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.service.jobs import TrainingJob
from core.service.serving import serve
from core.service.workers import InProcess
from core.train import RunSpec
from tests.apptest_helpers import HANG_GUARD, ROOT, wait_until

ray = pytest.importorskip("ray", reason="Ray is a test dependency (requirements-dev.txt)")
pytestmark = pytest.mark.slow
RAY = str(Path(sys.executable).with_name("ray"))
TOKEN = secrets.token_hex(16)          # the cluster's token (RAY_AUTH_MODE=token), as SERVING.md has one made
AUTH = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A one-machine Ray cluster with 2 CPUs and token authentication, stopped (with every worker) at the end."""
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": TOKEN}
    env.pop("RAY_AUTH_TOKEN_PATH", None)
    ours = {name: os.environ.get(name) for name in AUTH}     # the app's connection puts the token into ours
    subprocess.run([RAY, "start", "--head", "--num-cpus", "2", "--port", str(port), "--include-dashboard=false",
                    "--disable-usage-stats", "--object-store-memory", str(100 * 2**20),
                    "--temp-dir", str(tmp_path_factory.mktemp("ray"))],
                   check=True, env=env, capture_output=True, timeout=120)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)
        for name, value in ours.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def tiny_job(name: str, runner, epochs: int = 100_000) -> TrainingJob:
    data = DataConfig(source="reverse", num_examples=128, num_test=16, batch_size=16, num_steps=6)
    spec = RunSpec(data_config=data, model_config=ModelConfig(embed_size=8, num_hiddens=8, num_layers=1),
                   train_config=TrainConfig(num_epochs=epochs))
    return TrainingJob(spec=spec, name=name, sample_every=1, runner=runner, checkpoint_every=0.0)


def wait(condition) -> None:
    wait_until(condition, "the cluster's runs")


def test_two_runs_train_at_once_on_the_cluster_one_stops_and_a_killed_worker_keeps_its_checkpoint(
        cluster, checkpoint_dir):
    setup = serve({"SEQ2SEQ_RAY_ADDRESS": cluster, "SEQ2SEQ_RAY_TOKEN": TOKEN})
    assert not setup.problem and setup.runner.name == "ray" and setup.queue.capacity() == 2
    assert TOKEN not in str(setup.where)                 # the token is never part of what a page shows
    first, second = tiny_job("ray-first", setup.runner), tiny_job("ray-second", setup.runner)
    assert setup.queue.submit(first) == 0 and setup.queue.submit(second) == 0      # both start: 2 slots
    wait(lambda: first.saved_to and second.saved_to and first.snapshot().samples and second.snapshot().samples)
    assert first.status == second.status == "running"
    for job in (first, second):
        assert job.stats.pid != os.getpid() and "Ray actor" in job.stats.where
        snap = job.snapshot()
        assert snap.step_loss and snap.epoch_loss and {"src", "pred", "ref", "bleu"} <= set(snap.samples[0])
        assert load_checkpoint(job.saved_to).history.epoch_loss        # a checkpoint came back to the folder

    first.stop()
    assert first.join(HANG_GUARD) and first.status == "stopped" and first.epochs_done < first.planned_epochs
    kept = load_checkpoint(checkpoint_dir / "ray-first.pt")
    assert len(kept.history.step_loss) == len(first.snapshot().step_loss)

    os.kill(second.stats.pid, signal.SIGKILL)
    assert second.join(HANG_GUARD) and second.status == "failed"
    assert "Ray worker training this run died" in second.message and "ray-second.pt" in second.message
    assert load_checkpoint(checkpoint_dir / "ray-second.pt").history.epoch_loss
    wait(lambda: setup.queue.running() == [])


def test_a_cluster_that_cannot_be_reached_is_reported_and_the_fallback_is_used_only_when_allowed(monkeypatch):
    from core.service import ray_runner
    lost = {"SEQ2SEQ_RAY_ADDRESS": f"127.0.0.1:{free_port()}", "SEQ2SEQ_RAY_TIMEOUT": "3"}
    if ray.is_initialized():
        ray.shutdown()
    waits: list[float] = []            # the connection is given SEQ2SEQ_RAY_TIMEOUT, not the clock's mood
    connect = ray_runner.OnRay.connect
    monkeypatch.setattr(ray_runner.OnRay, "connect", lambda self, timeout: waits.append(timeout) or connect(self, timeout))
    answers: list = []
    asking = threading.Thread(target=lambda: answers.append(serve(lost)), daemon=True)
    asking.start()
    asking.join(HANG_GUARD)
    assert answers, "the app hung on a lost cluster"
    assert waits == [3.0]
    refused = answers[0]
    assert "cannot be reached" in refused.problem and refused.queue.capacity() == 0
    allowed = serve({**lost, "SEQ2SEQ_RAY_FALLBACK": "1"})
    assert not allowed.problem and isinstance(allowed.runner, InProcess) and "worker processes" in allowed.where


def without_the_token(tmp_path: Path) -> dict[str, str]:
    """A process's environment with no Ray token anywhere (not even ~/.ray/auth_token, which Ray
    would read), that gives up on a refusing cluster after 2 tries instead of 20."""
    env = {name: value for name, value in os.environ.items() if name not in AUTH and name != "SEQ2SEQ_RAY_TOKEN"}
    return {**env, "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0", "RAY_gcs_server_port_wait_time_s": "2"}


def test_the_cluster_refuses_a_client_without_its_token_and_the_app_says_which_setting_is_missing(
        cluster, tmp_path):
    plain_client = (f"import ray\ntry:\n    ray.init(address={cluster!r}, log_to_driver=False)\n"
                    "    print('CONNECTED')\nexcept Exception as err:\n"
                    "    print('REFUSED', err, err.__cause__)")
    said = subprocess.run([sys.executable, "-c", plain_client], env=without_the_token(tmp_path), cwd=ROOT,
                          capture_output=True, text=True, timeout=HANG_GUARD)
    assert "REFUSED" in said.stdout and "CONNECTED" not in said.stdout
    assert "InvalidAuthToken" in said.stdout + said.stderr        # refused for the token, not unreachable

    app = (f"from core.service.serving import serve\n"
           f"print(serve({{'SEQ2SEQ_RAY_ADDRESS': {cluster!r}, 'SEQ2SEQ_RAY_TIMEOUT': '{HANG_GUARD:g}'}}).problem)")
    said = subprocess.run([sys.executable, "-c", app], env=without_the_token(tmp_path), cwd=ROOT,
                          capture_output=True, text=True, timeout=HANG_GUARD)
    problem = said.stdout
    assert "refused this server's token" in problem and "SEQ2SEQ_RAY_TOKEN" in problem, said.stdout + said.stderr
    assert TOKEN not in problem

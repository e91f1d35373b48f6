"""A class on one server: the queue, the operator's limits, and runs in worker processes."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from core.checkpoint import load_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.service import limits as lim
from core.service.jobs import TrainingJob
from core.service.limits import LimitError, LimitExceeded, Limits, QueueFull
from core.service.queue import CANCELLED, DROPPED, JobQueue
from core.service.serving import serve
from core.service.workers import IN_THREAD, InProcess, WorkerFailed, WorkerStats
from core.train import RunSpec
from tests.apptest_helpers import HANG_GUARD, wait_until


class FakeJob:
    """What the queue sees of a job, with a clock the test turns."""

    def __init__(self, name: str, epochs: int = 10, per_epoch: float | None = None, clock=None):
        self.name, self.planned_epochs, self._per_epoch = name, epochs, per_epoch
        self.status, self.message, self.queue, self.last_seen = "created", "", None, 0.0
        self.job_id = f"id-{name}"
        self.started_at: float | None = None
        self.clock = clock or (lambda: 0.0)

    def wait_in(self, queue, message):
        self.queue, self.status, self.message = queue, "queued", message

    def start_in(self, queue):
        self.queue = queue
        return self.start()

    def start(self):
        self.status, self.started_at = "running", self.clock()
        return self

    def finish(self):
        self.status = "finished"
        self.queue.ended(self)

    @property
    def alive(self) -> bool:
        return self.status in ("queued", "running")

    @property
    def seconds_per_epoch(self):
        return self._per_epoch

    @property
    def eta_seconds(self):
        return None if self._per_epoch is None else self._per_epoch * self.planned_epochs

    def orphaned(self, now: float) -> bool:
        return now - self.last_seen > 60

    def withdraw(self, message: str) -> None:
        self.status, self.message = "stopped", message

    def cancel(self, message: str) -> None:
        if not (self.status == "queued" and self.queue.cancel(self, message)):
            self.status, self.message = "stopped", message


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


# -- the queue -------------------------------------------------------------------------------
def test_the_queue_starts_at_most_its_capacity_and_the_rest_in_the_order_they_came():
    queue, started = JobQueue(lambda: 2, clock=Clock()), []
    jobs = [FakeJob(f"j{i}") for i in range(5)]
    for j in jobs:
        j.start = (lambda j=j: (started.append(j.name), FakeJob.start(j)))
    places = [queue.submit(j) for j in jobs]
    assert places == [0, 0, 1, 2, 3] and started == ["j0", "j1"]
    assert [j.status for j in jobs] == ["running", "running", "queued", "queued", "queued"]
    assert [queue.place(j) for j in jobs] == [None, None, 1, 2, 3]
    for finished in (jobs[1], jobs[0], jobs[2]):
        finished.finish()
        assert len(queue.running()) == 2
    assert started == ["j0", "j1", "j2", "j3", "j4"] and queue.waiting() == []


def test_stop_takes_a_waiting_run_out_of_the_queue_and_the_others_move_up():
    queue = JobQueue(lambda: 1, clock=Clock())
    first, second, third = FakeJob("a"), FakeJob("b"), FakeJob("c")
    for j in (first, second, third):
        queue.submit(j)
    assert queue.cancel(second) and second.status == "stopped" and second.message == CANCELLED
    assert queue.place(third) == 1 and not queue.cancel(second) and not queue.cancel(first)
    first.finish()
    assert third.status == "running" and second.status == "stopped"


def test_a_closed_tabs_waiting_run_is_dropped_and_never_starts():
    clock = Clock()
    queue = JobQueue(lambda: 1, clock=clock)
    running, gone, kept = FakeJob("running"), FakeJob("gone"), FakeJob("kept")
    for j in (running, gone, kept):
        queue.submit(j)
    clock.now = 100.0
    kept.last_seen = 95.0                     # this tab still sends heartbeats; the other closed
    queue.dispatch()
    assert gone.status == "stopped" and gone.message == DROPPED and queue.place(kept) == 1
    running.finish()
    assert kept.status == "running" and gone.started_at is None


def test_a_full_queue_refuses_a_run_naming_its_limit():
    queue = JobQueue(lambda: 1, max_waiting=2, clock=Clock())
    for name in "abc":
        queue.submit(FakeJob(name))
    with pytest.raises(QueueFull, match="SEQ2SEQ_MAX_QUEUE") as refused:
        queue.submit(FakeJob("d"))
    assert refused.value.variable == lim.MAX_QUEUE and len(queue.waiting()) == 2


def test_a_slow_capacity_answer_never_holds_the_queue_for_the_other_tabs():
    """A Ray cluster's capacity is an RPC: a tab waiting on it must not block another's page."""
    answering, release, answered = threading.Event(), threading.Event(), threading.Event()

    def slow_capacity() -> int:
        answering.set()
        release.wait(HANG_GUARD)
        answered.set()
        return 1

    queue = JobQueue(slow_capacity, clock=Clock())
    queue._waiting.append(FakeJob("waits"))
    submitter = threading.Thread(target=queue.submit, args=(FakeJob("new"),))
    submitter.start()
    assert answering.wait(HANG_GUARD)        # the submit is now waiting on the cluster's answer
    assert [j.name for j in queue.waiting()] == ["waits"] and queue.place(queue.waiting()[0]) == 1
    assert not answered.is_set()             # read while the answer was still pending: nothing held them
    release.set()
    submitter.join(HANG_GUARD)
    assert not submitter.is_alive()


def test_the_expected_wait_adds_the_running_etas_and_the_runs_ahead():
    queue = JobQueue(lambda: 2, clock=Clock())
    a, b = FakeJob("a", epochs=10, per_epoch=3.0), FakeJob("b", epochs=10, per_epoch=1.0)   # 30 s, 10 s left
    c, d, e = FakeJob("c", epochs=5), FakeJob("d", epochs=20), FakeJob("e")
    for j in (a, b, c, d, e):
        queue.submit(j)
    # 2 s per epoch measured here: c starts at 10 s (when b ends) and takes 10 s; d at 20 s, after c
    assert queue.expected_wait(c) == pytest.approx(10.0)
    assert queue.expected_wait(d) == pytest.approx(20.0)
    assert queue.expected_wait(e) == pytest.approx(30.0)           # a ends at 30 s, before d
    assert queue.expected_wait(a) is None                            # running, not waiting


def test_the_expected_wait_is_unknown_until_some_run_has_timed_an_epoch():
    queue = JobQueue(lambda: 1, clock=Clock())
    queue.submit(FakeJob("a"))
    waiting = FakeJob("b")
    queue.submit(waiting)
    assert queue.expected_wait(waiting) is None


def test_a_slot_that_appears_starts_a_waiting_run_on_the_next_tick():
    slots = {"n": 1}
    queue = JobQueue(lambda: slots["n"], clock=Clock())
    queue.submit(FakeJob("a"))
    waiting = FakeJob("b")
    queue.submit(waiting)
    slots["n"] = 2                             # a machine joined the cluster
    queue.dispatch()
    assert waiting.status == "running"


def test_the_expected_wait_comes_from_the_running_runs_epoch_times_not_from_runs_that_ended():
    """A slow run that ended says nothing of the runs training now: the estimate reads theirs."""
    queue = JobQueue(lambda: 1, clock=Clock())
    ended = FakeJob("slow", epochs=1, per_epoch=10.0)
    queue.submit(ended)
    ended.finish()
    running, next_up, last = FakeJob("running", epochs=10, per_epoch=1.0), FakeJob("next", epochs=5), FakeJob("last")
    for j in (running, next_up, last):
        queue.submit(j)
    assert queue.expected_wait(next_up) == pytest.approx(10.0)      # when `running` ends: its own 10 × 1 s
    assert queue.expected_wait(last) == pytest.approx(15.0)         # then 5 epochs at the running run's 1 s


def test_a_waiting_runs_place_the_counts_and_its_wait_come_from_one_look_at_the_queue():
    queue = JobQueue(lambda: 1, clock=Clock())
    running, first, second = FakeJob("a", epochs=4, per_epoch=2.0), FakeJob("b", epochs=3), FakeJob("c")
    for j in (running, first, second):
        queue.submit(j)
    state = queue.state()
    assert (len(state.running), len(state.waiting), state.capacity, state.free_slots) == (1, 2, 1, 0)
    assert [state.place(j) for j in (running, first, second)] == [None, 1, 2]
    assert [state.expected_wait(j) for j in (first, second)] == [pytest.approx(8.0), pytest.approx(14.0)]
    running.finish()                                  # the queue moves on; the look taken before does not
    assert state.place(first) == 1 and len(queue.state().running) == 1 and queue.state().place(second) == 1


def test_clearing_takes_out_the_runs_the_operator_saw_and_names_the_one_that_took_a_freed_slot():
    queue = JobQueue(lambda: 1, clock=Clock())
    running, second, third = FakeJob("first"), FakeJob("second"), FakeJob("third")
    for j in (running, second, third):
        queue.submit(j)
    seen = [j.job_id for j in queue.state().waiting]     # the page shows "Clear the queue (2)"
    running.cancel("cancelled")
    running.finish()                                      # the cancel freed the slot: second starts
    late = FakeJob("late")
    queue.submit(late)                                    # and a run came in after the page was drawn
    cleared = queue.clear(expected=seen)
    assert cleared.removed == (third,) and cleared.started == (second,) and cleared.kept == (late,)
    assert third.status == "stopped" and second.status == "running" and late.status == "queued"
    assert queue.clear(expected=[third.job_id]).ended == (third.job_id,)


def test_the_operators_actions_say_what_changed_since_the_page_was_drawn():
    from core.service.operator import cancel_job, clear_queue
    queue = JobQueue(lambda: 1, clock=Clock())
    running, second, third = FakeJob("first"), FakeJob("second"), FakeJob("third")
    for j in (running, second, third):
        queue.submit(j)
    seen = [j.job_id for j in queue.waiting()]
    said = cancel_job(queue, running.job_id, seen="running")
    assert running.status == "stopped" and "Cancelled id-first (first)" in said
    running.finish()
    lines = clear_queue(queue, seen)
    assert "Took 1 waiting run(s) out of the queue" in lines[0]
    assert any("id-second (second) had taken a free slot meanwhile" in line for line in lines)
    assert "had started meanwhile" in cancel_job(queue, second.job_id, seen="queued")
    assert "had already ended" in cancel_job(queue, "id-gone", seen="queued")


# -- the operator's limits ---------------------------------------------------------------------
def test_limits_come_from_the_environment_before_the_secrets_file():
    env = {"SEQ2SEQ_MAX_EPOCHS": "50", "SEQ2SEQ_MAX_MINUTES": "2.5"}
    secrets = {"SEQ2SEQ_MAX_EPOCHS": 10, "SEQ2SEQ_MAX_PARAMETERS": 100_000, "SEQ2SEQ_MAX_UPLOAD_MB": 8}
    limits = Limits.read(env, secrets, cores=8)
    assert limits.max_epochs == 50 and limits.max_parameters == 100_000 and limits.max_minutes == 2.5
    assert limits.max_upload_mb == 8 and limits.max_seconds == 150.0
    assert limits.max_jobs == 7 and limits.max_queue is None and limits.max_train_pairs is None


def test_the_default_number_of_runs_at_once_keeps_one_core_for_the_pages():
    assert Limits.read({}, cores=2).max_jobs == 1
    assert Limits.read({}, cores=1).max_jobs == 1
    assert Limits.read({"SEQ2SEQ_MAX_JOBS": "3"}, cores=2).max_jobs == 3


@pytest.mark.parametrize("value", ["ten", "0", "-3", "1.5", "nan", "inf", "1e400"])
def test_a_bad_limit_is_refused_naming_its_variable(value):
    with pytest.raises(LimitError, match="SEQ2SEQ_MAX_EPOCHS"):
        Limits.read({"SEQ2SEQ_MAX_EPOCHS": value})


def test_a_run_past_a_limit_is_refused_with_the_limit_named():
    limits = Limits(max_jobs=1, max_epochs=50, max_parameters=10_000, max_train_pairs=500)
    limits.check_run(epochs=50, parameters=10_000, train_pairs=500)
    for asked, variable in [(dict(epochs=51), "SEQ2SEQ_MAX_EPOCHS"), (dict(parameters=10_001), "SEQ2SEQ_MAX_PARAMETERS"),
                            (dict(train_pairs=501), "SEQ2SEQ_MAX_TRAIN_PAIRS")]:
        with pytest.raises(LimitExceeded, match=variable) as refused:
            limits.check_run(**{**dict(epochs=1, parameters=1, train_pairs=1), **asked})
        assert refused.value.variable == variable and "at most" in str(refused.value)
    with pytest.raises(LimitExceeded, match="SEQ2SEQ_MAX_UPLOAD_MB"):
        Limits(max_jobs=1, max_upload_mb=1).check_upload(2 * 2**20)


def test_a_bad_worker_kind_is_refused():
    with pytest.raises(LimitError, match="SEQ2SEQ_WORKERS"):
        serve({"SEQ2SEQ_WORKERS": "gpu"})


# -- runs in worker processes --------------------------------------------------------------------
def tiny_spec(epochs: int) -> RunSpec:
    data = DataConfig(source="reverse", num_examples=128, num_test=16, batch_size=16, num_steps=6)
    return RunSpec(data_config=data, model_config=ModelConfig(embed_size=8, num_hiddens=8, num_layers=1),
                   train_config=TrainConfig(num_epochs=epochs))


def tiny_job(name: str, epochs: int, **kwargs) -> TrainingJob:
    return TrainingJob(spec=tiny_spec(epochs), name=name, sample_every=1, **{"runner": InProcess(), **kwargs})


@pytest.mark.slow
def test_a_run_in_a_worker_process_reports_events_samples_and_its_checkpoint(checkpoint_dir):
    job = tiny_job("in-worker", epochs=3).start()
    assert job.join(HANG_GUARD) and job.status == "finished", job.message
    snap = job.snapshot()
    assert len(snap.epoch_loss) == 3 and len(snap.step_loss) == 24 and len(snap.samples) == 12
    assert job.stats.pid != os.getpid() and job.stats.cpu_seconds > 0
    assert load_checkpoint(snap.checkpoint).history.step_loss == snap.step_loss


@pytest.mark.slow
def test_stop_reaches_a_worker_process_and_ends_its_run_before_its_epochs(checkpoint_dir):
    job = tiny_job("stop-worker", epochs=100_000).start()
    wait_until(lambda: job.snapshot().step_loss, "the worker's first step")
    job.stop()
    assert job.join(HANG_GUARD), "hung: the worker did not stop"
    # the Stop ended it (its 100,000 epochs are far from done), with every step it reported saved
    assert job.status == "stopped" and job.epochs_done < job.planned_epochs
    assert len(load_checkpoint(job.saved_to).history.step_loss) == len(job.snapshot().step_loss)


@pytest.mark.slow
def test_a_killed_worker_ends_its_run_with_a_message_and_the_last_checkpoint_is_kept(checkpoint_dir):
    job = tiny_job("killed", epochs=100_000, checkpoint_every=0.0).start()
    wait_until(lambda: job.saved_to is not None, "the worker's first checkpoint")
    os.kill(job.stats.pid, signal.SIGKILL)
    assert job.join(HANG_GUARD) and job.status == "failed"
    assert "killed (SIGKILL)" in job.message and "killed.pt" in job.message
    assert load_checkpoint(checkpoint_dir / "killed.pt").history.epoch_loss    # the last one it sent


class Raises:
    def __call__(self, emit, stop):
        emit("before")
        raise MemoryError("simulated")


@pytest.mark.slow
def test_an_exception_in_the_worker_comes_back_as_its_message():
    seen = []
    with pytest.raises(WorkerFailed, match="MemoryError: simulated"):
        InProcess().run(Raises(), seen.append, threading.Event(), WorkerStats())
    assert seen == ["before"]


def test_a_training_job_waits_its_turn_shows_its_place_and_leaves_the_queue_on_stop(checkpoint_dir):
    queue = JobQueue(lambda: 1)
    first, second = tiny_job("first", epochs=100_000, runner=IN_THREAD), tiny_job("second", epochs=2, runner=IN_THREAD)
    third = tiny_job("third", epochs=2, orphan_timeout=0.2, runner=IN_THREAD)
    assert queue.submit(first) == 0 and queue.submit(second) == 1 and queue.submit(third) == 2
    snap = second.snapshot()
    assert second.alive and snap.waiting and snap.place == 1 and snap.progress == 0.0
    second.stop()
    assert second.join(HANG_GUARD) and second.status == "stopped" and second.message == CANCELLED
    assert second.saved_to is None and not (checkpoint_dir / "second.pt").exists()
    time.sleep(0.3)                                       # third's tab sends no heartbeats
    queue.dispatch()
    assert third.status == "stopped" and third.message == DROPPED
    first.stop()
    assert first.join(HANG_GUARD) and first.status == "stopped" and queue.running() == []


def test_a_waiting_tab_reads_its_place_the_counts_and_its_wait_from_one_look_at_the_queue(checkpoint_dir):
    queue = JobQueue(lambda: 1)
    first = tiny_job("first", epochs=100_000, runner=IN_THREAD)
    second, third = tiny_job("second", epochs=2, runner=IN_THREAD), tiny_job("third", epochs=3, runner=IN_THREAD)
    for job in (first, second, third):
        queue.submit(job)
    snap = third.snapshot()
    assert (snap.place, snap.training, snap.queued, snap.slots) == (2, 1, 2, 1) and snap.expected_wait is None
    wait_until(lambda: first.seconds_per_epoch, "the running run's first epoch")
    waits = [job.snapshot().expected_wait for job in (second, third)]
    assert None not in waits and waits[0] < waits[1]                # from the running run's measured epochs
    first.stop()
    assert first.join(HANG_GUARD) and second.join(HANG_GUARD) and third.join(HANG_GUARD)
    assert (third.snapshot().place, third.snapshot().queued) == (None, 0)     # ended: no count kept


@pytest.mark.slow
def test_a_worker_process_builds_trains_and_saves_its_run_and_sends_back_only_events(checkpoint_dir, monkeypatch):
    """The server builds nothing and writes nothing: a worker gets the spec and saves its own file."""
    def refuse(*args, **kwargs):
        raise AssertionError("the server built or wrote what the worker owns")
    for owned_by_the_worker in ("core.train.build_model", "core.model.build_model", "core.train.Trainer",
                                "core.checkpoint.save_checkpoint", "core.checkpoint.write_checkpoint_bytes",
                                "core.service.train_work.save_checkpoint",
                                "core.service.train_work.write_checkpoint_bytes"):
        monkeypatch.setattr(owned_by_the_worker, refuse)
    kinds: set[str] = set()

    class Recording(TrainingJob):
        def _on_message(self, message):
            kinds.add(message[0])
            assert not any(isinstance(part, bytes) for part in message)
            super()._on_message(message)

    job = Recording(spec=tiny_spec(3), name="own", sample_every=1, runner=InProcess(), checkpoint_every=0.0)
    assert job.start().join(HANG_GUARD) and job.status == "finished", job.message
    assert kinds == {"begin", "event", "saved"} and job.saved_to == str(checkpoint_dir / "own.pt")
    assert load_checkpoint(job.saved_to).history.epoch_loss == job.snapshot().epoch_loss


@pytest.mark.slow
def test_the_workers_peak_memory_is_measured_while_a_worker_trains(checkpoint_dir):
    from core.service.operator import server_load
    job = tiny_job("measured", epochs=100_000).start()
    wait_until(lambda: job.snapshot().step_loss, "the worker's first step")
    assert job.alive and job.stats.peak_mib is not None and job.stats.peak_mib > 10     # torch alone is more
    assert server_load()["worker processes peak MiB"] >= job.stats.peak_mib
    job.stop()
    assert job.join(HANG_GUARD)


@pytest.mark.slow
def test_a_worker_whose_app_was_killed_exits_by_itself(tmp_path):
    """The app dies without stopping its run (kill -9): the worker must not train on for nobody."""
    import subprocess
    import sys
    script = tmp_path / "app.py"
    script.write_text(
        "import sys, threading, time\n"
        f"sys.path.insert(0, {str(__import__('pathlib').Path(__file__).resolve().parents[1])!r})\n"
        "from core.service.workers import InProcess, WorkerStats\n"
        "from tests.test_serving import Forever\n"
        "if __name__ == '__main__':\n"
        "    stats = WorkerStats()\n"
        "    threading.Thread(target=InProcess().run, args=(Forever(), print, threading.Event(), stats),\n"
        "                     daemon=True).start()\n"
        "    while stats.pid is None: time.sleep(0.05)\n"
        "    print(stats.pid, flush=True)\n"
        "    time.sleep(600)\n")
    app = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    worker = int(app.stdout.readline())
    app.kill()
    app.wait(10)
    wait_until(lambda: not alive(worker), "the orphaned worker to exit")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return not open(f"/proc/{pid}/stat").read().split()[2] == "Z"    # a zombie has exited


class Forever:
    def __call__(self, emit, stop):
        while not stop.is_set():
            time.sleep(0.05)


def test_a_hung_cluster_answers_no_slots_in_time_and_never_makes_a_page_wait(monkeypatch):
    """OnRay.capacity: one caller asks the cluster, within the call timeout; the others get the
    last answer at once."""
    from core.service import ray_runner
    asked, release = threading.Event(), threading.Event()

    class HungRay:
        def cluster_resources(self):
            asked.set()
            release.wait(HANG_GUARD)
            return {"CPU": 4.0}

    monkeypatch.setattr(ray_runner, "_ray", lambda: HungRay())
    waiting = ray_runner.OnRay("127.0.0.1:1", call_timeout=HANG_GUARD)    # its caller stays in the call
    asking = threading.Thread(target=waiting.capacity)
    asking.start()
    assert asked.wait(HANG_GUARD)                                          # one caller is asking the cluster
    assert waiting.capacity() == 0 and asking.is_alive()                  # another got the last answer meanwhile
    release.set()
    asking.join(HANG_GUARD)
    release.clear()
    hung = ray_runner.OnRay("127.0.0.1:1", call_timeout=0.5)
    assert hung.capacity() == 0 and not release.is_set()                  # no answer in time: no slots
    release.set()

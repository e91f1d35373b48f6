"""Background training jobs: save on the way out, stop fast, never orphaned, isolated."""
import time

from core.checkpoint import load_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.service.jobs import TrainingJob
from core.train import start_run
from tests.apptest_helpers import HANG_GUARD, wait_until


def job(name, epochs=3, source="reverse", **kwargs):
    data = DataConfig(source=source, num_examples=128, num_test=16, batch_size=16, num_steps=6)
    run = start_run(data, ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=epochs))
    return TrainingJob(run, name, sample_every=1, **kwargs)


def test_a_finished_job_saves_its_checkpoint_and_reports_samples(checkpoint_dir):
    j = job("done").start()
    assert j.join(HANG_GUARD) and j.status == "finished"
    snap = j.snapshot()
    assert snap.progress == 1.0 and len(snap.epoch_loss) == 3 and len(snap.step_loss) == 24
    assert len(snap.samples) == 3 * 4 and {"src", "pred", "ref", "bleu"} <= set(snap.samples[0])
    assert load_checkpoint(snap.checkpoint).history.epoch_loss == snap.epoch_loss


def test_stop_takes_effect_at_the_step_in_flight_and_keeps_a_consistent_checkpoint(checkpoint_dir):
    j = job("stopped", epochs=10_000).start()
    wait_until(lambda: j.snapshot().step_loss, "the job's first step")
    j.stop()
    reported = len(j.snapshot().step_loss)    # steps reported when the stop was asked
    assert j.join(HANG_GUARD), "hung: the job did not stop"
    assert len(j.snapshot().step_loss) <= reported + 1       # at most the step in flight: stops at once
    assert j.status == "stopped"
    ckpt = load_checkpoint(j.saved_to)
    assert len(ckpt.history.step_loss) == len(j.snapshot().step_loss)


def test_a_job_whose_session_is_gone_stops_on_its_own(checkpoint_dir):
    j = job("orphan", epochs=10_000, orphan_timeout=0.3).start()
    assert j.join(HANG_GUARD) and j.status == "stopped" and "went away" in j.message


def test_an_exception_in_the_job_reaches_the_page_as_a_message(checkpoint_dir):
    j = job("boom")
    j.run.trainer._step = lambda batch: (_ for _ in ()).throw(RuntimeError("out of memory"))
    j.start().join(HANG_GUARD)
    assert j.status == "failed" and "RuntimeError: out of memory" in j.message


def test_two_jobs_at_once_are_independent(checkpoint_dir):
    a, b = job("tab-a", source="copy"), job("tab-b", source="sort", epochs=2)
    a.start(), b.start()
    assert a.join(HANG_GUARD) and b.join(HANG_GUARD)
    sa, sb = a.snapshot(), b.snapshot()
    assert len(sa.epoch_loss) == 3 and len(sb.epoch_loss) == 2 and sa.step_loss != sb.step_loss[: len(sa.step_loss)]
    assert load_checkpoint(sa.checkpoint).history.step_loss == sa.step_loss
    assert load_checkpoint(sb.checkpoint).history.step_loss == sb.step_loss


def test_running_jobs_share_the_cores_and_follow_each_other(checkpoint_dir, monkeypatch):
    """One core stays free for the app; a job alone uses the rest, two running share them, each
    moving to its share on its next step."""
    import torch

    from core.service import jobs
    monkeypatch.setattr(jobs, "usable_cores", lambda: 5)
    seen: dict[str, set[int]] = {"first": set(), "second": set()}
    latest: dict[str, int] = {}

    class Recording(TrainingJob):
        def _on_event(self, event):
            super()._on_event(event)
            seen[self.name].add(torch.get_num_threads())
            latest[self.name] = torch.get_num_threads()

    first = Recording(job("first", epochs=10_000).run, "first").start()
    while not seen["first"]:
        time.sleep(0.01)
    second = Recording(job("second", epochs=10_000).run, "second").start()
    while not seen["second"]:
        time.sleep(0.01)
    wait_until(lambda: 2 in seen["first"], "the first job to train on at its new share")
    assert jobs.threads_per_job() == 2
    second.stop(), second.join(HANG_GUARD)
    wait_until(lambda: latest["first"] == 4, "the first job to take the whole share back")
    first.stop(), first.join(HANG_GUARD)
    assert seen["first"] == {2, 4} and seen["second"] == {2}
    assert jobs.threads_per_job() == 4


def test_a_containers_cpu_quota_is_read_from_cgroup_v2_or_v1(tmp_path):
    from core.service import cores
    (tmp_path / "cpu.max").write_text("150000 100000\n")         # cgroup v2: 1.5 cores
    assert cores.cgroup_cpu_limit(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")             # no quota
    assert cores.cgroup_cpu_limit(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()                                     # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("400000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cores.cgroup_cpu_limit(tmp_path) == 4.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cores.cgroup_cpu_limit(tmp_path) is None


def test_a_containers_cpu_quota_caps_the_usable_cores(monkeypatch):
    from core.service import cores
    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: set(range(16)))
    monkeypatch.setattr(cores, "_cpu_limit", lambda: 1.5)
    assert cores.usable_cores() == 2
    monkeypatch.setattr(cores, "_cpu_limit", lambda: None)
    assert cores.usable_cores() == 16


def test_a_file_another_run_saved_meanwhile_is_kept_unless_overwriting_was_chosen(checkpoint_dir):
    first = job("shared").start()
    assert first.join(HANG_GUARD)
    before = (checkpoint_dir / "shared.pt").read_bytes()
    second = job("shared", overwrite=False).start()          # started when the name was free
    assert second.join(HANG_GUARD) and second.saved_to != str(checkpoint_dir / "shared.pt")
    assert (checkpoint_dir / "shared.pt").read_bytes() == before and "saved as" in second.message
    third = job("shared", overwrite=True).start()            # the user ticked "Overwrite"
    assert third.join(HANG_GUARD) and third.saved_to == str(checkpoint_dir / "shared.pt")

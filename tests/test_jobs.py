"""Background training jobs: save on the way out, stop fast, never orphaned, isolated."""
from dataclasses import replace

from core.checkpoint import load_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.service.jobs import TrainingJob
from core.train import RunSpec
from tests.apptest_helpers import HANG_GUARD, wait_until


def spec(epochs=3, source="reverse"):
    data = DataConfig(source=source, num_examples=128, num_test=16, batch_size=16, num_steps=6)
    return RunSpec(data_config=data, model_config=ModelConfig(embed_size=8, num_hiddens=8, num_layers=1),
                   train_config=TrainConfig(num_epochs=epochs))


def job(name, epochs=3, source="reverse", **kwargs):
    return TrainingJob(spec=spec(epochs, source), name=name, sample_every=1, **kwargs)


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


def test_an_exception_in_the_job_reaches_the_page_as_a_message(checkpoint_dir, monkeypatch):
    j = job("boom")       # trains on its own thread: the run it builds there takes the patched step
    monkeypatch.setattr("core.trainer.Trainer._step", lambda self, batch: (_ for _ in ()).throw(
        RuntimeError("out of memory")))
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

    from core.service import cores
    monkeypatch.setattr(cores, "usable_cores", lambda: 5)
    seen: dict[str, set[int]] = {"first": set(), "second": set()}
    latest: dict[str, int] = {}

    class Recording(TrainingJob):
        def _on_event(self, event):
            super()._on_event(event)
            seen[self.name].add(torch.get_num_threads())
            latest[self.name] = torch.get_num_threads()

    first = Recording(spec=spec(epochs=10_000), name="first").start()
    wait_until(lambda: seen["first"], "the first job's first step")
    second = Recording(spec=spec(epochs=10_000), name="second").start()
    wait_until(lambda: seen["second"], "the second job's first step")
    wait_until(lambda: 2 in seen["first"], "the first job to train on at its new share")
    assert cores.threads_per_job() == 2
    second.stop(), second.join(HANG_GUARD)
    wait_until(lambda: latest["first"] == 4, "the first job to take the whole share back")
    first.stop(), first.join(HANG_GUARD)
    assert seen["first"] == {2, 4} and seen["second"] == {2}
    assert cores.threads_per_job() == 4


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


# -- a run travels as a spec; the thread (or process) that trains it builds and saves it --------
def no_building(monkeypatch) -> None:
    """Building a model (or an optimizer's trainer) from here on fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built")
    monkeypatch.setattr("core.train.build_model", refuse)
    monkeypatch.setattr("core.model.build_model", refuse)
    monkeypatch.setattr("core.train.Trainer", refuse)


def test_a_job_is_made_from_a_spec_and_never_holds_a_built_run(checkpoint_dir, monkeypatch):
    import torch

    from core.train import TrainingRun
    with monkeypatch.context() as patched:
        no_building(patched)
        j = job("spec-only")                   # nothing is built to make a job
    assert j.start().join(HANG_GUARD) and j.status == "finished"
    held = [v for v in vars(j).values() if isinstance(v, (TrainingRun, torch.nn.Module, torch.optim.Optimizer))]
    assert held == [] and not hasattr(j, "run")
    assert load_checkpoint(j.saved_to).history.epoch_loss == j.snapshot().epoch_loss


def test_a_run_over_the_parameter_limit_is_refused_from_its_spec_before_any_model_is_built(monkeypatch):
    import pytest

    from core.model import build_model, count_parameters
    from core.service.jobs import check_limits
    from core.service.limits import LimitExceeded, Limits
    from core.sources import prepare_data
    from core.train import plan_run
    run_spec = spec()
    with monkeypatch.context() as patched:
        no_building(patched)
        plan = plan_run(run_spec)              # the configs and the data: no model, no optimizer
        with pytest.raises(LimitExceeded, match="SEQ2SEQ_MAX_PARAMETERS") as refused:
            check_limits(plan, Limits(max_jobs=1, max_parameters=500))
        with pytest.raises(LimitExceeded, match="SEQ2SEQ_MAX_TRAIN_PAIRS"):
            check_limits(plan, Limits(max_jobs=1, max_train_pairs=100))
        check_limits(plan, Limits(max_jobs=1, max_parameters=plan.parameters, max_train_pairs=128, max_epochs=3))
    data = prepare_data(run_spec.data_config)
    built = build_model(run_spec.model_config, len(data.src_vocab), len(data.tgt_vocab))
    assert refused.value.asked == plan.parameters == count_parameters(built)     # exactly what would be built
    assert plan.train_pairs == len(data.train) == 128 and plan.epochs == 3


def continued(path, more: int, **kwargs):
    from core.train import continue_spec
    return continue_spec(load_checkpoint(path), more, resume=str(path), **kwargs)


def test_a_continued_run_is_built_by_its_worker_from_the_checkpoint_it_names(checkpoint_dir):
    first = job("first")
    assert first.start().join(HANG_GUARD) and first.status == "finished"
    before = load_checkpoint(first.saved_to).history
    more = TrainingJob(spec=continued(first.saved_to, 2), name="more", sample_every=1)
    assert more.planned_epochs == 2 and more.snapshot().epoch == 3          # where it starts, before it runs
    assert more.start().join(HANG_GUARD) and more.status == "finished"
    snap, after = more.snapshot(), load_checkpoint(more.saved_to).history
    assert snap.epoch == 5 and snap.epoch_loss[:3] == before.epoch_loss and len(snap.epoch_loss) == 5
    assert after.step_loss == snap.step_loss and after.epoch_loss == snap.epoch_loss
    uploaded = (checkpoint_dir / "first.pt").read_bytes()                  # an upload: the worker reads its bytes
    again = TrainingJob(spec=replace(continued(first.saved_to, 1), resume=uploaded), name="again", sample_every=1)
    assert again.start().join(HANG_GUARD) and again.status == "finished" and again.snapshot().epoch == 4


def test_a_checkpoint_changed_after_its_run_was_set_up_is_not_trained(checkpoint_dir):
    first = job("changing")
    assert first.start().join(HANG_GUARD)
    stale = continued(first.saved_to, 2)                                   # set up from 3 epochs
    assert job("changing", epochs=4).start().join(HANG_GUARD)             # the file now holds another run
    more = TrainingJob(spec=stale, name="more", sample_every=1)
    assert more.start().join(HANG_GUARD) and more.status == "failed"
    assert "changed after this run was set up" in more.message and not (checkpoint_dir / "more.pt").exists()


def test_where_the_workers_disk_is_not_the_servers_the_checkpoint_comes_back_as_bytes(checkpoint_dir):
    """A Ray actor trains on another machine: it sends its checkpoints, the server writes them."""
    from core.service.workers import InThread

    class Elsewhere(InThread):
        remote = True

    kinds: list[str] = []

    class Recording(TrainingJob):
        def _on_message(self, message):
            kinds.append(message[0])
            super()._on_message(message)

    j = Recording(spec=spec(), name="far", sample_every=1, runner=Elsewhere(), checkpoint_every=0.0)
    assert j.start().join(HANG_GUARD) and j.status == "finished"
    assert "checkpoint" in kinds and "saved" not in kinds
    assert load_checkpoint(checkpoint_dir / "far.pt").history.epoch_loss == j.snapshot().epoch_loss


def test_a_worker_on_another_machine_gets_the_files_its_run_names_inside_the_spec(checkpoint_dir, tmp_path):
    """A Ray actor cannot read the server's disk: the checkpoint to continue and a data file
    travel in the spec as bytes, and the run trains from them."""
    from core.service.workers import InThread

    sent: list[RunSpec] = []

    class Elsewhere(InThread):
        remote = True

        def run(self, work, on_message, stop, stats):
            sent.append(work.spec)
            return super().run(work, on_message, stop, stats)

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"a{i} b\tc{i} d\n" for i in range(40)), encoding="utf-8")
    data = DataConfig(source="tsv", path=str(pairs), num_examples=32, num_test=8, batch_size=8, num_steps=6)
    first = TrainingJob(spec=replace(spec(epochs=1), data_config=data), name="far-first", sample_every=1,
                        runner=Elsewhere())
    assert first.start().join(HANG_GUARD) and first.status == "finished", first.message
    assert sent[0].raw == pairs.read_bytes()
    more = TrainingJob(spec=continued(first.saved_to, 1), name="far-more", sample_every=1, runner=Elsewhere())
    assert more.start().join(HANG_GUARD) and more.status == "finished", more.message
    assert sent[1].resume == (checkpoint_dir / "far-first.pt").read_bytes() and sent[1].raw == pairs.read_bytes()


def test_job_and_run_statuses_are_one_type_that_still_reads_as_its_word(checkpoint_dir):
    from core.history import Status
    j = job("typed")
    assert j.status is Status.CREATED
    assert j.start().join(HANG_GUARD)
    assert j.status is Status.FINISHED and j.result.status is Status.FINISHED and j.snapshot().status is Status.FINISHED
    assert j.status == "finished" and f"{j.status}" == "finished"     # the pages' comparisons keep working


def test_a_runs_live_curves_are_numbers_kept_as_events_arrive_and_a_copy_stays_as_it_was():
    from core.history import EpochEvent, LiveCurves, SampleEvent, StepEvent
    curves = LiveCurves()
    curves.add(StepEvent(epoch=1, step=1, loss=2.0, grad_norm=5.0, tokens_per_second=1.0, elapsed=0.1,
                         layer_grad_norms={"encoder.embedding": 1.0}))
    curves.add(StepEvent(epoch=1, step=2, loss=1.5, grad_norm=4.0, tokens_per_second=1.0, elapsed=0.2,
                         layer_grad_norms={"encoder.embedding": 0.5, "decoder.dense": 3.0}))   # a layer seen later
    seen = curves.copy()
    curves.add(EpochEvent(epoch=1, num_epochs=2, step=2, loss=1.7, tokens_per_second=1.0, elapsed=0.2,
                          epoch_tokens_per_second=9.0))
    curves.add(SampleEvent(epoch=1, samples=[{"src": "a"}]))
    assert seen.step_loss == [2.0, 1.5] and seen.last_step == 2 and seen.epoch_loss == [] and seen.samples == []
    assert seen.layer_steps == [1, 2] and seen.layer_grad_norms == {"encoder.embedding": [1.0, 0.5],
                                                                    "decoder.dense": [0.0, 3.0]}
    assert curves.epoch_loss == [1.7] and curves.epoch_ends == [0.2] and curves.epoch_tokens_per_second == [9.0]
    assert curves.samples == [{"src": "a"}]

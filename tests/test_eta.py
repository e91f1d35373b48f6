"""The time a run has left: from the recent epochs' rate, not from the whole run's average.

A synthetic clock stands for the trainer's: every number here is computed, never timed.
"""
import pytest

from core.config import DataConfig, ModelConfig, TrainConfig
from core.history import EpochEvent, StepEvent, recent_epoch_seconds, seconds_left
from core.service.jobs import JobSnapshot, TrainingJob
from core.train import RunSpec

EPOCHS = 30


def epoch_ends(first: float, steady: float, epochs: int = EPOCHS) -> list[float]:
    """When each epoch ends: the first one slow (the run's start-up), the others steady."""
    return [first + steady * i for i in range(epochs)]


def clock_ticks(ends: list[float], per_epoch: int = 7):
    """Moments from the end of the tenth of the run's epochs to its end, mid-epoch ones
    included: (now, the epochs ended by then)."""
    start = len(ends) // 10
    for i in range(start, len(ends)):
        for k in range(per_epoch):
            now = ends[i - 1] + (ends[i] - ends[i - 1]) * k / per_epoch
            yield now, ends[:i]


@pytest.mark.parametrize("first, steady", [(6.0, 2.0), (12.0, 2.0), (2.5, 2.0), (2.0, 2.0)])
def test_the_estimate_is_within_ten_percent_once_a_tenth_of_the_run_is_done(first, steady):
    ends = epoch_ends(first, steady)
    for now, ended in clock_ticks(ends):
        truth = ends[-1] - now
        estimate = seconds_left(ended, EPOCHS - len(ended), now)
        assert estimate == pytest.approx(truth, rel=0.10), (now, len(ended))


def test_the_rate_leaves_the_slow_first_epoch_out_once_a_later_one_ended():
    assert recent_epoch_seconds([]) is None
    assert recent_epoch_seconds([9.0]) == 9.0                  # all there is
    assert recent_epoch_seconds([9.0, 11.0]) == 2.0
    assert recent_epoch_seconds([9.0, 11.0, 13.0, 15.0, 19.0]) == pytest.approx(8 / 3)   # the last three


def test_the_estimate_counts_down_inside_an_epoch_and_never_below_zero():
    ends = [10.0, 12.0, 14.0]
    assert seconds_left(ends, 5, 14.0) == 10.0
    assert seconds_left(ends, 5, 15.5) == 8.5
    assert seconds_left(ends, 5, 30.0) == 8.0                 # a long epoch: the next four still to come
    assert seconds_left(ends, 0, 14.0) == 0.0
    assert seconds_left([], 5, 3.0) is None


def test_the_train_views_snapshot_estimates_from_its_epochs_times_even_when_resumed():
    ends = epoch_ends(8.0, 2.0, epochs=6)                     # this run's six epochs, after ten resumed
    snap = JobSnapshot("running", "", 16, 40, 0, [], [], [], [], [], ends[-1] + 1.0, None, 1.0,
                       epoch_ends=ends)
    assert snap.eta_seconds == pytest.approx(2.0 * 24 - 1.0)
    assert JobSnapshot("running", "", 10, 40, 0, [], [], [], [], [], 5.0, None, 1.0).eta_seconds is None
    finished = JobSnapshot("finished", "", 40, 40, 0, [], [], [], [], [], 90.0, None, 1.0, epoch_ends=ends)
    assert finished.eta_seconds is None


def test_a_training_job_reads_its_events_times_for_its_estimate(checkpoint_dir):
    data = DataConfig(source="reverse", num_examples=64, num_test=8, batch_size=16, num_steps=6)
    spec = RunSpec(data_config=data, model_config=ModelConfig(embed_size=8, num_hiddens=8, num_layers=1),
                   train_config=TrainConfig(num_epochs=EPOCHS))
    job = TrainingJob(spec=spec, name="eta")
    job.status = "running"                                     # fed by hand below: nothing trains
    ends = epoch_ends(6.0, 2.0)
    for epoch, end in enumerate(ends[:3], start=1):
        job._on_event(StepEvent(epoch, epoch * 4, 1.0, 1.0, 100.0, end - 0.5))
        job._on_event(EpochEvent(epoch, EPOCHS, epoch * 4, 1.0, 100.0, end, 100.0))
    job._on_event(StepEvent(4, 13, 1.0, 1.0, 100.0, ends[2] + 1.0))   # half-way through epoch 4
    truth = ends[-1] - (ends[2] + 1.0)
    assert job.seconds_per_epoch == pytest.approx(2.0)
    assert job.eta_seconds == pytest.approx(truth, rel=0.10)
    assert job.snapshot().eta_seconds == pytest.approx(truth, rel=0.10)


def test_short_epochs_are_read_over_a_few_seconds_so_one_slow_epoch_does_not_swing_the_estimate():
    """A tiny run's epochs last 30 ms, and every tenth one is held up (a redraw, a collection):
    over the last three epochs one held-up epoch would double the rate; over the last few
    seconds it is the run's own mean."""
    lengths = [0.5] + [0.3 if i % 10 == 9 else 0.03 for i in range(400)]
    ends = [sum(lengths[:i + 1]) for i in range(len(lengths))]
    mean = (9 * 0.03 + 0.3) / 10
    assert recent_epoch_seconds(ends) == pytest.approx(mean, rel=0.10)
    assert recent_epoch_seconds(ends, window=0.0) == pytest.approx((0.03 + 0.03 + 0.3) / 3)   # three epochs alone

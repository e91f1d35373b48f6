"""The chapter's exercises (notes 7.9.1-7.9.6) as one-click experiments, and what they show.

An `Experiment` is data: the exercise's question and a few named `Variant`s, each a tweak of
one small base setup (`BASE`: 1,500 pairs of the shipped corpus, 200 held out, 30 epochs).
`run_experiment` trains every variant with the one training loop (`core.train.start_run` +
`TrainingRun.train`), scores the run's held-out pairs (`core.evaluate.evaluate_pairs`) and
returns an `ExperimentResult`; `interpret` reads it in one paragraph built from the measured
numbers. Results are cached as JSON under `checkpoints/experiments/` (git-ignored), keyed by
the experiment and a hash of its configs, so a revisit shows them at once.

Exercise 7.9.6's output layers live in `core/output_layers.py` (a `ModelConfig` field); the
readings of each exercise's numbers in `readings.py`; the results' data types in `results.py`.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..checkpoint import checkpoint_dir
from ..config import DataConfig, ModelConfig, TrainConfig
from ..data import NMTData, build_array_nmt
from ..evaluate import evaluate_pairs
from ..history import EpochEvent, Status
from ..i18n import N_, Text, message_of
from ..loss import MaskedSoftmaxCELoss
from ..model import count_parameters
from ..service.jobs import SESSION_GONE, BackgroundJob
from ..service.workers import IN_THREAD, Runner, WorkerCrashed, WorkerFailed, error_text
from ..train import start_run
from ..trainer import teacher_forced_logits
from .readings import LABELS, interpret  # noqa: F401  (interpret: part of this module's interface)
from .results import ExperimentResult, VariantResult

RESULT_VERSION = 2        # bump when VariantResult changes: old cache files are then ignored
NUM_SAMPLES = 5           # held-out translations kept per variant


# -- experiments as data -----------------------------------------------------------------------
@dataclass(frozen=True)
class BaseSetup:
    data: DataConfig
    model: ModelConfig
    train: TrainConfig


# The book's model and training, except the decoder context: with the book's `state[-1]`,
# greedy decoding reads a context training never showed (README, "The book's decoder
# context"), and that gap would swamp what each exercise changes. Under teacher forcing
# both contexts train identically.
BASE = BaseSetup(DataConfig(source="corpus", num_examples=1500, num_test=200),
                 ModelConfig(context="encoder"), TrainConfig(num_epochs=30))


@dataclass(frozen=True)
class Variant:
    label: str
    value: Any                       # the setting this variant turns (a size, a ratio, a name)
    data: DataConfig
    model: ModelConfig
    train: TrainConfig

    @property
    def output_layer(self) -> str:
        return self.model.output_layer

    def to_dict(self) -> dict:
        return {"label": self.label, "value": self.value, "data": self.data.to_dict(),
                "model": self.model.to_dict(), "train": self.train.to_dict()}

    @property
    def trains(self) -> str:
        """What it trains, without its name: equal for the base setup in every exercise."""
        return json.dumps({"data": self.data.to_dict(), "model": self.model.to_dict(),
                           "train": self.train.to_dict()}, sort_keys=True)


@dataclass(frozen=True)
class Experiment:
    key: str                         # also the interpretation rule's name
    section: str                     # "7.9.2"
    title: str
    question: str                    # the exercise, as the notes ask it
    variants: tuple[Variant, ...]

    @property
    def cache_key(self) -> str:
        text = json.dumps({"version": RESULT_VERSION, "variants": [v.to_dict() for v in self.variants]},
                          sort_keys=True)
        return f"{self.key}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def catalogue(base: BaseSetup | None = None) -> list[Experiment]:
    """The six exercises of notes 7.9 as tweaks of `base` (BASE when None)."""
    b = base or BASE
    H, L = b.model.num_hiddens, b.model.num_layers
    other_depth = L + 1 if L == 1 else L - 1

    def variant(label: str, value: Any, model: dict | None = None, train: dict | None = None) -> Variant:
        return Variant(label, value, b.data, replace(b.model, **(model or {})), replace(b.train, **(train or {})))

    # Titles, questions and labels are English data (labels are part of the cache key); the
    # marks put them in the catalogs, and the UI and the readings show them translated.
    return [
        Experiment("hyperparameters", "7.9.1", N_("Hyperparameters: the hidden size"),
                   N_("Try to improve the translations by tuning the hyperparameters."),
                   tuple(variant(LABELS["hidden"].format(size=h), h, {"num_hiddens": h})
                         for h in sorted({max(1, H // 2), H, 2 * H}))),
        Experiment("mask", "7.9.2", N_("No mask in the loss"),
                   N_("Rerun without masking the loss. What do you observe, and why?"),
                   (variant(N_("masked (book)"), True), variant(N_("unmasked"), False, train={"masked": False}))),
        Experiment("bridge", "7.9.3", N_("Encoder and decoder of different sizes"),
                   N_("If the encoder and decoder differ in layers or hidden units, how can the decoder's "
                      "hidden state be initialised?"),
                   (variant(LABELS["equal"].format(enc_size=f"{L}×{H}", dec_size=f"{L}×{H}"), "equal"),
                    variant(LABELS["narrower"].format(enc_size=f"{L}×{max(1, H // 2)}", dec_size=f"{L}×{H}"),
                            "hiddens", {"num_hiddens": max(1, H // 2), "dec_num_hiddens": H}),
                    variant(LABELS["depth"].format(enc_size=f"{L}×{H}", dec_size=f"{other_depth}×{H}"), "layers",
                            {"dec_num_layers": other_depth}))),
        Experiment("teacher_forcing", "7.9.4", N_("Teacher forcing vs the model's own predictions"),
                   N_("What happens if the decoder is fed its own previous prediction instead of the "
                      "true token during training?"),
                   tuple(variant(LABELS["ratio"].format(ratio=f"{r:g}"), r, train={"teacher_forcing_ratio": r})
                         for r in (1.0, 0.75, 0.5, 0.0))),
        Experiment("cell", "7.9.5", N_("LSTM instead of GRU"),
                   N_("Rerun the experiment with an LSTM instead of a GRU."),
                   (variant(N_("GRU (book)"), "gru"), variant("LSTM", "lstm", {"cell": "lstm"}))),
        Experiment("output_layer", "7.9.6", N_("Other output layers"),
                   N_("Is there another way to design the decoder's output layer?"),
                   (variant(N_("dense (book)"), "dense"),
                    variant(N_("tied to the embedding"), "tied", {"output_layer": "tied"}),
                    variant(N_("adaptive softmax"), "adaptive", {"output_layer": "adaptive"}))),
    ]


# -- running -----------------------------------------------------------------------------------
@torch.no_grad()
def heldout_loss(net: nn.Module, data: NMTData) -> float:
    """The masked loss, as the book reports it (Σ loss / tokens), on the held-out pairs."""
    if len(data.test) == 0:
        return float("nan")
    device = next(net.parameters()).device
    X, X_valid_len = (t.to(device) for t in build_array_nmt(data.test.source, data.src_vocab, data.num_steps))
    Y, Y_valid_len = (t.to(device) for t in build_array_nmt(data.test.target, data.tgt_vocab, data.num_steps))
    net.eval()
    Y_hat = teacher_forced_logits(net, X, X_valid_len, Y, data.tgt_vocab["<bos>"])   # (N, num_steps, vocab)
    return float(MaskedSoftmaxCELoss()(Y_hat, Y, Y_valid_len).sum() / Y_valid_len.sum())


@contextmanager
def one_intra_op_thread() -> Iterator[None]:
    """PyTorch computes on the calling thread alone meanwhile, so that thread's CPU time is the
    whole cost of the work; the previous thread count is restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_variant(variant: Variant, on_event: Callable | None = None,
                stop: threading.Event | None = None) -> VariantResult:
    """Train one variant from scratch, then score it on its run's held-out pairs.

    Its cost is the training thread's CPU seconds with one intra-op thread: unlike the wall
    clock, other processes on the machine barely change it, so variants timed at different
    moments (or on a busy server) compare."""
    run = start_run(variant.data, variant.model, variant.train)
    with one_intra_op_thread():
        cpu_start = time.thread_time()
        trained = run.train(on_event, stop)
        cpu_seconds = time.thread_time() - cpu_start
    net, data = run.trainer.net, run.data
    pairs = data.test.sentences()
    report = evaluate_pairs(net, pairs, data.src_vocab, data.tgt_vocab, variant.data.num_steps)
    tokens = data.arrays[3]                                               # Y_valid_len of the training pairs
    return VariantResult(variant.label, variant.value, trained.status, trained.final_loss,
                         list(trained.history.epoch_loss), heldout_loss(net, data),
                         report.corpus.bleu.score if pairs else float("nan"), report.rows[:NUM_SAMPLES],
                         count_parameters(net), trained.train_seconds,
                         1.0 - float(tokens.sum()) / (len(tokens) * data.num_steps), cpu_seconds)


def run_experiment(experiment: Experiment, on_event: Callable[[int, object], None] | None = None,
                   stop: threading.Event | None = None,
                   trained: dict[str, VariantResult] | None = None) -> ExperimentResult:
    """Every variant in turn; `on_event(variant_index, event)` relays the trainer's events.

    `trained` (`Variant.trains` → its finished result), when given, is read and filled: a
    variant trained before, such as the base setup every exercise starts from, is reused under
    this experiment's label instead of trained again, so it is one run with one cost."""
    start, results = time.perf_counter(), []
    for index, variant in enumerate(experiment.variants):
        known = trained.get(variant.trains) if trained is not None else None
        if known is not None:
            results.append(replace(known, label=variant.label, value=variant.value))
            continue
        relay = (lambda event, i=index: on_event(i, event)) if on_event else None
        results.append(run_variant(variant, relay, stop))
        if trained is not None and results[-1].status == Status.FINISHED:
            trained[variant.trains] = results[-1]
        if stop is not None and stop.is_set():
            break
    done = len(results) == len(experiment.variants) and all(r.status == Status.FINISHED for r in results)
    stopped = stop is not None and stop.is_set()
    return ExperimentResult(experiment.key, experiment.cache_key,
                            Status.FINISHED if done else Status.STOPPED if stopped else Status.DIVERGED,
                            results, time.perf_counter() - start)


# -- the cache ---------------------------------------------------------------------------------
# Results of the six exercises on BASE ship with the project (made by
# `python scripts/make_experiment_results.py`), so a first visit shows them at once.
SHIPPED_DIR = Path(__file__).parent / "measured"


def cache_dir() -> Path:
    return checkpoint_dir() / "experiments"


def cache_path(experiment: Experiment, folder: Path | None = None) -> Path:
    return (folder or cache_dir()) / f"{experiment.cache_key}.json"


def read_result(path: Path, experiment: Experiment) -> ExperimentResult | None:
    """The result stored at `path` if it is of exactly these configs, else None."""
    try:
        result = ExperimentResult.from_dict(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return result if result.cache_key == experiment.cache_key else None


def measured_here(experiment: Experiment) -> bool:
    """Whether this server holds its own result of the experiment (a re-run), not only the shipped one."""
    return read_result(cache_path(experiment), experiment) is not None


def load_cached(experiment: Experiment) -> ExperimentResult | None:
    """This server's own re-run of exactly these configs, else the shipped result, else None
    (absent, unreadable, another version or other configs)."""
    return (read_result(cache_path(experiment), experiment)
            or read_result(cache_path(experiment, SHIPPED_DIR), experiment))


def save_result(result: ExperimentResult, path: Path) -> Path:
    """Atomic: a temporary file in the same folder renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(result.to_dict(), f)
    os.chmod(tmp, 0o644)            # mkstemp makes it owner-only; results are not secret
    os.replace(tmp, path)
    return path


def run_cached(experiment: Experiment, rerun: bool = False, on_event: Callable | None = None,
               stop: threading.Event | None = None) -> ExperimentResult:
    """The cached result unless `rerun`; otherwise train, and cache what finished."""
    cached = None if rerun else load_cached(experiment)
    if cached is not None:
        return cached
    result = run_experiment(experiment, on_event, stop)
    if result.status == Status.FINISHED:
        save_result(result, cache_path(experiment))
    return result


# -- a background job for the UI ---------------------------------------------------------------
@dataclass
class ExperimentProgress:
    """A consistent copy of a job's progress for one redraw."""
    status: Status                   # RUNNING, then FINISHED, STOPPED, DIVERGED or FAILED
    message: str
    variant: int                     # index of the variant training now
    num_variants: int
    label: str
    epoch: int
    num_epochs: int
    elapsed: float

    @property
    def fraction(self) -> float:
        if self.status != Status.RUNNING:
            return 1.0
        return min((self.variant + self.epoch / max(self.num_epochs, 1)) / max(self.num_variants, 1), 1.0)


@dataclass
class ExperimentWork:
    """What an ExperimentJob's worker does (picklable): the experiment, its epochs relayed."""
    experiment: Experiment
    rerun: bool

    def __call__(self, emit, stop) -> ExperimentResult:
        def relay(index: int, event) -> None:
            if isinstance(event, EpochEvent):      # the progress bar moves by epochs
                emit((index, event))
        return run_cached(self.experiment, self.rerun, relay, stop)


class ExperimentJob(BackgroundJob):
    """One experiment trained in the background, like `core.service.jobs.TrainingJob`: a stop
    switch and a progress snapshot to poll, through the same queue and runners; the work never
    touches the UI. Its work is bounded (a few short runs) and its result is cached."""

    def __init__(self, experiment: Experiment, rerun: bool = False, runner: Runner = IN_THREAD,
                 orphan_timeout: float = 60.0, owner: str = ""):
        self.experiment, self.rerun, self.runner = experiment, rerun, runner
        self.orphan_timeout, self.owner, self.queue = orphan_timeout, owner, None
        self.status, self.message = Status.CREATED, ""
        self.result: ExperimentResult | None = None
        self._stop, self._lock = threading.Event(), threading.Lock()
        self._thread: threading.Thread | None = None
        self._variant, self._epoch, self._epochs_done, self._start = 0, 0, 0, time.monotonic()
        self._elapsed = 0.0
        self._init_job()

    def start(self) -> ExperimentJob:
        self._start = time.monotonic()
        return super().start()

    def _thread_name(self) -> str:
        return f"experiment-{self.experiment.key}"

    @property
    def name(self) -> str:
        # the title is an N_-marked catalog entry: as a Text value it is shown translated
        return Text("{section} · {title}", section=self.experiment.section, title=Text(self.experiment.title))

    @property
    def planned_epochs(self) -> int:
        return sum(v.train.num_epochs for v in self.experiment.variants)

    @property
    def epochs_done(self) -> int:
        return self._epochs_done

    def _on_message(self, message) -> None:
        self._on_event(*message)

    def _on_event(self, index: int, event) -> None:
        # No `_fit_threads()` here: a variant trains with one intra-op thread (run_variant, so
        # its CPU seconds are its cost), which an in-thread job must not raise mid-run.
        with self._lock:
            if index != self._variant:
                self._variant, self._epoch = index, 0
            if isinstance(event, EpochEvent):
                self._epoch = event.epoch
                self._epochs_done += 1
                self._elapsed = time.monotonic() - self._start
                self._epoch_ended(self._elapsed)
        if self.orphaned():
            self.message = SESSION_GONE
            self._stop.set()

    def _work(self) -> None:
        try:
            self.result = self.runner.run(ExperimentWork(self.experiment, self.rerun), self._on_message,
                                          self._stop, self.stats)
            self.status = self.result.status
            self.message = {Status.FINISHED: Text("every variant trained and was scored"),
                            Status.STOPPED: self.message or Text("stopped by request: nothing was cached")}.get(
                self.status, Text("a variant diverged: nothing was cached, try a smaller lr"))
        except Exception as err:      # the page shows it; the app keeps working
            from_worker = isinstance(err, (WorkerCrashed, WorkerFailed))
            self.status, self.message = Status.FAILED, message_of(err) if from_worker else error_text(err)
            if not from_worker:
                traceback.print_exc()

    def snapshot(self) -> ExperimentProgress:
        with self._lock:
            variant, epoch = self._variant, self._epoch
        v = self.experiment.variants[min(variant, len(self.experiment.variants) - 1)]
        return ExperimentProgress(self.status, self.message, variant, len(self.experiment.variants), v.label,
                                  epoch, v.train.num_epochs, time.monotonic() - self._start)

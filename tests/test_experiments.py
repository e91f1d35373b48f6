"""The chapter's exercises as experiments, their cache and reading, and gradient accumulation."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

import core.exercises.experiments as ex
import core.output_layers as layers
from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import OUTPUT_LAYERS, DataConfig, ModelConfig, TrainConfig
from core.loss import MaskedNLLLoss, MaskedSoftmaxCELoss
from core.probes.accumulation import AccumulationError, check_split, compare
from core.train import start_run
from tests.apptest_helpers import HANG_GUARD

TINY = ex.BaseSetup(DataConfig(source="reverse", num_examples=48, num_test=8, batch_size=16, num_steps=5),
                    ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=2))


def experiment(key: str, base: ex.BaseSetup = TINY) -> ex.Experiment:
    return next(e for e in ex.catalogue(base) if e.key == key)


def fake(label, value, loss, bleu, heldout=0.5, params=1000, seconds=1.0) -> ex.VariantResult:
    return ex.VariantResult(label, value, "finished", loss, [loss + 0.2, loss], heldout, bleu,
                            [], params, 3 * seconds, 0.25, seconds)     # wall seconds: the load's, never shown


# -- experiments as data -----------------------------------------------------------------------
def test_every_exercise_of_7_9_is_an_experiment_with_valid_distinct_variants():
    experiments = ex.catalogue()
    assert [e.section for e in experiments] == [f"7.9.{i}" for i in range(1, 7)]
    assert len({e.cache_key for e in experiments}) == 6
    for e in experiments:
        assert len(e.variants) >= 2 and len({v.label for v in e.variants}) == len(e.variants)
        for v in e.variants:
            v.data.validate(), v.model.validate(), v.train.validate(batch_size=v.data.batch_size)
            assert v.output_layer in OUTPUT_LAYERS and v.data == ex.BASE.data


def test_the_base_setup_is_the_small_corpus_and_each_variant_turns_its_exercises_knob():
    assert ex.BASE.data == DataConfig(source="corpus", num_examples=1500, num_test=200)
    assert ex.BASE.model == ModelConfig(context="encoder") and ex.BASE.train == TrainConfig(num_epochs=30)
    by = {e.key: e.variants for e in ex.catalogue()}
    assert [v.model.num_hiddens for v in by["hyperparameters"]] == [32, 64, 128]
    assert [v.train.masked for v in by["mask"]] == [True, False]
    assert [v.model.needs_bridge for v in by["bridge"]] == [False, True, True]
    assert [v.train.teacher_forcing_ratio for v in by["teacher_forcing"]] == [1.0, 0.75, 0.5, 0.0]
    assert [v.model.cell for v in by["cell"]] == ["gru", "lstm"]
    assert [v.output_layer for v in by["output_layer"]] == ["dense", "tied", "adaptive"]


# -- the output layers of 7.9.6 ----------------------------------------------------------------
def test_masked_nll_on_log_probs_equals_the_masked_softmax_ce_on_logits():
    logits, label = torch.randn(3, 4, 7), torch.randint(0, 7, (3, 4))
    valid_len = torch.tensor([4, 2, 0])
    expected = MaskedSoftmaxCELoss()(logits, label, valid_len)
    assert torch.allclose(MaskedNLLLoss()(torch.log_softmax(logits, -1), label, valid_len), expected, atol=1e-6)


def test_tied_output_reads_the_embedding_itself_and_needs_no_vocab_by_hidden_matrix():
    embedding = torch.nn.Embedding(11, 4)
    tied = layers.TiedOutput(embedding, num_hiddens=6)
    assert tied.embedding.weight is embedding.weight
    assert sum(p.numel() for p in tied.parameters()) == 11 * 4 + 6 * 4 + 11
    tied(torch.randn(2, 3, 6)).sum().backward()
    assert embedding.weight.grad is not None and embedding.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("vocab", [4, 5, 16, 496])
def test_adaptive_output_gives_log_probabilities_over_the_whole_vocabulary(vocab):
    out = layers.AdaptiveOutput(8, vocab)(torch.randn(2, 3, 8))
    assert out.shape == (2, 3, vocab)
    assert torch.allclose(out.logsumexp(-1), torch.zeros(2, 3), atol=1e-5)


def test_the_output_layer_named_in_the_model_config_is_built_optimized_and_recorded(checkpoint_dir):
    run = start_run(TINY.data, replace(TINY.model, output_layer="adaptive"), TINY.train)
    optimized = {id(p) for group in run.trainer.optimizer.param_groups for p in group["params"]}
    assert {id(p) for p in run.trainer.net.parameters()} == optimized
    assert isinstance(run.trainer.loss, MaskedNLLLoss)
    assert isinstance(run.trainer.net.decoder.dense, layers.AdaptiveOutput)
    saved = save_checkpoint(run.checkpoint(), checkpoint_dir / "adaptive.pt")
    assert load_checkpoint(saved).model_config.output_layer == "adaptive"
    with pytest.raises(ValueError, match="output_layer"):
        replace(TINY.model, output_layer="pointer").validate()


# -- running, caching, reading -----------------------------------------------------------------
def test_the_runner_returns_per_variant_results_and_the_reading_quotes_them(checkpoint_dir):
    result = ex.run_cached(experiment("mask"))
    masked, unmasked = result.variants
    assert result.status == "finished" and [v.value for v in result.variants] == [True, False]
    for v in result.variants:
        assert len(v.epoch_loss) == 2 and v.final_loss == v.epoch_loss[-1] and v.parameters > 0
        assert 0 <= v.bleu <= 100 and math.isfinite(v.heldout_loss) and len(v.samples) == 5
    text = ex.interpret(result)
    for number in (f"{unmasked.final_loss:.3f}", f"{masked.final_loss:.3f}", f"{masked.bleu:.1f}",
                   f"{unmasked.heldout_loss:.3f}"):
        assert number in text


def test_a_cache_hit_returns_the_same_result_without_training(checkpoint_dir, monkeypatch):
    first = ex.run_cached(experiment("cell"))
    assert ex.cache_path(experiment("cell")).is_file()

    def no_training(*args, **kwargs):
        raise AssertionError("trained although the result was cached")
    monkeypatch.setattr("core.train.Trainer.run", no_training)
    assert ex.run_cached(experiment("cell")) == first
    with pytest.raises(AssertionError, match="trained although"):
        ex.run_cached(experiment("cell"), rerun=True)
    changed = ex.BaseSetup(TINY.data, TINY.model, TrainConfig(num_epochs=3))
    assert ex.load_cached(experiment("cell", changed)) is None


def test_a_stopped_experiment_is_not_cached(checkpoint_dir):
    stop = ex.threading.Event()
    stop.set()
    result = ex.run_cached(experiment("teacher_forcing"), stop=stop)
    assert result.status == "stopped" and len(result.variants) == 1
    assert ex.load_cached(experiment("teacher_forcing")) is None and "stopped" in ex.interpret(result)


def test_a_job_trains_in_the_background_and_caches_its_result(checkpoint_dir):
    job = ex.ExperimentJob(experiment("bridge")).start()
    assert job.join(HANG_GUARD) and job.status == "finished" and job.snapshot().fraction == 1.0
    assert ex.load_cached(experiment("bridge")) == job.result


def test_a_variants_cost_is_its_training_threads_cpu_seconds_with_one_intra_op_thread():
    threads_while_training: set[int] = set()
    torch.set_num_threads(2)
    try:
        result = ex.run_variant(experiment("cell").variants[0],
                                lambda event: threads_while_training.add(torch.get_num_threads()))
        assert torch.get_num_threads() == 2                       # given back after the run
    finally:
        torch.set_num_threads(1)
    assert threads_while_training == {1} and result.cpu_seconds > 0


def test_the_base_setup_is_trained_once_and_reused_by_every_exercise_that_holds_it(monkeypatch):
    trained_variants = []
    run_variant = ex.run_variant

    def counting(variant, *args, **kwargs):
        trained_variants.append(variant.label)
        return run_variant(variant, *args, **kwargs)
    monkeypatch.setattr(ex, "run_variant", counting)
    trained: dict = {}
    mask = ex.run_experiment(experiment("mask"), trained=trained)
    cell = ex.run_experiment(experiment("cell"), trained=trained)
    assert trained_variants == ["masked (book)", "unmasked", "LSTM"]      # "GRU (book)" is the masked run
    masked, gru = mask.variants[0], cell.variants[0]
    assert (gru.label, gru.value) == ("GRU (book)", "gru")
    assert replace(gru, label=masked.label, value=masked.value) == masked  # one run, one cost


@pytest.mark.parametrize("key, variants, expect", [
    ("hyperparameters", [fake("hidden 32", 32, 0.30, 10.0), fake("hidden 64", 64, 0.10, 16.5),
                         fake("hidden 128", 128, 0.05, 11.0)], ["0.050 (hidden 128)", "16.5 (hidden 64)", "memorisation"]),
    ("hyperparameters", [fake("lr a", 1, 0.30, 10.0), fake("lr b", 2, 0.10, 12.5)], ["2.5 BLEU points is within seed"]),
    ("mask", [fake("masked", True, 0.20, 15.0, 0.9), fake("unmasked", False, 0.12, 9.5, 1.1)],
     ["0.120", "lower even though", "25%", "0.900", "1.100", "cost the unmasked model 5.5 BLEU"]),
    ("mask", [fake("masked", True, 0.20, 15.0), fake("unmasked", False, 0.30, 13.0)],
     ["0.300", "higher, because", "2.0-point gap is within seed noise"]),
    ("bridge", [fake("equal", "equal", 0.1, 12.0, params=900), fake("narrow", "hiddens", 0.2, 12.4, params=700),
                fake("deep", "layers", 0.1, 11.8, params=1200)], ["900", "700", "+0.4", "about as well"]),
    ("teacher_forcing", [fake("ratio 1", 1.0, 0.10, 10.0, 0.40), fake("ratio 0.75", 0.75, 0.12, 15.0, 0.50),
                         fake("ratio 0.5", 0.5, 0.15, 11.0, 0.60), fake("ratio 0", 0.0, 0.40, 2.0, 0.90)],
     ["0.75 → 15.0", "beats pure teacher forcing by 5.0", "reaches 2.0", "favours ratio 1 (0.400)"]),
    ("cell", [fake("GRU", "gru", 0.1, 12.0, params=3000, seconds=8.0),
              fake("LSTM", "lstm", 0.09, 12.3, params=3900, seconds=10.5)],
     ["1.30×", "10.5 CPU seconds to train against 8.0 (the training thread's CPU time", "interchangeable"]),
    ("output_layer", [fake("dense", "dense", 0.1, 12.0, params=5000), fake("tied", "tied", 0.1, 12.2, params=4000),
                      fake("adaptive", "adaptive", 0.2, 7.0, params=4500)],
     ["-1,000", "-500", "Tying keeps", "costs 5.0 BLEU"]),
])
def test_the_reading_follows_the_numbers(key, variants, expect):
    text = ex.interpret(ex.ExperimentResult(key, "k", "finished", variants))
    for phrase in expect:
        assert phrase in text, phrase


# -- gradient accumulation (7.5.1) -------------------------------------------------------------
def test_accumulated_micro_batches_give_the_whole_batch_gradient_and_sum_is_batch_times_mean():
    report = compare(batch_size=64, micro_batch=16)
    assert report.num_micro == 4 and report.max_abs_diff < 1e-5
    assert report.norm_ratio == pytest.approx(64, rel=1e-5)
    assert report.step_ratio("sgd") == pytest.approx(64, rel=1e-4)
    assert report.step_ratio("adam") == pytest.approx(1, abs=0.05)


def test_micro_batches_that_do_not_divide_the_batch_are_refused_with_the_divisors():
    assert check_split(64, 16) == 4
    with pytest.raises(AccumulationError, match="1, 2, 4, 8, 16, 32, 64"):
        check_split(64, 24)
    with pytest.raises(AccumulationError, match="between 1 and 64"):
        check_split(64, 65)


# -- the results the project ships -------------------------------------------------------------
def test_each_exercise_ships_its_results_for_the_current_definitions():
    for experiment in ex.catalogue():
        result = ex.read_result(ex.cache_path(experiment, ex.SHIPPED_DIR), experiment)
        assert result is not None and result.status == "finished", (
            f"{experiment.key}: no shipped result for today's definition; run "
            "`python scripts/make_experiment_results.py`")
        assert [v.label for v in result.variants] == [v.label for v in experiment.variants]
    assert len(list(ex.SHIPPED_DIR.glob("*.json"))) == len(ex.catalogue())     # no stale files


def shipped_variants() -> list[tuple[ex.Variant, ex.VariantResult]]:
    pairs = []
    for e in ex.catalogue():
        result = ex.read_result(ex.cache_path(e, ex.SHIPPED_DIR), e)
        assert result is not None, f"{e.key}: run `python scripts/make_experiment_results.py`"
        pairs += list(zip(e.variants, result.variants))
    return pairs


def test_the_shipped_costs_compare_one_base_run_and_bigger_models_never_look_much_cheaper():
    base = ex.Variant("base", None, ex.BASE.data, ex.BASE.model, ex.BASE.train)
    pairs = shipped_variants()
    bases = [r for v, r in pairs if v.trains == base.trains]
    assert len(bases) == 6                                       # every exercise starts from it
    assert len({(r.cpu_seconds, r.final_loss, r.bleu) for r in bases}) == 1, "the base setup is one run"
    cost, parameters = bases[0].cpu_seconds, bases[0].parameters
    for variant, result in pairs:
        assert result.cpu_seconds > 0, variant.label
        if result.parameters >= 1.5 * parameters:
            assert result.cpu_seconds >= 0.8 * cost, (
                f"{variant.label}: {result.parameters:,} parameters at {result.cpu_seconds:.1f} CPU s, "
                f"the base's {parameters:,} at {cost:.1f}")


def test_a_first_visit_reads_the_shipped_result_without_training(checkpoint_dir, monkeypatch):
    monkeypatch.setattr(ex, "run_experiment", lambda *args, **kwargs: pytest.fail("it trained"))
    for experiment in ex.catalogue():
        assert ex.run_cached(experiment).cache_key == experiment.cache_key

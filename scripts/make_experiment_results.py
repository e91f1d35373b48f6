"""Train the six exercises (notes 7.9.1-7.9.6) on their base setup and write the results the app
ships: `core/exercises/measured/<experiment>-<hash>.json` (curves, BLEU, translations, settings).

    python scripts/make_experiment_results.py            # all six: 12 runs, about 9 minutes on 2 busy cores
    python scripts/make_experiment_results.py mask cell  # some of them

The base setup, a variant of every exercise, is trained once and reused in each (with the
shipped files' own run when only some exercises are remade), so it shows one result and one
cost everywhere. Each variant's cost is its training thread's CPU seconds with one intra-op
thread (`run_variant`): what else the machine runs meanwhile barely changes it, so variants
trained minutes apart compare. The fused GRU kernel is loaded first, so every GRU variant
trains with the same recurrence.

`tests/test_experiments.py` checks that the shipped files belong to the current definitions
and agree with each other; rerun this after changing `core/exercises/experiments.py`'s
catalogue or BASE.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import fast  # noqa: E402
from core.exercises.experiments import (  # noqa: E402
    SHIPPED_DIR,
    Experiment,
    VariantResult,
    cache_path,
    catalogue,
    read_result,
    run_experiment,
    save_result,
)

KERNEL_WAIT_SECONDS = 300.0


def already_shipped(kept: list[Experiment]) -> dict[str, VariantResult]:
    """The variants of the shipped results that stay (`Variant.trains` → result), to reuse."""
    trained: dict[str, VariantResult] = {}
    for experiment in kept:
        result = read_result(cache_path(experiment, SHIPPED_DIR), experiment)
        if result is not None:
            trained.update(zip([v.trains for v in experiment.variants], result.variants))
    return trained


def main(keys: list[str]) -> int:
    experiments = catalogue()
    chosen = [e for e in experiments if not keys or e.key in keys]
    trained = already_shipped([e for e in experiments if e not in chosen])
    SHIPPED_DIR.mkdir(exist_ok=True)
    if not fast.load(timeout=KERNEL_WAIT_SECONDS):
        print(f"the fused GRU kernel is not loaded ({fast.status()}): GRU variants train with nn.GRU",
              file=sys.stderr)
    for experiment in chosen:
        result = run_experiment(experiment, trained=trained)
        if result.status != "finished":
            print(f"{experiment.section} {experiment.key}: {result.status}, not written", file=sys.stderr)
            return 1
        for old in SHIPPED_DIR.glob(f"{experiment.key}-*.json"):
            old.unlink()
        path = save_result(result, cache_path(experiment, SHIPPED_DIR))
        costs = ", ".join(f"{v.label} {v.cpu_seconds:.1f}" for v in result.variants)
        print(f"{experiment.section} {experiment.key}: CPU s {costs}; {result.seconds:.0f} s -> {path.name}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

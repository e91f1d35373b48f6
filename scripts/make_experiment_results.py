"""Train the six exercises (notes 7.9.1-7.9.6) on their base setup and write the results the app
ships: `core/exercises/measured/<experiment>-<hash>.json` (curves, BLEU, translations, settings).

    python scripts/make_experiment_results.py            # all six, about 5 minutes on 2 cores
    python scripts/make_experiment_results.py mask cell  # some of them

`tests/test_experiments.py` checks that the shipped files belong to the current definitions;
rerun this after changing `core/exercises/experiments.py`'s catalogue or BASE.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.exercises.experiments import SHIPPED_DIR, cache_path, catalogue, run_experiment, save_result  # noqa: E402


def main(keys: list[str]) -> int:
    chosen = [e for e in catalogue() if not keys or e.key in keys]
    SHIPPED_DIR.mkdir(exist_ok=True)
    for experiment in chosen:
        result = run_experiment(experiment)
        if result.status != "finished":
            print(f"{experiment.section} {experiment.key}: {result.status}, not written", file=sys.stderr)
            return 1
        for old in SHIPPED_DIR.glob(f"{experiment.key}-*.json"):
            old.unlink()
        path = save_result(result, cache_path(experiment, SHIPPED_DIR))
        print(f"{experiment.section} {experiment.key}: {result.seconds:.0f} s -> {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""What the command lines share: messages on stderr, one JSON line on stdout, a progress bar.

It imports no engine module, so `python -m core.train` and `python -m core.evaluate` (whose
main functions live in those modules) never make an import cycle through it.
"""
from __future__ import annotations

import json
import sys

from tqdm import tqdm


def say(message: str) -> None:
    print(message, file=sys.stderr)


def fail(error: Exception, code: int = 2) -> int:
    """A user's mistake: one line naming it, no traceback; the exit status to return."""
    say(f"error: {error}")
    return code


def print_json(values: dict) -> None:
    """The last line of stdout: the run's metrics for scripts."""
    print(json.dumps(values))


class EpochProgress:
    """An `on_event` subscriber drawing tqdm's bar over epochs (rate, ETA; works in notebooks),
    with the epoch's loss and the run's tokens/s beside it. Other events pass by."""

    def __init__(self, num_epochs: int, done: int = 0):
        self.bar = tqdm(total=num_epochs, initial=done, unit="epoch", file=sys.stderr, dynamic_ncols=True,
                        desc=f"epoch {done}/{num_epochs}")

    def __call__(self, event) -> None:
        if not hasattr(event, "num_epochs"):          # step and sample events: nothing to draw
            return
        self.bar.set_description_str(f"epoch {event.epoch}/{event.num_epochs}", refresh=False)
        self.bar.set_postfix_str(f"loss {event.loss:.4f}, {event.tokens_per_second:,.0f} tok/s", refresh=False)
        self.bar.update(event.epoch - self.bar.n)

    def __enter__(self) -> EpochProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()

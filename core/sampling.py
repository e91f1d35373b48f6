"""Sample translations while a model trains: an event subscriber, not part of the loop.

`SampleTranslations` listens to the trainer's events; every `every` epochs (and after the
last) it translates a few fixed sentences with the model as it is, scores each with the
book's BLEU (k=2), keeps the rows in the run's history and passes a `SampleEvent` on. Each
row says whether its sentence was seen in training: a familiar sentence shows memorisation,
a held-out one generalisation.
"""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .data import Vocab
from .decode import translate
from .history import EpochEvent, History, SampleEvent
from .metrics import bleu


class SampleTranslations:
    """An `on_event` callable that adds `SampleEvent`s to the events it passes on to `forward`."""

    def __init__(self, net: nn.Module, pairs: list[tuple[str, str, bool]], src_vocab: Vocab, tgt_vocab: Vocab,
                 num_steps: int, every: int, history: History, forward: Callable | None = None,
                 tokenizer: str = "space"):
        self.net, self.pairs, self.every, self.history = net, pairs, every, history
        self.src_vocab, self.tgt_vocab, self.num_steps = src_vocab, tgt_vocab, num_steps
        self.tokenizer = tokenizer          # the run's: its sentences split as its training data
        self.forward = forward or (lambda event: None)

    def __call__(self, event) -> None:
        self.forward(event)
        if isinstance(event, EpochEvent) and self._due(event):
            self.forward(self.sample(event.epoch))

    def _due(self, event: EpochEvent) -> bool:
        return bool(self.pairs) and self.every > 0 and (
            event.epoch % self.every == 0 or event.epoch == event.num_epochs)

    def sample(self, epoch: int) -> SampleEvent:
        """Translations of the fixed sentences with their BLEU (k=2), so a user watches it learn."""
        was_training = self.net.training
        preds = translate(self.net, [s for s, _, _ in self.pairs], self.src_vocab, self.tgt_vocab, self.num_steps,
                          tokenizer=self.tokenizer)
        self.net.train(was_training)
        rows = [{"epoch": epoch, "src": s, "pred": p, "ref": r, "bleu": bleu(p, r, k=2), "seen": seen}
                for (s, r, seen), p in zip(self.pairs, preds)]
        self.history.samples.extend(rows)
        return SampleEvent(epoch, rows)

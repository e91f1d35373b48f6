"""Sample translations while a model trains: an event subscriber, not part of the loop.

`SampleTranslations` listens to the trainer's events; every `every` epochs (and after the
last) it translates a few fixed sentences with the model as it is, scores each with the
book's BLEU (k=2), keeps the rows in the run's history and passes a `SampleEvent` on. Each
row says whether its sentence was seen in training: a familiar sentence shows memorisation,
a held-out one generalisation. And each row names its reference's words that the target
vocabulary lacks (`unknown_words`): they decode as `<unk>` at best, so even a trained-on
sentence can never be translated right, and the learner should be told why.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from torch import nn

from .data import Vocab, count_corpus, split_words
from .decode import translate
from .history import EpochEvent, History, SampleEvent
from .i18n import Text
from .metrics import bleu


def unknown_words(reference: str, vocab: Vocab, train_counts: Mapping[str, int],
                  tokenizer: str = "space") -> dict[str, int]:
    """The reference's words the target vocabulary lacks, each with how often the run's training
    targets hold it: 0, never seen; more, seen but fewer times than min_freq asks. Each one is
    `<unk>` to the model, so no translation can match it."""
    return {word: int(train_counts.get(word, 0)) for word in split_words(reference, tokenizer) if word not in vocab}


def unknown_words_note(unknown: Mapping[str, int]) -> list[Text]:
    """Why each of a sample's `unknown` words (as `unknown_words` gives them) cannot be right."""
    return [Text("{word}: below min_freq in this run's vocabulary ({count}× in its training targets)",
                 word=word, count=count) if count else
            Text("{word}: never seen in this run's training targets", word=word)
            for word, count in unknown.items()]


class SampleTranslations:
    """An `on_event` callable that adds `SampleEvent`s to the events it passes on to `forward`."""

    def __init__(self, net: nn.Module, pairs: list[tuple[str, str, bool]], src_vocab: Vocab, tgt_vocab: Vocab,
                 num_steps: int, every: int, history: History, forward: Callable | None = None,
                 tokenizer: str = "space", train_targets: Sequence[list[str]] | None = None):
        """`train_targets`: the run's tokenized training targets, which its target vocabulary was
        counted from (by default that vocabulary's own counts; a vocabulary read back from a
        checkpoint has none)."""
        self.net, self.pairs, self.every, self.history = net, pairs, every, history
        self.src_vocab, self.tgt_vocab, self.num_steps = src_vocab, tgt_vocab, num_steps
        self.tokenizer = tokenizer          # the run's: its sentences split as its training data
        self.forward = forward or (lambda event: None)
        counts = count_corpus(train_targets) if train_targets is not None else dict(tgt_vocab.token_freqs)
        self.unknown = [unknown_words(r, tgt_vocab, counts, tokenizer) for _, r, _ in pairs]   # the pairs are fixed

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
        rows = [{"epoch": epoch, "src": s, "pred": p, "ref": r, "bleu": bleu(p, r, k=2), "seen": seen,
                 "unknown": dict(unknown)} for (s, r, seen), p, unknown in zip(self.pairs, preds, self.unknown)]
        self.history.samples.extend(rows)
        return SampleEvent(epoch, rows)

"""Sample translations while training: the book's examples are trained on, and every sample
says whether its sentence was seen in training or held out."""
from __future__ import annotations

from core.config import DataConfig, ModelConfig, TrainConfig
from core.history import SampleEvent
from core.sources import BOOK_EXAMPLES, load_split, prepare_data, sample_pairs
from core.train import start_run
from tests.apptest_helpers import HANG_GUARD


def test_the_corpus_keeps_the_books_four_examples_in_its_training_pairs_for_every_seed():
    for seed in range(50):
        train, test = load_split(DataConfig(num_examples=600, seed=seed))
        assert set(BOOK_EXAMPLES) <= set(train.sentences())
        assert not set(BOOK_EXAMPLES) & set(test.sentences())
        assert len(train) == 600 and 196 <= len(test) <= 200


def test_the_held_out_pairs_only_lose_the_books_examples_so_an_older_run_never_trained_on_them():
    from core.sources import CORPUS_PATH, pairs_from_lines, random_split
    pairs = pairs_from_lines(CORPUS_PATH.read_text("utf-8").split("\n"), "corpus")
    for seed in (0, 4, 5, 19):
        config = DataConfig(num_examples=600, seed=seed)
        _, before = random_split(pairs, config)                    # the split without the rule
        _, after = random_split(pairs, config, BOOK_EXAMPLES)
        assert set(after.sentences()) == set(before.sentences()) - set(BOOK_EXAMPLES)


def test_samples_show_both_seen_and_held_out_sentences_marked_as_such():
    config = DataConfig(num_examples=600)
    data = prepare_data(config)
    pairs = sample_pairs(config, data)
    assert [p[:2] for p in pairs[:4]] == BOOK_EXAMPLES and all(seen for *_, seen in pairs[:4])
    held_out = [p for p in pairs if not p[2]]
    assert held_out and all(p[:2] in data.test.sentences() for p in held_out)
    synthetic = DataConfig(source="reverse", num_examples=40, num_test=10)
    kinds = {seen for *_, seen in sample_pairs(synthetic, prepare_data(synthetic))}
    assert kinds == {True, False}


def test_the_sample_rows_of_a_run_carry_whether_the_sentence_was_trained_on():
    run = start_run(DataConfig(source="reverse", num_examples=40, num_test=10, batch_size=8, num_steps=6),
                    ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=2))
    events = []
    run.train(events.append, sample_every=1)
    samples = [e for e in events if isinstance(e, SampleEvent)]
    assert [e.epoch for e in samples] == [1, 2]
    assert {row["seen"] for row in samples[-1].samples} == {True, False}
    assert run.trainer.history.samples[-1]["seen"] in (True, False)


def test_unknown_words_names_the_references_words_outside_the_vocabulary_and_why():
    from core.data import Vocab, count_corpus
    from core.sampling import unknown_words, unknown_words_note
    targets = [["je", "suis", "chez", "moi", "."], ["je", "suis", "."]]
    vocab = Vocab(targets, min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    unknown = unknown_words("je suis chez toi .", vocab, count_corpus(targets))
    assert unknown == {"chez": 1, "toi": 0}        # seen once (min_freq 2) / never seen
    assert unknown_words("je suis .", vocab, count_corpus(targets)) == {}
    assert unknown_words_note(unknown) == ["chez: below min_freq in this run's vocabulary (1× in its training targets)",
                                           "toi: never seen in this run's training targets"]


TINY_CORPUS_RUN = (DataConfig(num_examples=300, num_test=30, batch_size=32),
                   ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=1))


def test_a_sample_row_carries_its_references_words_the_run_cannot_translate(tmp_path):
    from core.checkpoint import load_checkpoint, save_checkpoint
    from core.data import count_corpus
    from core.train import continue_run
    run = start_run(*TINY_CORPUS_RUN)
    run.train(sample_every=1)
    rows = {row["src"]: row for row in run.trainer.history.samples}
    assert rows["i'm home ."]["unknown"] == {"moi": 1}     # trained on, yet "moi" fell below min_freq 2
    assert rows["he's calm ."]["unknown"] == {}
    counts, vocab = count_corpus(run.data.train.target), run.data.tgt_vocab
    for row in rows.values():
        assert row["unknown"] == {w: counts[w] for w in row["ref"].split() if w not in vocab}
    save_checkpoint(run.checkpoint(), tmp_path / "run.pt")
    resumed = continue_run(load_checkpoint(tmp_path / "run.pt"), 1)     # vocabularies read back: no counts of their own
    resumed.train(sample_every=1)
    last = [row for row in resumed.trainer.history.samples if row["epoch"] == 2]
    assert next(row for row in last if row["src"] == "i'm home .")["unknown"] == {"moi": 1}


def _draw_samples(rows: list[dict]) -> None:
    from core.service.jobs import JobSnapshot
    from ui.views import train_live
    train_live._samples(JobSnapshot("finished", "", 1, 1, 1, [1.0], [1.0], [1.0], [1.0], rows, 1.0, None, 1.0))


def test_the_samples_table_says_which_reference_words_are_outside_the_vocabulary_and_why():
    from streamlit.testing.v1 import AppTest
    run = start_run(*TINY_CORPUS_RUN)
    run.train(sample_every=1)
    at = AppTest.from_function(_draw_samples, args=(run.trainer.history.samples,), default_timeout=HANG_GUARD).run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("src")
    assert table.loc["i'm home .", "unknown"] == "moi: below min_freq in this run's vocabulary (1× in its training targets)"
    assert table.loc["he's calm .", "unknown"] == ""
    assert any("`<unk>` to the model" in c.value for c in at.caption)

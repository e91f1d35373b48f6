"""Sample translations while training: the book's examples are trained on, and every sample
says whether its sentence was seen in training or held out."""
from __future__ import annotations

from core.config import DataConfig, ModelConfig, TrainConfig
from core.history import SampleEvent
from core.sources import BOOK_EXAMPLES, load_split, prepare_data, sample_pairs
from core.train import start_run


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

"""Data: the book's preprocessing, tokens, vocabularies and arrays, and the sources."""
import pytest
import torch

from core.config import DataConfig
from core.data import Vocab, build_array_nmt, preprocess_nmt, tokenize_nmt, truncate_pad
from core.sources import (
    CORPUS_PATH,
    DataError,
    load_split,
    pairs_from_lines,
    prepare_data,
    read_tatoeba_bytes,
    synthetic_pairs,
)

TRICKY = ["Go.", "Hi!\u202fOK?", "Wait...", "No, no!", ".Start", "a,b", "A\xa0!", "\n.x\t.y", "ÉTÉ!", " . ", ""]


@pytest.mark.parametrize("text", TRICKY)
def test_preprocess_matches_book_on_edge_cases(d2l, text):
    assert preprocess_nmt(text) == d2l.preprocess_nmt(text)


def test_preprocess_matches_book_on_the_real_file(d2l, fra_eng_text):
    head = fra_eng_text[:400_000]
    assert preprocess_nmt(head) == d2l.preprocess_nmt(head)


def test_tokens_and_vocab_ids_match_book(d2l, fra_eng_text):
    text = preprocess_nmt(fra_eng_text[:200_000])
    ours, book = tokenize_nmt(text, 600), d2l.tokenize_nmt(text, 600)
    assert ours == book and len(ours[0]) == 601           # the book keeps lines 0..600
    for side in (0, 1):
        v_ours = Vocab(ours[side], min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
        v_book = d2l.Vocab(book[side], min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
        assert v_ours.idx_to_token == v_book.idx_to_token
        assert v_ours[["go", ".", "nope"]] == v_book[["go", ".", "nope"]]


def test_arrays_and_valid_lengths_match_book(d2l, fra_eng_text):
    source, _ = tokenize_nmt(preprocess_nmt(fra_eng_text[:200_000]), 600)
    vocab = Vocab(source, min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    array, valid = build_array_nmt(source, vocab, 8)
    book_array, book_valid = d2l.build_array_nmt(source, d2l.Vocab(source, 2, ["<pad>", "<bos>", "<eos>"]), 8)
    assert torch.equal(array, book_array) and torch.equal(valid, book_valid)


def test_load_data_nmt_reads_fra_eng_path_like_the_book(d2l, fra_eng_path, fra_eng_text, monkeypatch):
    from core import load_data_nmt
    monkeypatch.setenv("FRA_ENG_PATH", str(fra_eng_path))
    data_iter, src_vocab, tgt_vocab = load_data_nmt(batch_size=2, num_steps=8)
    source, target = d2l.tokenize_nmt(d2l.preprocess_nmt(fra_eng_text), 600)
    assert src_vocab.idx_to_token == d2l.Vocab(source, 2, ["<pad>", "<bos>", "<eos>"]).idx_to_token
    assert tgt_vocab.idx_to_token == d2l.Vocab(target, 2, ["<pad>", "<bos>", "<eos>"]).idx_to_token
    X, X_valid_len, Y, Y_valid_len = next(iter(data_iter))
    assert X.shape == (2, 8) and Y.shape == (2, 8) and X_valid_len.shape == (2,)


def test_truncate_pad_cuts_and_pads():
    assert truncate_pad([1, 2, 3], 2, 0) == [1, 2]
    assert truncate_pad([1], 3, 0) == [1, 0, 0]


def test_shipped_corpus_has_the_book_examples_and_a_thousand_pairs():
    lines = CORPUS_PATH.read_text("utf-8").splitlines()
    pairs = pairs_from_lines(lines, "corpus")
    assert len(pairs) >= 1000 and pairs.skipped == 0
    english = {" ".join(s): " ".join(t) for s, t in zip(pairs.source, pairs.target)}
    assert len(english) == len(pairs)                       # one reference per sentence
    for src, ref in [("go .", "va !"), ("i lost .", "j'ai perdu ."),
                     ("he's calm .", "il est calme ."), ("i'm home .", "je suis chez moi .")]:
        assert english[src] == ref
    assert all(line == preprocess_nmt(line) for line in lines)   # already in the book's style


@pytest.mark.parametrize("task,expected", [("copy", list), ("reverse", lambda s: s[::-1]), ("sort", sorted)])
def test_synthetic_tasks_have_exact_references(task, expected):
    pairs = synthetic_pairs(task, 50, num_steps=6, seed=1)
    assert len(pairs) == 50
    for src, tgt in zip(pairs.source, pairs.target):
        assert tgt == expected(src) and 1 <= len(src) <= 5


def test_held_out_pairs_are_never_trained_on():
    for source in ("corpus", "reverse"):
        train, test = load_split(DataConfig(source=source, num_examples=5000, num_test=100))
        train_set = {(tuple(s), tuple(t)) for s, t in zip(train.source, train.target)}
        assert len(test) == 100 and not any((tuple(s), tuple(t)) in train_set
                                            for s, t in zip(test.source, test.target))


def test_split_is_repeatable_for_a_seed_and_changes_with_it():
    a = load_split(DataConfig(seed=3))[1].source
    assert a == load_split(DataConfig(seed=3))[1].source != load_split(DataConfig(seed=4))[1].source


def test_tatoeba_split_trains_on_the_books_lines_and_holds_out_the_next(fra_eng_path, d2l, fra_eng_text):
    config = DataConfig(source="tatoeba", path=str(fra_eng_path), num_examples=600, num_test=50)
    train, test = load_split(config)
    book_source, _ = d2l.tokenize_nmt(d2l.preprocess_nmt(fra_eng_text[:100_000]), 600)
    assert train.source == book_source and len(test) == 50
    assert test.source[0] == d2l.preprocess_nmt(fra_eng_text.split("\n")[601]).split("\t")[0].split(" ")


def test_tsv_malformed_lines_are_skipped_and_counted():
    raw = b"Hello.\tBonjour.\nno tab here\n\t\nOne\tUn\tthird column\nA\t\n\nTwo!\tDeux!\n"
    config = DataConfig(source="tsv", path="mine.tsv", num_test=0)
    train, _ = load_split(config, raw)
    assert sorted(train.source) == [["hello", "."], ["one"], ["two", "!"]] and train.skipped == 3


@pytest.mark.parametrize("raw,needle", [(b"\xff\xfe\x00a\tb", "binary"), (b"caf\xe9\tx\n", "UTF-8"),
                                         (b"PK\x03\x04garbage", "corrupt zip")])
def test_bad_files_are_refused_with_a_clear_error(raw, needle):
    with pytest.raises(DataError, match=needle):
        read_tatoeba_bytes(raw, "upload.txt")


def test_a_file_without_pairs_is_refused():
    with pytest.raises(DataError, match="fewer than 2 usable pairs"):
        load_split(DataConfig(source="tsv", path="x.tsv"), b"no tabs at all\n")


def test_prepared_batches_cover_every_pair_once_per_epoch():
    data = prepare_data(DataConfig(source="copy", num_examples=130, num_test=0))
    rows = torch.cat([b[0] for b in data.batches(64, generator=torch.Generator().manual_seed(0))])
    assert rows.shape[0] == 130
    assert sorted(map(tuple, rows.tolist())) == sorted(map(tuple, data.arrays[0].tolist()))


def test_vocab_round_trips_through_plain_lists():
    vocab = Vocab([["a", "b", "a"]], reserved_tokens=["<pad>"])
    assert Vocab.from_dict(vocab.to_dict()).idx_to_token == vocab.idx_to_token
    with pytest.raises(ValueError):
        Vocab.from_dict({"idx_to_token": ["a", "a"]})


def test_files_over_the_size_limit_are_refused(monkeypatch):
    import core.data_files
    monkeypatch.setattr(core.data_files, "MAX_FILE_BYTES", 100)
    with pytest.raises(DataError, match="over the 0 MiB limit|MiB limit"):
        load_split(DataConfig(source="tsv", path="big.tsv"), b"a\tb\n" * 100)

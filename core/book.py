"""`load_data_nmt`: the book's data loader, on the engine's data path."""
from __future__ import annotations

from .data import BatchIterator, NMTData, PairSet, Vocab, build_vocabs, preprocess_nmt, tokenize_nmt
from .sources import read_fra_eng_text


def load_data_nmt(batch_size: int, num_steps: int, num_examples: int = 600) -> tuple[BatchIterator, Vocab, Vocab]:
    """(data_iter, src_vocab, tgt_vocab) for the book's fra-eng file, as the book builds them.

    The file is `$FRA_ENG_PATH` (fra.txt or a zip holding fra-eng/fra.txt) when set, else the
    download cache, else a checksum-verified download. Only the lines used are preprocessed.
    """
    text = read_fra_eng_text()
    head = text if num_examples is None else "\n".join(text.split("\n", num_examples + 1)[:num_examples + 1])
    source, target = tokenize_nmt(preprocess_nmt(head), num_examples)
    pairs = PairSet(source, target, 0, "Tatoeba fra-eng")
    src_vocab, tgt_vocab = build_vocabs(pairs, min_freq=2)
    data = NMTData(pairs, PairSet([], []), src_vocab, tgt_vocab, num_steps)
    return BatchIterator(data, batch_size, shuffle=True), src_vocab, tgt_vocab

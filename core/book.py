"""`load_data_nmt`: the book's data loader, on the engine's data path."""
from __future__ import annotations

from .config import DataConfig
from .data import BatchIterator, NMTData, PairSet, Vocab, build_vocabs
from .sources import read_fra_eng_text, tatoeba_split


def load_data_nmt(batch_size: int, num_steps: int, num_examples: int = 600) -> tuple[BatchIterator, Vocab, Vocab]:
    """(data_iter, src_vocab, tgt_vocab) for the book's fra-eng file, as the book builds them.

    The file is `$FRA_ENG_PATH` (fra.txt or a zip holding fra-eng/fra.txt) when set, else the
    download cache, else a checksum-verified download. Only the lines used are preprocessed.
    """
    config = DataConfig(source="tatoeba", path="fra-eng", num_examples=num_examples, num_test=0,
                        num_steps=num_steps, batch_size=batch_size)
    train, _ = tatoeba_split(read_fra_eng_text(), config, "Tatoeba fra-eng")
    src_vocab, tgt_vocab = build_vocabs(train, min_freq=2)
    data = NMTData(train, PairSet([], []), src_vocab, tgt_vocab, num_steps)
    return BatchIterator(data, batch_size, shuffle=True), src_vocab, tgt_vocab

"""Data: the book's preprocessing, `Vocab`, arrays with valid lengths, and batches.

The functions named after the book (`preprocess_nmt`, `tokenize_nmt`, `Vocab`,
`truncate_pad`, `build_array_nmt`) give exactly the book's output on the same text;
`preprocess_nmt` does it with one regular expression instead of a Python loop per character.
Where the pairs come from lives in `core.sources`.

The book splits a sentence on spaces, so a Chinese sentence would be a single token. `tokenize`
offers a choice (`DataConfig.tokenizer`): `space` is the book's split; `char` also makes every
CJK character (the ranges in `CJK_RANGES`) a token of its own, as a character-level model of
Chinese or Japanese needs, and keeps runs of other characters (Latin words, digits,
`<unk>`) together. Tokens are always joined back with spaces, so a `char` translation reads
"我 喜 欢 茶 。" and round-trips through the book's `split(" ")` (and its BLEU).
"""
from __future__ import annotations

import collections
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from .config import TOKENIZERS
from .i18n import Text

RESERVED_TOKENS = ["<pad>", "<bos>", "<eos>"]
# A , . ! or ? right after a character that is not a space gets a space before it.
_NO_SPACE_BEFORE_PUNCT = re.compile(r"(?<=[^ ])([,.!?])")
# What the `char` tokenizer makes one token per character: (first, last) code points, inclusive.
# Fullwidth letters and digits are not in it (they stay words, like their ASCII forms), nor
# U+3000 IDEOGRAPHIC SPACE (a separator, like a space).
CJK_RANGES = (
    ("\u2e80", "\u2fdf"),          # CJK Radicals Supplement, Kangxi Radicals
    ("\u3001", "\u303f"),          # CJK Symbols and Punctuation: 、。「」『』【】〈〉 ...
    ("\u3040", "\u30ff"),          # Hiragana, Katakana
    ("\u3100", "\u31ff"),          # Bopomofo, Hangul Compatibility Jamo, Kanbun, CJK Strokes, ...
    ("\u3200", "\u33ff"),          # Enclosed CJK Letters and Months, CJK Compatibility
    ("\u3400", "\u4dbf"),          # CJK Unified Ideographs Extension A
    ("\u4e00", "\u9fff"),          # CJK Unified Ideographs
    ("\uac00", "\ud7af"),          # Hangul Syllables
    ("\uf900", "\ufaff"),          # CJK Compatibility Ideographs
    ("\ufe10", "\ufe1f"),          # Vertical Forms
    ("\ufe30", "\ufe4f"),          # CJK Compatibility Forms
    ("\uff01", "\uff0f"),          # fullwidth ！＂＃＄％＆＇（）＊＋，－．／
    ("\uff1a", "\uff20"),          # fullwidth ：；＜＝＞？＠
    ("\uff3b", "\uff40"),          # fullwidth ［＼］＾＿｀
    ("\uff5b", "\uff65"),          # fullwidth ｛｜｝～｟｠, halfwidth ｡｢｣､･
    ("\uff66", "\uff9f"),          # Halfwidth Katakana
    ("\uffe0", "\uffee"),          # fullwidth and halfwidth signs: ￠￡￥￦ ...
    ("\U00020000", "\U0003ffff"),  # planes 2 and 3: CJK Extensions B-I, Compatibility Supplement
)
_CJK_CLASS = "".join(f"{first}-{last}" for first, last in CJK_RANGES)
# One CJK character, or a run of characters that are neither CJK nor whitespace.
_CHAR_TOKEN = re.compile(f"[{_CJK_CLASS}]|[^{_CJK_CLASS}\\s]+")


class DataError(ValueError):
    """A dataset that cannot be used: say which file and what is wrong with it."""


def preprocess_nmt(text: str) -> str:
    """Non-breaking spaces -> spaces, lowercase, a space before `, . ! ?` (the book's rule)."""
    text = text.replace("\u202f", " ").replace("\xa0", " ").lower()
    return _NO_SPACE_BEFORE_PUNCT.sub(r" \1", text)


def tokenize(text: str, tokenizer: str = "space") -> list[str]:
    """One preprocessed sentence (see `preprocess_nmt`) -> its tokens.

    `space`: the book's `text.split(" ")` (two spaces make an empty token, as in the book).
    `char`: split on any whitespace, then every CJK character is a token of its own; runs
    of other characters stay one token: "他是tom的朋友 ." -> 他 是 tom 的 朋 友 .
    """
    if tokenizer == "space":
        return text.split(" ")
    if tokenizer == "char":
        return _CHAR_TOKEN.findall(text)
    raise ValueError(Text("{name} must be one of {choices}, got {value!r}", name="tokenizer", choices=TOKENIZERS,
                          value=tokenizer))


def split_words(text: str, tokenizer: str = "space") -> list[str]:
    """`tokenize`, except that `space` splits on runs of whitespace (no empty tokens), as the
    tolerant file reader and typed sentences always have; `char` already does."""
    return text.split() if tokenizer == "space" else tokenize(text, tokenizer)


def tokenize_nmt(text: str, num_examples: int | None = None,
                 tokenizer: str = "space") -> tuple[list[list[str]], list[list[str]]]:
    """Split `src<TAB>tgt` lines into token lists, exactly like the book (`tokenizer="space"`).

    Like the book, `num_examples` counts lines (malformed ones too) and keeps lines
    0..num_examples, so 600 gives up to 601 pairs: that is what the book trains on.
    """
    source, target = [], []
    for i, line in enumerate(text.split("\n")):
        if num_examples and i > num_examples:
            break
        parts = line.split("\t")
        if len(parts) == 2:
            source.append(tokenize(parts[0], tokenizer))
            target.append(tokenize(parts[1], tokenizer))
    return source, target


def count_corpus(tokens: Sequence) -> collections.Counter:
    """Token frequencies of a flat or nested list of tokens."""
    if len(tokens) == 0 or isinstance(tokens[0], list):
        tokens = [token for line in tokens for token in line]
    return collections.Counter(tokens)


class Vocab:
    """The book's vocabulary: `<unk>` is 0, then the reserved tokens, then by frequency.

    A vocabulary read back (`from_dict`) keeps its own order: d2l 1.0's sorts its tokens, so
    `<unk>` need not be 0 there."""

    def __init__(self, tokens: Sequence | None = None, min_freq: int = 0,
                 reserved_tokens: Sequence[str] | None = None):
        counter = count_corpus(tokens or [])
        # sorted() is stable: equal frequencies keep first-seen order, as in the book.
        self._token_freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
        self.idx_to_token = ["<unk>"] + list(reserved_tokens or [])
        self.token_to_idx = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq:
                break
            if token not in self.token_to_idx:
                self.idx_to_token.append(token)
                self.token_to_idx[token] = len(self.idx_to_token) - 1

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    def __contains__(self, token: str) -> bool:
        return token in self.token_to_idx

    def to_tokens(self, indices):
        if not isinstance(indices, (list, tuple)):
            return self.idx_to_token[indices]
        return [self.idx_to_token[index] for index in indices]

    @property
    def unk(self) -> int:
        return self.token_to_idx["<unk>"]

    @property
    def token_freqs(self) -> list[tuple[str, int]]:
        return self._token_freqs

    def to_dict(self) -> dict:
        """Plain lists only, so checkpoints load with `weights_only=True`."""
        return {"idx_to_token": list(self.idx_to_token)}

    @classmethod
    def from_dict(cls, values: dict) -> Vocab:
        tokens = values.get("idx_to_token")
        if (not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens)
                or "<unk>" not in tokens or len(set(tokens)) != len(tokens)):
            raise ValueError(Text("vocabulary must be a list of distinct strings holding <unk>"))
        vocab = cls()
        vocab.idx_to_token = list(tokens)
        vocab.token_to_idx = {token: idx for idx, token in enumerate(tokens)}
        return vocab


def truncate_pad(line: list, num_steps: int, padding_token) -> list:
    """Cut `line` to `num_steps` items or pad it up to that length."""
    if len(line) > num_steps:
        return line[:num_steps]
    return line + [padding_token] * (num_steps - len(line))


def build_array_nmt(lines: list[list[str]], vocab: Vocab, num_steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token lists -> ids + `<eos>`, truncated/padded: (N, num_steps) and valid lengths (N,)."""
    eos, pad, unk = vocab["<eos>"], vocab["<pad>"], vocab.unk
    lookup = vocab.token_to_idx.get
    buffer = array("q")        # one flat buffer, not N small lists: the full file in about a second
    for line in lines:
        ids = [lookup(t, unk) for t in line[:num_steps]]
        ids.append(eos)
        buffer.extend(truncate_pad(ids, num_steps, pad))
    if not lines:
        return torch.zeros((0, num_steps), dtype=torch.long), torch.zeros(0, dtype=torch.int32)
    table = torch.frombuffer(buffer, dtype=torch.long).clone().reshape(len(lines), num_steps)
    # Like the book: valid length counts the non-<pad> ids (a truncated line has no <eos>).
    return table, (table != pad).type(torch.int32).sum(1)


@dataclass
class PairSet:
    """Tokenized sentence pairs from one source, with what was dropped on the way."""
    source: list[list[str]]
    target: list[list[str]]
    skipped: int = 0                 # malformed lines (no tab, empty side, bad text)
    description: str = ""

    def __len__(self) -> int:
        return len(self.source)

    def subset(self, indices: Sequence[int]) -> PairSet:
        return PairSet([self.source[i] for i in indices], [self.target[i] for i in indices],
                       0, self.description)

    def sentences(self) -> list[tuple[str, str]]:
        """The pairs as (source, target) sentences, tokens joined by spaces."""
        return [(" ".join(s), " ".join(t)) for s, t in zip(self.source, self.target)]


@dataclass
class NMTData:
    """Train and held-out pairs, both vocabularies, and the training arrays."""
    train: PairSet
    test: PairSet
    src_vocab: Vocab
    tgt_vocab: Vocab
    num_steps: int
    arrays: tuple[torch.Tensor, ...] = field(default=(), repr=False)

    def __post_init__(self):
        if not self.arrays:
            self.arrays = (*build_array_nmt(self.train.source, self.src_vocab, self.num_steps),
                           *build_array_nmt(self.train.target, self.tgt_vocab, self.num_steps))

    @property
    def num_train(self) -> int:
        return len(self.train)

    def batches(self, batch_size: int, shuffle: bool = True,
                generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
        """(X, X_valid_len, Y, Y_valid_len) batches; slicing pre-built tensors, no collation."""
        n = self.num_train
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            yield tuple(a.index_select(0, idx) for a in self.arrays)


def build_vocabs(pairs: PairSet, min_freq: int) -> tuple[Vocab, Vocab]:
    """Source and target vocabularies of the training pairs, with the book's reserved tokens."""
    return (Vocab(pairs.source, min_freq=min_freq, reserved_tokens=RESERVED_TOKENS),
            Vocab(pairs.target, min_freq=min_freq, reserved_tokens=RESERVED_TOKENS))


class BatchIterator:
    """A re-iterable stand-in for the book's DataLoader: a fresh shuffle every pass."""

    def __init__(self, data: NMTData, batch_size: int, shuffle: bool = True,
                 generator: torch.Generator | None = None):
        self.data, self.batch_size, self.shuffle, self.generator = data, batch_size, shuffle, generator

    def __iter__(self):
        return self.data.batches(self.batch_size, self.shuffle, self.generator)

    def __len__(self) -> int:
        return -(-self.data.num_train // self.batch_size)

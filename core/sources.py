"""Where sentence pairs come from: the shipped corpus, synthetic tasks, Tatoeba files, TSVs.

Every source goes through `load_split(config)` and gives the same thing: training pairs
and held-out pairs that are never trained on. Files are read as UTF-8; malformed lines
(no tab, an empty side) are skipped and counted, never a crash. A Tatoeba file or a TSV may
come zipped; how its bytes are read within the size limit lives in `core.data_files`.
"""
from __future__ import annotations

import hashlib
import os
import random
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from .config import FILE_SOURCES, SYNTHETIC_TASKS, DataConfig
from .data import DataError, NMTData, PairSet, build_vocabs, preprocess_nmt, split_words, tokenize_nmt
from .data_files import MAX_FILE_BYTES, read_data_file, read_text_bytes
from .i18n import Text

CORPUS_PATH = Path(__file__).parent / "corpus" / "en-fr.tsv"
FRA_ENG_URL = "http://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
FRA_ENG_SHA1 = "94646ad1522d915e7b0f9296181140edcf86a4f5"   # the book's DATA_HUB checksum
SYNTHETIC_ALPHABET = "a b c d e f g h i j k l".split()
# The chapter's four sentences and the book's references (notes 7.8); in the corpus and fra-eng.
BOOK_EXAMPLES = [("go .", "va !"), ("i lost .", "j'ai perdu ."),
                 ("he's calm .", "il est calme ."), ("i'm home .", "je suis chez moi .")]
BOOK_EXAMPLE_SOURCES = ("corpus", "tatoeba")
UPLOAD = Text("upload")      # an uploaded file's name in messages, when it came without one


def cache_dir() -> Path:
    return Path(os.environ.get("SEQ2SEQ_CACHE", Path.home() / ".cache" / "seq2seq-playground"))


def read_tatoeba_bytes(raw: bytes, name: str) -> str:
    """The text of `fra.txt`, given either the file itself or a zip that holds it; both are
    bounded by `MAX_FILE_BYTES` before they are inflated or decoded (`core.data_files`)."""
    return read_text_bytes(raw, name)


def read_tatoeba_file(path: str | os.PathLike) -> str:
    return read_text_bytes(read_data_file(path), Path(path).name)   # its name: the folder is the server's


def download_fra_eng(directory: Path | None = None) -> Path:
    """The book's fra-eng.zip, downloaded once, verified by its SHA-1, cached."""
    directory = directory or cache_dir()
    target = directory / "fra-eng.zip"
    if target.is_file() and _sha1(target.read_bytes()) == FRA_ENG_SHA1:
        return target
    try:
        with urllib.request.urlopen(FRA_ENG_URL, timeout=60) as response:
            raw = response.read(MAX_FILE_BYTES + 1)   # more than that fails the checksum, unread
    except OSError as err:          # URLError, a timeout, DNS: most often no network
        raise DownloadError(Text(
            "could not download the book's data file {file} from {url} ({reason}): no network? Download "
            "{file} where there is one and give its path: --data PATH on a command line "
            "(python -m core.import_d2l, python -m core.train), or FRA_ENG_PATH for the app",
            file="fra-eng.zip", url=FRA_ENG_URL, reason=_reason(err))) from None
    if _sha1(raw) != FRA_ENG_SHA1:
        raise DataError(Text("{url}: checksum mismatch, download refused", url=FRA_ENG_URL))
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    partial.write_bytes(raw)
    os.replace(partial, target)
    return target


class DownloadError(OSError):
    """The book's file could not be downloaded; the message names the file and what to do instead."""


def _reason(err: OSError) -> str:
    """What urllib says went wrong, without its `<urlopen error …>` wrapping."""
    reason = getattr(err, "reason", None)
    return str(reason if reason is not None else err)


def _sha1(raw: bytes) -> str:
    return hashlib.sha1(raw).hexdigest()


def fra_eng_path() -> str:
    """The book's file: $FRA_ENG_PATH if set, else the download cache, else a download."""
    return os.environ.get("FRA_ENG_PATH") or str(download_fra_eng())


def read_fra_eng_text() -> str:
    return read_tatoeba_file(fra_eng_path())


def data_source(value: str) -> tuple[str, str | None]:
    """A command line's `--data`: a source name, `fra-eng` (the book's file), or a file path
    (a zip or `fra.txt` is read as Tatoeba, anything else as a TSV) -> (source, path)."""
    if value in ("corpus", *SYNTHETIC_TASKS):
        return value, None
    if value == "fra-eng":
        return "tatoeba", fra_eng_path()
    path = Path(value)
    return ("tatoeba" if path.suffix == ".zip" or path.name == "fra.txt" else "tsv"), str(path)


def needs_data_file(config: DataConfig) -> bool:
    """Whether the run's pairs came from a file (a path, or an upload that must be given again)."""
    return config.source in FILE_SOURCES


def example_pair(config: DataConfig, held_out: list[tuple[str, str]]) -> tuple[str, str]:
    """A (source, reference) pair to open a view with, from the model's own data: the book's
    "i'm home ." on fra-eng and the corpus, else the first held-out pair."""
    if config.source in BOOK_EXAMPLE_SOURCES:
        return BOOK_EXAMPLES[-1]
    return held_out[0] if held_out else ("", "")


def known_references(config: DataConfig, held_out: list[tuple[str, str]]) -> dict[str, str]:
    """source -> reference for the sentences whose reference a view can fill in: the held-out
    pairs, and the book's examples on the book's data."""
    book = dict(BOOK_EXAMPLES) if config.source in BOOK_EXAMPLE_SOURCES else {}
    return {**book, **dict(held_out)}


def pairs_to_show(config: DataConfig, held_out: list[tuple[str, str]], src_tokens: list[str],
                  tgt_tokens: list[str]) -> list[tuple[str, str]]:
    """Sentence pairs a view can run through a model: its held-out pairs; without any, the
    book's examples for the book's data, else one pair of the vocabularies' first words."""
    if held_out:
        return held_out
    if config.source in BOOK_EXAMPLE_SOURCES:
        return BOOK_EXAMPLES
    return [(_plain_words(src_tokens[:12]), _plain_words(tgt_tokens[:12]))]


def _plain_words(tokens: list[str]) -> str:
    """The tokens without the special ones (`<unk>`, `<pad>`...), as a short sentence."""
    return " ".join(t for t in tokens if not t.startswith("<"))[:200] or "."


def sample_pairs(config: DataConfig, data: NMTData, count: int = 4) -> list[tuple[str, str, bool]]:
    """Sentences to watch a run learn, as (source, reference, seen in training): on fra-eng or
    the corpus the book's examples (trained on, as in the book) and as many held-out pairs;
    otherwise half training pairs, half held-out ones."""
    train = data.train.sentences()
    seen = set(train)
    if config.source in BOOK_EXAMPLE_SOURCES:
        familiar = BOOK_EXAMPLES[:count]
    else:
        familiar = train[:max(1, count // 2) if len(data.test) else count]
    unseen = data.test.sentences()[:count if config.source in BOOK_EXAMPLE_SOURCES else count - len(familiar)]
    return [(s, t, (s, t) in seen) for s, t in familiar + unseen]


def pairs_from_lines(lines: list[str], description: str, limit: int | None = None,
                     tokenizer: str = "space") -> PairSet:
    """Preprocessed `src<TAB>tgt[<TAB>...]` lines -> pairs; extra columns ignored, bad lines counted.
    Both sides are split with `split_words(..., tokenizer)`."""
    source: list[list[str]] = []
    target: list[list[str]] = []
    skipped = 0
    for line in lines:
        if limit is not None and len(source) >= limit:
            break
        parts = line.rstrip("\r").split("\t")
        src, tgt = ((split_words(parts[0], tokenizer), split_words(parts[1], tokenizer))
                    if len(parts) >= 2 else ([], []))
        if not src or not tgt:
            skipped += bool(line.rstrip("\r"))   # empty lines are not an error
            continue
        source.append(src)
        target.append(tgt)
    return PairSet(source, target, skipped, description)


def tatoeba_split(text: str, config: DataConfig, description: str) -> tuple[PairSet, PairSet]:
    """Train on the book's lines 0..num_examples; hold out the next `num_test` pairs.

    The file is sorted by length, so the held-out pairs look like the training pairs.
    """
    head, _, rest = _split_lines(text, config.num_examples + 1)
    train_text = preprocess_nmt(head)
    tokenizer = config.tokenizer
    if head.count("\t") == head.count("\n") + 1 and "\r" not in head:
        # the book's exact path (with the "space" tokenizer)
        source, target = tokenize_nmt(train_text, config.num_examples, tokenizer=tokenizer)
        train = PairSet(source, target, 0, description)
    else:   # extra columns or odd lines: the tolerant reader
        train = pairs_from_lines(train_text.split("\n"), description, tokenizer=tokenizer)
    test_lines, _, _ = _split_lines(rest, config.num_test * 2 + 10)
    test = pairs_from_lines(preprocess_nmt(test_lines).split("\n"), description, config.num_test,
                            tokenizer=tokenizer)
    return train, test


def _split_lines(text: str, n: int) -> tuple[str, int, str]:
    """The first n lines of text (joined) and the rest, without splitting the whole file."""
    pos = -1
    for count in range(n):
        pos = text.find("\n", pos + 1)
        if pos < 0:
            return text, count + 1, ""
    return text[:pos], n, text[pos + 1:]


def synthetic_pairs(task: str, count: int, num_steps: int, seed: int) -> PairSet:
    """copy / reverse / sort over a small alphabet, with exact references."""
    rng = random.Random(seed)
    max_len = max(1, num_steps - 1)        # leave room for <eos>
    transforms: dict[str, Callable[[list[str]], list[str]]] = {"copy": list, "reverse": lambda s: s[::-1],
                                                               "sort": sorted}
    transform = transforms[task]
    seen: set[tuple[str, ...]] = set()
    source: list[list[str]] = []
    target: list[list[str]] = []
    for _ in range(count * 20):
        if len(source) >= count:
            break
        tokens = tuple(rng.choice(SYNTHETIC_ALPHABET) for _ in range(rng.randint(1, max_len)))
        if tokens not in seen:
            seen.add(tokens)
            source.append(list(tokens))
            target.append(list(transform(list(tokens))))
    return PairSet(source, target, 0, Text("synthetic {task} task", task=task))


def random_split(pairs: PairSet, config: DataConfig,
                 keep_in_training: Iterable[tuple[str, str]] = ()) -> tuple[PairSet, PairSet]:
    """A seeded shuffle; at most a fifth of the pairs is held out, so small files still train.
    Pairs in `keep_in_training` are never held out and come first among the training pairs,
    so `num_examples` never drops them."""
    order = list(range(len(pairs)))
    random.Random(config.seed).shuffle(order)
    keep = set(keep_in_training)
    kept = [i for i in order if _sentence_pair(pairs, i) in keep]
    num_test = min(config.num_test, len(pairs) // 5)
    # The held-out pairs are the split's as without `keep`, minus the kept ones: a run made
    # before this rule, continued now, never finds a pair it trained on among them.
    kept_set = set(kept)
    test = [i for i in order[:num_test] if i not in kept_set]
    train = (kept + [i for i in order[num_test:] if i not in kept_set])[:config.num_examples]
    train_set, test_set = pairs.subset(train), pairs.subset(test)
    train_set.skipped = pairs.skipped
    return train_set, test_set


def _sentence_pair(pairs: PairSet, i: int) -> tuple[str, str]:
    return " ".join(pairs.source[i]), " ".join(pairs.target[i])


def load_split(config: DataConfig, raw: bytes | None = None) -> tuple[PairSet, PairSet]:
    """Train and held-out pairs for `config`; `raw` is an uploaded file's bytes, if any
    (then `config.path` is only its name, for messages). `config.tokenizer` splits file
    sources; the corpus and the synthetic tasks come tokenized already."""
    config.validate()
    source = config.source
    if source in SYNTHETIC_TASKS:
        pairs = synthetic_pairs(source, config.num_examples + config.num_test,
                                config.num_steps, config.seed)
        return random_split(pairs, config)
    if source == "tatoeba":
        name = _file_name(config.path or UPLOAD)      # messages name the file, never the server's folder
        text = read_tatoeba_bytes(raw, name) if raw is not None else read_tatoeba_file(_path_of(config))
        return tatoeba_split(text, config, Text("Tatoeba file {name}", name=_file_name(name)))
    keep: list[tuple[str, str]] = []
    if source == "tsv":
        name = _file_name(config.path or UPLOAD)
        text = read_text_bytes(raw if raw is not None else read_data_file(_path_of(config)), name)
        pairs = pairs_from_lines(preprocess_nmt(text).split("\n"), Text("TSV {name}", name=_file_name(name)),
                                 tokenizer=config.tokenizer)
    else:
        pairs = pairs_from_lines(CORPUS_PATH.read_text("utf-8").split("\n"), Text("the playground corpus"))
        keep = BOOK_EXAMPLES                # the book trains on them: watching them shows memorisation
    if len(pairs) < 2:
        raise DataError(Text("{description}: fewer than 2 usable pairs ({skipped} malformed lines skipped)",
                             description=pairs.description, skipped=pairs.skipped))
    return random_split(pairs, config, keep)


def _file_name(name: str) -> str:
    """A file's name without its folder, for a message; the upload's own word stays a Text."""
    return name if isinstance(name, Text) else Path(name).name


def _path_of(config: DataConfig) -> str:
    """The file of a file source; `config.validate()` has made sure there is one."""
    if config.path is None:
        raise DataError(Text("source {source!r} needs a file path", source=config.source))
    return config.path


def prepare_data(config: DataConfig, raw: bytes | None = None) -> NMTData:
    """Pairs -> vocabularies built on the training pairs only -> training arrays."""
    train, test = load_split(config, raw)
    if len(train) == 0:
        raise DataError(Text("{description}: no training pairs", description=train.description))
    src_vocab, tgt_vocab = build_vocabs(train, config.min_freq)
    return NMTData(train, test, src_vocab, tgt_vocab, config.num_steps)

"""Weights trained with the book's own code (d2l 0.17.6 or 1.0), in and out of playground checkpoints.

A learner who ran the chapter in a notebook holds `net.state_dict()`: weights only. To look
inside that model here, `import_state_dict` infers its sizes from the tensors, rebuilds both
vocabularies exactly as that API's data loader builds them from the same file and settings
(0.17.6's `load_data_nmt`, 1.0's `MTFraEng`; or reads them from vocabulary files exported
from the notebook), checks that every tensor fits, and returns an ordinary `Checkpoint` that
records where it came from. Its decoder keeps that API's context rule: 0.17.6's `state[-1]`
(so it translates as `predict_seq2seq` does), 1.0's fixed encoder context (`predict_step`).
`export_state_dict` goes the other way: a playground GRU or LSTM model as a file the book's
classes load with `net.load_state_dict(torch.load(f))`, plus its vocabularies as text.

Files are read with `torch.load(weights_only=True)`: a pickle of Python objects never runs.
Every mismatch is a `CheckpointError` saying which key or which size, and what setting
(num_examples, num_steps, the data file) probably differs.
"""
from __future__ import annotations

import collections
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .checkpoint import (
    MAX_CHECKPOINT_BYTES,
    Checkpoint,
    CheckpointError,
    check_parameters,
    check_tokens,
    check_weights,
    expected_weights,
    is_state_dict,
)
from .config import DataConfig, ModelConfig, TrainConfig
from .data import Vocab, build_vocabs, preprocess_nmt
from .history import History
from .i18n import N_, Text, message_of
from .model import build_model
from .sources import fra_eng_path, read_tatoeba_file, tatoeba_split
from .torch_file import read_torch_file

API = "0.17.6"                 # the function API of the chapter; the Chinese edition pins it
API_10 = "1.0"                 # the class API (MTFraEng, Seq2Seq, Trainer) of d2l 1.0.x
APIS = (API, API_10)
BOOK_NUM_EXAMPLES = 600        # load_data_nmt's default
BOOK_NUM_STEPS = 10            # the chapter's num_steps
NUM_TRAIN_10, NUM_VAL_10, NUM_STEPS_10 = 512, 128, 9   # MTFraEng's defaults
_WRAPPED_RNN = re.compile(r"^(encoder|decoder)\.rnn\.rnn\.")   # d2l 1.0: d2l.GRU wraps nn.GRU as .rnn
HELD_OUT = 200                 # held-out pairs: the lines after the ones trained on
MAX_VOCAB_FILE_BYTES = 16 * 2**20
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')   # a JSON string, escapes included


@dataclass(frozen=True)
class BookSizes:
    """What the tensors of a book-trained state_dict say about its model."""
    cell: str                  # "gru" or "lstm"
    decoder: str               # "plain" or "attention"
    src_vocab: int
    tgt_vocab: int
    embed_size: int
    num_hiddens: int
    num_layers: int


def read_state_dict(raw: bytes, label: str, max_bytes: int = MAX_CHECKPOINT_BYTES) -> dict[str, torch.Tensor]:
    """A bare state_dict, or the one state_dict inside a dict ({"state_dict": ...}, {"model": ...});
    the file and every size it declares within `max_bytes` (core/torch_file.py)."""
    def unreadable(error: str) -> Text:
        return Text("{label}: PyTorch could not read it safely ({error}): save the "
                    "weights with `torch.save(net.state_dict(), path)`; a pickled model or Vocab "
                    "is never unpickled here, since that would run its code", label=label, error=error)
    return state_dict_in(read_torch_file(raw, label, max_bytes, unreadable), label)


def state_dict_in(payload: Any, label: str) -> dict[str, torch.Tensor]:
    """The book-trained state_dict in what `torch.load` gave, or CheckpointError saying what it is."""
    if isinstance(payload, dict) and payload.get("format") == "seq2seq-playground":
        raise CheckpointError(Text("{label}: this is a playground checkpoint already: open it as it is", label=label))
    if is_state_dict(payload):
        return payload
    inner = [v for v in payload.values() if is_state_dict(v)] if isinstance(payload, dict) else []
    if len(inner) == 1:
        return inner[0]
    raise CheckpointError(Text("{label}: not a state_dict (a dict of tensors such as encoder.embedding.weight)",
                               label=label))


def infer_sizes(state_dict: dict[str, torch.Tensor], label: str, api: str = API) -> BookSizes:
    """Vocabularies, embedding, hidden size, layers and cell, read off the tensors' shapes (the
    playground's keys; a missing one is named as that `api`'s file writes it)."""
    def tensor(key: str) -> torch.Tensor:
        if key not in state_dict:
            raise CheckpointError(Text("{label}: key {key!r} is missing: not the chapter's "
                                       "EncoderDecoder(Seq2SeqEncoder, Seq2SeqDecoder)", label=label,
                                       key=api_key(key, api)))
        return state_dict[key]

    src, tgt = tensor("encoder.embedding.weight"), tensor("decoder.embedding.weight")
    w_hh = tensor("encoder.rnn.weight_hh_l0")
    hidden = w_hh.shape[1]
    gates = w_hh.shape[0] // hidden if hidden else 0
    if gates not in (3, 4) or w_hh.shape[0] != gates * hidden:
        raise CheckpointError(Text("{label}: encoder.rnn.weight_hh_l0 has shape {shape}: neither a GRU "
                                   "(3H × H) nor an LSTM (4H × H)", label=label, shape=tuple(w_hh.shape)))
    # the highest layer any encoder RNN key names: with one key of a layer missing, the layer is
    # still counted, and the key comparison names that key, not the layer's others as unexpected
    layers = 1 + max(int(m[1]) for k in state_dict if (m := re.fullmatch(r"encoder\.rnn\.\w+_l(\d+)", k)))
    decoder = "attention" if any(k.startswith("decoder.attention.") for k in state_dict) else "plain"
    return BookSizes("gru" if gates == 3 else "lstm", decoder, src.shape[0], tgt.shape[0], src.shape[1],
                     hidden, layers)


def read_vocab_file(raw: bytes, label: str, side: str | None = None) -> Vocab:
    """A vocabulary exported from the notebook: `idx_to_token` as a JSON list, or one token a line
    (`"\\n".join(vocab.idx_to_token)`). Never a pickle. With `side` ("source" or "target"), the
    special tokens that side needs are checked too."""
    if len(raw) > MAX_VOCAB_FILE_BYTES:
        raise CheckpointError(Text("{label}: larger than {size} MiB", label=label, size=MAX_VOCAB_FILE_BYTES // 2**20))
    if raw[:1] == b"\x80" or raw[:2] == b"PK":        # a pickle, or torch.save's zip of one
        raise CheckpointError(Text("{label}: a pickled object, never unpickled here (that would run its code): "
                                   "export the vocabulary with json.dump(vocab.idx_to_token, f) or one token a line",
                                   label=label))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(Text("{label}: not UTF-8 text: export the vocabulary with "
                                   "json.dump(vocab.idx_to_token, f) or one token a line", label=label)) from None
    stripped = text.strip()
    tokens = _json_tokens(stripped, label) if stripped.startswith("[") else text.rstrip("\n").split("\n")
    try:
        vocab = Vocab.from_dict({"idx_to_token": tokens})
    except ValueError as err:
        raise CheckpointError(Text("{label}: {reason}", label=label, reason=message_of(err))) from None
    if side is not None:
        check_tokens(vocab, side, label)
    return vocab


def _json_tokens(text: str, label: str) -> object:
    """The parsed JSON list, its nesting bounded before the parser sees it: outside its strings a
    vocabulary holds one `[` and no `{`, so a file nested thousands deep never reaches the parser's
    recursion (a RecursionError), and a damaged one says so as a CheckpointError."""
    skeleton = _JSON_STRING.sub('""', text)
    if skeleton.count("[") != 1 or "{" in skeleton:
        raise CheckpointError(Text("{label}: not a vocabulary: a JSON vocabulary is one flat list of strings, as "
                                   "json.dump(vocab.idx_to_token, f) writes it", label=label))
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:          # JSONDecodeError is a ValueError
        raise CheckpointError(Text("{label}: not valid JSON ({error}): export the vocabulary with "
                                   "json.dump(vocab.idx_to_token, f) or one token a line", label=label,
                                   error=str(err))) from None


def book_vocabs(text: str, num_examples: int, num_steps: int) -> tuple[Vocab, Vocab, list[tuple[str, str]]]:
    """Both vocabularies as `d2l.load_data_nmt(batch_size, num_steps, num_examples)` builds them
    from this fra.txt text, and the held-out pairs: the lines after the ones trained on."""
    config = DataConfig(source="tatoeba", path="book", num_examples=num_examples, num_test=HELD_OUT,
                        num_steps=num_steps)
    train, test = tatoeba_split(text, config, "Tatoeba fra-eng")
    src_vocab, tgt_vocab = build_vocabs(train, min_freq=2)
    return src_vocab, tgt_vocab, test.sentences()


def book10_vocabs(text: str, num_train: int = NUM_TRAIN_10, num_val: int = NUM_VAL_10,
                  num_steps: int = NUM_STEPS_10) -> tuple[Vocab, Vocab, list[tuple[str, str]]]:
    """Both vocabularies as d2l 1.0's `MTFraEng(batch_size, num_steps, num_train, num_val)` builds
    them (from the padded or trimmed sentences of train and validation pairs, `<bos>` before
    each target, min_freq 2, tokens sorted), and its validation pairs as the held-out ones."""
    limit = num_train + num_val
    lines = preprocess_nmt("\n".join(text.split("\n")[:limit + 1])).split("\n")
    src, tgt = [], []
    for line in lines:
        parts = line.split("\t")
        if len(parts) == 2:
            src.append([t for t in f"{parts[0]} <eos>".split(" ") if t])
            tgt.append([t for t in f"{parts[1]} <eos>".split(" ") if t])

    def fit(seq: list[str]) -> list[str]:
        """Trimmed or padded to num_steps tokens: d2l 1.0's `pad_or_trim` in `MTFraEng._build_arrays`."""
        return seq[:num_steps] if len(seq) > num_steps else seq + ["<pad>"] * (num_steps - len(seq))

    src_vocab = _sorted_vocab([fit(s) for s in src])
    tgt_vocab = _sorted_vocab([["<bos>"] + fit(t) for t in tgt])
    held_out = [(" ".join(s[:-1]), " ".join(t[:-1])) for s, t in zip(src[num_train:], tgt[num_train:])]
    return src_vocab, tgt_vocab, held_out


def _sorted_vocab(sentences: list[list[str]]) -> Vocab:
    """d2l 1.0's Vocab(sentences, min_freq=2): `<unk>` and every token seen twice, sorted."""
    counts = collections.Counter(t for line in sentences for t in line)
    return Vocab.from_dict({"idx_to_token": sorted({"<unk>"} | {t for t, n in counts.items() if n >= 2})})


def api_of(state_dict: dict[str, torch.Tensor]) -> str:
    """The API whose keys these are: 1.0's d2l.GRU wraps nn.GRU as `rnn.rnn`."""
    return API_10 if any(_WRAPPED_RNN.match(k) for k in state_dict) else API


def api_key(key: str, api: str) -> str:
    """A playground (= 0.17.6) key as that API's file writes it: 1.0's d2l.GRU wraps nn.GRU as `rnn.rnn`."""
    return re.sub(r"^(encoder|decoder)\.rnn\.", r"\1.rnn.rnn.", key) if api == API_10 else key


def from_api_keys(state_dict: dict[str, torch.Tensor], api: str, label: str) -> dict[str, torch.Tensor]:
    """The state_dict with the playground's (= 0.17.6's) keys; says when the keys are the other API's."""
    wrapped = api_of(state_dict) == API_10
    if api == API and wrapped:
        raise CheckpointError(Text("{label}: its keys (encoder.rnn.rnn.…) are d2l 1.0's class API: import it as "
                                   "API 1.0", label=label))
    if api == API_10 and not wrapped:
        raise CheckpointError(Text("{label}: its keys (encoder.rnn.weight_…) are d2l 0.17.6's: import it as "
                                   "API 0.17.6", label=label))
    return {_WRAPPED_RNN.sub(r"\1.rnn.", k): v for k, v in state_dict.items()} if wrapped else state_dict


def _check_vocab(vocab: Vocab, rows: int, side: str, settings: Text, label: str) -> None:
    if len(vocab) == rows:
        return
    values = {"label": label, "settings": settings, "count": len(vocab), "rows": rows}
    if side == "source":
        raise CheckpointError(Text(
            "{label}: the source vocabulary {settings} has {count} tokens but the weights' "
            "source embedding has {rows} rows: the weights were trained with other data or settings "
            "(most often another num_examples; also the data file, or min_freq). Give the ones the "
            "notebook used, or its vocabulary files", **values))
    raise CheckpointError(Text(
        "{label}: the target vocabulary {settings} has {count} tokens but the weights' "
        "target embedding has {rows} rows: the weights were trained with other data or settings "
        "(most often another num_examples; also the data file, or min_freq). Give the ones the "
        "notebook used, or its vocabulary files", **values))


def book_model_config(sizes: BookSizes, api: str, label: str, max_parameters: int | None = None) -> ModelConfig:
    """The playground's config for these sizes, with that API's context rule; dropout is the book's
    0.1 (it only acts in training). Checked before any model is built: the sizes within the bounds
    of core/config.py, the parameters within `max_parameters`."""
    config = ModelConfig(cell=sizes.cell, embed_size=sizes.embed_size, num_hiddens=sizes.num_hiddens,
                         num_layers=sizes.num_layers, dropout=0.1, context="book" if api == API else "encoder",
                         decoder=sizes.decoder)
    try:
        config.validate()
    except ValueError as err:
        raise CheckpointError(Text("{label}: {reason}", label=label, reason=message_of(err))) from None
    check_parameters(config, sizes.src_vocab, sizes.tgt_vocab, label, max_parameters)
    return config


def import_state_dict(raw: bytes | dict[str, torch.Tensor], label: str, *, data_text: str | None = None,
                      data_path: str | None = None, num_examples: int | None = None, num_steps: int | None = None,
                      num_train: int = NUM_TRAIN_10, num_val: int = NUM_VAL_10,
                      vocabs: tuple[Vocab, Vocab] | None = None, cell: str | None = None,
                      api: str = API, max_bytes: int = MAX_CHECKPOINT_BYTES,
                      max_parameters: int | None = None) -> Checkpoint:
    """A playground checkpoint from a state_dict trained with the book's code: the file's bytes
    (read within `max_bytes`), or the state_dict `core.upload.open_upload` read from them.

    The vocabularies come from `vocabs` (exported from the notebook) or are rebuilt from the
    book's data: `data_text` (a fra.txt's text; the book's own file when None) and the settings
    the notebook used: 0.17.6's `num_examples` / `num_steps` (load_data_nmt), 1.0's `num_train`
    / `num_val` / `num_steps` (MTFraEng). The model's size is checked against `max_parameters`
    (an operator's limit) before it is built."""
    if api not in APIS:
        raise CheckpointError(Text("{label}: d2l {api!r} is not supported: import from d2l {api_book} (load_data_nmt, "
                                   "Seq2SeqEncoder, Seq2SeqDecoder) or d2l {api_10} (MTFraEng, Seq2Seq)",
                                   label=label, api=api, api_book=API, api_10=API_10))
    num_steps = num_steps or (BOOK_NUM_STEPS if api == API else NUM_STEPS_10)
    num_examples = num_examples or BOOK_NUM_EXAMPLES
    state_dict = from_api_keys(read_state_dict(raw, label, max_bytes) if isinstance(raw, bytes) else raw, api, label)
    sizes = infer_sizes(state_dict, label, api)
    if cell is not None and cell != sizes.cell:
        raise CheckpointError(Text("{label}: the tensors are an {found}'s, not an {asked}'s",
                                   label=label, found=sizes.cell.upper(), asked=cell.upper()))
    model_config = book_model_config(sizes, api, label, max_parameters)
    trained = num_examples if api == API else num_train
    path = data_path or fra_eng_path()
    data = DataConfig(source="tatoeba", path=path, num_examples=trained,
                      num_test=HELD_OUT if api == API else num_val, num_steps=num_steps)
    data.validate()
    held_out: list[tuple[str, str]] = []      # none when the vocabularies come from files
    if vocabs is not None:
        src_vocab, tgt_vocab = vocabs
        settings, what = Text("from the vocabulary files"), VOCABULARY_FILES
    else:
        text = data_text if data_text is not None else read_tatoeba_file(path)
        name = Path(path).name
        if api == API:
            src_vocab, tgt_vocab, held_out = book_vocabs(text, num_examples, num_steps)
            settings = Text("built from {name} with num_examples={num_examples}", name=name, num_examples=num_examples)
            what = Text(EXAMPLES_OF, count=num_examples, name=name)
        else:
            src_vocab, tgt_vocab, held_out = book10_vocabs(text, num_train, num_val, num_steps)
            settings = Text("built from {name} with num_train={num_train}, num_val={num_val}, num_steps={num_steps}",
                            name=name, num_train=num_train, num_val=num_val, num_steps=num_steps)
            what = Text(SPLIT_OF, num_train=num_train, num_val=num_val, name=name)
    check_tokens(src_vocab, "source", label)
    check_tokens(tgt_vocab, "target", label)
    _check_vocab(src_vocab, sizes.src_vocab, "source", settings, label)
    _check_vocab(tgt_vocab, sizes.tgt_vocab, "target", settings, label)
    weights = check_weights(expected_weights(model_config, len(src_vocab), len(tgt_vocab)), state_dict, label,
                            lambda key: api_key(key, api))
    model = build_model(model_config, len(src_vocab), len(tgt_vocab))
    model.load_state_dict(weights)
    origin = Text("imported from d2l {api} state_dict, {cell}, {what}", api=api, cell=sizes.cell.upper(), what=what)
    return Checkpoint(model, model_config, data, TrainConfig(), src_vocab, tgt_vocab, History(), None,
                      held_out, Path(label).stem, origin=str(origin))   # saved as plain text in the .pt


VOCABULARY_FILES = Text("vocabulary files")
EXAMPLES_OF = N_("{count} examples of {name}")          # what an imported checkpoint's vocabularies came from
SPLIT_OF = N_("MTFraEng num_train {num_train}, num_val {num_val} of {name}")
_ORIGIN = re.compile(r"imported from d2l (?P<api>\S+) state_dict, (?P<cell>\w+), (?P<what>.*)")
_WHAT = [(re.compile(r"(?P<count>\d+) examples of (?P<name>.+)"), EXAMPLES_OF),
         (re.compile(r"MTFraEng num_train (?P<num_train>\d+), num_val (?P<num_val>\d+) of (?P<name>.+)"), SPLIT_OF)]


def origin_text(origin: str, short: bool = False) -> str:
    """A checkpoint's `origin` (saved as English text) as a `Text` again, so the page shows it in
    the reader's language: all of it, or (`short`) only where the weights came from. Text of
    another form is given back as it is."""
    found = _ORIGIN.fullmatch(origin)
    if found is None:
        return origin
    if short:
        return Text("imported from d2l {api} state_dict", api=found["api"])
    what: str = VOCABULARY_FILES if found["what"] == VOCABULARY_FILES else found["what"]
    for pattern, template in _WHAT:
        if (part := pattern.fullmatch(found["what"])) is not None:
            what = Text(template, **part.groupdict())
    return Text("imported from d2l {api} state_dict, {cell}, {what}", api=found["api"], cell=found["cell"], what=what)


# -- back to the book ---------------------------------------------------------------------------
def exportable(ckpt: Checkpoint) -> Text | None:
    """Why this checkpoint cannot go back to the book's classes, or None when it can."""
    m = ckpt.model_config
    if m.decoder != "plain":
        return Text("its decoder uses attention; the chapter's Seq2SeqDecoder does not")
    if m.needs_bridge:
        return Text("its encoder and decoder have different sizes (a bridge), which the book's classes have no "
                    "place for")
    if m.output_layer != "dense":
        return Text("its output layer is {layer!r}; the book's decoder has a dense layer", layer=m.output_layer)
    return None


def export_state_dict(ckpt: Checkpoint, api: str = API) -> tuple[bytes, str, str]:
    """(state_dict file bytes, source vocabulary text, target vocabulary text): the weights with
    that API's keys, loadable by `net.load_state_dict(torch.load(f))`, and one token a line."""
    reason = exportable(ckpt)
    if reason is not None:
        raise CheckpointError(Text("{name} cannot be exported to the book's classes: {reason}",
                                   name=ckpt.name or Text("this checkpoint"), reason=reason))
    if api not in APIS:
        raise CheckpointError(Text("export to d2l {api!r} is not supported: {api_book} or {api_10}",
                                   api=api, api_book=API, api_10=API_10))
    buffer = io.BytesIO()
    torch.save({api_key(k, api): v.detach().cpu().clone() for k, v in ckpt.model.state_dict().items()}, buffer)
    return buffer.getvalue(), "\n".join(ckpt.src_vocab.idx_to_token), "\n".join(ckpt.tgt_vocab.idx_to_token)

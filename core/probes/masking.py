"""Batches for the masked-loss demo (notes 7.4.2): the notes' toy example or a real batch.

Both give (logits, labels, valid_len) that `core.loss.loss_breakdown` takes apart.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from ..checkpoint import Checkpoint
from ..data import build_array_nmt
from ..i18n import Text
from ..trainer import teacher_forced_logits

PAD = "<pad>"
MAX_SEQUENCES = 8          # rows in the demo's grids
MAX_VALID_LEN = 1000       # far past any maxlen the demo draws (a length past maxlen keeps every position)


def parse_lengths(text: str) -> list[int]:
    """'1, 2' -> [1, 2]: one valid length per sequence; ValueError saying what to type."""
    items = [item for item in re.split(r"[,\s]+", text.strip()) if item]
    if not items or not all(item.isascii() and item.isdigit() for item in items):
        raise ValueError(Text("type whole numbers ≥ 0 separated by commas, e.g. 1, 2"))
    if len(items) > MAX_SEQUENCES:
        raise ValueError(Text("at most {count} sequences, so the grids stay readable", count=MAX_SEQUENCES))
    lengths = [int(item) for item in items]
    if max(lengths) > MAX_VALID_LEN:
        raise ValueError(Text("a valid length is at most {most} here (any length past maxlen "
                              "keeps every position), got {got}", most=MAX_VALID_LEN, got=max(lengths)))
    return lengths


@dataclass
class LossBatch:
    logits: torch.Tensor           # (N, T, vocab)
    labels: torch.Tensor           # (N, T)
    valid_len: torch.Tensor        # (N,)
    label_tokens: list[list[str]]  # (N, T)
    pred_tokens: list[list[str]]   # (N, T) the argmax at each position

    def first_padded(self) -> int:
        """The sequence to open the formula on: the first whose valid length is shorter than the
        padded length T, where the mask changes the loss (without padding, masked = plain). 0 when
        no sequence has padding."""
        width = self.labels.shape[1]
        return next((i for i, valid in enumerate(self.valid_len.tolist()) if valid < width), 0)


def toy_batch(labels: list[str], preds: list[str], valid_len: list[int], confidence: float) -> LossBatch:
    """The notes' 7.4.2 example: each prediction puts `confidence` on its token, the rest shared.

    Rows are space-separated tokens; rows are padded with `<pad>` to the longest one.
    """
    label_rows, pred_rows = [row.split() for row in labels], [row.split() for row in preds]
    if not label_rows or any(not row for row in label_rows + pred_rows):
        raise ValueError(Text("every row needs at least one label token and one predicted token"))
    if any(v < 0 for v in valid_len):
        raise ValueError(Text("valid lengths cannot be negative"))
    width = max(len(row) for row in label_rows + pred_rows)
    label_rows = [row + [PAD] * (width - len(row)) for row in label_rows]
    pred_rows = [row + [PAD] * (width - len(row)) for row in pred_rows]
    vocab = [PAD] + sorted({t for row in label_rows + pred_rows for t in row} - {PAD})
    index = {token: i for i, token in enumerate(vocab)}
    rest = (1 - confidence) / max(len(vocab) - 1, 1)
    probs = torch.full((len(label_rows), width, len(vocab)), rest)          # (N, T, vocab)
    for i, row in enumerate(pred_rows):
        for t, token in enumerate(row):
            probs[i, t, index[token]] = confidence
    label_ids = torch.tensor([[index[t] for t in row] for row in label_rows])  # (N, T)
    # log-probabilities are logits whose softmax is exactly `probs`
    return LossBatch(probs.log(), label_ids, torch.tensor(valid_len), label_rows, pred_rows)


def real_batch(ckpt: Checkpoint, pairs: list[tuple[str, str]]) -> LossBatch:
    """Held-out pairs encoded like training batches and run through the checkpoint's model."""
    num_steps = ckpt.data_config.num_steps
    X, X_valid_len = build_array_nmt([s.split() for s, _ in pairs], ckpt.src_vocab, num_steps)
    Y, Y_valid_len = build_array_nmt([t.split() for _, t in pairs], ckpt.tgt_vocab, num_steps)
    device = next(ckpt.model.parameters()).device
    with torch.no_grad():
        ckpt.model.eval()
        logits = teacher_forced_logits(ckpt.model, X.to(device), X_valid_len.to(device), Y.to(device),
                                       ckpt.tgt_vocab["<bos>"]).cpu()
    return LossBatch(logits, Y, Y_valid_len, [ckpt.tgt_vocab.to_tokens(row) for row in Y.tolist()],
                     [ckpt.tgt_vocab.to_tokens(row) for row in logits.argmax(-1).tolist()])


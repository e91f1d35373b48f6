"""Other output layers for the decoder (notes 7.9.6): weight tying and an adaptive softmax.

`ModelConfig.output_layer` names one ("dense" is the book's `nn.Linear`); `build_model` asks
`make_output_layer` for it, so a checkpoint records which one its model has. The adaptive
softmax returns log-probabilities and trains with `core.loss.MaskedNLLLoss`.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import OUTPUT_LAYERS
from .i18n import Text

LOG_PROBABILITY_LAYERS = ("adaptive",)   # these return log-probabilities, not logits


class TiedOutput(nn.Module):
    """Weight tying: logits = P(h) E^T + b with E the decoder's own embedding (vocab, embed).

    When num_hiddens differs from embed_size, a projection P (no bias) fits h to E's width;
    the (vocab x hiddens) dense matrix is gone, so only embed x hiddens + vocab are new.
    """

    def __init__(self, embedding: nn.Embedding, num_hiddens: int):
        super().__init__()
        self.embedding = embedding       # shared, not copied: one matrix read in and written out
        embed_size = embedding.embedding_dim
        self.proj = nn.Linear(num_hiddens, embed_size, bias=False) if num_hiddens != embed_size else nn.Identity()
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    def forward(self, output: torch.Tensor) -> torch.Tensor:
        return self.proj(output) @ self.embedding.weight.T + self.bias   # (num_steps, batch, vocab)


def adaptive_cutoffs(vocab_size: int) -> list[int]:
    """Head = the most frequent fifth of the vocabulary (Vocab ids are sorted by frequency),
    then two tail clusters; always a valid list for AdaptiveLogSoftmaxWithLoss."""
    return sorted({c for c in (vocab_size // 5, vocab_size // 2) if 0 < c < vocab_size - 1}) or [1]


class AdaptiveOutput(nn.Module):
    """Adaptive softmax: frequent tokens scored at full width, rare ones in narrower tail clusters.

    Returns log-probabilities (num_steps, batch, vocab), so argmax decoding works unchanged and
    training needs `MaskedNLLLoss` (log_softmax of log-probabilities is the identity, so the
    softmax cross-entropy would give the same number, but NLL says what is computed).
    """

    def __init__(self, num_hiddens: int, vocab_size: int):
        super().__init__()
        self.softmax = nn.AdaptiveLogSoftmaxWithLoss(num_hiddens, vocab_size, adaptive_cutoffs(vocab_size),
                                                     div_value=2.0)

    def forward(self, output: torch.Tensor) -> torch.Tensor:
        flat = output.reshape(-1, output.shape[-1])                       # (num_steps * batch, H)
        return self.softmax.log_prob(flat).reshape(*output.shape[:-1], -1)


def returns_log_probs(kind: str) -> bool:
    return kind in LOG_PROBABILITY_LAYERS


def make_output_layer(kind: str, embedding: nn.Embedding, dense: nn.Linear) -> nn.Module:
    """The decoder's output layer of this kind, replacing its `dense` (hiddens -> vocab)."""
    if kind not in OUTPUT_LAYERS:
        raise ValueError(Text("output layer must be one of {choices}, got {value!r}", choices=OUTPUT_LAYERS,
                              value=kind))
    if kind == "tied":
        return TiedOutput(embedding, dense.in_features)
    if kind == "adaptive":
        return AdaptiveOutput(dense.in_features, dense.out_features)
    return dense

"""Stage 0 of the notes' list (weight initialisation): a fresh model of a checkpoint's sizes,
and what each of its tensors was drawn from.

`build_model` applies the book's `xavier_init_weights`: Xavier-uniform for every `nn.Linear`
weight and every RNN weight matrix, U(−a, a) with a = √(6 / (fan_in + fan_out)), which keeps
the variance of activations and gradients about equal across layers. Everything else keeps
PyTorch's own initialisation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..config import ModelConfig
from ..encoder_decoder import EncoderDecoder
from ..i18n import N_
from ..model import build_model

XAVIER = N_("Xavier uniform U(−a, a), a = √(6 / (fan_in + fan_out))")
EMBEDDING = N_("PyTorch's nn.Embedding default: N(0, 1), σ shown")
RNN_BIAS = N_("PyTorch's RNN default: U(−a, a), a = 1/√num_hiddens")
LINEAR_BIAS = N_("PyTorch's nn.Linear default: U(−a, a), a = 1/√fan_in")
OTHER = N_("PyTorch's default for this layer")


@dataclass
class InitRow:
    name: str
    shape: tuple[int, ...]
    rule: str                     # one of the N_ labels above: translated where shown
    bound: float | None           # a of U(−a, a), or σ of N(0, σ); None when the rule has none
    low: float                    # what was drawn: min, max and standard deviation
    high: float
    std: float


def fresh_model(config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int, seed: int) -> EncoderDecoder:
    """A newly initialised model of these sizes, the same for the same seed; the process's
    random state is left as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(config, src_vocab_size, tgt_vocab_size)


def _rule(module: nn.Module, leaf: str, shape: tuple[int, ...]) -> tuple[str, float | None]:
    if isinstance(module, nn.RNNBase):
        if leaf.startswith("weight"):
            return XAVIER, math.sqrt(6 / (shape[0] + shape[1]))
        return RNN_BIAS, 1 / math.sqrt(module.hidden_size)
    if type(module) is nn.Linear:       # exactly nn.Linear, as the book's init tests it
        if leaf == "weight":
            return XAVIER, math.sqrt(6 / (shape[0] + shape[1]))
        return LINEAR_BIAS, 1 / math.sqrt(module.in_features)
    if isinstance(module, nn.Embedding):
        return EMBEDDING, 1.0
    return OTHER, None


def init_table(net: nn.Module) -> list[InitRow]:
    """Every parameter tensor: the rule it was drawn by, the rule's bound, and what was drawn."""
    rows = []
    for name, p in net.named_parameters():
        owner, _dot, leaf = name.rpartition(".")
        rule, bound = _rule(net.get_submodule(owner), leaf, tuple(p.shape))
        values = p.detach().float()
        rows.append(InitRow(name=name, shape=tuple(p.shape), rule=rule, bound=bound, low=float(values.min()),
                            high=float(values.max()), std=float(values.std()) if values.numel() > 1 else 0.0))
    return rows

"""A rough memory estimate for a training run, checked before it starts.

The estimate counts weights, gradients and Adam's two moments (4 copies of the parameters)
plus the activations autograd keeps for one batch: embeddings, every layer's gates and
outputs at every step, and the (batch, num_steps, vocab) logits with their softmax and
gradient. It is meant to catch absurd settings (a 4096-wide 8-layer model with batch 8192),
not to predict usage to the megabyte.
"""
from __future__ import annotations

import os

import torch

from .config import ModelConfig
from .i18n import Text
from .model import parameter_count  # the one count, from the config (tied and adaptive output layers too)

__all__ = ["check_fits", "free_bytes", "parameter_count", "training_bytes"]

FLOAT_BYTES = 4
SAFETY_FACTOR = 2.0       # allocator slack, temporaries, the optimizer's scratch space


def training_bytes(config: ModelConfig, src_vocab: int, tgt_vocab: int, batch_size: int, num_steps: int) -> int:
    params = parameter_count(config, src_vocab, tgt_vocab)
    gates = 4 if config.cell == "lstm" else 3
    rnn_units = config.num_hiddens * config.num_layers + config.decoder_hiddens * config.decoder_layers
    per_token = 2 * config.embed_size + config.decoder_hiddens + (gates + 2) * rnn_units + 3 * tgt_vocab
    if config.decoder == "attention":    # per target token: tanh features over every source position
        per_token += 3 * num_steps * config.decoder_hiddens
    activations = batch_size * num_steps * per_token
    return int(SAFETY_FACTOR * FLOAT_BYTES * (4 * params + activations))


def free_bytes(device: torch.device) -> int | None:
    """Free memory on the device, or None when it cannot be read."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits(config: ModelConfig, src_vocab: int, tgt_vocab: int, batch_size: int, num_steps: int,
               device: torch.device) -> None:
    """ValueError before training starts when the estimate exceeds the free memory."""
    need, free = training_bytes(config, src_vocab, tgt_vocab, batch_size, num_steps), free_bytes(device)
    if free is not None and need > free:
        raise ValueError(Text("this model and batch need about {need:.1f} GiB but only {free:.1f} GiB is free "
                              "on {device}: use smaller sizes or batches",
                              need=need / 2**30, free=free / 2**30, device=str(device)))

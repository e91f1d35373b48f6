"""The encoder-decoder architecture (notes 7.1): the interfaces every seq2seq model here follows.

An encoder turns a source sequence into a state; a decoder's `init_state` turns the encoder's
outputs into its own starting state, and `forward` maps target inputs and a state to logits
and the next state. `make_rnn` and `top_hidden` are the two RNN pieces both decoders share.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

RNN_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def make_rnn(cell: str, input_size: int, num_hiddens: int, num_layers: int, dropout: float) -> nn.RNNBase:
    """nn.GRU / nn.LSTM; dropout acts between layers only, so one layer gets none (no warning)."""
    return RNN_CELLS[cell](input_size, num_hiddens, num_layers, dropout=dropout if num_layers > 1 else 0.0)


def top_hidden(state):
    """The top layer's hidden state (N, H): for an LSTM `(h, c)` it comes from h, never c."""
    hidden = state[0] if isinstance(state, tuple) else state
    return hidden[-1]


class Encoder(nn.Module):
    """The base encoder interface of the encoder-decoder architecture."""

    # The chapter's encoder's layers, declared for the type checker only (nn.Module's __getattr__
    # would type them `Tensor | Module`); the base class itself has none.
    embedding: nn.Embedding
    rnn: nn.RNNBase

    def forward(self, X, *args):
        raise NotImplementedError


class Decoder(nn.Module):
    """The base decoder interface: turn the encoder's outputs into a state, then decode.

    The chapter's decoders here also split `forward` in two, so the trainer can score only the
    positions the mask keeps: `hidden_states(X, state)` (the top layer's outputs, (num_steps,
    batch, num_hiddens), and the next state), then the output layer `dense` on them. A decoder
    written the book's way, with `forward` alone, trains too (on the whole output).
    """

    # The chapter's decoders' layers and split forward, declared for the type checker only (nn.Module's
    # __getattr__ would type them `Tensor | Module`). Not defined here: a decoder written the book's
    # way may lack `hidden_states`, and the trainer asks `hasattr` before it takes that path.
    embedding: nn.Embedding
    rnn: nn.RNNBase
    dense: nn.Module
    hidden_states: Callable[[torch.Tensor, Any], tuple[torch.Tensor, Any]]

    def init_state(self, enc_outputs, *args):
        raise NotImplementedError

    def forward(self, X, state):
        raise NotImplementedError


class EncoderDecoder(nn.Module):
    """The base class of the encoder-decoder architecture, with an optional bridge."""

    encoder: Encoder
    decoder: Decoder
    bridge: nn.Module               # only when given: read it after `hasattr(net, "bridge")`

    def __init__(self, encoder: Encoder, decoder: Decoder, bridge: nn.Module | None = None, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        if bridge is not None:          # absent, not None-valued: keeps the book's state_dict keys
            self.bridge = bridge

    def init_decoder_state(self, enc_X, *args):
        """Encode, pass the state through the bridge if any, and hand it to the decoder."""
        output, state = self.encoder(enc_X, *args)
        if hasattr(self, "bridge"):
            state = self.bridge(state)
        return self.decoder.init_state((output, state), *args)

    def forward(self, enc_X, dec_X, *args):
        return self.decoder(dec_X, self.init_decoder_state(enc_X, *args))

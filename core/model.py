"""The RNN encoder-decoder of the chapter (notes 7.2-7.3), GRU or LSTM, with an optional bridge.

Parameter names and shapes of the GRU model equal the book's
`EncoderDecoder(Seq2SeqEncoder(...), Seq2SeqDecoder(...))`, so a `state_dict` trained
with d2l's code loads here and computes the same function.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import Seq2SeqAttentionDecoder
from .config import ModelConfig
from .encoder_decoder import Decoder, Encoder, EncoderDecoder, make_rnn, top_hidden
from .output_layers import adaptive_cutoffs, make_output_layer


class Seq2SeqEncoder(Encoder):
    """Embedding + multi-layer RNN; returns all outputs and the final state."""

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int,
                 dropout: float = 0, cell: str = "gru", **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = make_rnn(cell, embed_size, num_hiddens, num_layers, dropout)

    def forward(self, X, *args):
        X = self.embedding(X).permute(1, 0, 2)   # (num_steps, batch, embed): time first
        output, state = self.rnn(X)
        # output: (num_steps, batch, num_hiddens); state: (num_layers, batch, num_hiddens)
        # (for an LSTM, state is the pair (h, c) of that shape)
        return output, state


class Seq2SeqDecoder(Decoder):
    """The book's decoder: a context vector is concatenated to every input embedding, then a
    dense layer maps hidden states to vocabulary logits.

    `context="book"` (the default) is d2l 0.17.6 to the letter: the context is `state[-1]`
    of the state passed to `forward`. For a whole teacher-forced sequence that is the
    encoder's final state; when decoding one step at a time (`predict_seq2seq`) it is the
    previous step's *decoder* state, so inference sees a context training never showed it.
    `context="encoder"` keeps the encoder's final top-layer state as the context at every
    step (the state is then the pair `(rnn_state, context)`), as the chapter's figure draws
    it and later d2l versions do. Both have the same parameters.
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int,
                 dropout: float = 0, cell: str = "gru", context: str = "book", **kwargs):
        super().__init__(**kwargs)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = make_rnn(cell, embed_size + num_hiddens, num_hiddens, num_layers, dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)
        self.fixed_context = context == "encoder"

    def init_state(self, enc_outputs, *args):
        state = enc_outputs[1]
        return (state, top_hidden(state)) if self.fixed_context else state

    def hidden_states(self, X, state):
        """The top layer's outputs before the dense layer, (num_steps, batch, num_hiddens)."""
        X = self.embedding(X).permute(1, 0, 2)              # (num_steps, batch, embed)
        rnn_state, context = state if self.fixed_context else (state, top_hidden(state))
        context = context.repeat(X.shape[0], 1, 1)           # (num_steps, batch, num_hiddens)
        output, rnn_state = self.rnn(torch.cat((X, context), 2), rnn_state)
        return output, (rnn_state, state[1]) if self.fixed_context else rnn_state

    def forward(self, X, state):
        output, state = self.hidden_states(X, state)
        return self.dense(output).permute(1, 0, 2), state    # (batch, num_steps, vocab)


class Bridge(nn.Module):
    """Encoder state -> decoder state when their sizes or layer counts differ (notes 7.9.3).

    All encoder layers are flattened and projected by one Linear + tanh to all decoder
    layers, so any (layers, hiddens) pair can be joined. An LSTM's cell state c gets its
    own projection without tanh (c is not bounded to [-1, 1]).
    """

    def __init__(self, enc_layers: int, enc_hiddens: int, dec_layers: int, dec_hiddens: int,
                 cell: str = "gru"):
        super().__init__()
        self.dec_layers, self.dec_hiddens = dec_layers, dec_hiddens
        self.connector = nn.Linear(enc_layers * enc_hiddens, dec_layers * dec_hiddens)
        self.cell_connector = (nn.Linear(enc_layers * enc_hiddens, dec_layers * dec_hiddens)
                               if cell == "lstm" else None)

    def _project(self, layer: nn.Linear, state: torch.Tensor) -> torch.Tensor:
        batch = state.shape[1]
        flat = state.permute(1, 0, 2).reshape(batch, -1)           # (batch, L_enc * H_enc)
        out = layer(flat).reshape(batch, self.dec_layers, self.dec_hiddens)
        return out.permute(1, 0, 2).contiguous()                   # (L_dec, batch, H_dec)

    def forward(self, state):
        if isinstance(state, tuple):
            h, c = state
            assert self.cell_connector is not None, "an LSTM state needs a Bridge built with cell='lstm'"
            return torch.tanh(self._project(self.connector, h)), self._project(self.cell_connector, c)
        return torch.tanh(self._project(self.connector, state))


def xavier_init_weights(m: nn.Module) -> None:
    """The book's initialisation: Xavier-uniform for Linear weights and RNN weight matrices."""
    if type(m) is nn.Linear:   # exactly nn.Linear, as the book tests it
        nn.init.xavier_uniform_(m.weight)
    if isinstance(m, (nn.GRU, nn.LSTM)):   # also the trainer's FusedGRU
        for param in m._flat_weights_names:
            if "weight" in param:
                nn.init.xavier_uniform_(m.get_parameter(param))


def build_model(config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> EncoderDecoder:
    """An initialised model for `config` (Xavier as in the book)."""
    config.validate()
    encoder = Seq2SeqEncoder(src_vocab_size, config.embed_size, config.num_hiddens,
                             config.num_layers, config.dropout, config.cell)
    decoder: Seq2SeqDecoder | Seq2SeqAttentionDecoder
    if config.decoder == "attention":
        decoder = Seq2SeqAttentionDecoder(tgt_vocab_size, config.embed_size, config.num_hiddens,
                                          config.num_layers, config.dropout, config.cell)
    else:
        decoder = Seq2SeqDecoder(tgt_vocab_size, config.embed_size, config.decoder_hiddens,
                                 config.decoder_layers, config.dropout, config.cell, config.context)
    dense = decoder.dense
    assert isinstance(dense, nn.Linear), "both decoders start with the book's dense layer"
    decoder.dense = make_output_layer(config.output_layer, decoder.embedding, dense)
    bridge = (Bridge(config.num_layers, config.num_hiddens, config.decoder_layers,
                     config.decoder_hiddens, config.cell) if config.needs_bridge else None)
    net = EncoderDecoder(encoder, decoder, bridge)
    net.apply(xavier_init_weights)
    return net


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _rnn_parameters(cell: str, input_size: int, num_hiddens: int, num_layers: int) -> int:
    """nn.GRU / nn.LSTM: per layer and gate, W_ih, W_hh and two biases; layers above the first
    read the layer below (num_hiddens wide)."""
    gates = 3 if cell == "gru" else 4
    inputs = [input_size] + [num_hiddens] * (num_layers - 1)
    return sum(gates * num_hiddens * (i + num_hiddens + 2) for i in inputs)


def _output_parameters(kind: str, num_hiddens: int, embed_size: int, vocab_size: int) -> int:
    """The decoder's output layer (core/output_layers.py); a tied one reuses the embedding."""
    if kind == "tied":
        return (num_hiddens * embed_size if num_hiddens != embed_size else 0) + vocab_size
    if kind == "adaptive":      # nn.AdaptiveLogSoftmaxWithLoss(div_value=2.0): a head and narrower tails
        cutoffs = adaptive_cutoffs(vocab_size) + [vocab_size]
        head = num_hiddens * (cutoffs[0] + len(cutoffs) - 1)
        tails = sum(int(num_hiddens // 2.0 ** (i + 1)) * (num_hiddens + cutoffs[i + 1] - cutoffs[i])
                    for i in range(len(cutoffs) - 1))
        return head + tails
    return num_hiddens * vocab_size + vocab_size


def parameter_count(config: ModelConfig, src_vocab_size: int, tgt_vocab_size: int) -> int:
    """What `count_parameters(build_model(config, ...))` gives, computed from the sizes alone, so
    a model too large for the server is refused before its memory is spent."""
    config.validate()
    E, H, L = config.embed_size, config.num_hiddens, config.num_layers
    Hd, Ld = config.decoder_hiddens, config.decoder_layers
    encoder = src_vocab_size * E + _rnn_parameters(config.cell, E, H, L)
    decoder = (tgt_vocab_size * E + _rnn_parameters(config.cell, E + Hd, Hd, Ld)
               + _output_parameters(config.output_layer, Hd, E, tgt_vocab_size))
    if config.decoder == "attention":     # W_k, W_q (H x H, no bias) and w_v (H -> 1)
        decoder += 2 * H * H + H
    bridge = 0
    if config.needs_bridge:               # Linear(L*H -> Ld*Hd), a second one for an LSTM's cell state
        bridge = (L * H * Ld * Hd + Ld * Hd) * (2 if config.cell == "lstm" else 1)
    return encoder + decoder + bridge

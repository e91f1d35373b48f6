"""Bahdanau attention (d2l 0.17.6, sections 10.3-10.4): additive attention and its decoder.

Instead of one fixed context vector, the decoder looks back at every encoder output at every
step: the query is the decoder's top-layer hidden state, the keys and values are the encoder
outputs, and padding positions get no weight. Parameter names and shapes of the GRU decoder
equal the book's `Seq2SeqAttentionDecoder`, so its `state_dict` loads here.
"""
from __future__ import annotations

import torch
from torch import nn

from .encoder_decoder import Decoder, make_rnn, top_hidden
from .loss import sequence_mask

MASK_VALUE = -1e6   # the book's: exp(-1e6 - max) is exactly 0 in float32


def masked_softmax(X: torch.Tensor, valid_lens: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis of X (batch, queries, keys), keys past valid_len excluded.

    `valid_lens` is (batch,) (one length for all queries of a row) or (batch, queries).
    As in the book, masked scores become -1e6 before the softmax, so their weights are 0;
    unlike the book's, X itself is left unchanged.
    """
    if valid_lens is None:
        return nn.functional.softmax(X, dim=-1)
    shape = X.shape
    if valid_lens.dim() == 1:
        valid_lens = torch.repeat_interleave(valid_lens, shape[1])
    else:
        valid_lens = valid_lens.reshape(-1)
    X = sequence_mask(X.reshape(-1, shape[-1]), valid_lens, value=MASK_VALUE)
    return nn.functional.softmax(X.reshape(shape), dim=-1)


class AdditiveAttention(nn.Module):
    """score(q, k) = w_v^T tanh(W_q q + W_k k): queries and keys may have different sizes."""

    def __init__(self, key_size: int, query_size: int, num_hiddens: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.W_k = nn.Linear(key_size, num_hiddens, bias=False)
        self.W_q = nn.Linear(query_size, num_hiddens, bias=False)
        self.w_v = nn.Linear(num_hiddens, 1, bias=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, queries, keys, values, valid_lens) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (context (batch, queries, value_size), attention weights (batch, queries, keys)).

        The book keeps the weights on the module (`self.attention_weights`); here they travel
        with the pass that made them: one model serves every session of the app at once, and
        weights stored on it would be those of whichever pass wrote last."""
        queries, keys = self.W_q(queries), self.W_k(keys)
        # (batch, queries, 1, hiddens) + (batch, 1, keys, hiddens): every query with every key
        features = torch.tanh(queries.unsqueeze(2) + keys.unsqueeze(1))
        scores = self.w_v(features).squeeze(-1)                    # (batch, queries, keys)
        weights = masked_softmax(scores, valid_lens)
        return torch.bmm(self.dropout(weights), values), weights   # (batch, queries, value_size)


class Seq2SeqAttentionDecoder(Decoder):
    """The RNN decoder with Bahdanau attention, GRU or LSTM (the query comes from h, never c).

    The state is `(enc_outputs, hidden_state, enc_valid_lens)` with enc_outputs batch-first
    (batch, num_src_steps, num_hiddens). `forward` loops over the target steps itself, so the
    whole teacher-forced sequence goes in one call, as in the book. The book's decoder keeps
    each step's weights of its last call in `attention_weights`; this one keeps nothing on the
    model (which sessions share): `forward_with_attention` returns them with the pass.
    """

    def __init__(self, vocab_size: int, embed_size: int, num_hiddens: int, num_layers: int,
                 dropout: float = 0, cell: str = "gru", **kwargs):
        super().__init__(**kwargs)
        self.attention = AdditiveAttention(num_hiddens, num_hiddens, num_hiddens, dropout)
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = make_rnn(cell, embed_size + num_hiddens, num_hiddens, num_layers, dropout)
        self.dense = nn.Linear(num_hiddens, vocab_size)

    def init_state(self, enc_outputs, enc_valid_lens=None, *args):
        outputs, hidden_state = enc_outputs
        return outputs.permute(1, 0, 2), hidden_state, enc_valid_lens

    def attend(self, X, state) -> tuple[torch.Tensor, tuple, list[torch.Tensor]]:
        """The top layer's outputs before the dense layer (num_steps, batch, num_hiddens), the
        next state, and each step's attention weights (batch, 1, num_src_steps)."""
        enc_outputs, hidden_state, enc_valid_lens = state
        X = self.embedding(X).permute(1, 0, 2)                      # (num_steps, batch, embed)
        outputs, attention_weights = [], []
        for x in X:
            query = top_hidden(hidden_state).unsqueeze(1)            # (batch, 1, num_hiddens)
            context, weights = self.attention(query, enc_outputs, enc_outputs, enc_valid_lens)  # (batch, 1, num_hiddens)
            x = torch.cat((context, x.unsqueeze(1)), dim=-1)         # (batch, 1, num_hiddens + embed)
            out, hidden_state = self.rnn(x.permute(1, 0, 2), hidden_state)
            outputs.append(out)
            attention_weights.append(weights)
        return torch.cat(outputs, dim=0), (enc_outputs, hidden_state, enc_valid_lens), attention_weights

    def hidden_states(self, X, state):
        """The top layer's outputs before the dense layer, (num_steps, batch, num_hiddens)."""
        outputs, state, _ = self.attend(X, state)
        return outputs, state

    def forward(self, X, state):
        Y, state, _ = self.forward_with_attention(X, state)
        return Y, state

    def forward_with_attention(self, X, state) -> tuple[torch.Tensor, tuple, list[torch.Tensor]]:
        """`forward`, and the pass's attention weights: one (batch, 1, num_src_steps) per step."""
        outputs, state, attention_weights = self.attend(X, state)
        return self.dense(outputs).permute(1, 0, 2), state, attention_weights   # (batch, num_steps, vocab)

    @staticmethod
    def select_state(state, index: torch.Tensor):
        """Rows `index` of the state (for beam search): enc_outputs and valid lengths are
        batch-first, the RNN state is (num_layers, batch, num_hiddens)."""
        enc_outputs, hidden_state, enc_valid_lens = state
        hidden = (tuple(h.index_select(1, index) for h in hidden_state) if isinstance(hidden_state, tuple)
                  else hidden_state.index_select(1, index))
        valid = enc_valid_lens.index_select(0, index) if enc_valid_lens is not None else None
        return enc_outputs.index_select(0, index), hidden, valid

"""The book's code (d2l==0.17.6) importable beside this project's torch, for tests and benchmarks.

`d2l.torch` imports torchvision, IPython and matplotlib_inline at module level but the
seq2seq chapter uses none of them; empty stand-ins let it import beside torch 2.13.
The chapter's `Seq2SeqDecoder` is not in `d2l/torch.py`; it is defined here from the
chapter text (d2l 0.17.6, section 9.7), verbatim apart from the base class reference.
"""
from __future__ import annotations

import sys
import types


def _stand_in(name: str, **attrs) -> None:
    if name in sys.modules:
        return
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module


def import_d2l():
    """`d2l.torch` (the package d2l==0.17.6), or ImportError if it is not installed."""
    try:
        import torchvision  # noqa: F401  (a real one works too)
    except Exception:
        sys.modules.pop("torchvision", None)
        _stand_in("torchvision", transforms=types.ModuleType("torchvision.transforms"))
        _stand_in("torchvision.transforms")
    try:
        import IPython  # noqa: F401
    except ImportError:   # the book's Animator calls display() / clear_output(): no-ops here
        display = types.ModuleType("IPython.display")
        display.display = display.clear_output = lambda *a, **k: None
        _stand_in("IPython", display=display)
        sys.modules["IPython.display"] = display
        stand_in_ipython = True
    else:
        stand_in_ipython = False
    try:
        import matplotlib_inline  # noqa: F401
    except ImportError:
        inline = types.ModuleType("matplotlib_inline.backend_inline")
        inline.set_matplotlib_formats = lambda *a, **k: None
        _stand_in("matplotlib_inline", backend_inline=inline)
        sys.modules["matplotlib_inline.backend_inline"] = inline
    import matplotlib
    matplotlib.use("Agg")
    from d2l import torch as d2l
    if stand_in_ipython:   # d2l keeps its reference; matplotlib must not think IPython runs
        sys.modules.pop("IPython", None)
        sys.modules.pop("IPython.display", None)
    return d2l


def book_decoder_class(d2l):
    """The chapter's decoder, exactly as printed in the book."""
    import torch
    from torch import nn

    class Seq2SeqDecoder(d2l.Decoder):
        """The RNN decoder for sequence to sequence learning."""
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers,
                     dropout=0, **kwargs):
            super(Seq2SeqDecoder, self).__init__(**kwargs)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.GRU(embed_size + num_hiddens, num_hiddens, num_layers,
                              dropout=dropout)
            self.dense = nn.Linear(num_hiddens, vocab_size)

        def init_state(self, enc_outputs, *args):
            return enc_outputs[1]

        def forward(self, X, state):
            # The output `X` shape: (`num_steps`, `batch_size`, `embed_size`)
            X = self.embedding(X).permute(1, 0, 2)
            # Broadcast `context` so it has the same `num_steps` as `X`
            context = state[-1].repeat(X.shape[0], 1, 1)
            X_and_context = torch.cat((X, context), 2)
            output, state = self.rnn(X_and_context, state)
            output = self.dense(output).permute(1, 0, 2)
            # `output` shape: (`batch_size`, `num_steps`, `vocab_size`)
            # `state` shape: (`num_layers`, `batch_size`, `num_hiddens`)
            return output, state

    return Seq2SeqDecoder


def book_lstm_classes(d2l):
    """The notes' 7.9.5 exercise: the chapter's encoder and decoder with nn.LSTM, as printed there."""
    import torch
    from torch import nn

    class Seq2SeqEncoder(d2l.Encoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
            super(Seq2SeqEncoder, self).__init__(**kwargs)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.LSTM(embed_size, num_hiddens, num_layers, dropout=dropout)

        def forward(self, X, *args):
            X = self.embedding(X)
            X = X.permute(1, 0, 2)
            output, (h, c) = self.rnn(X)
            return output, (h, c)

    class Seq2SeqLSTMDecoder(d2l.Decoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0, **kwargs):
            super(Seq2SeqLSTMDecoder, self).__init__(**kwargs)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = nn.LSTM(embed_size + num_hiddens, num_hiddens, num_layers, dropout=dropout)
            self.dense = nn.Linear(num_hiddens, vocab_size)

        def init_state(self, enc_outputs, *args):
            return enc_outputs[1]

        def forward(self, X, state):
            X = self.embedding(X).permute(1, 0, 2)
            h, c = state
            context = h[-1].repeat(X.shape[0], 1, 1)
            X_and_context = torch.cat((X, context), 2)
            output, state = self.rnn(X_and_context, state)
            output = self.dense(output).permute(1, 0, 2)
            return output, state

    return Seq2SeqEncoder, Seq2SeqLSTMDecoder


D2L_10_DIR = __import__("pathlib").Path(__file__).resolve().parent / "_d2l_env" / "d2l-1.0.3"


def import_d2l_10():
    """`d2l/torch.py` of d2l==1.0.3 (the class API), loaded as its own module beside 0.17.6's
    package `d2l` (both are named d2l, so 1.0.3 lives in bench/_d2l_env/, installed there by
    scripts/test.sh with `pip install --no-deps --target`). ImportError when it is not there."""
    import importlib.util

    if "d2l10" in sys.modules:
        return sys.modules["d2l10"]
    path = D2L_10_DIR / "d2l" / "torch.py"
    if not path.is_file():
        raise ImportError(f"d2l 1.0.3 is not installed at {D2L_10_DIR}")
    import_d2l()                                  # the same stand-ins (torchvision, matplotlib_inline)
    stand_in_ipython = "IPython" not in sys.modules
    if stand_in_ipython:                          # 1.0's ProgressBoard draws through display(): no-ops
        display = types.ModuleType("IPython.display")
        display.display = display.clear_output = lambda *a, **k: None
        _stand_in("IPython", display=display)
        sys.modules["IPython.display"] = display
    try:
        import scipy.spatial  # noqa: F401
    except ImportError:       # used by a later chapter only
        _stand_in("scipy", spatial=types.ModuleType("scipy.spatial"))
        _stand_in("scipy.spatial", distance_matrix=None)
    spec = importlib.util.spec_from_file_location("d2l10", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["d2l10"] = module
    spec.loader.exec_module(module)
    if stand_in_ipython:      # it keeps its reference; matplotlib must not think IPython runs
        sys.modules.pop("IPython", None)
        sys.modules.pop("IPython.display", None)
    return module


def book_10_classes(d2l):
    """The chapter's decoder and masked loss in d2l 1.0 (section 10.7), as printed there, and an
    LSTM variant of the encoder and decoder written the same way (`rnn.rnn` as d2l.GRU wraps it)."""
    from torch import nn

    class Seq2SeqDecoder(d2l.Decoder):
        """The RNN decoder for sequence to sequence learning."""
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = d2l.GRU(embed_size+num_hiddens, num_hiddens, num_layers, dropout)
            self.dense = nn.LazyLinear(vocab_size)
            self.apply(d2l.init_seq2seq)

        def init_state(self, enc_all_outputs, *args):
            return enc_all_outputs

        def forward(self, X, state):
            # X shape: (batch_size, num_steps)
            # embs shape: (num_steps, batch_size, embed_size)
            embs = self.embedding(d2l.astype(d2l.transpose(X), d2l.int32))
            enc_output, hidden_state = state
            # context shape: (batch_size, num_hiddens)
            context = enc_output[-1]
            # Broadcast context to (num_steps, batch_size, num_hiddens)
            context = context.repeat(embs.shape[0], 1, 1)
            # Concat at the feature dimension
            embs_and_context = d2l.concat((embs, context), -1)
            outputs, hidden_state = self.rnn(embs_and_context, hidden_state)
            outputs = d2l.swapaxes(self.dense(outputs), 0, 1)
            # outputs shape: (batch_size, num_steps, vocab_size)
            # hidden_state shape: (num_layers, batch_size, num_hiddens)
            return outputs, [enc_output, hidden_state]

    @d2l.add_to_class(d2l.Seq2Seq)
    def loss(self, Y_hat, Y):
        l = super(d2l.Seq2Seq, self).loss(Y_hat, Y, averaged=False)
        mask = d2l.astype(d2l.reshape(Y, -1) != self.tgt_pad, d2l.float32)
        return d2l.reduce_sum(l * mask) / d2l.reduce_sum(mask)

    class LSTM(d2l.RNN):
        def __init__(self, num_inputs, num_hiddens, num_layers, dropout=0):
            d2l.Module.__init__(self)
            self.save_hyperparameters()
            self.rnn = nn.LSTM(num_inputs, num_hiddens, num_layers, dropout=dropout)

    class Seq2SeqLSTMEncoder(d2l.Seq2SeqEncoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            d2l.Encoder.__init__(self)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = LSTM(embed_size, num_hiddens, num_layers, dropout)

    class Seq2SeqLSTMDecoder(Seq2SeqDecoder):
        def __init__(self, vocab_size, embed_size, num_hiddens, num_layers, dropout=0):
            d2l.Decoder.__init__(self)
            self.embedding = nn.Embedding(vocab_size, embed_size)
            self.rnn = LSTM(embed_size+num_hiddens, num_hiddens, num_layers, dropout)
            self.dense = nn.LazyLinear(vocab_size)

    return Seq2SeqDecoder, Seq2SeqLSTMEncoder, Seq2SeqLSTMDecoder

"""seq2seq playground engine: the d2l.ai chapter "Sequence to Sequence Learning" in PyTorch.

The book's names work as in the book (`from core import Vocab, sequence_mask, ...`);
they are loaded on first use, so `python -m core.train` does not import itself twice.
"""
from importlib import import_module

_EXPORTS = {
    "Vocab": "data", "truncate_pad": "data", "preprocess_nmt": "data", "tokenize_nmt": "data",
    "build_array_nmt": "data", "load_data_nmt": "book",
    "sequence_mask": "loss", "MaskedSoftmaxCELoss": "loss", "UnmaskedSoftmaxCELoss": "loss",
    "Encoder": "encoder_decoder", "Decoder": "encoder_decoder", "Seq2SeqEncoder": "model", "Seq2SeqDecoder": "model",
    "EncoderDecoder": "encoder_decoder", "xavier_init_weights": "model",
    "train_seq2seq": "train", "predict_seq2seq": "decode", "bleu": "metrics",
    "DataConfig": "config", "ModelConfig": "config", "TrainConfig": "config",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'core' has no attribute {name!r}")

"""The speed path, kept out of the chapter's reading path: a fused GRU recurrence for CPU training.

The model is written as the book writes it (`self.rnn(X)`); the trainer calls `install(net)`
once, which makes the model's GRUs run the fused recurrence while they train on the CPU.
"""
from .fused_gru import FusedGRU, install, load, load_in_background, status, uninstall

__all__ = ["FusedGRU", "install", "load", "load_in_background", "status", "uninstall"]

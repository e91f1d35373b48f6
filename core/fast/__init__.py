"""The speed path, kept out of the chapter's reading path: a fused GRU recurrence for CPU training.

The model is written as the book writes it (`self.rnn(X)`); a run trained with the trainer's
`fused=True` calls `fuse(net)` once, which puts a FusedGRU (the same parameters) in place of
each of the model's GRUs, after loading the kernel: one kernel from the run's first step.
"""
from .fused_gru import BUILD_WAIT_SECONDS, FusedGRU, fuse, kernel_text, load, status, status_text, usable

__all__ = ["BUILD_WAIT_SECONDS", "FusedGRU", "fuse", "kernel_text", "load", "status", "status_text", "usable"]

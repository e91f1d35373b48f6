"""Device choice: CUDA when present, else Apple MPS, else the CPU."""
from __future__ import annotations

import torch

from . import fast
from .i18n import Text, translator


def pick_device(preference: str = "auto") -> torch.device:
    """`auto` picks the best available device; an explicit one must exist."""
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if preference.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(Text("device 'cuda' was asked for but no CUDA GPU was found; use 'auto' or 'cpu'"))
    if preference == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(Text("device 'mps' was asked for but Apple MPS is not available; use 'auto' or 'cpu'"))
    return torch.device(preference)


def describe_devices(lang: str = "en") -> str:
    """One line for the UI: what was found (in the reader's language)."""
    _ = translator(lang)
    if torch.cuda.is_available():
        return _("CUDA GPU found: {name}").format(name=torch.cuda.get_device_name(0))
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return _("Apple MPS found")
    return _("no GPU found: training runs on the CPU ({kernel})").format(kernel=fast.status(lang))


def one_thread_per_job() -> None:
    """For the app's page scripts (decoding, scoring): one intra-op thread each.

    A server runs many sessions at once; with PyTorch's default of one thread per core their
    worker threads oversubscribe the cores and slow each other down by an order of magnitude.
    At the sizes decoding works on, one thread is as fast as two. Training jobs pick their own
    count (`core.service.cores`).
    """
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)

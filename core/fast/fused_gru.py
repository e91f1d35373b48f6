"""A fused GRU recurrence for training on the CPU, with `nn.GRU`'s parameters and function.

`nn.GRU` runs about ten ATen operations per time step forward and twenty autograd nodes
backward; at the chapter's sizes (batch 64, hidden 64) their dispatch costs more than their
arithmetic (bench/RESULTS.md). `csrc/fused_gru.cpp` does a layer's whole recurrence as one
op each way: per step one matrix product and one vectorised loop over the gates; the weight
gradients are one product over all steps. The input projections, the dropout between
layers and the layer stack stay here, as `nn.GRU` does them, so the parameters, the random
numbers drawn and the result are `nn.GRU`'s (equal up to float rounding; tests pin this).

It is an explicit choice where a run is trained: `fuse(net)` (the trainer's `fused=True`) loads
the extension first, waiting for it (compiled once per machine, about 10 s; cached by torch
under `TORCH_EXTENSIONS_DIR`), then puts a `FusedGRU` holding the same parameters in place of
each `nn.GRU`. A run therefore uses one kernel from its first step to its last: never a switch
at whatever step a build happens to end. The app builds it at start-up (`serve.py`, the
workers' preload), so no page waits. Where it cannot be built or does not apply (no compiler,
CUDA, LSTM, float64, evaluation) `nn.GRU` runs instead, so nothing depends on it; the book's
`train_seq2seq` keeps the learner's `nn.GRU`. `SEQ2SEQ_FUSED_GRU=0` turns it off.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TypeGuard

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import functional as F
from torch.nn.modules import module as _module_globals  # the global forward hooks

from ..i18n import Text, text_in

SOURCE = Path(__file__).with_name("csrc") / "fused_gru.cpp"
ENV_SWITCH = "SEQ2SEQ_FUSED_GRU"
_log = logging.getLogger(__name__)
_lock = threading.Lock()
# "ready" is set when the one build attempt has ended, whichever way; "gave_up" when a `load`
# stopped waiting for it: this process then keeps nn.GRU even if the build ends later, so
# which kernel a step runs never depends on when a build finished.
_state: dict = {"loaded": False, "error": None, "started": False, "ready": threading.Event(), "gave_up": False}
BUILD_WAIT_SECONDS = 120.0    # the first build takes ~10 s; past this, nn.GRU runs


def _compile_flags() -> list[str]:
    """-O3 and the vector units this CPU has. -ffast-math lets GCC call glibc's vectorised
    exp/tanh; it is passed to the compiler only, so the process's float modes stay as they are."""
    flags = ["-O3", "-ffast-math", "-fopenmp-simd"]
    capability = torch.backends.cpu.get_cpu_capability()
    if capability in ("AVX2", "AVX512"):
        flags += ["-mavx2", "-mfma"]
    return flags


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1") != "0"


STALE_LOCK_SECONDS = 120.0    # a build takes ~10 s; a lock this old is from a killed one


def clear_stale_lock(build_dir: Path, max_age: float = STALE_LOCK_SECONDS) -> bool:
    """Remove torch's build lock when it is older than `max_age` seconds; True if removed.

    torch's lock has no owner or timeout: a process killed while it compiled (or while ninja
    checked the build, which every `load` does) leaves the file, and every later build would
    wait for it forever.
    """
    lock = build_dir / "lock"
    try:
        if time.time() - lock.stat().st_mtime < max_age:
            return False
        lock.unlink()
    except FileNotFoundError:
        return False
    _log.warning("removed a stale fused GRU build lock (%s)", lock)
    return True


def _wait_for_lock(build_dir: Path, poll: float = 0.5) -> None:
    """Wait while another process builds; a lock left by a killed one goes once it is stale."""
    while (build_dir / "lock").exists() and not clear_stale_lock(build_dir):
        time.sleep(poll)


def prebuilt_library(build_dir: Path, name: str) -> Path | None:
    """The library an earlier build left, if it is newer than the source."""
    library = build_dir / f"{name}.so"
    try:
        return library if library.stat().st_mtime >= SOURCE.stat().st_mtime else None
    except FileNotFoundError:
        return None


def _build(state: dict) -> None:
    """The one build attempt of this process (on its own thread). A library built before is
    loaded as it is: no ninja run, so no build lock to wait for or to leave behind."""
    try:
        from torch.utils.cpp_extension import _get_build_directory
        from torch.utils.cpp_extension import load as build
        flags = _compile_flags()
        name = "seq2seq_fused_gru_" + ("avx2" if "-mavx2" in flags else "base")
        build_dir = Path(_get_build_directory(name, verbose=False))
        if not _load_prebuilt(build_dir, name):
            _wait_for_lock(build_dir)
            build(name=name, sources=[str(SOURCE)], extra_cflags=flags, is_python_module=False)
        state["loaded"] = True
    except Exception as error:   # no compiler, no ninja, a read-only cache: nn.GRU runs
        state["error"] = f"{type(error).__name__}: {str(error).strip() or 'build failed'}"
        _log.warning("fused GRU unavailable, using nn.GRU: %s", state["error"])
    finally:
        state["ready"].set()


def _load_prebuilt(build_dir: Path, name: str) -> bool:
    library = prebuilt_library(build_dir, name)
    if library is None:
        return False
    try:
        torch.ops.load_library(str(library))
        return True
    except OSError:                 # cut short while it was linked: build it again
        return False


def load_in_background() -> None:
    """Start the build (once per process) without waiting for it; `load` waits for it."""
    if not enabled():
        return
    with _lock:
        if _state["started"]:
            return
        _state["started"] = True
    threading.Thread(target=_build, args=(_state,), name="fused-gru-build", daemon=True).start()


def load(timeout: float | None = None) -> bool:
    """Build (first time) and load the extension, waiting at most `timeout` seconds; False if
    it is not ready by then or cannot be built (the reason is logged and in `status()`).

    The wait has a limit because torch's build lock has none: a build killed half-way leaves
    a lock file that makes the next build wait until `clear_stale_lock` finds it stale.
    """
    if not enabled():
        return False
    load_in_background()
    if not _state["ready"].wait(timeout) and not _state["loaded"]:
        _state["gave_up"] = True
    return usable()


def usable() -> bool:
    """Loaded, and this process did not give up waiting for it (then it keeps nn.GRU)."""
    return bool(_state["loaded"]) and not _state.get("gave_up", False) and enabled()


def status(lang: str = "en") -> str:
    """What training on the CPU runs, in a few words for the UI (in the reader's language)."""
    return text_in(status_text(), lang)


def status_text() -> Text:
    """The same as a `Text`: kept with a measurement (the Accumulation view's), it is shown in
    the language of whoever reads it later, not in the one it was measured in."""
    if not enabled():
        return Text("nn.GRU: the fused GRU kernel is off ({switch}=0)", switch=ENV_SWITCH)
    if usable():
        return Text("fused GRU kernel")
    if _state.get("gave_up"):   # whether or not the build has ended since: this process keeps nn.GRU
        return Text("nn.GRU: the fused GRU kernel was not ready in time, and this process keeps nn.GRU")
    if _state["error"]:
        reason = _state["error"].splitlines()[0][:160]
        return Text("nn.GRU: the fused GRU kernel is unavailable, {reason}", reason=reason)
    return Text("nn.GRU while the fused GRU kernel builds")


def kernel_text(fused: bool) -> Text:
    """What a run's recurrence ran on (`Trainer.fused`), not what this process could run."""
    if fused:
        return Text("fused GRU kernel")
    return Text("PyTorch's own RNN kernels") if usable() else status_text()


class _Recurrence(torch.autograd.Function):
    """One layer's recurrence: gi (T, B, 3H) = x W_ih^T + b_ih, h0 (B, H) -> outputs (T, B, H)."""

    @staticmethod
    def forward(ctx, gi, h0, w_hh, b_hh):
        out, workspace = torch.ops.seq2seq_gru.forward(gi, h0, w_hh, b_hh)
        ctx.save_for_backward(workspace, out, h0, w_hh)
        return out

    @staticmethod
    @once_differentiable           # the backward op itself records no graph
    def backward(ctx, grad_out):
        workspace, out, h0, w_hh = ctx.saved_tensors
        return torch.ops.seq2seq_gru.backward(grad_out, workspace, out, h0, w_hh)


def applies(rnn: nn.Module, X: torch.Tensor) -> TypeGuard[nn.GRU]:
    """The fused path covers what the chapter trains: a unidirectional, time-first GRU with
    biases, float32 on the CPU, in training mode with gradients on (evaluation and decoding
    keep nn.GRU's kernels, so they are bit-identical to the book's). A GRU with forward hooks
    runs through nn.GRU too, so its hooks are called."""
    return (isinstance(rnn, nn.GRU) and rnn.training and not _has_forward_hooks(rnn) and torch.is_grad_enabled()
            and isinstance(X, torch.Tensor) and X.dim() == 3 and X.device.type == "cpu"
            and X.dtype == torch.float32 and rnn.weight_hh_l0.dtype == torch.float32
            and rnn.weight_hh_l0.device.type == "cpu" and rnn.bias and not rnn.bidirectional
            and not rnn.batch_first and usable())


def _has_forward_hooks(module: nn.Module) -> bool:
    return bool(module._forward_hooks or module._forward_pre_hooks
                or _module_globals._global_forward_hooks or _module_globals._global_forward_pre_hooks)


def gru_layers(rnn: nn.GRU, X: torch.Tensor, h0: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """`rnn(X, h0)` with the fused recurrence: the same layer stack, input projection and
    dropout between layers as nn.GRU (same random numbers drawn in the same order)."""
    num_layers, hidden = rnn.num_layers, rnn.hidden_size
    if h0 is None:
        h0 = X.new_zeros(num_layers, X.shape[1], hidden)
    if h0.shape != (num_layers, X.shape[1], hidden):
        raise RuntimeError(f"Expected hidden size {(num_layers, X.shape[1], hidden)}, got {tuple(h0.shape)}")
    layer_input, finals = X, []
    for layer in range(num_layers):
        gi = F.linear(layer_input, getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"bias_ih_l{layer}"))
        out = _Recurrence.apply(gi, h0[layer], getattr(rnn, f"weight_hh_l{layer}"),
                                getattr(rnn, f"bias_hh_l{layer}"))
        finals.append(out[-1])
        last = layer == num_layers - 1
        layer_input = out if last or rnn.dropout == 0 else F.dropout(out, rnn.dropout, rnn.training)
    return out, torch.stack(finals)


def run_rnn(rnn: nn.Module, X: torch.Tensor, state=None):
    """`rnn(X, state)`, through the fused recurrence where it applies."""
    if applies(rnn, X):
        return gru_layers(rnn, X, state)
    return rnn(X, state)


class FusedGRU(nn.GRU):
    """An `nn.GRU` whose training forward runs the fused recurrence where it applies.

    Same parameters, names and state_dict as nn.GRU; evaluation, hooks, CUDA and float64 run
    nn.GRU's own forward. `fuse` puts one in place of each nn.GRU of a model.

    `runs_kernel` is decided once per process, when the module is made (`fuse`: the kernel is
    loaded) or unpickled (a worker process or a Ray actor loads the kernel then, before the run's
    first step, or keeps nn.GRU for good): never switched while a run trains.
    """
    runs_kernel: bool = False

    def forward(self, X, hx=None):
        if self.runs_kernel and applies(self, X):
            return gru_layers(self, X, hx)
        return super().forward(X, hx)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if self.runs_kernel:
            self.runs_kernel = load(BUILD_WAIT_SECONDS)

    @classmethod
    def holding(cls, gru: nn.GRU) -> FusedGRU:
        """A FusedGRU holding `gru`'s own Parameter objects (optimizer state, checkpoints and
        names carry over). Made on the meta device, so its own initialisation draws no random
        numbers; every parameter is then `gru`'s."""
        fused = cls(gru.input_size, gru.hidden_size, num_layers=gru.num_layers, bias=gru.bias,
                    batch_first=gru.batch_first, dropout=gru.dropout, bidirectional=gru.bidirectional,
                    device="meta", dtype=gru.weight_hh_l0.dtype)
        for name in gru._flat_weights_names:
            setattr(fused, name, gru.get_parameter(name))   # RNNBase.__setattr__ keeps _flat_weights in step
        fused.runs_kernel = usable()
        return fused.train(gru.training)


def fuse(net: nn.Module, timeout: float | None = BUILD_WAIT_SECONDS) -> bool:
    """Put a FusedGRU holding the same parameters in place of every plain `nn.GRU` of `net`,
    once the kernel is loaded (built now if need be, waiting at most `timeout` seconds).
    False, and `net` left as it is, where it has no GRU (no build is waited for then) or the
    kernel cannot be loaded (or is switched off)."""
    grus = [(parent, name) for parent in net.modules() for name, child in parent.named_children()
            if type(child) is nn.GRU]
    if not grus or not load(timeout):
        return False
    for parent, name in grus:
        setattr(parent, name, FusedGRU.holding(getattr(parent, name)))
    return True

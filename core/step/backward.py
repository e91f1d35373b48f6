"""Stage 4 of a training step (notes 7.5): `l.sum().backward()`, looked at four ways.

- The notes' formula on the output layer: for Y = X W, ∂L/∂W = Xᵀ · ∂L/∂Y. The dense layer's
  X is H, the decoder's top-layer outputs, so its gradient needs H: autograd must keep it.
- What autograd kept for the backward pass, by kind, in bytes (`saved_tensors_hooks`).
- The gradient norm of every parameter tensor.
- The gradient reaching each time step's hidden state, ‖∂L/∂h_t‖ over t: `nn.GRU` runs the
  whole sequence in one call and keeps its h_t inside, so a copy of the model replays the
  batch one time step at a time, keeping every h_t for its gradient.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..encoder_decoder import EncoderDecoder
from ..i18n import N_, Text
from ..trainer import layer_of
from .batch import StepBatch


# -- ∂L/∂W = Hᵀ · ∂L/∂Y_hat on the dense layer -------------------------------------------------
@dataclass
class DenseGradient:
    """The dense layer's weight gradient by hand, against autograd's `.grad`."""
    h_shape: tuple[int, int]      # (num_steps · batch, num_hiddens): H, the layer's input
    dy_shape: tuple[int, int]     # (num_steps · batch, vocab): ∂L/∂Y_hat
    grad_shape: tuple[int, int]   # (num_hiddens, vocab): Hᵀ · ∂L/∂Y_hat (autograd stores its transpose)
    max_abs_diff: float           # max |by hand - autograd| over the weight
    bias_max_abs_diff: float      # ∂L/∂b = Σ over rows of ∂L/∂Y_hat, against autograd
    grad_norm: float              # ‖∂L/∂W‖


class DenseTap:
    """While active, keeps the dense layer's input H and asks autograd to keep ∂L/∂Y_hat."""

    def __init__(self, dense: nn.Module):
        self.dense = dense
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []   # (H, Y_hat) per call
        self._handle: torch.utils.hooks.RemovableHandle | None = None

    def _hook(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        output.retain_grad()          # ∂L/∂Y_hat is otherwise freed as soon as it is used
        self.calls.append((inputs[0].detach(), output))

    def __enter__(self) -> DenseTap:
        self._handle = self.dense.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()

    def check(self) -> DenseGradient | None:
        """Call after backward(), before clipping scales the gradients. None when the output
        layer is not the book's single `nn.Linear` (a tied or adaptive one)."""
        if not isinstance(self.dense, nn.Linear) or len(self.calls) != 1 or self.dense.weight.grad is None:
            return None
        H, Y_hat = self.calls[0]
        if Y_hat.grad is None:
            return None
        H = H.reshape(-1, H.shape[-1])                        # (num_steps · batch, num_hiddens)
        dY = Y_hat.grad.reshape(-1, Y_hat.shape[-1])          # (num_steps · batch, vocab)
        by_hand = H.T @ dY                                    # the notes' X_lᵀ · ∂L/∂Y_l
        autograd = self.dense.weight.grad.T                   # nn.Linear stores W as (out, in)
        bias = self.dense.bias.grad if self.dense.bias is not None else None
        return DenseGradient(
            h_shape=(H.shape[0], H.shape[1]), dy_shape=(dY.shape[0], dY.shape[1]),
            grad_shape=(by_hand.shape[0], by_hand.shape[1]),
            max_abs_diff=float((by_hand - autograd).abs().max()),
            bias_max_abs_diff=float((dY.sum(0) - bias).abs().max()) if bias is not None else 0.0,
            grad_norm=float(autograd.norm()))


# -- what autograd saved -----------------------------------------------------------------------
WEIGHTS = N_("weights (kept anyway)")
VOCAB_SIZED = N_("vocabulary-sized activations (logits, softmax)")
ACTIVATIONS = N_("other activations (embeddings, RNN states, gates)")
INTEGERS = N_("ids, lengths and masks")
SAVED_KINDS = (VOCAB_SIZED, ACTIVATIONS, INTEGERS, WEIGHTS)


@dataclass
class SavedKind:
    kind: str                     # one of SAVED_KINDS (an N_ label: translated where shown)
    tensors: int                  # distinct storages
    bytes: int


class SavedTensors:
    """While active, records every tensor autograd saves for the backward pass: each storage
    once (views share one), sorted into kinds by what it is."""

    def __init__(self, net: nn.Module, vocab_size: int):
        self.params = {p.untyped_storage().data_ptr() for p in net.parameters()}
        self.vocab_size = vocab_size
        self.storages: dict[int, tuple[str, int]] = {}        # data_ptr -> (kind, bytes)
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _kind(self, t: torch.Tensor, ptr: int) -> str:
        if ptr in self.params:
            return WEIGHTS
        if not (t.is_floating_point() or t.is_complex()):
            return INTEGERS
        return VOCAB_SIZED if self.vocab_size in t.shape else ACTIVATIONS

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in self.storages:
            self.storages[ptr] = (self._kind(t, ptr), storage.nbytes())
        return t

    def __enter__(self) -> SavedTensors:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)

    def kinds(self) -> list[SavedKind]:
        return [SavedKind(kind=kind, tensors=sum(1 for k, _b in self.storages.values() if k == kind),
                          bytes=sum(b for k, b in self.storages.values() if k == kind)) for kind in SAVED_KINDS]


# -- every parameter's gradient ----------------------------------------------------------------
@dataclass
class ParamGrad:
    name: str
    layer: str                    # core.trainer.layer_of(name): "decoder.rnn.l0", "decoder.dense", …
    shape: tuple[int, ...]
    norm: float                   # ‖∂L/∂θ‖ of this tensor, before clipping


def parameter_grads(net: nn.Module) -> list[ParamGrad]:
    return [ParamGrad(name=name, layer=layer_of(name), shape=tuple(p.shape),
                      norm=float(p.grad.norm()) if p.grad is not None else 0.0)
            for name, p in net.named_parameters() if p.requires_grad]


# -- ‖∂L/∂h_t‖ over time -------------------------------------------------------------------------
class _OneStepAtATime(nn.Module):
    """The same RNN (same parameters), run one time step per call, keeping every step's output
    and state for their gradients. The top layer's h_t reaches the loss two ways (the output
    at t, and the state handed to step t + 1): ∂L/∂h_t is the sum of both gradients."""

    def __init__(self, rnn: nn.Module):
        super().__init__()
        self.rnn = rnn
        self.kept: list[tuple[torch.Tensor, torch.Tensor]] = []   # (output_t, h_t) per time step

    def forward(self, X: torch.Tensor, state=None):
        outputs = []
        for x in X:                                                # x: (batch, input)
            output, state = self.rnn(x.unsqueeze(0), state)
            h = state[0] if isinstance(state, tuple) else state    # an LSTM's (h, c): h
            output.retain_grad()
            h.retain_grad()
            self.kept.append((output, h))
            outputs.append(output)
        return torch.cat(outputs), state

    def grad_norms(self) -> list[float]:
        norms = []
        for output, h in self.kept:
            grad = torch.zeros_like(output[0])                     # (batch, num_hiddens)
            if output.grad is not None:
                grad = grad + output.grad[0]
            if h.grad is not None:
                grad = grad + h.grad[-1]                           # the top layer
            norms.append(float(grad.norm()))
        return norms


@dataclass
class TimeGrads:
    """‖∂L/∂h_t‖ of the top layer at each time step, over the whole batch."""
    encoder: list[float]          # t = 1 … num_steps of the source
    decoder: list[float]          # t = 1 … num_steps of the target

    def sentence(self) -> Text:
        first, last = self.encoder[0], self.encoder[-1]
        factor = first / last if last > 0 else float("inf")
        return Text("Back through the encoder, ‖∂L/∂h_t‖ goes from {last:.3g} at its last step to {first:.3g} at "
                    "its first: × {factor:.3g} over {steps} steps. A factor applied at every step of a long "
                    "recurrence makes gradients vanish (below 1) or explode (above 1); clipping, the next stage, "
                    "caps the explosion.", last=last, first=first, factor=factor, steps=len(self.encoder))


def time_step_grads(net: EncoderDecoder, batch: StepBatch, loss: nn.Module) -> TimeGrads:
    """The step's loss on a copy of `net` whose RNNs run one time step at a time (dropout off,
    so the replay computes the step's function without its random masks), backpropagated."""
    twin = copy.deepcopy(net).eval()
    encoder, decoder = _OneStepAtATime(twin.encoder.rnn), _OneStepAtATime(twin.decoder.rnn)
    twin.encoder.add_module("rnn", encoder)                    # a copy: the model itself is never changed
    twin.decoder.add_module("rnn", decoder)
    Y_hat = twin(batch.X, batch.dec_input, batch.X_valid_len)[0]
    loss(Y_hat, batch.Y, batch.Y_valid_len).sum().backward()
    return TimeGrads(encoder=encoder.grad_norms(), decoder=decoder.grad_norms())

"""One training loop (notes 7.5) for the CLI and the UI, reporting through events.

`Trainer.run` is the book's `train_seq2seq` loop — Adam, teacher forcing with
`<bos>` + `Y[:, :-1]`, the masked loss summed over the batch, gradient clipping at
theta — plus what a tool needs: a teacher-forcing ratio, gradient accumulation, sum or
mean reduction, events after every step and epoch, a cooperative stop, resume, and a
guard that stops on a NaN loss before it reaches the weights.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

import torch
from torch import nn

from . import fast
from .config import TrainConfig
from .data import Vocab
from .encoder_decoder import EncoderDecoder
from .history import EpochEvent, History, Status, StepEvent, TrainResult
from .i18n import Text
from .loss import make_loss, token_cross_entropy


def teacher_forced_logits(net: nn.Module, X: torch.Tensor, X_valid_len: torch.Tensor,
                          Y: torch.Tensor, bos_id: int) -> torch.Tensor:
    """Teacher forcing (notes 7.5): the decoder reads `<bos>` + Y[:, :-1] in one call.

    Returns Y_hat (batch, num_steps, vocab).
    """
    bos = torch.full((Y.shape[0], 1), bos_id, dtype=Y.dtype, device=Y.device)
    return net(X, torch.cat([bos, Y[:, :-1]], 1), X_valid_len)[0]


def tensor_norms(params: list[nn.Parameter]) -> torch.Tensor:
    """‖g‖ of each parameter tensor, (len(params),), in one kernel; 0 where there is no gradient."""
    grads = [(i, p.grad) for i, p in enumerate(params) if p.grad is not None]
    with_grad = [i for i, _g in grads]
    norms = torch.stack(torch._foreach_norm([g for _i, g in grads]))
    if len(with_grad) == len(params):
        return norms
    return norms.new_zeros(len(params)).index_copy(0, torch.tensor(with_grad, device=norms.device), norms)


def clip_gradients(params: list[nn.Parameter], theta: float, norms: torch.Tensor | None = None) -> torch.Tensor:
    """The book's `grad_clipping` without the Python loop or a host sync: returns the pre-clip norm.

    norm = sqrt(sum of squared gradients); if norm > theta every gradient is scaled by theta/norm.
    `norms`: each tensor's norm (`tensor_norms`), when the caller has them already.
    """
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(tensor_norms(params) if norms is None else norms)
    torch._foreach_mul_(grads, torch.clamp(theta / norm, max=1.0))
    return norm


def layer_of(name: str) -> str:
    """The layer a parameter belongs to, for gradient norms per layer: `encoder.embedding`,
    `encoder.rnn.l0` (an RNN's weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 together),
    `decoder.dense`, `decoder.attention`, `bridge.connector`."""
    parts = name.split(".")
    if len(parts) == 3 and parts[1] == "rnn":
        return f"{parts[0]}.rnn.l{parts[2].split('_l')[-1]}"
    return ".".join(parts[:2])


def make_adam(net: nn.Module, lr: float, device: torch.device) -> torch.optim.Adam:
    """The book's Adam; fused (one kernel per tensor for all of Adam's arithmetic) where
    PyTorch has that kernel, else foreach (one op per kind of update, not per tensor)."""
    if device.type in ("cpu", "cuda"):
        return torch.optim.Adam(net.parameters(), lr=lr, fused=True)
    return torch.optim.Adam(net.parameters(), lr=lr, foreach=True)


def masked_sequence_loss(net: EncoderDecoder, X: torch.Tensor, X_valid_len: torch.Tensor, Y: torch.Tensor,
                         Y_valid_len: torch.Tensor, bos_id: int, num_steps: int,
                         token_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
                         = token_cross_entropy) -> torch.Tensor:
    """A masked per-sequence loss under teacher forcing, (batch,), with the output layer and
    `token_loss` computed only where the mask keeps them.

    The book scores every (sequence, position) and multiplies the padding's terms by 0:
    those logits change neither the loss nor any gradient. Here the decoder's hidden states
    at valid positions are gathered first, so the vocabulary-sized product and softmax run
    on the valid tokens only (about 60% of the positions in fra-eng batches). The sum per
    sequence is divided by num_steps, as the book's mean over positions does.
    """
    decoder = net.decoder
    bos = torch.full((Y.shape[0], 1), bos_id, dtype=Y.dtype, device=Y.device)
    state = net.init_decoder_state(X, X_valid_len)
    hidden = decoder.hidden_states(torch.cat([bos, Y[:, :-1]], 1), state)[0]   # (T, B, H)
    keep = torch.arange(Y.shape[1], device=Y.device)[:, None] < Y_valid_len[None, :]   # (T, B)
    losses = token_loss(decoder.dense(hidden[keep]), Y.t()[keep])               # (valid tokens,)
    # back to (T, B) with zeros at the padding, then the book's sum over positions (deterministic
    # on every device, unlike an index_add)
    return losses.new_zeros(keep.shape).masked_scatter(keep, losses).sum(dim=0) / num_steps


class Trainer:
    """Trains `net` on batches of (X, X_valid_len, Y, Y_valid_len) from `data_iter`.

    `loss` is the per-sequence loss, `MaskedSoftmaxCELoss` (the book's) when not given: any
    loss of `core.loss` (masked or not, on logits or log-probabilities). `fused=True` trains the
    model's GRUs with the fused CPU recurrence (`core.fast.fuse`: the same function and
    parameters) where it can be loaded, decided before the first step. The trainer knows
    nothing of data sources, sampling or the UI; it reports through `on_event`.
    """

    def __init__(self, net: EncoderDecoder, data_iter: Iterable, tgt_vocab: Vocab, config: TrainConfig,
                 device: torch.device, history: History | None = None,
                 optimizer_state: dict | None = None, *, loss: nn.Module | None = None, fused: bool = False):
        self.net = net.to(device)
        self.data_iter, self.tgt_vocab, self.config, self.device = data_iter, tgt_vocab, config, device
        self.history = history or History()
        self.optimizer: torch.optim.Optimizer = make_adam(net, config.lr, device)   # an exercise swaps in SGD
        if optimizer_state:
            self.optimizer.load_state_dict(optimizer_state)
        self.loss = loss if loss is not None else make_loss(config.masked, label_smoothing=config.label_smoothing)
        # the valid-positions-only path needs a masked loss of core.loss (with its per-token
        # `token_loss`) and a decoder that splits its forward (`hidden_states` + `dense`);
        # anything else goes through the whole output
        self.masked = getattr(self.loss, "masked", False)
        self.token_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = getattr(
            self.loss, "token_loss", None)
        self.valid_positions_only = (self.masked and self.token_loss is not None
                                     and hasattr(net.decoder, "hidden_states") and hasattr(net.decoder, "dense"))
        self.params = [p for p in net.parameters() if p.requires_grad]
        # the gradient norm of each layer (embedding, each RNN layer, dense), streamed with every step
        layers = [layer_of(name) for name, p in net.named_parameters() if p.requires_grad]
        self.layers = list(dict.fromkeys(layers))
        self._layer_index = torch.tensor([self.layers.index(layer) for layer in layers], device=device)
        self.layer_norms = torch.zeros(len(self.layers), device=device)   # of the last step, before clipping
        # fused: the model's GRUs run the fused CPU recurrence (the same function and parameters),
        # decided here once, before the first step; the book's train_seq2seq keeps nn.GRU
        self.fused = fused and self.device.type == "cpu" and fast.fuse(self.net)

    # -- one step -------------------------------------------------------------------------
    def _forward(self, X, X_valid_len, Y) -> torch.Tensor:
        """Y_hat (batch, num_steps, vocab) with teacher forcing, or mixed with own predictions."""
        if self.config.teacher_forcing_ratio >= 1.0:         # the book: one call, whole sequence
            return teacher_forced_logits(self.net, X, X_valid_len, Y, self.tgt_vocab["<bos>"])
        bos = torch.full((Y.shape[0], 1), self.tgt_vocab["<bos>"], dtype=Y.dtype, device=Y.device)
        return self._scheduled_sampling(X, X_valid_len, Y, bos)

    def _scheduled_sampling(self, X, X_valid_len, Y, bos) -> torch.Tensor:
        """Step by step: each input is the true previous token with probability ratio,
        else the model's own previous prediction (notes 7.9.4)."""
        state = self.net.init_decoder_state(X, X_valid_len)
        dec_X, outputs = bos, []
        for t in range(Y.shape[1]):
            Y_t, state = self.net.decoder(dec_X, state)     # (batch, 1, vocab)
            outputs.append(Y_t)
            use_truth = torch.rand(Y.shape[0], 1, device=Y.device) < self.config.teacher_forcing_ratio
            dec_X = torch.where(use_truth, Y[:, t:t + 1], Y_t.argmax(dim=2))
        return torch.cat(outputs, dim=1)

    def _sequence_loss(self, X, X_valid_len, Y, Y_valid_len) -> torch.Tensor:
        """The per-sequence loss. With a masked loss, decoder positions past the batch's
        longest target add exactly zero to the loss and its gradients, so they are not
        computed; the mean still divides by num_steps, as the book's does. Under teacher
        forcing the output layer also skips the padding inside (`masked_sequence_loss`)."""
        num_steps = Y.shape[1]
        if self.masked:
            Y = Y[:, :max(int(Y_valid_len.max()), 1)]
            teacher_forced = self.config.teacher_forcing_ratio >= 1.0
            if self.valid_positions_only and self.token_loss is not None and teacher_forced:
                return masked_sequence_loss(self.net, X, X_valid_len, Y, Y_valid_len,
                                            self.tgt_vocab["<bos>"], num_steps, self.token_loss)
        return self.loss(self._forward(X, X_valid_len, Y), Y, Y_valid_len) * (Y.shape[1] / num_steps)

    def _step(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Forward/backward over the micro-batches, clip, update: (loss sum, tokens, norm)."""
        X, X_valid_len, Y, Y_valid_len = [x.to(self.device, non_blocking=True) for x in batch]
        self.optimizer.zero_grad(set_to_none=True)
        scale = 1.0 if self.config.reduction == "sum" else 1.0 / X.shape[0]
        loss_sum = torch.zeros((), device=self.device)
        parts = min(self.config.accumulation_steps, X.shape[0])
        for x, xv, y, yv in zip(*(t.chunk(parts) for t in (X, X_valid_len, Y, Y_valid_len))):
            l = self._sequence_loss(x, xv, y, yv)            # (micro_batch,) per-sequence loss
            (l.sum() * scale).backward()
            loss_sum += l.detach().sum()
        norms = tensor_norms(self.params)
        self.layer_norms = norms.new_zeros(len(self.layers)).index_add_(0, self._layer_index, norms ** 2).sqrt()
        norm = clip_gradients(self.params, self.config.clip_theta, norms)
        return loss_sum, Y_valid_len.sum(), norm

    # -- the loop -------------------------------------------------------------------------
    def run(self, on_event: Callable | None = None, stop: threading.Event | None = None) -> TrainResult:
        """Train until num_epochs (counting resumed ones), a stop request, or a NaN loss."""
        emit = on_event or (lambda event: None)
        hist, start = self.history, time.perf_counter()
        run_tokens, status, message = 0, Status.FINISHED, Text("training finished")
        self.net.train()
        for epoch in range(len(hist.epoch_loss), self.config.num_epochs):
            epoch_loss, epoch_tokens, epoch_start = 0.0, 0, time.perf_counter()
            for batch in self.data_iter:
                loss_sum, token_count, norm = self._step(batch)
                loss_value, tokens = float(loss_sum), int(token_count)
                if not math.isfinite(loss_value):
                    status, message = Status.DIVERGED, Text(
                        "the loss became {loss} at step {step}: training stopped before this step "
                        "changed the weights; try a smaller lr", loss=loss_value, step=len(hist.step_loss) + 1)
                    break
                self.optimizer.step()
                epoch_loss, epoch_tokens = epoch_loss + loss_value, epoch_tokens + tokens
                run_tokens += tokens
                hist.step_loss.append(loss_value / max(tokens, 1))
                hist.step_grad_norm.append(float(norm))
                elapsed = time.perf_counter() - start
                emit(StepEvent(epoch + 1, len(hist.step_loss), hist.step_loss[-1], hist.step_grad_norm[-1],
                               run_tokens / max(elapsed, 1e-9), elapsed,
                               layer_grad_norms=dict(zip(self.layers, self.layer_norms.tolist()))))
                if stop is not None and stop.is_set():
                    status, message = Status.STOPPED, Text(
                        "stopped by request after {epochs} complete epochs (at step {step}, inside epoch {epoch})",
                        epochs=epoch, step=len(hist.step_loss), epoch=epoch + 1)
                    break
            if status != Status.FINISHED:
                break
            hist.epoch_loss.append(epoch_loss / max(epoch_tokens, 1))
            hist.epoch_tokens_per_second.append(epoch_tokens / max(time.perf_counter() - epoch_start, 1e-9))
            elapsed = time.perf_counter() - start
            emit(EpochEvent(epoch + 1, self.config.num_epochs, len(hist.step_loss), hist.epoch_loss[-1],
                            run_tokens / max(elapsed, 1e-9), elapsed, hist.epoch_tokens_per_second[-1]))
        seconds = time.perf_counter() - start
        hist.tokens, hist.seconds = hist.tokens + run_tokens, hist.seconds + seconds
        final = hist.epoch_loss[-1] if hist.epoch_loss else float("nan")
        return TrainResult(status, message, hist, final, seconds, run_tokens)

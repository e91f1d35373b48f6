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
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .metrics import bleu
from . import fused_gru
from .config import TrainConfig
from .data import Vocab
from .decode import translate
from .loss import MaskedSoftmaxCELoss, make_loss


@dataclass
class StepEvent:
    epoch: int
    step: int                    # global optimizer step, continues across resumes
    loss: float                  # this batch: sum of per-sequence losses / tokens
    grad_norm: float             # before clipping
    tokens_per_second: float     # over the run so far
    elapsed: float


@dataclass
class EpochEvent:
    epoch: int                   # 1-based, continues across resumes
    num_epochs: int
    step: int
    loss: float                  # the book's metric: sum of losses / tokens over the epoch
    tokens_per_second: float     # over the run so far
    elapsed: float
    epoch_tokens_per_second: float = 0.0   # this epoch alone


@dataclass
class SampleEvent:
    epoch: int
    samples: list[dict]          # {src, pred, ref, bleu}


@dataclass
class History:
    """Everything plotted about a run; plain lists so it lives in checkpoints."""
    step_loss: list[float] = field(default_factory=list)
    step_grad_norm: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    epoch_tokens_per_second: list[float] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        return cls(**values)


@dataclass
class TrainResult:
    status: str                  # "finished", "stopped" or "diverged"
    message: str
    history: History
    final_loss: float
    train_seconds: float         # this run only
    tokens: int                  # this run only

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.train_seconds if self.train_seconds > 0 else 0.0

    def summary(self) -> dict:
        return {"status": self.status, "final_loss": self.final_loss,
                "train_seconds": round(self.train_seconds, 3), "tokens": self.tokens,
                "tokens_per_second": round(self.tokens_per_second, 1),
                "epochs": len(self.history.epoch_loss), "steps": len(self.history.step_loss)}


def teacher_forced_logits(net: nn.Module, X: torch.Tensor, X_valid_len: torch.Tensor,
                          Y: torch.Tensor, bos_id: int) -> torch.Tensor:
    """Teacher forcing (notes 7.5): the decoder reads `<bos>` + Y[:, :-1] in one call.

    Returns Y_hat (batch, num_steps, vocab).
    """
    bos = torch.full((Y.shape[0], 1), bos_id, dtype=Y.dtype, device=Y.device)
    return net(X, torch.cat([bos, Y[:, :-1]], 1), X_valid_len)[0]


def smooth(values: list[float], weight: float = 0.9) -> list[float]:
    """Exponential moving average with bias correction (TensorBoard's smoothing of a curve)."""
    out, avg = [], 0.0
    for i, value in enumerate(values, start=1):
        avg = weight * avg + (1 - weight) * value
        out.append(avg / (1 - weight ** i))
    return out


def thin(values: list[float], max_points: int = 400) -> tuple[list[int], list[float]]:
    """(1-based positions, values) of at most `max_points` evenly spaced points, the last kept:
    a live chart of a long run redraws a few hundred points, not every step."""
    stride = max(1, -(-len(values) // max_points))
    positions = list(range(0, len(values), stride))
    if values and positions[-1] != len(values) - 1:
        positions.append(len(values) - 1)
    return [i + 1 for i in positions], [values[i] for i in positions]


def clip_gradients(params: list[nn.Parameter], theta: float) -> torch.Tensor:
    """The book's `grad_clipping` without the Python loop or a host sync: returns the pre-clip norm.

    norm = sqrt(sum of squared gradients); if norm > theta every gradient is scaled by theta/norm.
    """
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(theta / norm, max=1.0))
    return norm


def make_adam(net: nn.Module, lr: float, device: torch.device) -> torch.optim.Adam:
    """The book's Adam; fused (one kernel per tensor for all of Adam's arithmetic) where
    PyTorch has that kernel, else foreach (one op per kind of update, not per tensor)."""
    if device.type in ("cpu", "cuda"):
        return torch.optim.Adam(net.parameters(), lr=lr, fused=True)
    return torch.optim.Adam(net.parameters(), lr=lr, foreach=True)


def masked_sequence_loss(net: nn.Module, X: torch.Tensor, X_valid_len: torch.Tensor, Y: torch.Tensor,
                         Y_valid_len: torch.Tensor, bos_id: int, num_steps: int) -> torch.Tensor:
    """The book's masked per-sequence loss under teacher forcing, (batch,), with the output
    layer and the softmax computed only where the mask keeps them.

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
    token_loss = nn.functional.cross_entropy(decoder.dense(hidden[keep]), Y.t()[keep], reduction="none")
    # back to (T, B) with zeros at the padding, then the book's sum over positions (deterministic
    # on every device, unlike an index_add)
    return token_loss.new_zeros(keep.shape).masked_scatter(keep, token_loss).sum(dim=0) / num_steps


class Trainer:
    """Trains `net` on batches of (X, X_valid_len, Y, Y_valid_len) from `data_iter`."""

    def __init__(self, net: nn.Module, data_iter: Iterable, tgt_vocab: Vocab, config: TrainConfig,
                 device: torch.device, history: History | None = None,
                 optimizer_state: dict | None = None):
        self.net = net.to(device)
        self.data_iter, self.tgt_vocab, self.config, self.device = data_iter, tgt_vocab, config, device
        self.history = history or History()
        self.optimizer = make_adam(net, config.lr, device)
        if optimizer_state:
            self.optimizer.load_state_dict(optimizer_state)
        self.loss = make_loss(config.masked)
        self.params = [p for p in net.parameters() if p.requires_grad]
        if self.device.type == "cpu":
            fused_gru.load_in_background()     # nn.GRU runs until it is built (or if it cannot be)

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
        """The book's per-sequence loss. With the mask, decoder positions past the batch's
        longest target add exactly zero to the loss and its gradients, so they are not
        computed; the mean still divides by num_steps, as the book's does. Under teacher
        forcing the output layer also skips the padding inside (`masked_sequence_loss`)."""
        num_steps = Y.shape[1]
        if self.config.masked:
            Y = Y[:, :max(int(Y_valid_len.max()), 1)]
            if (self.config.teacher_forcing_ratio >= 1.0 and isinstance(self.loss, MaskedSoftmaxCELoss)
                    and hasattr(self.net.decoder, "hidden_states")):
                return masked_sequence_loss(self.net, X, X_valid_len, Y, Y_valid_len,
                                            self.tgt_vocab["<bos>"], num_steps)
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
        norm = clip_gradients(self.params, self.config.clip_theta)
        return loss_sum, Y_valid_len.sum(), norm

    # -- the loop -------------------------------------------------------------------------
    def run(self, on_event: Callable | None = None, stop: threading.Event | None = None,
            samples: list[tuple[str, str]] = (), sample_every: int = 0,
            src_vocab: Vocab | None = None, num_steps: int = 10) -> TrainResult:
        """Train until num_epochs (counting resumed ones), a stop request, or a NaN loss."""
        emit = on_event or (lambda event: None)
        hist, start = self.history, time.perf_counter()
        run_tokens, status, message = 0, "finished", "training finished"
        self.net.train()
        for epoch in range(len(hist.epoch_loss), self.config.num_epochs):
            epoch_loss, epoch_tokens, epoch_start = 0.0, 0, time.perf_counter()
            for batch in self.data_iter:
                loss_sum, tokens, norm = self._step(batch)
                loss_value, tokens = float(loss_sum), int(tokens)
                if not math.isfinite(loss_value):
                    status, message = "diverged", (
                        f"the loss became {loss_value} at step {len(hist.step_loss) + 1}: training "
                        "stopped before this step changed the weights; try a smaller lr")
                    break
                self.optimizer.step()
                epoch_loss, epoch_tokens, run_tokens = epoch_loss + loss_value, epoch_tokens + tokens, run_tokens + tokens
                hist.step_loss.append(loss_value / max(tokens, 1))
                hist.step_grad_norm.append(float(norm))
                elapsed = time.perf_counter() - start
                emit(StepEvent(epoch + 1, len(hist.step_loss), hist.step_loss[-1], hist.step_grad_norm[-1],
                               run_tokens / max(elapsed, 1e-9), elapsed))
                if stop is not None and stop.is_set():
                    status, message = "stopped", (f"stopped by request after {epoch} complete epochs "
                                                  f"(at step {len(hist.step_loss)}, inside epoch {epoch + 1})")
                    break
            if status != "finished":
                break
            hist.epoch_loss.append(epoch_loss / max(epoch_tokens, 1))
            hist.epoch_tokens_per_second.append(epoch_tokens / max(time.perf_counter() - epoch_start, 1e-9))
            elapsed = time.perf_counter() - start
            emit(EpochEvent(epoch + 1, self.config.num_epochs, len(hist.step_loss), hist.epoch_loss[-1],
                            run_tokens / max(elapsed, 1e-9), elapsed, hist.epoch_tokens_per_second[-1]))
            if samples and sample_every and src_vocab is not None and (
                    (epoch + 1) % sample_every == 0 or epoch + 1 == self.config.num_epochs):
                emit(self._sample(epoch + 1, samples, src_vocab, num_steps))
        seconds = time.perf_counter() - start
        hist.tokens, hist.seconds = hist.tokens + run_tokens, hist.seconds + seconds
        final = hist.epoch_loss[-1] if hist.epoch_loss else float("nan")
        return TrainResult(status, message, hist, final, seconds, run_tokens)

    def _sample(self, epoch: int, samples: list[tuple[str, str]], src_vocab: Vocab, num_steps: int) -> SampleEvent:
        """Translations of fixed sentences with their BLEU (k=2), so a user watches it learn."""
        preds = translate(self.net, [s for s, _ in samples], src_vocab, self.tgt_vocab, num_steps)
        self.net.train()
        rows = [{"epoch": epoch, "src": s, "pred": p, "ref": r, "bleu": bleu(p, r, k=2)}
                for (s, r), p in zip(samples, preds)]
        self.history.samples.extend(rows)
        return SampleEvent(epoch, rows)


def train_seq2seq(net: nn.Module, data_iter: Iterable, lr: float, num_epochs: int,
                  tgt_vocab: Vocab, device) -> TrainResult:
    """The book's function: Xavier init, then the loop above with the book's settings."""
    from .model import xavier_init_weights

    net.apply(xavier_init_weights)
    config = TrainConfig(lr=lr, num_epochs=num_epochs)
    result = Trainer(net, data_iter, tgt_vocab, config, torch.device(device)).run()
    print(f"loss {result.final_loss:.3f}, {result.tokens_per_second:.1f} tokens/sec on {device}")
    return result


if __name__ == "__main__":
    from .cli import train_main

    raise SystemExit(train_main())

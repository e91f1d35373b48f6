"""One real optimizer step, in the book's order (notes 7.5), and "step again" on the same batch.

`StepSession.step` is one iteration of `train_seq2seq`'s inner loop on a copy of a model:
zero the gradients, `Y_hat, _ = net(X, dec_input, X_valid_len)`, `l = loss(Y_hat, Y,
Y_valid_len)`, `l.sum().backward()`, clip at θ, `optimizer.step()` — each stage timed. With
`open_up=True` it also records what the Step view shows of the stages: the loss's parts, the
dense layer's gradient by hand, what autograd saved, every gradient's norm. `open_step` builds
the session, runs its first step opened up and adds the measurements made beside it.
"""
from __future__ import annotations

import copy
from contextlib import ExitStack
from dataclasses import dataclass

import torch

from ..config import ModelConfig
from ..data import Vocab
from ..encoder_decoder import EncoderDecoder
from ..loss import make_loss
from ..output_layers import returns_log_probs
from ..trainer import make_adam
from .backward import DenseGradient, DenseTap, ParamGrad, SavedKind, SavedTensors, TimeGrads, parameter_grads, time_step_grads
from .batch import PairSource, StepBatch, draw_batch
from .init import InitRow, fresh_model, init_table
from .loss_parts import BatchLoss, PrintedLoss, batch_loss, printed_loss
from .scaling import SumVsMean, sum_vs_mean
from .timing import BACKWARD, CLIPPING, FORWARD, LOSS, UPDATE, Scaling, StageClock, StageTimes, batch_scaling
from .update import AdamStep, Clipping, adam_step, adam_update, batch_loss_now, clip, weights_of


@dataclass
class StepRecord:
    """One step's numbers. The opened-up parts are None on a plain "step again"."""
    step: int                     # 1 for the session's first step
    printed: PrintedLoss          # stage 3: the number on the Train curve
    clipping: Clipping            # stage 5
    adam: AdamStep                # stage 6
    loss_before: float            # stage 7: the batch's l.sum() / num_tokens, dropout off
    loss_after: float
    times: StageTimes             # stage 9
    loss: BatchLoss | None = None             # stage 2
    dense: DenseGradient | None = None        # stage 4: None for a tied or adaptive output layer
    saved: list[SavedKind] | None = None      # stage 4
    grads: list[ParamGrad] | None = None      # stage 4, before clipping


class StepSession:
    """A copy of a model, its own Adam and one batch: the steps taken on it and the batch's
    loss after each (a batch being memorised). The model it was given is never changed."""

    def __init__(self, net: EncoderDecoder, batch: StepBatch, *, lr: float, theta: float, device: torch.device,
                 log_probs: bool = False):
        self.device = device
        self.net = copy.deepcopy(net).to(device)
        self.batch = batch.to(device)
        self.lr, self.theta = lr, theta
        self.loss = make_loss(masked=True, log_probs=log_probs)     # the book's masked loss (or its NLL twin)
        self.optimizer = make_adam(self.net, lr, device)             # the trainer's Adam, fresh as the book's
        self.params = [p for p in self.net.parameters() if p.requires_grad]
        self.curve = [batch_loss_now(self.net, self.batch, self.loss)]   # after 0, 1, 2, … steps
        self.records: list[StepRecord] = []

    def step(self, *, open_up: bool = False) -> StepRecord:
        """One step of the book's loop on the batch."""
        net, b, clock = self.net, self.batch, StageClock(self.device)
        net.train()
        self.optimizer.zero_grad(set_to_none=True)
        with ExitStack() as taps:
            tap = taps.enter_context(DenseTap(net.decoder.dense)) if open_up else None
            vocab_size = net.decoder.embedding.num_embeddings
            saved = taps.enter_context(SavedTensors(net, vocab_size)) if open_up else None
            with clock.stage(FORWARD):
                Y_hat, _state = net(b.X, b.dec_input, b.X_valid_len)      # (batch, num_steps, vocab)
            with clock.stage(LOSS):
                l = self.loss(Y_hat, b.Y, b.Y_valid_len)                   # (batch,)
                total = l.sum()
        with clock.stage(BACKWARD):
            total.backward()
        dense = tap.check() if tap is not None else None               # before clipping rescales .grad
        grads = parameter_grads(net) if open_up else None
        with clock.stage(CLIPPING):
            clipping = clip(self.params, self.theta)
        before = weights_of(net)
        with clock.stage(UPDATE):
            self.optimizer.step()
        self.curve.append(batch_loss_now(net, b, self.loss))
        record = StepRecord(
            step=len(self.records) + 1, printed=printed_loss(Y_hat, b.Y, b.Y_valid_len, l), clipping=clipping,
            adam=adam_update(net, before, self.lr, adam_step(self.optimizer)),
            loss_before=self.curve[-2], loss_after=self.curve[-1],
            times=StageTimes(seconds=dict(clock.seconds), device=str(self.device), step=len(self.records) + 1),
            loss=batch_loss(Y_hat, b.Y, b.Y_valid_len, l) if open_up else None, dense=dense,
            saved=saved.kinds() if saved is not None else None, grads=grads)
        self.records.append(record)
        return record


@dataclass
class StepReport:
    """Everything the Step view shows of the first step, and what was measured beside it."""
    source: PairSource            # where the batch's pairs came from
    batch: StepBatch              # on the CPU, for display
    fresh: bool                   # a newly initialised model, not the checkpoint's weights
    init: list[InitRow] | None    # how a fresh model was initialised
    first: StepRecord
    time_grads: TimeGrads         # stage 4: ‖∂L/∂h_t‖ over t (before the step)
    sum_vs_mean: SumVsMean        # stage 8 (before the step)
    scaling: Scaling              # stage 9: the time of a pass on this batch and one twice as large


def open_step(net: EncoderDecoder, model_config: ModelConfig, src_vocab: Vocab, tgt_vocab: Vocab, num_steps: int,
              source: PairSource, *, batch_size: int, seed: int, lr: float, theta: float, fresh: bool,
              device: torch.device) -> tuple[StepSession, StepReport]:
    """The first step of `net` (or of a fresh model of its sizes) on a seeded batch of `source`,
    opened up; the session goes on with "step again"."""
    if fresh:
        net = fresh_model(model_config, len(src_vocab), len(tgt_vocab), seed)
    batch = draw_batch(source.pairs, src_vocab, tgt_vocab, num_steps, batch_size, seed)
    double = draw_batch(source.pairs, src_vocab, tgt_vocab, num_steps, 2 * batch_size, seed)
    session = StepSession(net, batch, lr=lr, theta=theta, device=device,
                          log_probs=returns_log_probs(model_config.output_layer))
    on_device = double.to(device)
    # measured on the weights before the step, each on its own copy of the model
    time_grads = time_step_grads(session.net, session.batch, session.loss)
    versus = sum_vs_mean(session.net, session.batch, on_device, session.loss)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)                                # the step's dropout masks, repeatable
        first = session.step(open_up=True)
    scaling = batch_scaling(session.net, session.batch, on_device, session.loss, device)
    return session, StepReport(source=source, batch=batch, fresh=fresh, init=init_table(net) if fresh else None,
                               first=first, time_grads=time_grads, sum_vs_mean=versus, scaling=scaling)

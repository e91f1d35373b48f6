"""The Step view (notes 7.5): one real optimizer step, stages 1 to 4: the data and teacher
forcing, the forward pass and the masked loss, the printed number, the backward pass. The
later stages (clipping to timings) are in `step_update`; the numbers all come from `core.step`.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.checkpoint import Checkpoint
from core.device import pick_device
from core.step.backward import WEIGHTS, DenseGradient, ParamGrad, SavedKind, TimeGrads
from core.step.batch import PairSource, StepBatch, draw_batch, forcing_table, training_pairs
from core.step.init import InitRow
from core.step.loss_parts import BatchLoss, PrintedLoss
from core.step.session import StepReport, StepSession, open_step

from .. import charts, i18n, state
from ..i18n import N_, _, shown_as
from ..sidebar import Active
from ..state import kept
from ..text import Chip, chip_row, md_code

CHOICES = {"checkpoint": N_("the checkpoint in use"), "fresh": N_("a fresh model of its sizes (Xavier init)")}
MAX_BATCH = 256          # a step on the page stays quick; the trainer itself takes up to core.config.MAX_BATCH
PAD_STYLE = "color: #9aa5b1; background-color: #f5f5f5"


@dataclass
class Settings:
    fresh: bool
    batch_size: int
    seed: int


def settings(ckpt: Checkpoint) -> Settings:
    c = st.columns([2, 1, 1])
    weights = c[0].radio(_("Weights"), list(CHOICES), format_func=shown_as(CHOICES), horizontal=True,
                         **kept(state.STEP_WEIGHTS, "checkpoint"),
                         help=_("A fresh model has the checkpoint's sizes and vocabularies, initialised as the "
                                "book's train_seq2seq does."))
    batch_size = c[1].number_input(_("Batch size"), 1, MAX_BATCH, step=1,
                                   **kept(state.STEP_BATCH, min(ckpt.data_config.batch_size, MAX_BATCH)))
    seed = c[2].number_input(_("Seed"), 0, 2**31 - 1, step=1, **kept(state.STEP_SEED, 0),
                             help=_("Which pairs make the batch (a seeded shuffle), the fresh model's weights and "
                                    "the step's dropout masks."))
    return Settings(fresh=weights == "fresh", batch_size=int(batch_size), seed=int(seed))


def pairs(active: Active) -> PairSource:
    assert active.ckpt is not None
    return _pairs(active.key, active.ckpt)


@st.cache_resource(max_entries=4, show_spinner=False)
def _pairs(key: str, _ckpt: Checkpoint) -> PairSource:
    return training_pairs(_ckpt.data_config, _ckpt.test_pairs)


def batch_of(ckpt: Checkpoint, source: PairSource, chosen: Settings) -> StepBatch:
    """The batch the step takes: the same pairs `open_step` draws for these settings."""
    return draw_batch(source.pairs, ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                      chosen.batch_size, chosen.seed)


# -- 1 · data and teacher forcing ----------------------------------------------------------------
def _chips(ids: list[int], ckpt: Checkpoint, dropped: int | None = None) -> list[Chip]:
    tokens = ckpt.tgt_vocab.to_tokens(ids)
    return [Chip(t, "miss" if i == dropped else "pad" if t == "<pad>" else "special" if t.startswith("<") else
                 "token", str(token_id)) for i, (t, token_id) in enumerate(zip(tokens, ids))]


def sentence_row(batch: StepBatch) -> int:
    rows = list(range(batch.batch_size))
    label = {i: f"{i}: {' '.join(batch.pairs[i][0])} → {' '.join(batch.pairs[i][1])}" for i in rows}
    kwargs = kept(state.STEP_ROW, 0)
    if st.session_state[kwargs["key"]] not in rows:        # a smaller batch than before
        st.session_state[kwargs["key"]] = 0
    return st.selectbox(_("Sentence to follow through the stages"), rows, format_func=label.get, **kwargs)


def show_data(batch: StepBatch, ckpt: Checkpoint, source: PairSource, row: int) -> None:
    st.header(_("1 · Data → teacher forcing"))
    c = st.columns(4)
    c[0].metric(_("Batch size"), batch.batch_size)
    c[1].metric("num_steps", batch.num_steps)
    c[2].metric(_("Target tokens (num_tokens)"), batch.num_tokens)
    c[3].metric(_("Padding positions"), batch.batch_size * batch.num_steps - batch.num_tokens)
    if source.training:
        st.caption(_("{count} pairs drawn from the checkpoint's {total:,} training pairs by a seeded shuffle, as "
                     "the first batch of an epoch.").format(count=batch.batch_size, total=len(source.pairs)))
    else:
        st.warning(_("The checkpoint's training data cannot be read here ({why}), so its held-out pairs stand "
                     "in.").format(why=i18n.said(source.why_not)), icon="🗂️")
    Y = batch.Y[row].tolist()
    st.markdown(_("**Y** — what the decoder must output (valid length {valid}):").format(
        valid=int(batch.Y_valid_len[row])))
    chip_row(_chips(Y, ckpt))
    st.markdown(_("**Y[:, :-1]** — the last position dropped:"))
    chip_row(_chips(Y, ckpt, dropped=len(Y) - 1))
    st.markdown(_("**dec_input = cat([bos, Y[:, :-1]], 1)** — `<bos>` in front: what the decoder reads:"))
    chip_row(_chips(batch.dec_input[row].tolist(), ckpt))
    table = forcing_table(batch, ckpt.tgt_vocab, row)
    step, fed, wanted, meaning = _("step"), _("decoder input"), _("expected output"), _("meaning")
    frame = pd.DataFrame([{step: r.step, fed: f"{r.input_id} ({r.input_token})",
                           wanted: f"{r.expected_id} ({r.expected_token})", meaning: i18n.said(r.meaning)}
                          for r in table])
    padding = [r.padding for r in table]
    st.dataframe(frame.style.apply(lambda col: [PAD_STYLE if p else "" for p in padding]), hide_index=True,
                 width="stretch")
    st.caption(_("Grey rows are padding: past Y_valid_len the mask sets their loss to 0."))
    with st.expander(_("The whole batch: X, X_valid_len, Y, Y_valid_len and dec_input as ids")):
        for name, tensor in (("X", batch.X), ("Y", batch.Y), ("dec_input", batch.dec_input)):
            st.markdown(f"`{name}`, {tuple(tensor.shape)}")          # code names and numbers: no language
            st.dataframe(charts.grid(tensor.tolist(), [str(i) for i in range(batch.batch_size)]), height=180)
        st.dataframe(pd.DataFrame({"X_valid_len": batch.X_valid_len.tolist(), "Y_valid_len": batch.Y_valid_len.tolist()}),
                     height=180)


# -- the step itself, kept for "step again" --------------------------------------------------------
def step_report(active: Active, source: PairSource, chosen: Settings) -> tuple[StepSession, StepReport]:
    """The first step for these settings: computed once, then kept in this tab (with its session,
    which "step again" continues)."""
    ckpt = active.ckpt
    assert ckpt is not None
    key = (active.key, chosen.fresh, chosen.batch_size, chosen.seed)
    kept_step = state.get(state.STEP_SESSION)
    if kept_step is None or kept_step[0] != key:
        with st.spinner(_("Taking one training step…")):
            session, report = open_step(
                ckpt.model, ckpt.model_config, ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps, source,
                batch_size=chosen.batch_size, seed=chosen.seed, lr=ckpt.train_config.lr,
                theta=ckpt.train_config.clip_theta, fresh=chosen.fresh, device=pick_device("auto"))
        kept_step = (key, session, report)
        state.put(state.STEP_SESSION, kept_step)
    return kept_step[1], kept_step[2]


def show_init(rows: list[InitRow]) -> None:
    st.header(_("The fresh model's weights: Xavier initialisation"))
    st.caption(_("The book's train_seq2seq starts with `net.apply(xavier_init_weights)`: every nn.Linear weight "
                 "and every GRU weight matrix is drawn from U(−a, a) with a = √(6 / (fan_in + fan_out)), which "
                 "keeps the variance of activations and gradients about equal from layer to layer."))
    rule, bound = _("drawn from"), _("bound (a or σ)")
    st.dataframe(pd.DataFrame([{_("parameter"): r.name, _("shape"): " × ".join(map(str, r.shape)),
                                rule: _(r.rule), bound: r.bound, "min": r.low, "max": r.high, "std": r.std}
                               for r in rows]),
                 hide_index=True, column_config={k: st.column_config.NumberColumn(format="%.4f")
                                                 for k in (bound, "min", "max", "std")})


# -- 2 and 3 · the loss ----------------------------------------------------------------------------
def show_loss(loss: BatchLoss, batch: StepBatch, ckpt: Checkpoint, row: int) -> None:
    st.header(_("2 · Forward and the masked loss"))
    st.markdown(_("`Y_hat, _ = net(X, dec_input, X_valid_len)` gives Y_hat of shape {shape} = (batch, num_steps, "
                  "vocab): a score for every target word at every position.").format(shape=md_code(str(loss.y_hat_shape))))
    sentence = loss.sentence(row)
    expected = ckpt.tgt_vocab.to_tokens(batch.Y[row].tolist())
    ce, mask, masked = _("cross-entropy"), _("mask"), _("× mask")
    frame = pd.DataFrame({_("position"): list(range(1, batch.num_steps + 1)), _("expected output"): expected,
                          ce: sentence.per_position, mask: sentence.mask, masked: sentence.masked})
    st.dataframe(frame.style.apply(lambda col: [PAD_STYLE if not m else "" for m in sentence.mask]),
                 hide_index=True, column_config={k: st.column_config.NumberColumn(format="%.4f") for k in (ce, masked)})
    st.markdown(_("This sentence's loss, the book's mean over all num_steps positions with the padding as zeros: "
                  "l[{row}] = Σ (× mask) / {steps} = **{loss:.5f}**.").format(row=row, steps=batch.num_steps,
                                                                               loss=sentence.loss))
    left, right = st.columns([3, 1], vertical_alignment="center")
    with left:
        fig = go.Figure(go.Bar(x=list(range(len(loss.l))), y=loss.l, marker_color=[
            charts.ACCENT if i == row else charts.MUTED for i in range(len(loss.l))]))
        charts.show(charts.layout(fig, _("l: one loss per sequence of the batch"), 240, _("sequence"), "l"),
                    key="step.l")
    right.metric("l.sum()", f"{loss.l_sum:.4f}", help=_("The one scalar backward() starts from: every sequence's "
                                                        "gradient adds into the same parameters."))


def show_printed(printed: PrintedLoss) -> None:
    st.header(_("3 · The number on the Train curve"))
    c = st.columns(4)
    c[0].metric("num_tokens = Y_valid_len.sum()", printed.num_tokens)
    c[1].metric("l.sum() / num_tokens", f"{printed.printed:.5f}")
    c[2].metric(_("mean per-token cross-entropy ÷ num_steps"), f"{printed.per_token / printed.num_steps:.5f}",
                help=_("Computed on its own from the valid tokens: the two agree to {gap:.1e}.").format(
                    gap=printed.identity_gap))
    c[3].metric(_("Perplexity, exp(per-token loss)"), f"{printed.perplexity:.3f}")
    st.info(i18n.said(printed.sentence()), icon="🧮")


# -- 4 · backward -----------------------------------------------------------------------------------
def show_backward(dense: DenseGradient | None, saved: list[SavedKind], grads: list[ParamGrad],
                  time_grads: TimeGrads) -> None:
    st.header(_("4 · Backward"))
    st.code("l.sum().backward()", language="python")
    st.subheader(_("∂L/∂W = Hᵀ · ∂L/∂Y_hat on the dense layer"))
    if dense is None:
        st.caption(_("This model's output layer is not the book's single nn.Linear (it is tied or adaptive): "
                     "the check by hand applies to a dense output layer."))
    else:
        c = st.columns(4)
        c[0].metric(_("H (saved by the forward)"), " × ".join(map(str, dense.h_shape)))
        c[1].metric("∂L/∂Y_hat", " × ".join(map(str, dense.dy_shape)))
        c[2].metric("Hᵀ · ∂L/∂Y_hat", " × ".join(map(str, dense.grad_shape)))
        c[3].metric(_("max |by hand − autograd|"), f"{dense.max_abs_diff:.1e}")
        st.caption(_("The gradient of the output layer's weight, computed by hand from the decoder's outputs H that "
                     "the forward pass kept and the gradient arriving at Y_hat, equals autograd's .grad (bias: "
                     "{bias:.1e}). To compute it, autograd must keep H from the forward pass until backward: that is "
                     "what fills memory with activations.").format(bias=dense.bias_max_abs_diff))
    _saved(saved)
    _grads(grads)
    _time_grads(time_grads)


def _saved(saved: list[SavedKind]) -> None:
    st.subheader(_("What autograd kept for this backward pass"))
    kind, count, size = _("kind"), _("tensors"), "MiB"
    st.dataframe(pd.DataFrame([{kind: _(s.kind), count: s.tensors, size: s.bytes / 2**20} for s in saved]),
                 hide_index=True, column_config={size: st.column_config.NumberColumn(format="%.3f")})
    kept_bytes = sum(s.bytes for s in saved if s.kind != WEIGHTS)
    st.caption(_("Counted with torch.autograd.graph.saved_tensors_hooks, each storage once: {mib:.2f} MiB besides "
                 "the weights. They grow with the batch size and num_steps, the weights do not.").format(
                     mib=kept_bytes / 2**20))


def _grads(grads: list[ParamGrad]) -> None:
    st.subheader(_("The gradient of every parameter tensor"))
    layers: dict[str, float] = {}
    for g in grads:
        layers[g.layer] = layers.get(g.layer, 0.0) + g.norm ** 2
    left, right = st.columns([3, 2])
    with left:
        norm = "‖∂L/∂θ‖"
        st.dataframe(pd.DataFrame([{_("parameter"): g.name, _("layer"): g.layer,
                                    _("shape"): " × ".join(map(str, g.shape)), norm: g.norm} for g in grads]),
                     hide_index=True, height=300, column_config={norm: st.column_config.NumberColumn(format="%.4f")})
    with right:
        fig = go.Figure(go.Bar(x=list(layers), y=[v ** 0.5 for v in layers.values()], marker_color=charts.ACCENT))
        charts.show(charts.layout(fig, _("‖∂L/∂θ‖ per layer"), 300), key="step.layer_grads")


def _time_grads(time_grads: TimeGrads) -> None:
    st.subheader(_("The gradient reaching each time step's hidden state"))
    charts.show(charts.curves({_("encoder"): time_grads.encoder, _("decoder"): time_grads.decoder},
                              _("‖∂L/∂h_t‖ of the top layer, over the whole batch"), _("time step t")),
                key="step.time_grads")
    st.caption(i18n.said(time_grads.sentence()) + " " + _(
        "Measured on a copy of the model whose GRUs run one time step at a time (the same weights, dropout off): "
        "nn.GRU keeps its h_t inside one call. In the decoder the late steps are mostly padding: no loss reaches "
        "them but through later steps."))

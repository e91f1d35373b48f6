"""The Masking view (notes 7.4): the broadcast behind `sequence_mask`, and the masked loss
taken apart on a batch (the notes' example, edited, or a real one through the checkpoint)."""
from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from core.loss import LossBreakdown, MaskParts, sequence_mask
from core.probes.masking import LossBatch, real_batch, toy_batch
from core.sources import BOOK_EXAMPLES

from .. import state
from ..charts import grid, show_grid
from ..guards import guarded
from ..i18n import N_, _
from ..sidebar import Active
from ..state import kept
from ..widgets import no_checkpoint

EDITED, REAL = N_("The notes' example (edit it)"), N_("A real batch through the checkpoint in use")   # radio values
NOTES_BATCH = pd.DataFrame({"label": ["A B C", "D <pad> <pad>"], "prediction": ["A B F", "D Z X"],
                            "valid_len": [3, 1]})
NARROW_MAXLEN = 4        # up to this many positions, three grids fit side by side
HALF_WIDTH_MAXLEN = 6    # and two


def side_by_side(spec: list[int], fits: bool, **kwargs) -> list:
    """st.columns(spec) when the grids fit in them; otherwise the same slots stacked in one
    container (a cut-off grid hides the point)."""
    return st.columns(spec, **kwargs) if fits else [st.container()] * len(spec)


def seq_labels(n: int) -> list[str]:
    """The grids' row labels, one per sequence of the batch."""
    return [_("seq {i}").format(i=i) for i in range(n)]


# -- 7.4.1 the mask ----------------------------------------------------------------------------
def _notes_mask_example() -> None:
    """The notes' 7.4.1 example: maxlen 3, two sequences of valid lengths 1 and 2."""
    state.set_kept(state.MASK_MAXLEN, 3)
    state.set_kept(state.MASK_VALID, "1, 2")
    state.set_kept(state.MASK_FILL, 0.0)


def mask_inputs() -> tuple[int, str, float]:
    """(maxlen, the valid lengths as typed, the fill value)."""
    st.button(_("📒 The notes' 7.4.1 example: maxlen 3, valid lengths 1 and 2"), key="mask.notes_741",
              on_click=_notes_mask_example)
    c = st.columns([1, 2, 1])
    maxlen = c[0].number_input(_("maxlen (positions)"), 1, 12, **kept(state.MASK_MAXLEN, 3))
    text = c[1].text_input(_("Valid lengths, one per sequence"), **kept(state.MASK_VALID, "1, 2"))
    fill = c[2].number_input(_("Fill value for sequence_mask"), -1e6, 1e6, **kept(state.MASK_FILL, 0.0))
    return maxlen, text, fill


def show_mask(parts: MaskParts, valid_len: torch.Tensor, fill: float) -> None:
    """The comparison `positions < valid_len` grid by grid, then sequence_mask on a demo X."""
    n, maxlen = len(valid_len), parts.positions.numel()
    rows = seq_labels(n)
    top = side_by_side([1, 1], maxlen <= HALF_WIDTH_MAXLEN)
    with top[0]:
        show_grid(_("positions — a (1, maxlen) row vector"), grid(parts.positions.int().tolist(), ["positions"]))
    with top[1]:
        show_grid(_("valid_len — an (N, 1) column vector"), grid(parts.valid_len.tolist(), rows, ["valid_len"]))
    c = side_by_side([4, 1, 4, 1, 4], maxlen <= NARROW_MAXLEN, vertical_alignment="center")
    with c[0]:
        show_grid(_("positions, broadcast down"), grid(parts.positions_broadcast.int().tolist(), rows))
    c[1].markdown("### <")
    with c[2]:
        show_grid(_("valid_len, broadcast right"), grid(parts.valid_broadcast.tolist(), rows))
    c[3].markdown("### =")
    with c[4]:
        show_grid(_("mask"), grid(parts.mask.tolist(), rows), caption=_("True = a real token, kept."))
    X = torch.arange(1, n * maxlen + 1, dtype=torch.float32).reshape(n, maxlen)
    c = side_by_side([1, 1], maxlen <= HALF_WIDTH_MAXLEN)
    with c[0]:
        show_grid(_("a demo X (N, maxlen)"), grid(X.tolist(), rows), fmt="{:g}")
    with c[1]:
        show_grid(f"sequence_mask(X, valid_len, value={fill:g})",
                  grid(sequence_mask(X, valid_len, fill).tolist(), rows), fmt="{:g}",
                  caption=_("Positions at or past valid_len are replaced; X itself is unchanged."))


# -- 7.4.2 the masked loss ---------------------------------------------------------------------
def batch_choice() -> str:
    return st.radio(_("Batch"), [EDITED, REAL], format_func=_, horizontal=True, **kept(state.MASK_MODE, EDITED))


def _notes_loss_example() -> None:
    """Back to the notes' 7.4.2 batch: labels [A, B, C] and [D, <pad>, <pad>], valid lengths 3 and 1."""
    state.forget(state.MASK_BATCH)
    state.set_kept(state.MASK_MODE, EDITED)


def edited_batch() -> LossBatch | None:
    st.button(_("📒 The notes' 7.4.2 example: [A B C] and [D <pad> <pad>], valid lengths 3 and 1"),
              key="mask.notes_742", on_click=_notes_loss_example)
    st.caption(_("Each row is one sequence: its labels, the model's predictions, and its valid length. "
                 "Each prediction gives its own token the probability below and shares the rest."))
    table = st.data_editor(NOTES_BATCH, num_rows="dynamic", key=state.MASK_BATCH, hide_index=True,
                           column_config={"label": _("label"), "prediction": _("prediction"),
                                          "valid_len": st.column_config.NumberColumn(min_value=0, step=1)})
    confidence = st.slider(_("Probability of each predicted token"), 0.5, 0.99, **kept(state.MASK_CONFIDENCE, 0.9))
    return guarded(_("This batch cannot be scored"), toy_batch, table["label"].fillna("").astype(str).tolist(),
                   table["prediction"].fillna("").astype(str).tolist(),
                   table["valid_len"].fillna(0).astype(int).tolist(), confidence)


def model_batch(active: Active) -> LossBatch | None:
    if active.ckpt is None:
        no_checkpoint(_("A real batch"))
        return None
    pairs = active.ckpt.test_pairs or BOOK_EXAMPLES
    size = st.number_input(_("Held-out pairs in the batch"), 1, 8, **kept(state.MASK_SIZE, 4))
    st.caption(_("The first held-out pairs, encoded like a training batch (`build_array_nmt`: + `<eos>`, padded "
                 "to num_steps) and run through the model with teacher forcing."))
    return real_batch(active.ckpt, pairs[:size])


def show_loss(batch: LossBatch, parts: LossBreakdown, book: torch.Tensor) -> None:
    """The loss position by position, per sequence (masked vs plain), and one sequence's formula.

    `parts` = core.loss.loss_breakdown of the batch; `book` = MaskedSoftmaxCELoss, what training uses."""
    rows = seq_labels(len(batch.label_tokens))
    wide = batch.labels.shape[1] > HALF_WIDTH_MAXLEN     # long rows: one grid per line, no side scrolling
    c = side_by_side([1, 1], not wide)
    with c[0]:
        show_grid(_("labels"), grid(batch.label_tokens, rows))
        show_grid(_("cross-entropy at each position"), grid(parts.per_position.tolist(), rows), fmt="{:.3f}")
    with c[1]:
        show_grid(_("predictions (most likely token)"), grid(batch.pred_tokens, rows))
        show_grid(_("weights from the mask"), grid(parts.weights.int().tolist(), rows))
    st.markdown(_("**Per sequence**: masked loss vs the plain mean that also scores padding"))
    st.dataframe(pd.DataFrame({"valid_len": batch.valid_len.tolist(), "MaskedSoftmaxCELoss": book.tolist(),
                               "plain mean (unmasked)": parts.plain_per_seq.tolist()}, index=rows),
                 column_config={"MaskedSoftmaxCELoss": st.column_config.NumberColumn(format="%.4f"),
                                "plain mean (unmasked)": st.column_config.NumberColumn(_("plain mean (unmasked)"),
                                                                                       format="%.4f")})
    st.metric(_("Cross-entropy per valid token (masked)"), f"{parts.masked_per_token:.4f}")
    # opens on a padded sequence: on one without padding the masked and plain losses are equal
    i = st.selectbox(_("Formula for"), range(len(rows)), index=batch.first_padded(), format_func=rows.__getitem__,
                     key="mask.formula_row")
    for line in formulas(parts.per_position[i].tolist(), parts.weights[i].tolist(), float(parts.masked_per_seq[i]),
                         float(parts.plain_per_seq[i])):
        st.latex(line)
    st.caption(_("Like the book, the masked loss still divides by all T positions (padding included): "
                 "the mask zeroes the padded terms, it does not change the denominator.")
               + (" " + _("Long rows list only the weight-1 terms.") if wide else ""))


def formulas(losses: list[float], weights: list[float], masked: float, plain: float) -> tuple[str, str]:
    """The masked and the plain per-sequence loss with the numbers plugged in.

    Long rows list only the weight-1 terms: the weight-0 (padding) terms add nothing.
    """
    T = len(losses)
    short = T <= 6
    terms = [(l, w) for l, w in zip(losses, weights) if short or w]
    weighted = " + ".join(f"{l:.3f}\\cdot{w:g}" if short else f"{l:.2f}" for l, w in terms) or "0"
    raw = " + ".join(f"{l:.3f}" if short else f"{l:.2f}" for l in losses)
    unmasked = _("unmasked")                     # the subscript, in the reader's language
    return (rf"\ell = \frac{{1}}{{T}}\sum_t w_t\,\ell_t = \frac{{1}}{{{T}}}\left({weighted}\right) = {masked:.4f}",
            rf"\bar\ell_{{\text{{{unmasked}}}}} = \frac{{1}}{{T}}\sum_t \ell_t = "
            rf"\frac{{1}}{{{T}}}\left({raw}\right) = {plain:.4f}")

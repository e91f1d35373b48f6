"""Gradient accumulation (notes 7.5-7.5.1): micro-batches vs one batch, and sum vs mean reduction."""
from __future__ import annotations

import streamlit as st

from core.probes.accumulation import check_split
from ui import state
from ui.guards import guarded
from ui.i18n import _
from ui.state import kept
from ui.views import accumulation as view
from ui.widgets import start_page

start_page("Accumulation", "➕")
st.title(_("➕ Gradient accumulation"))
st.caption(_("When a batch of 64 does not fit in memory, take it in micro-batches and add their gradients "
             "before the update (notes 7.5.1). Measured here with the engine's own `Trainer._step` on a "
             "real batch of the shipped corpus."))

c = st.columns(3)
batch_size = c[0].selectbox(_("Batch size"), [8, 16, 32, 64, 128, 256], **kept(state.ACCUM_BATCH, 64))
micro_batch = c[1].number_input(_("Micro-batch size"), 1, 256, step=1, **kept(state.ACCUM_MICRO, 16),
                                help=_("Must divide the batch size into equal micro-batches."))
lr = c[2].number_input(_("Learning rate (for the one-step comparison)"), 1e-5, 1.0, format="%.4f",
                       **kept(state.ACCUM_LR, 0.005))

if guarded(_("These micro-batches cannot be used"), check_split, batch_size, int(micro_batch)) is not None:
    report = guarded(_("The gradients could not be computed"), view.accumulation_report,
                     batch_size, int(micro_batch), float(lr))
    if report is not None:
        view.show_accumulation(report)
        trade = guarded(_("Memory and time could not be measured"), view.trade_off, batch_size, int(micro_batch))
        if trade is not None:
            view.show_trade_off(trade)

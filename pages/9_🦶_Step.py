"""Step (notes 7.5): one real optimizer step of the checkpoint in use, opened up stage by stage."""
from __future__ import annotations

import streamlit as st

from ui.i18n import _
from ui.views import step as view
from ui.views import step_update
from ui.widgets import no_checkpoint, start_page

active = start_page("Step", "🦶")
st.title(_("🦶 Step: one training step, opened up"))
st.caption(_("One iteration of the book's train_seq2seq loop (notes 7.5) on a real batch: teacher forcing, the "
             "forward pass, the masked loss, backward, clipping, Adam's update, stage by stage."))
if active.ckpt is None:
    no_checkpoint(_("The Step view"))
    st.stop()
ckpt = active.ckpt
chosen = view.settings(ckpt)
source = view.pairs(active)
batch = view.batch_of(ckpt, source, chosen)
row = view.sentence_row(batch)
view.show_data(batch, ckpt, source, row)           # the first content, before the step is computed
session, report = view.step_report(active, source, chosen)
first = report.first
if report.init is not None:
    view.show_init(report.init)
if first.loss is not None:
    view.show_loss(first.loss, batch, ckpt, row)
view.show_printed(first.printed)
if first.saved is not None and first.grads is not None:
    view.show_backward(first.dense, first.saved, first.grads, report.time_grads)
step_update.show_later_stages(report, session)

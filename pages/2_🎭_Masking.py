"""Masking (notes 7.4): the broadcast behind `sequence_mask`, then the masked loss on a batch."""
from __future__ import annotations

import streamlit as st
import torch

from core.loss import MaskedSoftmaxCELoss, loss_breakdown, mask_parts
from core.probes.masking import parse_lengths
from ui.guards import guarded
from ui.i18n import _
from ui.views import masking as view
from ui.widgets import start_page

active = start_page("Masking", "🎭")
st.title(_("🎭 Masking"))
st.caption(_("Padding makes every sequence num_steps long; the mask keeps the loss from scoring it."))

st.header(_("7.4.1 · The mask is a broadcast comparison"))
maxlen, text, fill = view.mask_inputs()
lengths = guarded(_("These valid lengths cannot be used"), parse_lengths, text)
if lengths is not None:
    valid_len = torch.tensor(lengths)
    view.show_mask(mask_parts(maxlen, valid_len), valid_len, fill)
st.divider()

st.header(_("7.4.2 · The masked loss"))
batch = view.edited_batch() if view.batch_choice() == view.EDITED else view.model_batch(active)
if batch is not None:
    view.show_loss(batch, loss_breakdown(batch.logits, batch.labels, batch.valid_len),
                   MaskedSoftmaxCELoss()(batch.logits, batch.labels, batch.valid_len))   # what training uses

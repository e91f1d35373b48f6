"""BLEU (notes 7.8): one prediction n-gram by n-gram, and corpus BLEU on held-out pairs."""
from __future__ import annotations

import streamlit as st

from core.metrics import bleu_breakdown
from ui import models, state
from ui.i18n import _
from ui.state import kept
from ui.views import bleu as view
from ui.widgets import no_checkpoint, start_page

WORST_COUNT = "bleu.worst_count"

active = start_page("BLEU", "📏")
st.title("📏 BLEU")
st.caption(_("The book's score: the brevity penalty times each n-gram precision p_n to the weight 1/2^n, "
             "with clipped counts (each reference n-gram matches at most once)."))

st.header(_("One prediction against one reference"))
pred, ref, k = view.sentence_inputs()
if not pred.strip() or not ref.strip():
    st.info(_("Type a prediction and a reference (tokens separated by spaces) to score them."), icon="✏️")
else:
    view.show_breakdown(bleu_breakdown(pred, ref, k), k)
view.share_link()
st.divider()

st.header(_("Corpus BLEU of the checkpoint in use"))
if active.ckpt is None:
    no_checkpoint(_("Corpus BLEU"))
elif not active.ckpt.test_pairs:
    st.info(_("This checkpoint stores no held-out pairs, so there is nothing to score."), icon="ℹ️")
else:
    report = models.evaluation(active.key, active.ckpt)
    view.show_corpus(report)
    # keyed (a language switch keeps the count), and at most this checkpoint's number of pairs
    worst_count = kept(WORST_COUNT, min(10, len(report.rows)))
    if state.get_kept(WORST_COUNT) > len(report.rows):
        state.set_kept(WORST_COUNT, len(report.rows))
    count = st.number_input(_("Worst sentences to list"), 1, len(report.rows), **worst_count)
    view.worst_sentences(report.worst(count))

"""Exercises (notes 7.9): each chapter exercise as a one-click experiment, read from its numbers."""
from __future__ import annotations

import streamlit as st

from core.exercises.experiments import BASE, catalogue, load_cached
from ui.i18n import _
from ui.views import exercises as view
from ui.widgets import start_page

start_page("Exercises", "🧪")
st.title(_("🧪 Exercises"))
d, m, t = BASE.data, BASE.model, BASE.train
st.caption(_("The chapter's exercises (notes 7.9) as experiments: each trains a few variants of one small setup "
             "from scratch — {pairs:,} pairs of the shipped corpus with {held_out} held out, "
             "{cell} {layers}×{hiddens}, {epochs} epochs — and compares the "
             "final loss, the held-out BLEU and translations of sentences no variant trained on. The decoder "
             "keeps the encoder's state as its context at every step (`context=\"encoder\"`): with the book's "
             "`state[-1]`, decoding reads a context training never showed, which would swamp each effect. "
             "Training runs in the background; results are kept, so a revisit shows them at once.").format(
    pairs=d.num_examples, held_out=d.num_test, cell=m.cell.upper(), layers=m.num_layers, hiddens=m.num_hiddens,
    epochs=t.num_epochs))

experiment = view.pick_experiment(catalogue())
st.subheader(view.experiment_name(experiment))
st.markdown(f"> {_(experiment.question)}")
with st.expander(_("Variants and their settings")):
    st.dataframe(view.variant_table(experiment.variants), hide_index=True)

cached = load_cached(experiment)
view.controls(experiment, cached)
view.progress_panel()
shown = view.last_result(experiment) or cached      # this tab's own run first, even a stopped one
if shown is not None:
    view.show_result(shown)

"""Home of the seq2seq playground: what it is, where to go, what it runs on."""
from __future__ import annotations

import streamlit as st

from core.device import describe_devices
from core.sources import CORPUS_PATH
from ui import book_import, i18n, models
from ui.checkpoint_facts import checkpoint_facts
from ui.context_choice import link_params
from ui.glossary import glossary_expander
from ui.i18n import N_, _
from ui.sidebar import NAV, PAGES
from ui.text import md_escape
from ui.widgets import no_checkpoint, start_page

BLURBS = {   # what each view shows (translated where shown: the reader's language is known only then)
    "model": N_("the encoder–decoder itself: every tensor's shape, the context vector, "
                "the decoder's state (7.1–7.3)"),
    "train": N_("train the RNN encoder–decoder live: loss, tokens/s, gradient norm, samples"),
    "step": N_("one real training step opened up: teacher forcing, the masked loss, backward, clipping, "
               "Adam's update, timings (7.5)"),
    "masking": N_("the broadcast behind `sequence_mask` and the masked cross-entropy (7.4)"),
    "decode": N_("greedy decoding step by step: top-k, entropy, what if another token won (7.7)"),
    "bleu": N_("BLEU n-gram by n-gram, brevity penalty, corpus BLEU on held-out pairs (7.8)"),
    "exercises": N_("the chapter's six exercises (7.9) as one-click experiments, read from their numbers"),
    "accumulation": N_("one batch of 64 vs four micro-batches of 16; sum vs mean reduction (7.5.1)"),
}

active = start_page("Home", "🔁")
st.title("🔁 seq2seq playground")
st.markdown(_(
    "A hands-on companion to the d2l.ai chapter *Sequence to Sequence Learning*. "
    "Train a real PyTorch RNN encoder–decoder from the browser, then look inside every "
    "moving part: the masked loss, greedy decoding one step at a time, and BLEU n-gram by n-gram. "
    "The numbers match the book's functions (`sequence_mask`, `MaskedSoftmaxCELoss`, "
    "`predict_seq2seq`, `bleu`)."))

for page, label, icon in NAV:
    if page in BLURBS:
        link, text = st.columns([1, 4], vertical_alignment="center")
        link.page_link(PAGES[page], label=_(label), icon=icon, query_params=link_params())
        text.markdown(_(BLURBS[page]))

st.divider()
left, right = st.columns(2)
with left:
    st.subheader(_("🧠 Checkpoint in use"))
    if active.ckpt is None:
        no_checkpoint(_("Decoding, the real-batch loss and corpus BLEU"))
    else:
        st.markdown(_("**{checkpoint}** — switch it in the sidebar on any page.").format(checkpoint=active.ref.label))
        st.markdown("\n".join(_("- **{name}**: {value}").format(name=name, value=md_escape(value))
                               for name, value in checkpoint_facts(active.ckpt).items()))
        book_import.export_button(active.ckpt, active.ref.label)
with right:
    st.subheader(_("🖥️ Device"))
    st.markdown(describe_devices(i18n.current()))
    st.subheader(_("📚 Corpus"))
    pairs, skipped = models.corpus_size()
    corpus = (_("The shipped English→French corpus `{file}` holds **{pairs:,} pairs** ({skipped} malformed lines "
                "skipped), preprocessed like the book's `fra.txt` and written for this project. Synthetic copy / "
                "reverse / sort tasks, Tatoeba files and your own TSV work too (Train page).") if skipped else
              _("The shipped English→French corpus `{file}` holds **{pairs:,} pairs**, preprocessed like the "
                "book's `fra.txt` and written for this project. Synthetic copy / reverse / sort tasks, "
                "Tatoeba files and your own TSV work too (Train page)."))
    st.markdown(corpus.format(file=CORPUS_PATH.name, pairs=pairs, skipped=skipped))

st.divider()
glossary_expander()

"""Home of the seq2seq playground: what it is, where to go, what it runs on."""
from __future__ import annotations

import streamlit as st

from core.device import describe_devices
from core.sources import CORPUS_PATH
from ui import book_import, models
from ui.widgets import NAV, PAGES, checkpoint_facts, md_escape, no_checkpoint, start_page

BLURBS = {   # what each view shows
    "model": "the encoder–decoder itself: every tensor's shape, the context vector, the decoder's state (7.1–7.3)",
    "train": "train the RNN encoder–decoder live: loss, tokens/s, gradient norm, samples",
    "masking": "the broadcast behind `sequence_mask` and the masked cross-entropy (7.4)",
    "decode": "greedy decoding step by step: top-k, entropy, what if another token won (7.7)",
    "bleu": "BLEU n-gram by n-gram, brevity penalty, corpus BLEU on held-out pairs (7.8)",
    "exercises": "the chapter's six exercises (7.9) as one-click experiments, read from their numbers",
    "accumulation": "one batch of 64 vs four micro-batches of 16; sum vs mean reduction (7.5.1)",
}

active = start_page("Home", "🔁")
st.title("🔁 seq2seq playground")
st.markdown(
    "A hands-on companion to the d2l.ai chapter *Sequence to Sequence Learning*. "
    "Train a real PyTorch RNN encoder–decoder from the browser, then look inside every "
    "moving part: the masked loss, greedy decoding one step at a time, and BLEU n-gram by n-gram. "
    "The numbers match the book's functions (`sequence_mask`, `MaskedSoftmaxCELoss`, "
    "`predict_seq2seq`, `bleu`).")

for page, label, icon in NAV:
    if page in BLURBS:
        link, text = st.columns([1, 4], vertical_alignment="center")
        link.page_link(PAGES[page], label=label, icon=icon)
        text.markdown(BLURBS[page])

st.divider()
left, right = st.columns(2)
with left:
    st.subheader("🧠 Checkpoint in use")
    if active.ckpt is None:
        no_checkpoint("Decoding, the real-batch loss and corpus BLEU")
    else:
        st.markdown(f"**{active.ref.label}** — switch it in the sidebar on any page.")
        st.markdown("\n".join(f"- **{name}**: {md_escape(value)}"
                               for name, value in checkpoint_facts(active.ckpt).items()))
        book_import.export_button(active.ckpt, active.ref.label)
with right:
    st.subheader("🖥️ Device")
    st.markdown(describe_devices())
    st.subheader("📚 Corpus")
    pairs, skipped = models.corpus_size()
    st.markdown(f"The shipped English→French corpus `{CORPUS_PATH.name}` holds **{pairs:,} pairs**"
                f"{f' ({skipped} malformed lines skipped)' if skipped else ''}, preprocessed like the "
                "book's `fra.txt` and written for this project. Synthetic copy / reverse / sort tasks, "
                "Tatoeba files and your own TSV work too (Train page).")

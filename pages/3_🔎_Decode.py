"""Decode (notes 7.7): preprocessing, greedy decoding one step at a time, "what if", and beam search."""
from __future__ import annotations

import streamlit as st

from core.decode import greedy_decode
from core.sources import known_references
from ui import state
from ui.i18n import _
from ui.state import kept
from ui.text import md_escape
from ui.views import decode as view
from ui.views.beam import beam_section
from ui.widgets import long_text_input, no_checkpoint, start_page

active = start_page("Decode", "🔎")
st.title(_("🔎 Decode"))
if active.ckpt is None:
    no_checkpoint(_("Decoding"))
    st.stop()
ckpt = active.ckpt
default_source, default_reference = view.prefill_from(ckpt, active.key)
references = known_references(ckpt.data_config, ckpt.test_pairs)
view.follow_link(default_source, default_reference, references)
c = st.columns([3, 3, 1])
sentence = long_text_input(c[0], _("Source sentence"), state.DECODE_SENTENCE, default_source,
                           on_change=view.source_changed, args=(references,))
reference = long_text_input(c[1], _("Reference translation (optional)"), state.DECODE_REFERENCE, default_reference,
                            help=_("Belongs to the sentence: a new sentence clears it "
                                   "(or fills in its held-out reference)."))
top_k = c[2].number_input(_("top-k"), 2, 20, **kept(state.DECODE_TOP_K, 5))
view.keep_link(sentence, reference, default_source, default_reference)   # the address bar follows the inputs
if not sentence.strip():
    st.info(_("Type a sentence to translate, e.g. *{example}*.").format(example=md_escape(default_source))
            if default_source else _("Type a sentence to translate."), icon="⌨️")
    st.stop()
num_steps = ckpt.data_config.num_steps
result = greedy_decode(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, book=False,
                       tokenizer=ckpt.data_config.tokenizer)
drawn = view.figure_at_top(result, ckpt, top_k)      # drawn by the step slider below, its step highlighted
view.show_source(result.source, ckpt, num_steps)
view.show_translation(result, reference, num_steps)
view.train_mode_runs(result, ckpt, sentence)
view.step_explorer(result, ckpt, top_k, drawn)
view.what_if(result, ckpt, sentence, reference, top_k)
beam_section(ckpt, reference, result)
view.share_link()

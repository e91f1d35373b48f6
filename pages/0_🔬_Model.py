"""Model (notes 7.1-7.3): the encoder-decoder of the checkpoint in use, seen from inside."""
from __future__ import annotations

import streamlit as st

from core.model import count_parameters
from core.probes.anatomy import (
    check_concatenation,
    concatenated_parts,
    parameter_table,
    teacher_forced_batch,
    trace_forward,
)
from core.probes.context import context_vectors, decoder_trajectory
from core.probes.diagram import diagram_of
from core.sources import example_pair, pairs_to_show
from ui import charts, models, state
from ui.i18n import N_, _, shown_as
from ui.state import kept
from ui.views import model as view
from ui.widgets import long_text_input, no_checkpoint, start_page

COLOURINGS = {"source length": N_("source length"), "first word": N_("first word")}   # value -> label shown

active = start_page("Model", "🔬")
st.title(_("🔬 Inside the model"))
if active.ckpt is None:
    no_checkpoint(_("The model view"))
    st.stop()
ckpt, net = active.ckpt, active.ckpt.model
num_steps = ckpt.data_config.num_steps
pairs = pairs_to_show(ckpt.data_config, ckpt.test_pairs, ckpt.src_vocab.idx_to_token, ckpt.tgt_vocab.idx_to_token)
attention = ckpt.model_config.decoder == "attention"

st.header(_("Shapes, from a real forward pass (7.1–7.3)"))
owner = active.key
state.propose("model.batch", owner, {state.MODEL_N: min(4, len(pairs)), state.MODEL_T: num_steps})
n, t = view.batch_inputs(num_steps, len(pairs))
X, X_valid_len, dec_X = teacher_forced_batch(pairs[:n], ckpt.src_vocab, ckpt.tgt_vocab, t)
trace = trace_forward(net, X, X_valid_len, dec_X)
view.show_trace(trace, diagram_of(trace), [s for s, _t in pairs[:n]])
view.show_figure(ckpt, pairs[0][0])
st.subheader(_("Parameters per layer"))
view.show_parameters(parameter_table(net), count_parameters(net))
st.divider()

st.header(_("The concatenation [W_x, W_c] (7.3, “feature fusion”)"))
x, c = concatenated_parts(trace)
check = check_concatenation(net, x, c)
view.show_concat_check(check, attention)
view.timing_section(owner, check, next(net.parameters()).device)
st.divider()

st.header(_("What the context vector holds"))
c1, c2 = st.columns([3, 1])
default_sentence = example_pair(ckpt.data_config, ckpt.test_pairs)[0] or pairs[0][0]
state.propose("model", owner, {state.MODEL_SENTENCE: default_sentence})
sentence = long_text_input(c1, _("A sentence to place on the map"), state.MODEL_SENTENCE, default_sentence)
colour = c2.radio(_("Colour by"), list(COLOURINGS), format_func=shown_as(COLOURINGS), horizontal=True,
                  **kept(state.MODEL_COLOUR, "source length"))
typed = context_vectors(net, [sentence], ckpt.src_vocab, num_steps)[0] if sentence.strip() else None
if len(pairs) < 2:
    st.info(_("This checkpoint stores fewer than two held-out pairs: there is nothing to map."), icon="ℹ️")
else:
    cmap = models.context_map(owner, ckpt, [s for s, _t in pairs])
    marked = cmap.projection.place(typed[None])[0] if typed is not None else None
    charts.show(view.context_scatter(cmap, colour, marked, sentence), key="model.map")
    if typed is not None:
        st.markdown(_("**Nearest sentences to the typed one** (cosine similarity of c, {count} sentences)").format(
            count=len(cmap.sentences)))
        view.neighbour_table(cmap, typed)
st.divider()

st.header(_("The decoder's state while it decodes"))
if not sentence.strip():
    st.info(_("Type a sentence above to follow its decoding."), icon="⌨️")
elif attention:
    st.info(_("An attention decoder computes a new context at every step from all encoder outputs "
              "(Decode shows its weights), so there is no single context to drift."), icon="ℹ️")
else:
    view.show_trajectories(decoder_trajectory(net, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, "book"),
                           decoder_trajectory(net, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, "encoder"),
                           ckpt.model_config.context)

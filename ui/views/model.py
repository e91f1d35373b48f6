"""The Model view (notes 7.1-7.3): the encoder-decoder drawn with every tensor's shape from a real
forward pass, parameter counts, the concatenation checked and timed, the context vectors mapped,
and the decoder's state while it decodes. Every number comes from `core.probes`."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from core.checkpoint import Checkpoint
from core.config import MAX_NUM_STEPS
from core.figure import figure_of
from core.probes.anatomy import (
    ConcatCheck,
    ConcatTiming,
    ForwardTrace,
    ParameterRow,
    read_timings,
    time_concatenation,
    timing_sizes,
)
from core.probes.context import ContextMap, Trajectory, nearest
from core.probes.diagram import ATTENTION, BETWEEN, CONTEXT, DECODER, ENCODER, INITIAL_STATE, Diagram

from .. import charts, i18n, state
from ..context_choice import context_label
from ..i18n import N_, _
from ..state import kept
from ..text import md_escape
from . import figure

LETTERS = N_("N batch · T time steps · D embedding · H hidden · L layers · V target vocabulary"
             " (H′, L′: the decoder's, when a bridge joins other sizes)")
MAX_TRACED = 16              # sentences in the traced batch: enough to see N
TIMING_BATCH = 64            # the chapter's batch size, for the products' timing
SLICE_COLUMNS = 12           # values shown per row of a tensor's slice
NEIGHBOURS = 5


# -- 1. shapes -----------------------------------------------------------------------------------
def batch_inputs(num_steps: int, pairs: int) -> tuple[int, int]:
    """(N, T): how many held-out sentences to trace, and the steps they are padded to."""
    c = st.columns([1, 1, 3])
    n = c[0].number_input(_("N (sentences)"), 1, max(1, min(MAX_TRACED, pairs)), **kept(state.MODEL_N, min(4, pairs)))
    t = c[1].number_input(_("T (time steps)"), 2, MAX_NUM_STEPS, **kept(state.MODEL_T, num_steps),
                          help=_("num_steps: each sentence is cut or padded to T tokens"))
    c[2].caption(_(LETTERS))
    return int(n), int(t)


COLUMN_TITLES = {ENCODER: N_("Encoder"), DECODER: N_("Decoder")}
EDGE_STYLES = {                # the two edges that join the columns stand out; attention is its own colour
    INITIAL_STATE: f'color="{charts.ACCENT}", fontcolor="{charts.ACCENT}", penwidth=2.2',
    CONTEXT: f'color="{charts.GOOD}", fontcolor="{charts.GOOD}", penwidth=2.2',
    ATTENTION: 'color="#577590", fontcolor="#577590", penwidth=1.6, style=dashed',
}
EDGE_MEANINGS = {
    INITIAL_STATE: N_("**orange**: the encoder's final state, all its layers, becomes the decoder's initial state"),
    CONTEXT: N_("**green**: the context c, the top layer of that state, enters the concatenation at every "
                "decoder step"),
    ATTENTION: N_("**blue, dashed**: attention: at every step the decoder's top hidden state queries all the "
                  "encoder outputs, and their weighted sum is that step's context (no fixed c)"),
}


def _quoted(*lines: str) -> str:
    """A DOT string of these lines: a quote or a backslash in a label cannot end it early."""
    return '"' + "\\n".join(line.replace("\\", "\\\\").replace('"', "'") for line in lines) + '"'


def _dot(diagram: Diagram) -> str:
    """Graphviz: the encoder's and the decoder's columns side by side, level rows, and each edge
    labelled with its tensor's letters and numbers. The edges between the columns do not rank the
    nodes (constraint=false), so both columns keep their own top-to-bottom order."""
    lines = ['digraph { newrank=true; rankdir=TB; nodesep=0.5; ranksep=0.55; '
             'node [shape=box, style="rounded,filled", fillcolor="#fff4ef", color="#e4572e", '
             'fontname="Helvetica", fontsize=11]; edge [color="#888888", fontname="Helvetica", fontsize=9];']

    def node(key: str, label: str, fill: str = "") -> str:
        return f"{_quoted(key)} [label={_quoted(label)}{fill}];"

    for column in (ENCODER, BETWEEN, DECODER):          # declared left to right, as they are drawn
        if column == BETWEEN:
            lines += [node(n.key, i18n.said(n.label), ', fillcolor="#eef3f8", color="#577590"')
                      for n in diagram.column(BETWEEN)]
            continue
        lines.append(f'subgraph cluster_{column} {{ label={_quoted(_(COLUMN_TITLES[column]))}; '
                     'style="rounded,dashed"; color="#bbbbbb"; fontname="Helvetica";')
        lines += [node(n.key, i18n.said(n.label)) for n in diagram.column(column)]
        lines.append("}")
    for row in sorted({n.row for n in diagram.nodes}):
        level = " ".join(_quoted(n.key) + ";" for n in diagram.nodes if n.row == row)
        lines.append(f"{{ rank=same; {level} }}")
    columns = {n.key: n.column for n in diagram.nodes}
    for e in diagram.edges:
        label = _quoted(i18n.said(e.label), e.shape_text)
        style = EDGE_STYLES.get(e.kind, "")
        across = ", constraint=false" if columns[e.source] != columns[e.target] else ""
        lines.append(f"{_quoted(e.source)} -> {_quoted(e.target)} [label={label}"
                     f"{', ' + style if style else ''}{across}];")
    return "\n".join(lines + ["}"])


def show_trace(trace: ForwardTrace, diagram: Diagram, sources: list[str]) -> None:
    st.caption(_("The sentences traced: {sentences}").format(sentences=" · ".join(md_escape(s) for s in sources)))
    st.graphviz_chart(_dot(diagram), width="stretch")
    kinds = [kind for kind in EDGE_MEANINGS if diagram.edges_of(kind)]
    st.caption(" · ".join(_(EDGE_MEANINGS[kind]) for kind in kinds))
    left, right = st.columns([3, 2])
    with left:
        table = pd.DataFrame([{_("tensor"): i18n.said(t.label), _("letters"): t.letters_text, _("shape"): t.shape_text,
                               _("note"): i18n.said(t.note)} for t in trace.tensors])
        st.dataframe(table, hide_index=True, width="stretch", key="model.shapes")
    with right:
        labels = {t.key: f"{i18n.said(t.label)} {t.shape_text}" for t in trace.tensors}
        key = st.selectbox(_("Show the values of"), trace.keys, format_func=labels.get,
                           **kept(state.MODEL_TENSOR, "context" if "context" in trace.keys else trace.keys[0]))
        show_slice(trace, key)


def show_figure(ckpt: Checkpoint, sentence: str) -> None:
    """The chapter's figure for the first traced sentence, decoded greedily by this checkpoint."""
    st.subheader(_("The first traced sentence through the encoder–decoder"))
    drawn = figure_of(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                      tokenizer=ckpt.data_config.tokenizer)
    st.caption(_("“{sentence}”: {about}").format(sentence=md_escape(sentence), about=figure.caption(drawn)))
    figure.with_slider(drawn, key="model.figure_step")


def show_slice(trace: ForwardTrace, key: str) -> None:
    """A 2-D slice of one tensor: a 3-D one at its first index, at most SLICE_COLUMNS columns."""
    t = trace.get(key)
    values, where = t.values, ""
    while values.dim() > 2:
        values, where = values[0], where + "[0]"
    if values.dim() == 1:
        values = values[None, :]
    shown = values[:, :SLICE_COLUMNS]
    frame = pd.DataFrame(shown.tolist(), columns=[str(j) for j in range(shown.shape[1])])
    said = (_("`{tensor}`: {shape} of {full}, the first {columns} columns") if values.shape[1] > SLICE_COLUMNS
            else _("`{tensor}`: {shape} of {full}"))
    st.caption(said.format(tensor=key + where, shape=tuple(values.shape), full=t.shape_text, columns=SLICE_COLUMNS))
    token_ids = key in ("source", "target")          # copied as floats, shown as the whole numbers they are
    st.dataframe(frame.style.format("{:.3f}" if values.is_floating_point() and not token_ids else "{:.0f}"),
                 width="stretch", key="model.slice")


def show_parameters(rows: list[ParameterRow], total: int) -> None:
    frame = pd.DataFrame([{_("layer"): r.module, _("tensors"): ", ".join(f"{n} {tuple(s)}" for n, s in r.tensors),
                           _("parameters"): r.count} for r in rows])
    st.dataframe(frame, hide_index=True, width="stretch", key="model.parameters",
                 column_config={_("parameters"): st.column_config.NumberColumn(format="%d")})
    st.caption(_("They add up to **{sum:,}** = the model's `sum(p.numel())` of {total:,}.").format(
        sum=sum(r.count for r in rows), total=total))


# -- 2. the concatenation ------------------------------------------------------------------------
def show_concat_check(check: ConcatCheck, attention: bool) -> None:
    order = "[c ⊕ x]" if attention else "[x ⊕ c]"
    st.markdown(_(
        "The decoder RNN's first layer multiplies its input {order} (D + H = {d} + {h}) by one matrix W of "
        "{g} × {width}. Cut W into W_x ({g} × {d}) and W_c ({g} × {h}): with this model's own weights and the "
        "traced batch, one product `[x, c] @ Wᵀ` and the two products plus an add `x @ W_xᵀ + c @ W_cᵀ` differ "
        "by at most **{difference:.2e}** (float rounding): the same numbers.").format(
            order=order, d=check.input_size, h=check.context_size, g=check.gate_rows,
            width=check.input_size + check.context_size, difference=check.max_abs_difference))


def timing_section(cache_key: str, check: ConcatCheck, device: torch.device) -> None:
    """Time both at the model's sizes and a few larger ones, on a click (it takes a few seconds)."""
    measured = state.get(state.MODEL_TIMINGS, {})
    label = _("⏱️ Time both on {device}, batch {batch}").format(device=device.type.upper(), batch=TIMING_BATCH)
    if st.button(label, key="model.time"):
        with st.spinner(_("Timing the products…")):
            sizes = timing_sizes(check.input_size, check.context_size, check.gate_rows)
            timings = [time_concatenation(TIMING_BATCH, d, h, g, device=device) for d, h, g in sizes]
            timings[0].at_model_size = True
        measured = {**measured, cache_key: timings}
        state.put(state.MODEL_TIMINGS, measured)
    timings: list[ConcatTiming] | None = measured.get(cache_key)
    if timings is None:
        st.caption(_("A micro-benchmark of both ways at this model's sizes and larger ones (min / median of "
                     "repeats), on the device the model is on; training jobs running beside it slow both."))
        return
    st.dataframe(pd.DataFrame([{
        _("size"): (_("this model: D={d}, H={h}") if t.at_model_size else "D={d}, H={h}").format(
            d=t.input_size, h=t.context_size),
        _("batch"): t.batch,
        _("one product (µs, min / median)"): f"{t.one_product_us[0]:.1f} / {t.one_product_us[1]:.1f}",
        _("two products + add (µs, min / median)"): f"{t.two_products_us[0]:.1f} / {t.two_products_us[1]:.1f}",
        _("two ÷ one"): f"{t.speedup:.2f}×"} for t in timings]),
        hide_index=True, width="stretch", key="model.timings")
    st.info(read_timings(timings, i18n.current()), icon="📐")


# -- 3. the context vectors ----------------------------------------------------------------------
def context_scatter(cmap: ContextMap, colour: str, marked: torch.Tensor | None, marked_text: str) -> go.Figure:
    points = cmap.projection.points
    lengths = [len(s.split()) for s in cmap.sentences]
    hover = [f"{html.escape(s)}<br>→ {html.escape(t)}" for s, t in zip(cmap.sentences, cmap.translations)]
    fig = go.Figure()
    if colour == "source length":
        fig.add_trace(go.Scatter(x=points[:, 0].tolist(), y=points[:, 1].tolist(), mode="markers", name=_("held-out"),
                                 text=hover, hovertemplate="%{text}<extra></extra>",
                                 marker=dict(color=lengths, colorscale="Plasma", showscale=True, size=8,
                                             colorbar=dict(title=_("tokens")))))
    else:
        firsts = [s.split()[0] if s.split() else "" for s in cmap.sentences]
        common = pd.Series(firsts).value_counts().index[:8].tolist()
        for word in common + ["other"]:
            idx = [i for i, f in enumerate(firsts) if (f == word if word != "other" else f not in common)]
            if idx:
                fig.add_trace(go.Scatter(x=points[idx, 0].tolist(), y=points[idx, 1].tolist(), mode="markers",
                                         name=_("other") if word == "other" else html.escape(word),
                                         text=[hover[i] for i in idx], marker=dict(size=8),
                                         hovertemplate="%{text}<extra></extra>"))
    if marked is not None:
        fig.add_trace(go.Scatter(x=[float(marked[0])], y=[float(marked[1])], mode="markers+text", name=_("typed"),
                                 text=[html.escape(marked_text)], textposition="top center",
                                 marker=dict(symbol="star", size=18, color="#222222")))
    ex, ey = cmap.projection.explained
    return charts.legend_above(charts.layout(fig, _("Context vectors c of the held-out sentences (PCA)"), 460,
                                              _("PC 1 ({share:.0%} of the variance)").format(share=ex),
                                              f"PC 2 ({ey:.0%})"), 70)


def neighbour_table(cmap: ContextMap, query: torch.Tensor) -> None:
    rows = [{_("cosine"): sim, _("sentence"): cmap.sentences[i], _("its translation"): cmap.translations[i]}
            for i, sim in nearest(cmap.vectors, query, NEIGHBOURS)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="model.neighbours",
                 column_config={_("cosine"): st.column_config.NumberColumn(format="%.3f")})


# -- 4. the decoder's state ----------------------------------------------------------------------
def show_trajectories(book: Trajectory, fixed: Trajectory, used_rule: str) -> None:
    own = book if used_rule == "book" else fixed
    steps = [f"{i}: {t}" for i, t in enumerate(own.tokens)]
    columns = [f"h{j}" for j in range(own.hidden.shape[1])]
    charts.show(_state_heatmap(own.hidden.tolist(), columns, steps), key="model.hidden")
    st.caption(_("Each row: the decoder's top-layer hidden state after emitting that token, under this "
                 "checkpoint's rule ({rule}). Norms: {norms}.").format(
                     rule=context_label(used_rule), norms=", ".join(f"{n:.2f}" for n in own.hidden_norms)))
    drift = charts.curves({_("book's rule: state[-1] of the state passed in"): book.drift,
                           _("--context encoder: c at every step"): fixed.drift},
                          _("Distance of each step's context from the encoder's c"), _("decoding step"),
                          "‖context − c‖", x0=0)
    charts.show(charts.legend_above(drift, top_margin=70), key="model.drift")
    st.caption(_("Step 0 starts from c either way. With the book's rule the next steps concatenate the previous "
                 "*decoder* state instead, which drifts away from c (training never showed the model that); "
                 "the fixed rule keeps c. Outputs — book: {book}; encoder: {encoder}.").format(
                     book=md_escape(" ".join(book.tokens)), encoder=md_escape(" ".join(fixed.tokens))))


def _state_heatmap(matrix, columns, rows) -> go.Figure:
    fig = go.Figure(go.Heatmap(z=matrix, x=columns, y=[html.escape(r) for r in rows], colorscale="RdBu",
                               zmid=0, hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    return charts.layout(fig, _("Decoder hidden state per step (steps × H)"), 140 + 26 * len(rows))

"""The Model view (notes 7.1-7.3): the encoder-decoder drawn with every tensor's shape from a real
forward pass, parameter counts, the concatenation checked and timed, the context vectors mapped,
and the decoder's state while it decodes. Every number comes from `core.exercises`."""
from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from core.config import MAX_NUM_STEPS
from core.exercises.anatomy import (
    ConcatCheck,
    ConcatTiming,
    ForwardTrace,
    ParameterRow,
    read_timings,
    time_concatenation,
    timing_sizes,
)
from core.exercises.context import ContextMap, Trajectory, nearest

from .. import charts, i18n, state
from ..i18n import N_, _
from ..state import kept
from ..widgets import context_label, md_escape

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


def _dot(trace: ForwardTrace) -> str:
    """Graphviz: one node per stage, each edge labelled with its tensor's letters and numbers."""
    def node(key: str) -> str:
        t = trace.get(key)
        label = i18n.said(t.label).replace('"', "'")
        return f'"{key}" [label="{label}\\n{t.letters_text} = {t.shape_text}"];'

    keys = trace.keys
    lines = ['digraph { rankdir=TB; node [shape=box, style="rounded,filled", fillcolor="#fff4ef", '
             'color="#e4572e", fontname="Helvetica", fontsize=11]; edge [color="#888888"];']
    lines += [node(k) for k in keys]
    flow = [k for k in keys if k not in ("encoder.rnn.cell", "decoder.rnn.state", "decoder.attention.query",
                                         "decoder.attention.keys")]
    lines += [f'"{a}" -> "{b}";' for a, b in zip(flow, flow[1:])]
    if "encoder.rnn.cell" in keys:
        lines.append('"encoder.rnn.state" -> "encoder.rnn.cell" [style=dashed, label=" (h, c)"];')
    lines.append('"decoder.rnn.output" -> "decoder.rnn.state" [style=dashed];')
    if "decoder.attention.keys" in keys:
        lines.append('"encoder.rnn.output" -> "decoder.attention.keys" [style=dashed];')
        lines.append('"decoder.attention.keys" -> "decoder.attention.context";')
        lines.append('"decoder.attention.query" -> "decoder.attention.context";')
    return "\n".join(lines + ["}"])


def show_trace(trace: ForwardTrace, sources: list[str]) -> None:
    st.caption(_("The sentences traced: {sentences}").format(sentences=" · ".join(md_escape(s) for s in sources)))
    left, right = st.columns([2, 3])
    with left:
        st.graphviz_chart(_dot(trace), width="stretch")
    with right:
        table = pd.DataFrame([{_("tensor"): i18n.said(t.label), _("letters"): t.letters_text, _("shape"): t.shape_text,
                               _("note"): i18n.said(t.note)} for t in trace.tensors])
        st.dataframe(table, hide_index=True, width="stretch", key="model.shapes")
        labels = {t.key: f"{i18n.said(t.label)} {t.shape_text}" for t in trace.tensors}
        key = st.selectbox(_("Show the values of"), trace.keys, format_func=labels.get,
                           **kept(state.MODEL_TENSOR, "context" if "context" in trace.keys else trace.keys[0]))
        show_slice(trace, key)


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
    st.dataframe(frame.style.format("{:.3f}" if values.is_floating_point() and key != "source" else "{:.0f}"),
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

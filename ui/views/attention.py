"""Attention on the Decode view (attention models only): where each step looked in the source.

Weights come from `DecodeStep.attention` (core.decode). Only the valid source positions are
drawn: padding gets exactly 0 by the mask. Axes use numeric positions with escaped tick texts,
so a word that occurs twice keeps two columns.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go

from core.decode import DecodeStep, GreedyResult, SourceEncoding

from .. import charts
from ..i18n import _


def source_labels(source: SourceEncoding) -> list[str]:
    """What the encoder read at each valid position: the tokens, then `<eos>` if it fitted."""
    return (source.tokens + ["<eos>"])[:source.valid_len]


def _source_axis(fig: go.Figure, labels: list[str]) -> None:
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(labels))),
                     ticktext=[charts.label(t) for t in labels], tickangle=-35)


def attention_bars(step: DecodeStep, source: SourceEncoding, title: str, height: int = 260) -> go.Figure:
    """One step's weights over the source positions, the most attended one highlighted."""
    labels = source_labels(source)
    weights = step.attention[:len(labels)]
    top = max(range(len(weights)), key=weights.__getitem__)
    fig = go.Figure(go.Bar(x=list(range(len(labels))), y=weights, text=[f"{w:.2f}" for w in weights],
                           textposition="auto", marker_color=[charts.ACCENT if i == top else charts.MUTED
                                                              for i in range(len(weights))],
                           hovertemplate="%{y:.4f}<extra></extra>"))
    _source_axis(fig, labels)
    fig.update_yaxes(range=[0, 1])
    return charts.layout(fig, title, height, _("source position"), _("attention weight"))


def attention_heatmap(result: GreedyResult, title: str) -> go.Figure:
    """Rows = target steps, columns = source positions: the chapter's attention picture."""
    labels = source_labels(result.source)
    rows = [f"{s.index + 1}: {s.chosen_token}" for s in result.steps]
    matrix = [s.attention[:len(labels)] for s in result.steps]
    fig = go.Figure(go.Heatmap(z=matrix, x=list(range(len(labels))), y=list(range(len(rows))), zmin=0, zmax=1,
                               colorscale="Oranges", texttemplate="%{z:.2f}",
                               hovertemplate=_("step {step} → source {source}: {weight}").format(
                                   step="%{y}", source="%{x}", weight="%{z:.4f}") + "<extra></extra>"))
    _source_axis(fig, labels)
    fig.update_yaxes(tickmode="array", tickvals=list(range(len(rows))), autorange="reversed",
                     ticktext=[html.escape(r) for r in rows])
    return charts.layout(fig, title, 140 + 28 * len(rows), _("source (what the encoder read)"), _("target step"))


def show_step(step: DecodeStep, source: SourceEncoding, n: int) -> None:
    """The bar chart for step n, if the model attends."""
    if step.attention is not None:
        charts.show(attention_bars(step, source, _("Step {n}: attention over the source").format(n=n)),
                    key="decode.attention")


def show_map(result: GreedyResult) -> None:
    """The source × target heatmap, if the model attends."""
    if result.steps and result.steps[0].attention is not None:
        charts.show(attention_heatmap(result, _("Attention weights: each target step over the source tokens")),
                    key="decode.attention_map")

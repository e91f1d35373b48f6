"""Chart and grid builders shared by the views: plotly figures and styled tables.

Builders return objects; `show()` draws a figure. Values come from core.
"""
from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from .i18n import _

ACCENT, MUTED, GOOD, WARN = "#e4572e", "#9aa5b1", "#2a9d8f", "#f4a261"
_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def show(fig: go.Figure, key: str) -> None:
    """Draw with a stable key: equal figures on one page would otherwise clash."""
    st.plotly_chart(fig, key=key, config=_CONFIG)


def layout(fig: go.Figure, title: str, height: int, x_title: str = "", y_title: str = "") -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=40, b=10), xaxis_title=x_title, yaxis_title=y_title,
                      legend=dict(orientation="h", yanchor="top", y=0.99, xanchor="right", x=0.99,
                                  bgcolor="rgba(255,255,255,0.7)"))   # inside the plot, clear of the title
    return fig


def legend_above(fig: go.Figure, top_margin: int) -> go.Figure:
    """Move the legend from inside the plot (the default here) to above it, right-aligned."""
    return fig.update_layout(margin=dict(t=top_margin),
                             legend=dict(yanchor="bottom", y=1.0, xanchor="right", x=1.0))


def label(token: str) -> str:
    """A token as a plotly label: quoted (so "1" stays a category) and escaped (plotly reads HTML)."""
    return f"“{html.escape(token)}”"


def curves(series: dict[str, Sequence[float]], title: str, x_title: str, y_title: str = "",
           hline: tuple[float, str] | None = None, height: int = 280, x0: int = 1,
           x: Sequence[int] | None = None) -> go.Figure:
    """Line chart of named series; `x` = shared x positions (default x0, x0+1, ...);
    `hline` = (value, label) for a threshold."""
    fig = go.Figure()
    colors = [ACCENT, MUTED, GOOD, WARN, "#577590", "#9b5de5", "#f15bb5", "#00bbf9"]
    for i, (name, values) in enumerate(series.items()):
        xs = list(x) if x is not None else list(range(x0, x0 + len(values)))
        fig.add_trace(go.Scatter(x=xs, y=list(values), name=name,
                                 mode="lines", line=dict(color=colors[i % len(colors)], width=2)))
    if max((len(v) for v in series.values()), default=0) <= 12:
        fig.update_xaxes(dtick=1)      # few epochs: whole numbers only on the axis
    if hline is not None:
        fig.add_hline(y=hline[0], line_dash="dash", line_color=MUTED, annotation_text=hline[1],
                      annotation_position="top right", annotation_bgcolor="rgba(255,255,255,0.8)")
    return layout(fig, title, height, x_title, y_title)


def histogram(series: dict[str, Sequence[float]], title: str, x_title: str,
              height: int = 260, bin_size: float | None = None) -> go.Figure:
    fig = go.Figure()
    for (name, values), color in zip(series.items(), [ACCENT, MUTED, GOOD]):
        fig.add_trace(go.Histogram(x=list(values), name=name, marker_color=color, opacity=0.75,
                                   xbins=dict(size=bin_size) if bin_size else None))
    fig.update_layout(barmode="overlay")
    # the legend above the plot: the tallest bars are where an inside legend would sit
    return legend_above(layout(fig, title, height, x_title, _("count")), top_margin=60)


def probability_bars(top: list[tuple[str, float]], chosen: str, title: str, height: int | None = None) -> go.Figure:
    """Horizontal bars of the top-k tokens, most likely on top, the chosen one highlighted;
    tall enough that every token keeps its label."""
    tokens, probs = [t for t, p in top][::-1], [p for t, p in top][::-1]
    colors = [ACCENT if t == chosen else MUTED for t in tokens]
    fig = go.Figure(go.Bar(x=probs, y=[label(t) for t in tokens], orientation="h", marker_color=colors,
                           text=[f"{p:.3f}" for p in probs], textposition="auto"))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(dtick=1)
    return layout(fig, title, height or max(260, 90 + 24 * len(tokens)), _("probability"))


def heatmap(matrix: Sequence[Sequence[float]], x_labels: Sequence[str], y_labels: Sequence[str],
            title: str, height: int | None = None, fmt: str = ".2f") -> go.Figure:
    """A labelled heatmap with each cell's value printed on it."""
    fig = go.Figure(go.Heatmap(z=[list(r) for r in matrix], x=[label(x) for x in x_labels],
                               y=[html.escape(y) for y in y_labels], colorscale="Oranges", zmin=0,
                               texttemplate=f"%{{z:{fmt}}}", hovertemplate="%{y} → %{x}: %{z:.4f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", tickangle=-35)
    return layout(fig, title, height or 120 + 28 * len(y_labels))


def grid(values: Sequence[Sequence], rows: Sequence[str] | None = None,
         columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A 2-D tensor or nested list as a labelled table."""
    frame = pd.DataFrame([list(r) for r in values])
    frame.index = list(rows) if rows is not None else [_("row {i}").format(i=i) for i in range(len(frame))]
    frame.columns = list(columns) if columns is not None else [f"t={j}" for j in range(frame.shape[1])]
    return frame


def _cell_style(value) -> str:
    if value in ("True", "False"):
        return f"background-color: {'#cdeee9' if value == 'True' else '#fbd9cf'}; font-weight: 600"
    return ""


def no_negative_zero(text: str) -> str:
    """'-0.000' -> '0.000': a cross-entropy of -1e-8 is float rounding, not a negative loss."""
    try:
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    except ValueError:
        return text


def show_grid(title: str, frame: pd.DataFrame, fmt: str | None = None, caption: str = "") -> None:
    """A small titled table; True/False cells coloured so the mask reads at a glance."""
    st.markdown(f"**{title}**")
    # Booleans as the words True/False (as the notes print them), not checkboxes.
    frame = frame.map(lambda v: str(v) if isinstance(v, bool) else v)
    styler = frame.style.map(_cell_style)
    if fmt:
        styler = styler.format(lambda v: no_negative_zero(fmt.format(v)), subset=frame.select_dtypes("number").columns)
    st.dataframe(styler, width="content")
    if caption:
        st.caption(caption)

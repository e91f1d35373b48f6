"""The figure's building blocks (ui/views/figure.py puts them together): where its parts go (the
geometry of the unrolled encoder-decoder), the colour of a value, a state's values fitted to a
strip's cells, and the two pieces of markup everything is made of, a text and a colour strip.

Time runs left to right. The encoder's row is on top (its layers stacked, the top layer highest,
its tokens below), the decoder's below it (output tokens above its layers, the context each step
receives and its input token below); between them runs the encoder's final state to the decoder
and, for an attention decoder, the weights' lines. The decoder's first column holds its initial
state and c; step t is the column after it. Units are the SVG's own pixels (its viewBox).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import torch

from core.figure import EOS, PAD, UNKNOWN, Figure

COL = 86          # one time step's column
BOX = 76          # a state box's width in it
STRIP = 64        # a colour strip's width: one pixel a value for the book's H = 64
ROW = 10          # a colour strip's height
CELLS = 64        # at most this many cells per strip: a wider state is drawn as averages of its values
BUDGET = 4000     # cells in the whole figure: a long sentence's strips get fewer (its SVG stays small)
LEFT = 104        # the row labels' margin
RIGHT = 16
HEADER = 50       # the title line and the colour scale
MIDDLE = 48       # between the encoder's tokens and the decoder's outputs: the hand-over (and attention's lines,
                  # which get ATTENTION_MIDDLE)
ATTENTION_MIDDLE = 96
PANEL = 116       # the highlighted step's details (5 lines, or a top-k of up to 5)
MIN_WIDTH = 840   # the details and the top-k bars need this much even for a two-word sentence
NEGATIVE, POSITIVE = (33, 102, 172), (178, 24, 43)    # RdBu's ends: blue below 0, red above


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    layer_h: int      # one layer's row: a strip (h), or two (an LSTM's h and c)
    enc_top: float    # the encoder's boxes' top
    src_y: float      # the source tokens' baseline
    mid_y: float      # the band between the two rows
    out_y: float      # the decoder's output tokens' baseline
    dec_top: float    # the decoder's boxes' top
    ctx_y: float      # the context strips' top
    bus_y: float      # the line c's edges leave from
    in_y: float       # the decoder's input tokens' baseline
    panel_y: float    # the highlighted step's details
    cells: int        # cells per strip

    @staticmethod
    def of(figure: Figure) -> Layout:
        lstm = figure.cell == "lstm"
        layer_h = 2 * ROW + 5 if lstm else ROW + 5
        enc_top = HEADER
        src_y = enc_top + len(figure.source[0].layers) * layer_h + 6 + 18
        mid_y = src_y + 18
        out_y = mid_y + (ATTENTION_MIDDLE if figure.decoder == "attention" else MIDDLE)
        dec_top = out_y + 20
        ctx_y = dec_top + len(figure.initial) * layer_h + 6 + 12
        bus_y = ctx_y + ROW + 14
        in_y = bus_y + 20
        panel_y = in_y + 14
        panel = max(PANEL, 32 + 17 * max(len(s.top_k) for s in figure.steps))
        columns = max(len(figure.source), len(figure.steps) + 1)
        per_step = max(len(figure.initial), len(figure.source[0].layers)) * (2 if lstm else 1)
        strips = (len(figure.source) + len(figure.steps) + 1) * per_step + len(figure.steps) + 1
        return Layout(width=max(MIN_WIDTH, LEFT + columns * COL + RIGHT), height=int(panel_y + panel),
                      layer_h=layer_h, enc_top=enc_top, src_y=src_y, mid_y=mid_y, out_y=out_y, dec_top=dec_top,
                      ctx_y=ctx_y, bus_y=bus_y, in_y=in_y, panel_y=panel_y,
                      cells=max(8, min(CELLS, BUDGET // strips)))

    @staticmethod
    def enc_x(index: int) -> float:
        """The left edge of source step `index`'s box."""
        return LEFT + index * COL + (COL - BOX) / 2

    @staticmethod
    def dec_x(index: int) -> float:
        """The left edge of decoder step `index`'s box; -1: the initial state's column."""
        return LEFT + (index + 1) * COL + (COL - BOX) / 2


LEVELS = 12       # colours per sign: a value is drawn in the nearest of 2 * LEVELS + 1 (steps of 1/12)


def level(value: float) -> int:
    """A value in [-1, 1] (clipped) as the nearest of -LEVELS … LEVELS."""
    return round(max(-1.0, min(1.0, value)) * LEVELS)


def colour(value: float) -> str:
    """A value in [-1, 1] (clipped) as a colour: white at 0, blue below, red above."""
    v = max(-1.0, min(1.0, value))
    end = NEGATIVE if v < 0 else POSITIVE
    r, g, b = (round(255 + (e - 255) * abs(v)) for e in end)
    return f"#{r:02x}{g:02x}{b:02x}"


def strip_cells(values: torch.Tensor, cells: int) -> list[float]:
    """A state's values, one per cell; a state wider than `cells` as that many averages of neighbours."""
    if values.numel() <= cells:
        return values.tolist()
    return [float(chunk.mean()) for chunk in torch.tensor_split(values, cells)]


def fit(token: str, most: int = 10) -> str:
    """A token short enough for its column (the hover text says it whole)."""
    return token if len(token) <= most else token[:most - 1] + "…"


ACCENT, GOOD, ATTEND, MUTED, INK = "#e4572e", "#2a9d8f", "#577590", "#9aa5b1", "#1f2933"
TOKEN_FILL = {UNKNOWN: "#9b2c13", EOS: "#3040b0", PAD: MUTED}


def esc(text: object) -> str:
    """Any text as SVG character data or an attribute value: a typed `<`, `&` or `"` stays text."""
    return html.escape(str(text), quote=True)


def text(x: float, y: float, text: str, size: int = 11, anchor: str = "middle", fill: str = INK,
          weight: str = "normal", title: str = "", css: str = "", halo: bool = False) -> str:
    """A <text>, its hover `title` first (what a tooltip or a screen reader says of it)."""
    hover = f"<title>{esc(title)}</title>" if title else ""
    named = f' class="{css}"' if css else ""
    # a halo: a white outline under the letters keeps a label readable where lines cross it
    outline = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"' if halo else ""
    return (f'<text{named} x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}" '
            f'font-weight="{weight}"{outline}>{hover}{esc(text)}</text>')


def strip(x: float, y: float, values: torch.Tensor, scale: float, title: str, count: int) -> str:
    """One state as a row of `count` coloured cells at most (blue negative, white 0, red positive).

    Each value's colour is one of LEVELS per side; the cells of one colour are one <path>: a
    tenth of the markup of a <rect> per cell, which the browser then parses and draws faster."""
    cells = strip_cells(values, count)
    w = round(STRIP / len(cells), 2)
    runs: dict[int, list[str]] = {}
    for i, v in enumerate(cells):
        runs.setdefault(level(v / scale), []).append(f"M{round(i * w, 2):g} 0h{w:g}v{ROW}h-{w:g}z")
    paths = "".join(f'<path fill="{colour(lv / LEVELS)}" d="{"".join(d)}"/>' for lv, d in runs.items())
    frame = f'<rect width="{STRIP}" height="{ROW}" fill="none" stroke="#c7ccd1"/>'
    # crisp edges: neighbouring cells meet without the hairline gaps anti-aliasing would draw
    return (f'<g transform="translate({x:.1f},{y:.1f})" shape-rendering="crispEdges"><title>{esc(title)}</title>'
            f'{paths}{frame}</g>')

"""User text shown by Streamlit, never interpreted: Markdown escaping, tables and code spans of
user text, and the token chips (HTML with every text escaped by `html.escape`)."""
from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import streamlit as st


def md_escape(text: str) -> str:
    """Backslash-escape inline Markdown (and `$` math) so user text shows literally.

    Line-start syntax (`#`, `-`, `1.`) is left alone: escaped text never starts a line here.
    """
    return re.sub(r"([\\`*_\[\]<>$~|])", r"\\\1", text)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A Markdown table of user text: each cell escaped (a `|` ends no cell, `<b>` stays text).
    The header is the app's own words."""
    cells = [[md_escape(" ".join(cell.splitlines())) for cell in row] for row in rows]   # a line break ends a row
    lines = [list(header), ["---"] * len(header)] + cells
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def md_code(text: str) -> str:
    """User text as a Markdown code span (escapes do not work inside one)."""
    return f"`{text.replace('`', chr(39))}`"


# -- token chips -------------------------------------------------------------------------------
_CHIP_COLORS = {   # kind -> (background, text)
    "token": ("#eef1f5", "#1f2933"), "special": ("#e3e8ff", "#3040b0"), "pad": ("#f5f5f5", "#9aa5b1"),
    "unknown": ("#fbd9cf", "#9b2c13"), "match": ("#cdeee9", "#12645a"), "clipped": ("#ffe8cc", "#8a5200"),
    "miss": ("#f1f1f1", "#7b8794"), "chosen": ("#fde2da", "#b23a1b"), "forced": ("#ffe8cc", "#8a5200"),
}


@dataclass
class Chip:
    text: str
    kind: str = "token"      # a key of _CHIP_COLORS
    note: str = ""           # small text under the token (an id, a count)
    tip: str = ""            # hover text


def chips_html(chips: Sequence[Chip]) -> str:
    parts = []
    for chip in chips:
        bg, fg = _CHIP_COLORS[chip.kind]
        strike = "text-decoration: line-through;" if chip.kind == "miss" else ""
        note = (f"<span style='display:block;font-size:0.7em;opacity:0.75'>{html.escape(chip.note)}</span>"
                if chip.note else "")
        parts.append(
            f"<span title='{html.escape(chip.tip, quote=True)}' style='display:inline-block;margin:2px 3px;"
            f"padding:2px 8px;border-radius:8px;background:{bg};color:{fg};font-family:monospace;"
            f"text-align:center;line-height:1.3;{strike}'>{html.escape(chip.text) or '&nbsp;'}{note}</span>")
    return "<div style='line-height:2.2'>" + "".join(parts) + "</div>"


def chip_row(chips: Sequence[Chip]) -> None:
    st.markdown(chips_html(chips), unsafe_allow_html=True)

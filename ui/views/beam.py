"""The Decode view's beam search section: the search tree, greedy vs beam, the n-best list.

All numbers come from `core.beam`; this module only lays them out. Tokens reach plotly
through `charts.label` (escaped) and the page through chips (escaped) or dataframes.
"""
from __future__ import annotations

import html

import plotly.graph_objects as go
import streamlit as st

from core.beam import BeamNode, BeamResult, beam_search
from core.checkpoint import Checkpoint
from core.decode import GreedyResult
from core.metrics import bleu

from .. import charts, state
from ..i18n import N_, _
from ..state import kept
from ..text import Chip, chip_row

MAX_BEAM = 10
_FADED, _LIVE, _DONE = "#cbd2d9", "#577590", charts.GOOD
# a candidate's fate as the hover text and the legend name it (the keys are what the code compares)
SHOWN = {"finished": N_("finished"), "kept": N_("kept"), "pruned": N_("pruned"), "winner": N_("winner")}


def tree_positions(result: BeamResult) -> dict[tuple[int, int], float]:
    """(step, index) -> y: children stay next to their parent, best first; each step centred."""
    y: dict[tuple[int, int], float] = {}
    for step, nodes in enumerate(result.steps):
        parents = [0.0 if step == 0 else y[(step - 1, n.parent)] for n in nodes]
        order = sorted(range(len(nodes)), key=lambda i: (-parents[i], -nodes[i].log_prob))
        for rank, i in enumerate(order):
            y[(step, i)] = (len(nodes) - 1) / 2 - rank
    return y


def _hover(node: BeamNode, result: BeamResult, tokens: list[str]) -> str:
    fate = _(SHOWN["finished" if node.finished else "kept" if node.kept else "pruned"])
    return "<br>".join([html.escape(" ".join(tokens)), _("step {n}: {fate}").format(n=node.step + 1, fate=fate),
                        _("log p(token) {value:.3f}").format(value=node.step_log_prob),
                        f"log P {node.log_prob:.3f}",
                        _("score {score:.3f} (α = {alpha:g})").format(score=node.score, alpha=result.length_penalty)])


def beam_tree(result: BeamResult, tgt_tokens, title: str) -> go.Figure:
    """x = step, one marker per candidate labelled with its token and cumulative log-prob;
    pruned candidates faded, finished ones square, the winner's path highlighted."""
    y, winner = tree_positions(result), set(result.path())
    edges = {"pruned": ([], []), "kept": ([], []), "winner": ([], [])}
    groups: dict[str, dict[str, list]] = {k: {"x": [], "y": [], "text": [], "hover": [], "symbol": []}
                                          for k in ("pruned", "kept", "winner")}
    for step, nodes in enumerate(result.steps):
        for i, node in enumerate(nodes):
            kind = "winner" if (step, i) in winner else "kept" if node.kept else "pruned"
            px, py = (0, 0.0) if step == 0 else (step, y[(step - 1, node.parent)])
            ex, ey = edges[kind]
            ex += [px, step + 1, None]
            ey += [py, y[(step, i)], None]
            g = groups[kind]
            g["x"].append(step + 1)
            g["y"].append(y[(step, i)])
            g["text"].append(f"{charts.label(node.token)} {node.log_prob:.2f}")
            g["hover"].append(_hover(node, result, tgt_tokens(node.ids)))
            g["symbol"].append("square" if node.finished else "circle")
    fig = go.Figure()
    style = {"pruned": (_FADED, 1, 0.45, 9), "kept": (_LIVE, 1.5, 1.0, 12), "winner": (charts.ACCENT, 3.5, 1.0, 12)}
    for kind, (color, width, opacity, _size) in style.items():
        ex, ey = edges[kind]
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color=color, width=width),
                                 opacity=opacity, hoverinfo="skip", showlegend=False))
    for kind, (color, _width, opacity, size) in style.items():
        g = groups[kind]
        fig.add_trace(go.Scatter(x=g["x"], y=g["y"], mode="markers+text", name=_(SHOWN[kind]), text=g["text"],
                                 textposition="top center" if kind == "winner" else "middle right",
                                 hovertext=g["hover"], hoverinfo="text",
                                 opacity=opacity, marker=dict(color=color, size=size, symbol=g["symbol"]),
                                 textfont=dict(size=10 if kind == "pruned" else 12, color=color)))
    fig.add_trace(go.Scatter(x=[0], y=[0.0], mode="markers+text", text=[charts.label("<bos>")],
                             textposition="middle left", marker=dict(color=_LIVE, size=12), showlegend=False,
                             hoverinfo="skip"))
    rows = max(len(nodes) for nodes in result.steps)
    fig.update_xaxes(dtick=1, range=[-0.6, len(result.steps) + 0.9], zeroline=False)
    fig.update_yaxes(visible=False)
    fig = charts.layout(fig, title, min(2400, 170 + 30 * rows), _("step"))
    # the legend above the plot, where it cannot cover the winning path's last nodes
    return charts.legend_above(fig, top_margin=70).update_layout(margin=dict(b=40))


def side_by_side(greedy: GreedyResult, result: BeamResult, reference: str) -> None:
    """Both translations as chips, with their log-probabilities and BLEU against the reference."""
    left, right = st.columns(2)
    beam_heading = _("**Beam** (k = {k}, α = {alpha:g})").format(k=result.beam_size, alpha=result.length_penalty)
    for col, heading, log_prob_label, bleu_label, tokens, log_prob, translation in (
            (left, _("**Greedy**"), _("Greedy log-prob"), _("Greedy BLEU (k = 2)"),
             greedy.tokens, greedy.log_prob, greedy.translation),
            (right, beam_heading, _("Beam log-prob"), _("Beam BLEU (k = 2)"),
             [t for t in result.best.tokens if t != "<eos>"], result.best.log_prob, result.translation)):
        with col:
            st.markdown(heading)
            chip_row([Chip(t) for t in tokens] or [Chip(_("(empty)"), "pad")])
            c = st.columns(2)
            c[0].metric(log_prob_label, f"{log_prob:.4f}")
            if reference.strip():
                c[1].metric(bleu_label, f"{bleu(translation, reference, k=2):.4f}")


# the n-best table's headers; its data keeps these column names (what the code and the tests read)
NBEST_COLUMNS = {"rank": N_("rank"), "translation": N_("translation"), "log-prob": N_("log-prob"),
                 "length": N_("length"), "score": N_("score"), "ended by": N_("ended by")}


def nbest_table(result: BeamResult, reference: str) -> dict[str, list]:
    table = {"rank": list(range(1, len(result.nbest) + 1)),
             "translation": [h.translation for h in result.nbest],
             "log-prob": [round(h.log_prob, 4) for h in result.nbest],
             "length": [h.length for h in result.nbest],
             "score": [round(h.score, 4) for h in result.nbest],
             "ended by": [h.ended_by for h in result.nbest]}
    if reference.strip():
        table["BLEU (k = 2)"] = [round(bleu(h.translation, reference, k=2), 4) for h in result.nbest]
    return table


def beam_section(ckpt: Checkpoint, reference: str, greedy: GreedyResult) -> BeamResult:
    """The whole section: inputs, greedy vs beam, the tree, the n-best list."""
    st.subheader(_("5 · Beam search"))
    st.caption(_("Each step extends every live hypothesis by its k most likely tokens and keeps the k best; "
                 "one that emits `<eos>` is finished and leaves the beam. Finished hypotheses are ranked by "
                 "log P / length^α (d2l 9.8): α = 0 is the raw sum of log-probabilities, the book suggests 0.75. "
                 "k = 1 is greedy decoding."))
    c = st.columns(2)
    beam_size = c[0].number_input(_("Beam size k"), 1, MAX_BEAM, **kept(state.DECODE_BEAM_SIZE, 3))
    alpha = c[1].slider(_("Length normalisation α"), 0.0, 2.0, step=0.05, **kept(state.DECODE_LENGTH_PENALTY, 0.0))
    result = beam_search(ckpt.model, greedy.source, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                         int(beam_size), float(alpha))
    side_by_side(greedy, result, reference)
    charts.show(beam_tree(result, ckpt.tgt_vocab.to_tokens,
                          _("The search tree: {count} candidates, winner log P = {log_prob:.3f}").format(
                              count=sum(len(n) for n in result.steps), log_prob=result.best.log_prob)),
                key="decode.beam_tree")
    st.markdown(_("**The n-best list** (finished hypotheses, best score first)"))
    st.dataframe(nbest_table(result, reference), hide_index=True,
                 column_config={name: _(label) for name, label in NBEST_COLUMNS.items()})
    return result

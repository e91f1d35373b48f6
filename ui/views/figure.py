"""The chapter's figure, alive (notes 7.2-7.3): the sentence in use travelling through the
encoder-decoder of the checkpoint in use, as one inline SVG (no script, nothing fetched).

Unrolled in time: the encoder above, one box per source step (its token below it, `<eos>` and
padding as the encoder reads them), the decoder below, one box per step (its input token under
it, its output above); each layer's state is a colour strip of its values (an LSTM's h and c);
the decoder's initial state (the 7.9.3 bridge's output where there is one) and the context c are
drawn once, at the decoder's left, c with its edges into every step that receives it; attention
decoders draw their weights as lines whose thickness is the weight. Hovering any part shows its
numbers and its shape in the notes' letters (SVG <title>s); the step `current` is highlighted
and its input, context and top-k are spelled out under the figure.

Every number is `core.figure`'s: this module only places them (geometry in `figure_layout`).
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from core.figure import EOS, FROM_ATTENTION, FROM_C, UNKNOWN, Figure, FigureStep, LayerState, Shape

from ..i18n import _
from .figure_layout import (
    ACCENT,
    ATTEND,
    BOX,
    COL,
    GOOD,
    INK,
    LEFT,
    MUTED,
    ROW,
    STRIP,
    TOKEN_FILL,
    Layout,
    colour,
    esc,
    fit,
    strip,
    text,
)


def _shape(shape: Shape, lstm: bool) -> str:
    return f"(h, c): 2 × {shape.text}" if lstm else shape.text


def _cells_note(size: int, cells: int) -> str:
    return (_("{size} values, drawn as {cells} averages") if size > cells else _("{size} values")).format(
        size=size, cells=cells)


class _Drawing:
    """The SVG of one figure with step `current` (0-based) highlighted, built part by part."""

    def __init__(self, figure: Figure, current: int):
        self.f, self.lay = figure, Layout.of(figure)
        self.j = max(0, min(current, len(figure.steps) - 1))
        self.lstm = figure.cell == "lstm"
        states = [step.layers for step in figure.source] + [figure.initial] + [step.layers for step in figure.steps]
        cells = [layer.c for layers in states for layer in layers if layer.c is not None]
        # h and c_t lie in [-1, 1] (tanh); an LSTM's memory cell does not: its colours are scaled by its largest value
        self.c_scale = max([float(c.abs().max()) for c in cells] + [1.0])
        self.parts: list[str] = []

    # -- states --------------------------------------------------------------------------------
    def _layers(self, x: float, top: float, layers: list[LayerState], what: str, shape: Shape) -> None:
        """A box of stacked layer strips, the top layer at the top."""
        lay = self.lay
        height = len(layers) * lay.layer_h + 6
        self.parts.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{BOX}" height="{height}" rx="4" '
                          f'fill="#ffffff" stroke="#9aa5b1"/>')
        for depth, layer in enumerate(reversed(layers)):
            number = len(layers) - depth
            y = top + 4 + depth * lay.layer_h
            sx = x + (BOX - STRIP) / 2
            self.parts.append(strip(sx, y, layer.h, 1.0, "\n".join([
                _("{what} · layer {n}: h, ‖h‖ = {norm:.3f}").format(what=what, n=number, norm=layer.norm),
                _cells_note(layer.h.numel(), lay.cells),
                _("all layers of one step: {shape}").format(shape=_shape(shape, self.lstm))]), lay.cells))
            if layer.c is not None:
                self.parts.append(strip(sx, y + ROW + 1, layer.c, self.c_scale, "\n".join([
                    _("{what} · layer {n}: memory cell c, ‖c‖ = {norm:.3f}").format(what=what, n=number,
                                                                                   norm=layer.cell_norm),
                    _cells_note(layer.c.numel(), lay.cells),
                    _("colours scaled to ±{scale:.2f}").format(scale=self.c_scale)]), lay.cells))

    def _recurrence(self, x_from: float, x_to: float, top: float, layers: int) -> None:
        """h_{t-1} → h_t in every layer: the arrow between two boxes."""
        for depth in range(layers):
            y = top + 4 + depth * self.lay.layer_h + ROW / 2
            self.parts.append(f'<line x1="{x_from:.1f}" y1="{y:.1f}" x2="{x_to - 2:.1f}" y2="{y:.1f}" '
                              f'stroke="{MUTED}" stroke-width="1.2" marker-end="url(#fig-arrow)"/>')

    # -- the encoder ---------------------------------------------------------------------------
    def encoder(self) -> None:
        f, lay = self.f, self.lay
        self.parts.append(text(8, lay.enc_top - 8, _("Encoder"), 15, "start", weight="bold"))
        self._row_labels(lay.enc_top, len(f.source[0].layers))
        self.parts.append(text(LEFT - 8, lay.src_y, _("source"), 11, "end", MUTED))
        for step in f.source:
            x = lay.enc_x(step.index)
            self._layers(x, lay.enc_top, step.layers, _("encoder step {t}").format(t=step.index + 1),
                         f.shapes["encoder_state"])
            if step.index:
                self._recurrence(x - (COL - BOX), x, lay.enc_top, len(step.layers))
            tip = _("position {t}: “{token}”, id {id}").format(t=step.index + 1, token=step.token, id=step.token_id)
            if step.kind == UNKNOWN:
                tip += " · " + _("not in the vocabulary: read as <unk>")
            elif step.index >= f.valid_len:
                tip += " · " + _("past the valid length: padding the encoder still reads")
            fill = TOKEN_FILL.get(step.kind, INK)
            self.parts.append(text(x + BOX / 2, lay.src_y, fit(step.token), 13, fill=fill, title=tip,
                                    css="fig-source"))
            self.parts.append(text(x + BOX / 2, lay.src_y + 13, f"id {step.token_id}", 10, fill=MUTED))

    def _row_labels(self, top: float, layers: int) -> None:
        for depth in range(layers):
            number = layers - depth
            label = _("layer {n}").format(n=number) + (" (h, c)" if self.lstm else "")
            self.parts.append(text(LEFT - 8, top + 4 + depth * self.lay.layer_h + ROW - 1, label, 11, "end", MUTED))

    # -- between: the final state, the bridge, c -----------------------------------------------
    def handover(self) -> None:
        """The encoder's final state becomes the decoder's initial state (through the bridge), and c
        is its top layer: both drawn once, in the decoder's first column."""
        f, lay = self.f, self.lay
        last = lay.enc_x(len(f.source) - 1) + BOX
        x0 = lay.dec_x(-1)
        route = lay.mid_y + 10
        self.parts.append(f'<path d="M{last:.1f},{lay.enc_top + 10:.1f} h10 V{route:.1f} H{x0 + BOX / 2:.1f} '
                          f'V{lay.dec_top - 2:.1f}" fill="none" stroke="{ACCENT}" stroke-width="2.2" '
                          f'marker-end="url(#fig-arrow-accent)"><title>{esc(self._handover_tip())}</title></path>')
        said = _("bridge: Linear + tanh (7.9.3)") if f.bridged else _("final state → initial state")
        self.parts.append(text(x0 + BOX / 2 + 8, route + 14, said, 11, "start", ACCENT, title=self._handover_tip(),
                                halo=True))
        what = _("bridge output") if f.bridged else _("initial state")
        self._layers(x0, lay.dec_top, f.initial, what, f.shapes["decoder_state"])
        self.parts.append(text(x0 + BOX / 2, lay.out_y, what, 11, fill=ACCENT))
        if f.context is not None:
            cx = x0 + (BOX - STRIP) / 2
            self.parts.append(text(cx - 4, lay.ctx_y + ROW - 1, "c", 13, "end", GOOD, "bold"))
            self.parts.append(strip(cx, lay.ctx_y, f.context, 1.0, "\n".join([
                _("the context c: the top layer of the decoder's initial state (of h for an LSTM)"),
                f"‖c‖ = {float(f.context.norm()):.3f} · {f.shapes['context'].text}"]), lay.cells))

    def _handover_tip(self) -> str:
        f = self.f
        if f.bridged:
            return _("bridge (7.9.3): Linear + tanh maps the encoder's final state {source} to the decoder's "
                     "initial state {target}").format(source=_shape(f.shapes["encoder_state"], self.lstm),
                                                      target=_shape(f.shapes["decoder_state"], self.lstm))
        return _("the encoder's final state, all its layers, becomes the decoder's initial state: {shape}").format(
            shape=_shape(f.shapes["encoder_state"], self.lstm))

    # -- the decoder ---------------------------------------------------------------------------
    def decoder(self) -> None:
        f, lay = self.f, self.lay
        self.parts.append(text(8, lay.out_y - 16, _("Decoder"), 15, "start", weight="bold"))
        self._row_labels(lay.dec_top, len(f.initial))
        for y, label in ((lay.out_y, _("output")), (lay.ctx_y + ROW - 1, _("context")), (lay.in_y, _("input"))):
            self.parts.append(text(LEFT - 8, y, label, 11, "end", MUTED))
        x = lay.dec_x(self.j)
        self.parts.append(f'<rect x="{x - 5:.1f}" y="{lay.out_y - 15:.1f}" width="{BOX + 10}" '
                          f'height="{lay.in_y - lay.out_y + 22:.1f}" rx="6" fill="#fff4ef" stroke="{ACCENT}" '
                          f'stroke-width="1.5"/>')
        for step in f.steps:
            self._step(step)
        self._contexts()

    def _step(self, step: FigureStep) -> None:
        f, lay = self.f, self.lay
        x, current = lay.dec_x(step.index), step.index == self.j
        top = ", ".join(f"{t} {p:.3f}" for t, p in step.top_k)
        tip = "\n".join([
            _("step {n}: input “{input}” → output “{output}” (p = {p:.3f})").format(
                n=step.index + 1, input=step.input_token, output=step.chosen_token, p=step.probability),
            _("top-{k}: {tokens}").format(k=len(step.top_k), tokens=top),
            _("decoder state (top layer): ‖h‖ = {norm:.3f}").format(norm=step.layers[-1].norm),
            _("input {input} · logits {logits}").format(input=f.shapes["decoder_input"].text,
                                                        logits=f.shapes["logits"].text)])
        css = "fig-dec-step current" if current else "fig-dec-step"
        self.parts.append(f'<g class="{css}" data-step="{step.index + 1}" tabindex="0"><title>{esc(tip)}</title>')
        self._layers(x, lay.dec_top, step.layers, _("decoder step {n}").format(n=step.index + 1),
                     f.shapes["decoder_state"])
        self._recurrence(x - (COL - BOX), x, lay.dec_top, len(step.layers))
        chosen = ACCENT if current else INK
        self.parts.append(text(x + BOX / 2, lay.out_y, fit(step.chosen_token), 13, fill=chosen,
                                weight="bold" if current else "normal", css="fig-output"))
        self.parts.append(text(x + BOX / 2, lay.out_y + 13, f"p {step.probability:.2f}", 10, fill=MUTED))
        self.parts.append(text(x + BOX / 2, lay.in_y, fit(step.input_token), 13,
                                fill=TOKEN_FILL[EOS] if step.index == 0 else INK, css="fig-input"))
        self.parts.append("</g>")

    def _contexts(self) -> None:
        """Each step's context strip, and where it came from: c (green edges from the one c), the
        previous step's top layer (the book's rule: an orange edge), or attention (blue lines)."""
        f, lay = self.f, self.lay
        fed = [s for s in f.steps if s.context_from == FROM_C]
        if fed and f.context is not None:
            x0 = lay.dec_x(-1) + BOX / 2
            last = lay.dec_x(fed[-1].index) + BOX / 2
            tip = esc(_("c enters every step it feeds"))
            self.parts.append(f'<path d="M{x0:.1f},{lay.ctx_y + ROW:.1f} V{lay.bus_y:.1f} H{last:.1f}" fill="none" '
                              f'stroke="{GOOD}" stroke-width="2"><title>{tip}</title></path>')
        for step in f.steps:
            x = lay.dec_x(step.index)
            sx = x + (BOX - STRIP) / 2
            drift = f.drift(step)
            where = {FROM_C: _("c itself"),
                     FROM_ATTENTION: _("attention: c_t = Σ weight × encoder output"),
                     }.get(step.context_from, _("the previous decoder state's top layer (the book's rule, state[-1])"))
            tip = [_("context at step {n}: {where}").format(n=step.index + 1, where=where),
                   f"‖·‖ = {float(step.context.norm()):.3f} · {f.shapes['context'].text}"]
            if drift is not None:
                tip.append(_("distance from c: {drift:.3f}").format(drift=drift))
            self.parts.append(strip(sx, lay.ctx_y, step.context, 1.0, "\n".join(tip), lay.cells))
            if step.context_from == FROM_C:
                self.parts.append(f'<line x1="{x + BOX / 2:.1f}" y1="{lay.bus_y:.1f}" x2="{x + BOX / 2:.1f}" '
                                  f'y2="{lay.ctx_y + ROW + 2:.1f}" stroke="{GOOD}" stroke-width="2" '
                                  'marker-end="url(#fig-arrow-good)"/>')
            elif step.context_from != FROM_ATTENTION:     # the previous step's top layer, fed back as context
                px = x - (COL - BOX)
                top_y = lay.dec_top + 4 + ROW / 2
                self.parts.append(f'<path d="M{px:.1f},{top_y:.1f} C{px + 9:.1f},{top_y:.1f} {x - 9:.1f},'
                                  f'{lay.ctx_y + ROW / 2:.1f} {sx - 1:.1f},{lay.ctx_y + ROW / 2:.1f}" fill="none" '
                                  f'stroke="{ACCENT}" stroke-width="1.4" stroke-dasharray="3 2">'
                                  f'<title>{esc(tip[0])}</title></path>')
            if drift is not None and drift > 0:
                self.parts.append(text(x + BOX / 2, lay.bus_y + 1, f"Δc {drift:.2f}", 10, fill=ACCENT))

    def attention(self) -> None:
        """Each step's weights as lines to the source positions, thickness = weight; the highlighted
        step's at full strength."""
        f, lay = self.f, self.lay
        for step in f.steps:
            weights = step.attention or []
            current = step.index == self.j
            opacity = 0.9 if current else 0.13
            # lines too thin to see are left out: at most 100 for the highlighted step, 20 for the others
            least = 0.01 if current else 0.05
            x_to = lay.dec_x(step.index) + BOX / 2
            for i, w in enumerate(weights):
                if w < least:
                    continue
                x_from = lay.enc_x(i) + BOX / 2
                tip = _("step {n} attends to position {t} “{token}”: weight {w:.3f}").format(
                    n=step.index + 1, t=i + 1, token=f.source[i].token, w=w)
                self.parts.append(f'<line class="fig-attention" x1="{x_from:.1f}" y1="{lay.src_y + 16:.1f}" x2="{x_to:.1f}" '
                                  f'y2="{lay.out_y - 15:.1f}" stroke="{ATTEND}" stroke-width="{0.6 + 7 * w:.2f}" '
                                  f'stroke-opacity="{opacity}" stroke-linecap="round"><title>{esc(tip)}</title></line>')

    # -- the highlighted step, spelled out -----------------------------------------------------
    def details(self) -> None:
        """The highlighted step spelled out under the figure. Every other step's is there too,
        hidden, and shown instead while the pointer is on that step or it has the focus (a click,
        or Tab): CSS alone, as the page runs no script of ours."""
        for step in self.f.steps:
            current = step.index == self.j
            css, hidden = ("fig-details current", "") if current else ("fig-details", ' display="none"')
            self.parts.append(f'<g class="{css}" data-for="{step.index + 1}"{hidden}>')
            self._spelled_out(step, current)
            self.parts.append("</g>")
        fig = "svg.seq2seq-figure"
        pointed = ":is(:hover,:focus)"
        rules = [f"{fig}:has(.fig-dec-step:not(.current){pointed}) .fig-details.current{{display:none}}"]
        rules += [f'{fig}:has(.fig-dec-step[data-step="{n}"]{pointed}) .fig-details[data-for="{n}"]{{display:inline}}'
                  for n in range(1, len(self.f.steps) + 1)]
        rules.append(f".fig-dec-step{{cursor:pointer;outline:none}} .fig-dec-step{pointed} > rect{{stroke:{ACCENT}}}")
        self.parts.append(f"<style>{' '.join(rules)}</style>")

    def _spelled_out(self, step: FigureStep, current: bool) -> None:
        """A step's input, context, output, state norm and top-k bars; `current`: the slider's step
        (its texts are classed for tests and tools to read)."""
        lay, f = self.lay, self.f
        where = {FROM_C: "c", FROM_ATTENTION: _("attention's c_t")}.get(step.context_from,
                                                                          _("the previous decoder state (book's rule)"))
        lines = [_("Step {n} of {m}").format(n=step.index + 1, m=len(f.steps)),
                 _("input: {token}").format(token=step.input_token),
                 _("context: {where}, norm {norm:.3f}").format(where=where, norm=float(step.context.norm())),
                 _("output: {token} (p = {p:.3f})").format(token=step.chosen_token, p=step.probability),
                 _("decoder state (top layer): norm {norm:.3f}").format(norm=step.layers[-1].norm)]
        y = lay.panel_y
        for i, line in enumerate(lines):
            self.parts.append(text(LEFT, y + 16 + 18 * i, line, 13 if i else 14, "start", ACCENT if i == 0 else INK,
                                    "bold" if i == 0 else "normal", css="fig-detail" if current else ""))
        bx = LEFT + 420          # right of the longest line above (the book's rule's), in either language
        self.parts.append(text(bx, y + 16, _("top-{k} next tokens").format(k=len(step.top_k)), 13, "start",
                                weight="bold"))
        for i, (token, p) in enumerate(step.top_k):
            yy = y + 25 + 17 * i
            fill = ACCENT if token == step.chosen_token else "#c7ccd1"
            self.parts.append(text(bx + 86, yy + 10, fit(token, 12), 12, "end"))
            self.parts.append(f'<rect x="{bx + 92}" y="{yy:.1f}" width="{max(1.0, 180 * p):.1f}" height="13" '
                              f'fill="{fill}"><title>{esc(token)}: {p:.4f}</title></rect>')
            self.parts.append(text(bx + 96 + 180 * p, yy + 10, f"{p:.3f}", 11, "start", MUTED,
                                    css="fig-top-k" if current else ""))

    def legend(self) -> None:
        x, y = self.lay.width - 230, 12
        stops = "".join(f'<stop offset="{i / 10:.1f}" stop-color="{colour(-1 + i / 5)}"/>' for i in range(11))
        self.parts.append(f'<defs><linearGradient id="fig-scale">{stops}</linearGradient></defs>'
                          f'<rect x="{x + 30}" y="{y}" width="120" height="9" fill="url(#fig-scale)" stroke="#c7ccd1"/>')
        self.parts.append(text(x + 26, y + 8, "−1", 10, "end", MUTED))
        self.parts.append(text(x + 154, y + 8, "+1", 10, "start", MUTED))
        self.parts.append(text(x + 90, y + 21, _("each cell: one value of a state"), 10, fill=MUTED))

    def svg(self) -> str:
        self.encoder()
        if self.f.decoder == "attention":
            self.attention()
        self.handover()
        self.decoder()
        self.details()
        self.legend()
        lay, f = self.lay, self.f
        label = _("The encoder–decoder unrolled in time. The encoder reads: {source}. The decoder reads {inputs} "
                  "and writes: {outputs}. Step {n} is highlighted.").format(
                      source=" ".join(s.token for s in f.source), inputs=" ".join(s.input_token for s in f.steps),
                      outputs=" ".join(s.chosen_token for s in f.steps), n=self.j + 1)
        markers = "".join(f'<marker id="fig-arrow{name}" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="7" '
                          f'markerHeight="7" markerUnits="userSpaceOnUse" orient="auto">'
                          f'<path d="M0,0 L6,3 L0,6 z" fill="{fill}"/></marker>'
                          for name, fill in (("", MUTED), ("-accent", ACCENT), ("-good", GOOD)))
        return (f'<div class="fig-scroll" style="overflow-x:auto;width:100%">'
                f'<svg xmlns="http://www.w3.org/2000/svg" class="seq2seq-figure" role="img" aria-label="{esc(label)}" '
                f'viewBox="0 0 {lay.width} {lay.height}" width="100%" preserveAspectRatio="xMinYMin meet" '
                f'style="max-width:{lay.width}px;min-width:{int(lay.width * 0.75)}px;font-family:sans-serif;'
                f'background:#ffffff">'
                f'<title>{esc(label)}</title><defs>{markers}</defs>'
                f'<rect width="{lay.width}" height="{lay.height}" fill="#ffffff"/>{"".join(self.parts)}</svg></div>')


def figure_svg(figure: Figure, current: int) -> str:
    """The figure as SVG markup, decoder step `current` (0-based) highlighted."""
    return _Drawing(figure, current).svg()


def draw(figure: Figure, current: int, where: DeltaGenerator | None = None) -> None:
    """Inline, as Markdown's raw HTML: `st.html` sanitizes with DOMPurify's HTML profile, which
    drops SVG. Every text in the markup is escaped (`esc`), so nothing a user typed is read as HTML."""
    (where or st).markdown(figure_svg(figure, current), unsafe_allow_html=True)


@dataclass
class Slot:
    """Where the figure is drawn (a container at the top of the page) and what it draws: the step
    slider's fragment, further down the page, redraws it there with its step highlighted."""
    figure: Figure
    where: DeltaGenerator

    def draw(self, step: int) -> None:
        """Draw with `step` (1-based, as the slider counts) highlighted."""
        draw(self.figure, step - 1, self.where)


def caption(figure: Figure) -> str:
    what = (_("Greedy decoding") if figure.follows == "greedy"
            else _("Beam search's best hypothesis"))
    rule = {"book": _("the book's context rule: each step concatenates the state it is passed, so from step 2 on "
                      "the context is the previous decoder state (it drifts from c)"),
            "encoder": _("the encoder context rule: c at every step")}.get(figure.rule or "", _(
                "attention: each step's context c_t is a weighted sum of all encoder outputs, the lines' "
                "thickness its weights"))
    return _("{what}, with {rule}. Hover over any part for its numbers and shapes (N batch · T time steps · "
             "H hidden · L layers · V target vocabulary).").format(what=what, rule=rule)


@st.fragment   # moving the step redraws the figure only
def with_slider(figure: Figure, key: str) -> None:
    """The figure with its own step slider (the Model view has no Decode slider to follow)."""
    n = len(figure.steps)
    step = st.slider(_("Decoder step"), 1, n, n, key=key) if n > 1 else 1
    draw(figure, step - 1)

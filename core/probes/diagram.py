"""The Model view's diagram (notes 7.2-7.3, the chapter's figure): the encoder and the decoder side
by side, as data a view only has to draw.

The nodes are the model's stages (source tokens, embedding, RNN, ...), each in a column
(encoder, decoder, or between them: the 7.9.3 bridge, the attention) and a row; the edges are
the tensors that pass between them, each labelled with the notes' letters and this model's
numbers, read from a `ForwardTrace` (so the shapes are the ones a real forward pass computed).

Besides each column's own chain, two edges join the columns, as in the chapter's figure:
the encoder's final state (all L layers) becomes the decoder's initial state, and the context
c (the top layer of that state) enters the concatenation at every decoder step. With a bridge
both leave the bridge (the decoder's state, and so its c, is the bridge's output); an attention
decoder has no fixed c: it attends over all encoder outputs at every step instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..i18n import Text
from .anatomy import ForwardTrace

ENCODER, BETWEEN, DECODER = "encoder", "between", "decoder"     # the columns, left to right
FLOW, INITIAL_STATE, CONTEXT, ATTENTION = "flow", "initial state", "context", "attention"   # edge kinds


@dataclass(frozen=True)
class DiagramNode:
    key: str                     # e.g. "encoder.rnn"
    label: str                   # a Text: the view shows it translated
    column: str                  # ENCODER, BETWEEN or DECODER
    row: int                     # 0 at the top; equal rows are drawn level


@dataclass(frozen=True)
class DiagramEdge:
    source: str                  # a node's key
    target: str
    kind: str                    # FLOW, INITIAL_STATE, CONTEXT or ATTENTION
    label: str                   # a Text: what the tensor is
    letters: tuple[str, ...]     # the notes' letters of the tensor, e.g. ("L", "N", "H")
    shape: tuple[int, ...]       # this model's numbers, from the trace
    pair: bool = False           # an LSTM's state: two tensors (h, c) of this shape
    every_step: bool = False     # the tensor enters at every decoder step

    @property
    def shape_text(self) -> str:
        """'(L, N, H) = (2, 4, 8)', or for an LSTM's pair '(h, c): 2 × (L, N, H) = 2 × (2, 4, 8)'."""
        letters = "(" + ", ".join(self.letters) + ")"
        numbers = "(" + ", ".join(str(n) for n in self.shape) + ")"
        return f"(h, c): 2 × {letters} = 2 × {numbers}" if self.pair else f"{letters} = {numbers}"


@dataclass
class Diagram:
    nodes: list[DiagramNode]
    edges: list[DiagramEdge]

    def node(self, key: str) -> DiagramNode:
        return next(n for n in self.nodes if n.key == key)

    def edges_of(self, kind: str) -> list[DiagramEdge]:
        return [e for e in self.edges if e.kind == kind]

    def column(self, column: str) -> list[DiagramNode]:
        """The column's nodes, top to bottom."""
        return sorted((n for n in self.nodes if n.column == column), key=lambda n: n.row)


def _nodes(trace: ForwardTrace, bridged: bool, attention: bool) -> list[DiagramNode]:
    """The stages. The decoder's column starts a row below the encoder's, so that its concatenation
    is level with the encoder's final state (and the bridge or the attention between them): the
    context enters it straight across, and the initial state goes one row down to the decoder's RNN."""
    cell, lstm = trace.cell.upper(), trace.cell == "lstm"
    layers, dec_layers = trace.sizes["L"], trace.sizes["L'"]
    nodes = [
        DiagramNode("encoder.source", Text("source tokens X"), ENCODER, 0),
        DiagramNode("encoder.embedding", Text("embedding layer"), ENCODER, 1),
        DiagramNode("encoder.rnn", Text("encoder RNN ({cell}, {letter} = {layers})", cell=cell, letter="L",
                                        layers=layers), ENCODER, 2),
        DiagramNode("encoder.state", Text("final state (h, c)") if lstm else Text("final state"), ENCODER, 3),
        DiagramNode("decoder.target", Text("target inputs <bos> + Y[:, :-1]"), DECODER, 1),
        DiagramNode("decoder.embedding", Text("embedding layer"), DECODER, 2),
        DiagramNode("decoder.concat", Text("concatenation [c_t ⊕ x_t] at each step t") if attention
                    else Text("concatenation [x_t ⊕ c] at each step t"), DECODER, 3),
        DiagramNode("decoder.rnn", Text("decoder RNN ({cell}, {letter} = {layers})", cell=cell,
                                        letter="L′" if bridged else "L", layers=dec_layers), DECODER, 4),
        DiagramNode("decoder.dense", Text("dense layer"), DECODER, 5),
        DiagramNode("decoder.logits", Text("logits over the target vocabulary"), DECODER, 6),
    ]
    if bridged:
        nodes.append(DiagramNode("bridge", Text("bridge: Linear + tanh (7.9.3)"), BETWEEN, 3))
    if attention:
        nodes.append(DiagramNode("attention", Text("additive attention over all encoder outputs"), BETWEEN, 3))
    return nodes


def diagram_of(trace: ForwardTrace) -> Diagram:
    """The encoder and the decoder side by side, every edge labelled with its traced tensor's shape."""
    bridged, attention = "bridge.output" in trace.keys, trace.decoder == "attention"
    lstm = "encoder.rnn.cell" in trace.keys
    edges = [
        _edge(trace, "encoder.source", "encoder.embedding", "source", Text("source token ids")),
        _edge(trace, "encoder.embedding", "encoder.rnn", "encoder.rnn.input", Text("embedded, time first")),
        _edge(trace, "encoder.rnn", "encoder.state", "encoder.rnn.state", Text("final state of all L layers"),
              pair=lstm),
        _edge(trace, "decoder.target", "decoder.embedding", "target", Text("target token ids")),
        _edge(trace, "decoder.embedding", "decoder.concat", "decoder.embedding.output",
              Text("embedded target inputs x_t")),
        _edge(trace, "decoder.concat", "decoder.rnn", "decoder.rnn.input", Text("the decoder RNN's input"),
              every_step=True),
        _edge(trace, "decoder.rnn", "decoder.dense", "decoder.rnn.output",
              Text("decoder outputs (top layer) of one step, stacked over the T steps") if attention
              else Text("decoder outputs (top layer)")),
        _edge(trace, "decoder.dense", "decoder.logits", "decoder.dense.output", Text("logits")),
    ]
    edges += _state_edges(trace, bridged, lstm)
    edges += _attention_edges(trace) if attention else _context_edges(trace, bridged, lstm)
    return Diagram(_nodes(trace, bridged, attention), edges)


def _edge(trace: ForwardTrace, source: str, target: str, key: str, label: str, kind: str = FLOW,
          pair: bool = False, every_step: bool = False) -> DiagramEdge:
    """An edge carrying the traced tensor `key`: its letters and numbers are the trace's."""
    t = trace.get(key)
    return DiagramEdge(source, target, kind, label, t.letters, t.shape, pair, every_step)


def _state_edges(trace: ForwardTrace, bridged: bool, lstm: bool) -> list[DiagramEdge]:
    """(a) The encoder's final state, all its layers, becomes the decoder's initial state
    (through the bridge when the sizes differ)."""
    if not bridged:
        return [_edge(trace, "encoder.state", "decoder.rnn", "encoder.rnn.state",
                      Text("the decoder's initial state (all L layers)"), INITIAL_STATE, pair=lstm)]
    return [_edge(trace, "encoder.state", "bridge", "encoder.rnn.state", Text("encoder final state (all L layers)"),
                  INITIAL_STATE, pair=lstm),
            _edge(trace, "bridge", "decoder.rnn", "bridge.output", Text("the decoder's initial state (all L′ layers)"),
                  INITIAL_STATE, pair=lstm)]


def _context_edges(trace: ForwardTrace, bridged: bool, lstm: bool) -> list[DiagramEdge]:
    """(b) The context c, the top layer of the decoder's initial state (of h for an LSTM), is
    concatenated to the input at every decoder step."""
    label = (Text("context c = top layer of h, at every step") if lstm
             else Text("context c = top layer of the final state, at every step"))
    return [_edge(trace, "bridge" if bridged else "encoder.state", "decoder.concat", "context", label, CONTEXT,
                  every_step=True)]


def _attention_edges(trace: ForwardTrace) -> list[DiagramEdge]:
    """Attention replaces the fixed c: at every step the decoder's top hidden state queries all the
    encoder's outputs, and their weighted sum is that step's context."""
    return [_edge(trace, "encoder.rnn", "attention", "decoder.attention.keys",
                  Text("keys and values: the encoder outputs of all T steps"), ATTENTION),
            _edge(trace, "decoder.rnn", "attention", "decoder.attention.query",
                  Text("query: the decoder's top hidden state of the step before"), ATTENTION, every_step=True),
            _edge(trace, "attention", "decoder.concat", "decoder.attention.context", Text("context c_t of this step"),
                  ATTENTION, every_step=True)]

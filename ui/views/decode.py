"""The Decode view (notes 7.7): what the encoder reads, the greedy translation, each step's
choice and its alternatives, and "what if" another token had won. Beam search: `beam`;
attention: `attention`."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.beam import beam_search
from core.checkpoint import Checkpoint
from core.decode import (
    GreedyResult,
    SourceEncoding,
    decode_in_train_mode,
    entropy_bits,
    greedy_decode,
    trajectory,
)
from core.figure import figure_pass
from core.metrics import bleu
from core.setups import DECODE_FIELDS
from core.sources import example_pair

from .. import charts, links, state
from ..i18n import _
from ..sidebar import PAGES
from ..state import kept, prefill_bleu
from ..text import Chip, chip_row
from . import attention, figure


def prefill_from(ckpt: Checkpoint, key: str) -> tuple[str, str]:
    """The sentence and reference Decode opens with for this checkpoint, from its own data."""
    source, reference = example_pair(ckpt.data_config, ckpt.test_pairs)
    state.propose("decode", key, {state.DECODE_SENTENCE: source, state.DECODE_REFERENCE: reference})
    return source, reference


LINK_KEYS = {"src": state.DECODE_SENTENCE, "ref": state.DECODE_REFERENCE}


def follow_link(default_source: str, default_reference: str, references: dict[str, str]) -> None:
    """A link's sentence (and reference); a sentence without one gets its own reference, as typing it would."""
    links.follow_url("decode", DECODE_FIELDS, LINK_KEYS, {"src": default_source, "ref": default_reference})
    links.show_problems("decode")
    if "src" in st.query_params and "ref" not in st.query_params:
        state.set_kept(state.DECODE_REFERENCE, references.get(state.get_kept(state.DECODE_SENTENCE).strip(), ""))


def keep_link(sentence: str, reference: str, default_source: str, default_reference: str) -> None:
    params = links.keep_in_url("decode", DECODE_FIELDS, {"src": sentence, "ref": reference},
                               {"src": default_source, "ref": default_reference})
    state.put(state.LINK_PARAMS + "decode", params)


def share_link() -> None:
    """At the foot of the page: the link to this sentence, to copy."""
    links.share_box(_("Copy link to this sentence"), state.get(state.LINK_PARAMS + "decode", {}))


def source_changed(references: dict[str, str]) -> None:
    """Callback: a reference belongs to its sentence. A new sentence gets its reference when the
    view knows it (a held-out pair, or one of the book's examples), else an empty one."""
    state.set_kept(state.DECODE_REFERENCE, references.get(state.get_kept(state.DECODE_SENTENCE).strip(), ""))


def source_chips(enc: SourceEncoding, ckpt: Checkpoint) -> list[Chip]:
    """What the encoder sees: each position's token and id; unknown words marked."""
    chips = []
    for i, token_id in enumerate(enc.padded):
        if i < len(enc.tokens):
            kind, tip = ("unknown", _("not in the vocabulary: becomes <unk>")) if enc.unknown[i] else ("token", "")
            chips.append(Chip(enc.tokens[i], kind, str(token_id), tip))
        else:
            token = ckpt.src_vocab.to_tokens(token_id)
            chips.append(Chip(token, "pad" if token == "<pad>" else "special", str(token_id)))
    return chips


def output_chips(result: GreedyResult) -> list[Chip]:
    return [Chip(s.chosen_token, "forced" if s.forced else "special" if s.chosen_token == "<eos>" else "token",
                 _("step {n}").format(n=s.index + 1), _("chosen by you") if s.forced else "")
            for s in result.steps]


def stop_reason(result: GreedyResult, num_steps: int) -> str:
    if result.stop_reason == "eos":
        return _("Stopped at step {n}: the model chose `<eos>`.").format(n=len(result.steps))
    return _("Stopped after num_steps = {num_steps} tokens without `<eos>`: "
             "the translation may be cut off.").format(num_steps=num_steps)


def figure_at_top(result: GreedyResult, ckpt: Checkpoint, top_k: int) -> figure.Slot:
    """The chapter's figure for this sentence, computed here and drawn by the step slider's
    fragment further down (`one_step`), which redraws it with its step highlighted."""
    st.subheader(_("Your sentence through the encoder–decoder"))
    follow = None
    if st.toggle(_("Draw beam search's best hypothesis instead of greedy's"), **kept(state.DECODE_FIGURE_BEAM, False),
                 help=_("With the beam size k and α of section 5 below.")):
        best = beam_search(ckpt.model, result.source, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                           int(state.get(state.KEEP + state.DECODE_BEAM_SIZE, 3)),
                           float(state.get(state.KEEP + state.DECODE_LENGTH_PENALTY, 0.0))).best
        follow = best.ids
    drawn = figure_pass(ckpt.model, result.source, ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                        top_k, follow)
    where = st.container()
    where.caption(figure.caption(drawn))      # a write from this run: the fragment may then draw into it
    return figure.Slot(drawn, where)


def show_source(enc: SourceEncoding, ckpt: Checkpoint, num_steps: int) -> None:
    st.subheader(_("1 · Preprocessing"))
    st.caption(_("Lowercase, a space before `, . ! ?`, split on spaces, look up ids (unknown → `<unk>` = 0), "
                 "append `<eos>`, then truncate or pad to num_steps = {num_steps}.").format(num_steps=num_steps))
    chip_row(source_chips(enc, ckpt))
    c = st.columns(4)
    c[0].metric(_("Tokens"), len(enc.tokens))
    c[1].metric(_("Valid length"), enc.valid_len)
    c[2].metric(_("Unknown words"), sum(enc.unknown))
    c[3].metric(_("Truncated"), _("yes") if enc.truncated else _("no"))
    if enc.truncated:
        st.warning(_("{count} tokens + `<eos>` do not fit in num_steps = {num_steps}: the encoder "
                     "sees only the first ones, and no `<eos>`.").format(count=len(enc.tokens), num_steps=num_steps),
                   icon="✂️")


def show_translation(result: GreedyResult, reference: str, num_steps: int) -> None:
    st.subheader(_("2 · Greedy translation"))
    st.code(result.translation, language=None)
    st.caption(stop_reason(result, num_steps))
    if reference.strip():
        c = st.columns([1, 3], vertical_alignment="center")
        c[0].metric(_("BLEU against the reference (k = 2)"), f"{bleu(result.translation, reference, k=2):.4f}")
        if c[1].button(_("📏 Break this pair down in the BLEU view"), key="decode.to_bleu"):
            prefill_bleu(result.translation, reference)
            st.switch_page(PAGES["bleu"])


DROPOUT_RUNS = 8


def _new_masks() -> None:
    state.put(state.DECODE_DROPOUT_SEED, state.get(state.DECODE_DROPOUT_SEED, 0) + 1)


@st.fragment   # switching it on, or new masks, redraws this part only
def train_mode_runs(result: GreedyResult, ckpt: Checkpoint, sentence: str) -> None:
    """Next to the translation above (eval mode): the same sentence decoded with dropout on."""
    if not st.toggle(_("Decode with dropout on (train mode)"), **kept(state.DECODE_DROPOUT, False),
                     help=_("predict_seq2seq calls net.eval() before decoding: this is what happens without it.")):
        return
    m = ckpt.model_config
    if m.dropout == 0 or (m.decoder == "plain" and m.num_layers == 1 and m.decoder_layers == 1):
        st.caption(_("Dropout does not act in this model (dropout {p:g}; nn.GRU drops only between its layers, and "
                     "this one has one): train mode decodes exactly as eval mode.").format(p=m.dropout))
    runs = decode_in_train_mode(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                                runs=DROPOUT_RUNS, seed=state.get(state.DECODE_DROPOUT_SEED, 0),
                                tokenizer=ckpt.data_config.tokenizer)
    same, log_p = _("same as eval mode"), "log P"
    st.dataframe(pd.DataFrame({_("run"): range(1, len(runs) + 1),
                               _("translation with dropout on"): [r.translation for r in runs],
                               same: [r.translation == result.translation for r in runs],
                               log_p: [r.log_prob for r in runs]}),
                 hide_index=True, column_config={log_p: st.column_config.NumberColumn(format="%.4f")})
    distinct = len({r.translation for r in runs})
    values = dict(runs=len(runs), p=m.dropout, eval=result.translation, eval_lp=result.log_prob,
                  low=min(r.log_prob for r in runs), high=max(r.log_prob for r in runs), distinct=distinct)
    st.caption((_("{distinct} different translations in {runs} runs with dropout {p:g} on; eval mode gives “{eval}” "
                  "(log P {eval_lp:.4f}) every time. Dropout drops a random part of the activations on every call, "
                  "so in train mode the same sentence can come out differently: that is why predict_seq2seq calls "
                  "net.eval() first.") if distinct > 1 else
                _("All {runs} runs with dropout {p:g} on chose “{eval}”, as eval mode does, each with another "
                  "probability (log P from {low:.4f} to {high:.4f}; eval mode: {eval_lp:.4f} every time): the model "
                  "is sure enough of this sentence that dropout does not change its words, only their "
                  "probabilities. An unfamiliar sentence changes words too. Either way, that is why predict_seq2seq "
                  "calls net.eval() first.")).format(**values))
    st.button(_("🎲 New dropout masks"), key="decode.dropout_again", on_click=_new_masks)


def step_explorer(result: GreedyResult, ckpt: Checkpoint, top_k: int, drawn: figure.Slot | None = None) -> None:
    st.subheader(_("3 · Step by step"))
    one_step(result, ckpt, top_k, drawn)
    steps = result.steps
    tokens, matrix = trajectory(steps, ckpt.tgt_vocab, top_k)
    rows = [f"{s.index + 1}: {s.input_token} → {s.chosen_token}" for s in steps]
    title = _("The whole trajectory: probability of each step's top-{k} tokens").format(k=top_k)
    charts.show(charts.heatmap(matrix, tokens, rows, title), key="decode.trajectory")
    attention.show_map(result)


@st.fragment   # moving the slider redraws this step only, not the page's other charts
def one_step(result: GreedyResult, ckpt: Checkpoint, top_k: int, drawn: figure.Slot | None = None) -> None:
    steps = result.steps
    # keyed: a language switch (a new label) keeps the step; a sentence of another length starts at its end
    n = st.slider(_("Step"), 1, len(steps), len(steps), key="decode.step") if len(steps) > 1 else 1
    if drawn is not None:
        drawn.draw(n)        # the figure at the top of the page, this step highlighted
    step = steps[n - 1]
    left, right = st.columns([2, 3])
    with left:
        chip_row([Chip(step.input_token, "special", _("input")), Chip("→", "pad"),
                  Chip(step.chosen_token, "chosen", _("chosen"))])
        c = st.columns(3)
        c[0].metric(_("p(chosen)"), f"{float(step.probs[step.chosen_id]):.3f}")
        c[1].metric(_("Entropy (nats)"), f"{step.entropy:.3f}")
        c[2].metric(_("Entropy (bits)"), f"{entropy_bits(step.entropy):.3f}")
        st.markdown(_("Translation so far"))
        st.code(GreedyResult(result.source, steps[:n], result.stop_reason).translation, language=None)
    with right:
        charts.show(charts.probability_bars(step.top_k(ckpt.tgt_vocab, top_k), step.chosen_token,
                                            _("Step {n}: top-{k} next tokens").format(n=n, k=top_k)),
                    key="decode.bars")
        attention.show_step(step, result.source, n)


@st.fragment   # choosing another token redraws this section only
def what_if(result: GreedyResult, ckpt: Checkpoint, sentence: str, reference: str, top_k: int) -> None:
    st.subheader(_("4 · What if another token had won?"))
    steps = result.steps
    c = st.columns(2)
    i = c[0].selectbox(_("At step"), range(len(steps)), key="decode.what_if_step",
                       format_func=lambda j: f"{j + 1}: {steps[j].input_token} → {steps[j].chosen_token}")
    options = [t for t, _p in steps[i].top_k(ckpt.tgt_vocab, top_k + 1) if t != steps[i].chosen_token][:top_k]
    if not options:
        st.caption(_("The vocabulary has no other token to try."))
        return
    token = c[1].selectbox(_("Choose instead"), options, key=f"decode.what_if_token.{i}")   # each step its own
    num_steps = ckpt.data_config.num_steps
    alt = greedy_decode(ckpt.model, sentence, ckpt.src_vocab, ckpt.tgt_vocab, num_steps, book=False,
                        forced={i: ckpt.tgt_vocab[token]}, tokenizer=ckpt.data_config.tokenizer)
    st.markdown(_("Greedy"))
    chip_row(output_chips(result))
    st.markdown(_("With your choice, then greedy again"))
    chip_row(output_chips(alt))
    st.code(alt.translation, language=None)
    score = (" " + _("BLEU against the reference: {bleu:.4f}.").format(bleu=bleu(alt.translation, reference, k=2))
             if reference.strip() else "")
    st.caption(stop_reason(alt, num_steps) + score)

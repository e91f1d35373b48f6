"""The Decode view (notes 7.7): what the encoder reads, the greedy translation, each step's
choice and its alternatives, and "what if" another token had won. Beam search: `beam`;
attention: `attention`."""
from __future__ import annotations

import streamlit as st

from core.checkpoint import Checkpoint
from core.decode import GreedyResult, SourceEncoding, entropy_bits, greedy_decode, trajectory
from core.metrics import bleu
from core.setups import DECODE_FIELDS
from core.sources import example_pair

from .. import charts, links, state
from ..i18n import _
from ..state import prefill_bleu
from ..text import Chip, chip_row
from ..widgets import PAGES
from . import attention


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


def step_explorer(result: GreedyResult, ckpt: Checkpoint, top_k: int) -> None:
    st.subheader(_("3 · Step by step"))
    one_step(result, ckpt, top_k)
    steps = result.steps
    tokens, matrix = trajectory(steps, ckpt.tgt_vocab, top_k)
    rows = [f"{s.index + 1}: {s.input_token} → {s.chosen_token}" for s in steps]
    title = _("The whole trajectory: probability of each step's top-{k} tokens").format(k=top_k)
    charts.show(charts.heatmap(matrix, tokens, rows, title), key="decode.trajectory")
    attention.show_map(result)


@st.fragment   # moving the slider redraws this step only, not the page's other charts
def one_step(result: GreedyResult, ckpt: Checkpoint, top_k: int) -> None:
    steps = result.steps
    # keyed: a language switch (a new label) keeps the step; a sentence of another length starts at its end
    n = st.slider(_("Step"), 1, len(steps), len(steps), key="decode.step") if len(steps) > 1 else 1
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

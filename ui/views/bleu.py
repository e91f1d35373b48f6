"""The BLEU view (notes 7.8): one prediction n-gram by n-gram, and the corpus scores of the
checkpoint in use with its worst held-out sentences, each one click from its breakdown."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.evaluate import EvalReport
from core.metrics import BleuBreakdown, OrderBreakdown
from core.setups import BLEU_FIELDS

from .. import charts, links, state
from ..i18n import N_, _
from ..state import kept, prefill_bleu, set_kept
from ..text import Chip, chip_row
from ..widgets import long_text_input

# the legend's chips hold words, not tokens: translated where they are shown
LEGEND = [Chip(N_("matched"), "match"), Chip(N_("in the reference, but its count is used up (clipped)"), "clipped"),
          Chip(N_("not in the reference"), "miss")]


# -- one prediction ----------------------------------------------------------------------------
LINK_KEYS = {"pred": state.BLEU_PRED, "ref": state.BLEU_REF, "k": state.BLEU_K}
LINK_DEFAULTS = {"pred": "suis suis chez moi", "ref": "je suis chez moi .", "k": 2}


def sentence_inputs() -> tuple[str, str, int]:
    """(prediction, reference, k), kept across pages (Decode and the table below fill them)."""
    st.button(_("📒 The notes' example: label A B C D E F, prediction A B B C D (p1 = 4/5, p2 = 3/4)"),
              key="bleu.notes", on_click=state.prefill_bleu, args=("A B B C D", "A B C D E F"))
    links.follow_url("bleu", BLEU_FIELDS, LINK_KEYS, LINK_DEFAULTS)
    links.show_problems("bleu")
    c = st.columns([3, 3, 1])
    pred = long_text_input(c[0], _("Prediction"), state.BLEU_PRED, LINK_DEFAULTS["pred"])
    ref = long_text_input(c[1], _("Reference"), state.BLEU_REF, LINK_DEFAULTS["ref"])
    k = c[2].number_input(_("k (n-gram orders)"), 1, 6, **kept(state.BLEU_K, LINK_DEFAULTS["k"]),
                          help=_("The book uses k = 2."))
    state.put(state.LINK_PARAMS + "bleu",
              links.keep_in_url("bleu", BLEU_FIELDS, {"pred": pred, "ref": ref, "k": k}, LINK_DEFAULTS))
    return pred, ref, k


def share_link() -> None:
    links.share_box(_("Copy link to this pair"), state.get(state.LINK_PARAMS + "bleu", {}))


def factor_tex(order: OrderBreakdown) -> str:
    if order.skipped:
        return rf"\underbrace{{1}}_{{n={order.n}\ \text{{skipped}}}}"
    return rf"\left(\tfrac{{{order.matches}}}{{{order.total}}}\right)^{{1/{2 ** order.n}}}"


def formula(bd: BleuBreakdown) -> str:
    """The book's formula with this pair's numbers plugged in."""
    lp, ll = len(bd.pred_tokens), len(bd.label_tokens)
    symbolic = " ".join(factor_tex(o) for o in bd.orders)
    values = r" \times ".join(f"{f:.4f}" for f in [bd.brevity_penalty] + [o.factor for o in bd.orders])
    return (rf"\mathrm{{BLEU}} = \exp\!\left(\min\!\left(0,\ 1 - \tfrac{{{ll}}}{{{lp}}}\right)\right) {symbolic}"
            rf" = {values} = {bd.score:.4f}")


def show_order(order: OrderBreakdown, pred_len: int) -> None:
    weight = f"$1/2^{order.n} = {order.weight:g}$"
    st.markdown(_("**{n}-grams** · weight {weight}").format(n=order.n, weight=weight))
    if order.skipped:
        st.info(_("The prediction has {count} token(s), so it has no {n}-grams. This order is "
                  "skipped (factor 1): the brevity penalty alone accounts for the short prediction. "
                  "(The book's code divides by zero here.)").format(count=pred_len, n=order.n), icon="⏭️")
        return
    chip_row([Chip(g.ngram, "match" if g.matched else "clipped" if g.clipped else "miss",
                   _("ref ×{count}").format(count=g.ref_count),
                   _("occurs {count}× in the reference").format(count=g.ref_count)) for g in order.ngrams])
    st.markdown(_("{precision}, factor {factor}").format(
        precision=f"$p_{order.n} = {order.matches}/{order.total} = {order.p_n:.4f}$",
        factor=f"$p_{order.n}^{{1/{2 ** order.n}}} = {order.factor:.4f}$"))


def show_breakdown(bd: BleuBreakdown, k: int) -> None:
    """Score and formula, each order's n-grams, the brevity penalty, and the table of it all."""
    st.caption(_("Both sentences are split on single spaces, as in the book."))
    if "" in bd.pred_tokens or "" in bd.label_tokens:
        st.warning(_("A leading, trailing or repeated space makes an empty token here (the book's "
                     "`split(' ')`): it shows as an empty chip and counts like a word."), icon="⚠️")
    c = st.columns([1, 4], vertical_alignment="center")
    c[0].metric(_("BLEU (k = {k})").format(k=k), f"{bd.score:.4f}")
    with c[1]:
        st.latex(formula(bd))
    chip_row([Chip(_(chip.text), chip.kind) for chip in LEGEND])
    for order in bd.orders:
        show_order(order, len(bd.pred_tokens))
    lp, ll = len(bd.pred_tokens), len(bd.label_tokens)
    penalty = f"$\\exp(\\min(0, 1 - {ll}/{lp})) = {bd.brevity_penalty:.4f}$"
    if lp >= ll:
        line = _("**Brevity penalty** · prediction {pred_len} tokens, reference {ref_len} tokens: {formula} "
                 "(no penalty: the prediction is not shorter)")
    else:
        line = _("**Brevity penalty** · prediction {pred_len} tokens, reference {ref_len} tokens: {formula}")
    st.markdown(line.format(pred_len=lp, ref_len=ll, formula=penalty))
    st.dataframe(pd.DataFrame({"n": [o.n for o in bd.orders], "matches": [o.matches for o in bd.orders],
                               "total": [o.total for o in bd.orders],
                               "p_n": [_("skipped") if o.skipped else f"{o.p_n:.4f}" for o in bd.orders],
                               "weight": [o.weight for o in bd.orders], "factor": [o.factor for o in bd.orders]}),
                 hide_index=True, column_config={"matches": _("matches"), "total": _("total"), "weight": _("weight"),
                                                 "factor": _("factor")})


# -- the corpus --------------------------------------------------------------------------------
def show_corpus(report: EvalReport) -> None:
    """Corpus BLEU and chrF (sacrebleu), the book's mean sentence BLEU, and its histogram."""
    corpus_bleu, chrf = report.corpus.bleu, report.corpus.chrf
    c = st.columns(6)
    c[0].metric(_("Corpus BLEU (0–100)"), f"{corpus_bleu.score:.2f}",
                help=_("The standard corpus BLEU, computed by sacrebleu."))
    c[1].metric("chrF (0–100)", f"{chrf.score:.2f}",
                help=_("sacrebleu's character n-gram F-score: a near-miss word still earns partial credit."))
    c[2].metric(_("Mean BLEU (k = 2)"), f"{report.mean_sentence_bleu:.4f}",
                help=_("The mean of the book's sentence BLEU (0–1) over the held-out pairs."))
    c[3].metric(_("Brevity penalty"), f"{corpus_bleu.brevity_penalty:.4f}")
    c[4].metric(_("Length: output / reference"), f"{corpus_bleu.sys_len:,} / {corpus_bleu.ref_len:,}")
    c[5].metric(_("Held-out pairs"), f"{len(report.rows):,}")
    st.caption(_("Corpus BLEU: 4-gram precisions summed over all sentences, by sacrebleu: {precisions}. "
                 "Signatures: BLEU `{bleu_signature}`, chrF `{chrf_signature}`.").format(
        precisions=", ".join(f"p{n + 1} = {p:.1f}" for n, p in enumerate(corpus_bleu.precisions)),
        bleu_signature=corpus_bleu.signature, chrf_signature=chrf.signature))
    charts.show(charts.histogram({_("sentences"): [r["bleu"] for r in report.rows]},
                                 _("The book's sentence BLEU (k = 2) over the held-out pairs"), "BLEU",
                                 bin_size=0.05), key="bleu.histogram")


def open_row(row: dict) -> None:
    """Callback: show this held-out sentence in the breakdown above (k = 2, like its score)."""
    prefill_bleu(row["pred"], row["ref"])
    set_kept(state.BLEU_K, 2)
    st.toast(_("Loaded into the breakdown at the top of the page."), icon="⬆️")


def open_selected(rows: list[dict]) -> None:
    selected = state.get(state.BLEU_WORST)["selection"]["rows"]
    if selected:
        state.put(state.BLEU_SENTENCE, selected[0])     # the picker below shows the clicked row
        open_row(rows[selected[0]])


def worst_sentences(worst: list[dict]) -> None:
    """The table of the worst sentences and a picker: a click opens one in the breakdown."""
    st.caption(_("Click a row (or pick one below) to see its breakdown at the top of the page."))
    st.dataframe(pd.DataFrame(worst)[["bleu", "src", "pred", "ref"]], hide_index=True, key=state.BLEU_WORST,
                 on_select=lambda: open_selected(worst), selection_mode="single-row",
                 column_config={"bleu": st.column_config.NumberColumn("BLEU", format="%.3f"),   # data keeps its names
                                "src": _("src"), "pred": _("pred"), "ref": _("ref")})
    c = st.columns([4, 1], vertical_alignment="bottom")
    if state.get(state.BLEU_SENTENCE, 0) >= len(worst):      # the list got shorter
        state.put(state.BLEU_SENTENCE, 0)
    j = c[0].selectbox(_("Sentence"), range(len(worst)), key=state.BLEU_SENTENCE,
                       format_func=lambda i: f"{worst[i]['bleu']:.3f} · {worst[i]['src']}")
    c[1].button(_("🔍 Break it down"), on_click=open_row, args=(worst[j],), key="bleu.open")

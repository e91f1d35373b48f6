"""What each exercise's numbers say: one paragraph per experiment, written by simple rules
from the measured results (held-out BLEU, losses, parameter counts, CPU seconds), never a
fixed text. A time is always the training thread's CPU seconds with one thread
(`VariantResult.cpu_seconds`), and the sentence says so: wall seconds depend on the load.

Every reading comes in the reader's language (`lang`, a code of `core.i18n.LANGUAGES`): each
sentence is one message with named placeholders, so a translation can order its words freely.
A result keeps its variants' labels in English (they are part of the cache key), so
`variant_label` translates them back, finding the template of a label with numbers in it.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable

from ..history import Status
from ..i18n import N_, translator
from .results import ExperimentResult, VariantResult

# Seed noise, measured: BASE trained with seeds 0-3 reaches held-out BLEU 21.1, 19.7, 17.9 and
# 14.6 (std 2.8), so two runs differ by about 4 points (std 2.8·√2) from the seed alone. Closer
# than this, a reading calls two variants equal; farther, it names the better one.
SIMILAR_BLEU = 4.0

# The catalogue's labels that carry numbers (experiments.catalogue fills them in); labels
# without numbers are marked where the catalogue names them.
LABELS = {
    "hidden": N_("hidden {size}"),
    "equal": N_("equal ({enc_size} → {dec_size})"),
    "narrower": N_("narrower encoder ({enc_size} → {dec_size})"),
    "depth": N_("other decoder depth ({enc_size} → {dec_size})"),
    "ratio": N_("ratio {ratio}"),
}

Translate = Callable[[str], str]


@functools.cache
def _label_pattern(template: str) -> re.Pattern:
    """"hidden {size}" -> a pattern matching "hidden 64", with the group `size`."""
    parts = re.split(r"\{(\w+)\}", template)        # literal, name, literal, name, ...
    return re.compile("".join(f"(?P<{p}>.+?)" if i % 2 else re.escape(p) for i, p in enumerate(parts)))


def variant_label(label: str, lang: str = "en") -> str:
    """A variant's (English) label in `lang`; a label the catalogue does not know stays as it is."""
    _ = translator(lang)
    for template in LABELS.values():
        match = _label_pattern(template).fullmatch(label)
        if match:
            return _(template).format(**match.groupdict())
    return _(label)


def _gap(a: VariantResult, b: VariantResult) -> float:
    return a.bleu - b.bleu


def _read_hyperparameters(vs: list[VariantResult], _: Translate, name: Callable[[VariantResult], str]) -> list[str]:
    low, high = min(vs, key=lambda v: v.final_loss), max(vs, key=lambda v: v.final_loss)
    best, worst = max(vs, key=lambda v: v.bleu), min(vs, key=lambda v: v.bleu)
    text = [_("The training loss ranges from {low:.3f} ({low_label}) to {high:.3f} ({high_label}), held-out BLEU "
              "from {worst:.1f} ({worst_label}) to {best:.1f} ({best_label}).").format(
        low=low.final_loss, low_label=name(low), high=high.final_loss, high_label=name(high),
        worst=worst.bleu, worst_label=name(worst), best=best.bleu, best_label=name(best))]
    if _gap(best, worst) < SIMILAR_BLEU:
        text.append(_("A spread of {spread:.1f} BLEU points is within seed noise (±{noise:g} BLEU on this setup): "
                      "here the setting hardly matters for translation.").format(
            spread=_gap(best, worst), noise=SIMILAR_BLEU))
    elif low is best:
        text.append(_("The {label} setting both fits the training pairs best and translates unseen sentences best, "
                      "with {parameters:,} parameters.").format(label=name(best), parameters=best.parameters))
    else:
        text.append(_("The lowest training loss ({low_label}) does not give the best held-out BLEU ({best_label}): "
                      "a lower loss on the training pairs partly measures memorisation, so choose "
                      "hyperparameters on held-out pairs.").format(low_label=name(low), best_label=name(best)))
    return text


def _read_mask(vs: list[VariantResult], _: Translate, name: Callable[[VariantResult], str]) -> list[str]:
    m, u = vs
    first = (_("The unmasked run reports a training loss of {unmasked:.3f} against the masked run's {masked:.3f}: "
               "lower even though it also adds the loss at the padding positions ({pad:.0%} of target positions) "
               "to the same count of real tokens: <pad> after <eos> soon becomes trivial to predict, so those "
               "terms shrink to almost nothing.") if u.final_loss < m.final_loss else
             _("The unmasked run reports a training loss of {unmasked:.3f} against the masked run's {masked:.3f}: "
               "higher, because it also adds the loss at the padding positions ({pad:.0%} of target positions) "
               "to the same count of real tokens: the two numbers measure different things."))
    text = [first.format(unmasked=u.final_loss, masked=m.final_loss, pad=u.pad_fraction),
            _("Measured the same way, the masked loss on held-out pairs is {masked_loss:.3f} (masked) and "
              "{unmasked_loss:.3f} (unmasked), and held-out BLEU is {masked_bleu:.1f} and {unmasked_bleu:.1f}.").format(
                masked_loss=m.heldout_loss, unmasked_loss=u.heldout_loss, masked_bleu=m.bleu, unmasked_bleu=u.bleu)]
    if abs(_gap(m, u)) < SIMILAR_BLEU:
        text.append(_("The {gap:.1f}-point gap is within seed noise (±{noise:g} BLEU on this setup), so masking "
                      "changes the number being reported more than what the model learns: even at {pad:.0%} "
                      "padding, <pad> after <eos> is so easy to predict that it takes little from the words, as "
                      "the notes observe.").format(gap=abs(_gap(m, u)), noise=SIMILAR_BLEU, pad=u.pad_fraction))
    elif u.bleu < m.bleu:
        text.append(_("So scoring the padding cost the unmasked model {gap:.1f} BLEU points: part of every gradient "
                      "went into predicting <pad> instead of words.").format(gap=_gap(m, u)))
    else:
        text.append(_("Here the unmasked model is {gap:.1f} BLEU points ahead: learning <pad> after <eos> did not "
                      "hurt; the mask matters more when padding dominates.").format(gap=_gap(u, m)))
    return text


def _read_bridge(vs: list[VariantResult], _: Translate, name: Callable[[VariantResult], str]) -> list[str]:
    eq, others = vs[0], vs[1:]
    text = [_("With equal sizes the decoder starts from the encoder's final state as it is: {parameters:,} "
              "parameters, training loss {loss:.3f}, held-out BLEU {bleu:.1f}.").format(
        parameters=eq.parameters, loss=eq.final_loss, bleu=eq.bleu)]
    text += [_("The {label} variant starts from the bridge's Linear + tanh projection: {parameters:,} parameters, "
               "loss {loss:.3f}, BLEU {bleu:.1f} ({gap:+.1f}).").format(
        label=name(v), parameters=v.parameters, loss=v.final_loss, bleu=v.bleu, gap=_gap(v, eq)) for v in others]
    worst = min(others, key=lambda v: v.bleu)
    if all(abs(_gap(v, eq)) < SIMILAR_BLEU for v in others):
        text.append(_("Every mismatched model translates about as well as the equal one (within seed noise "
                      "(±{noise:g} BLEU on this setup)): a learned projection is a sound way to initialise a "
                      "decoder of another size.").format(noise=SIMILAR_BLEU))
    elif worst.bleu < eq.bleu:
        if worst.parameters < eq.parameters:
            text.append(_("The bridge lets mismatched sizes train, but the {label} variant loses {gap:.1f} BLEU "
                          "with {fewer:,} fewer parameters: part of the gap is the smaller model, not the "
                          "bridge.").format(label=name(worst), gap=_gap(eq, worst),
                                            fewer=eq.parameters - worst.parameters))
        else:
            text.append(_("The bridge lets mismatched sizes train, but the {label} variant loses {gap:.1f} BLEU "
                          "even with more parameters: the projection loses what the decoder needed.").format(
                label=name(worst), gap=_gap(eq, worst)))
    else:
        text.append(_("The mismatched models do better here: the bridge adds a learned transformation of the "
                      "encoder's state instead of costing quality."))
    return text


def _read_teacher_forcing(vs: list[VariantResult], _: Translate, name: Callable[[VariantResult], str]) -> list[str]:
    forced, free = vs[0], vs[-1]
    best = max(vs, key=lambda v: v.bleu)
    losses = ", ".join(f"{v.value:g} → {v.final_loss:.3f}" for v in vs)       # numbers: the same in every language
    scores = ", ".join(f"{v.value:g} → {v.bleu:.1f}" for v in vs)
    rises = free.final_loss > forced.final_loss
    text = [(_("Training loss by teacher-forcing ratio: {losses}; it rises as the ratio falls, because the decoder "
               "must continue from its own, often wrong, tokens.") if rises else
             _("Training loss by teacher-forcing ratio: {losses}; it does not rise as the ratio falls here.")).format(
                losses=losses),
            _("Held-out BLEU, where greedy decoding always feeds back the model's own predictions: {scores}.").format(
                scores=scores)]
    epochs = len(forced.epoch_loss)
    if _gap(best, forced) < SIMILAR_BLEU:
        text.append((_("Pure teacher forcing gives the best BLEU: in {epochs} epochs the exposure bias (trained on "
                       "correct prefixes, tested on its own) costs less than learning from its own early, noisy "
                       "predictions.") if best is forced else
                     _("Pure teacher forcing is within seed noise (±{noise:g} BLEU on this setup) of the best: in "
                       "{epochs} epochs the exposure bias (trained on correct prefixes, tested on its own) costs "
                       "less than learning from its own early, noisy predictions.")).format(
            epochs=epochs, noise=SIMILAR_BLEU))
    else:
        text.append(_("Ratio {ratio:g} beats pure teacher forcing by {gap:.1f} BLEU: seeing its own predictions in "
                      "training makes the model robust to its own mistakes at test time, which is the exposure "
                      "bias of pure teacher forcing, measured.").format(ratio=best.value, gap=_gap(best, forced)))
    if free is not best and _gap(best, free) >= SIMILAR_BLEU:
        text.append(_("Trained only on its own predictions (ratio 0) it reaches {bleu:.1f}: early predictions are "
                      "noise, so the decoder learns to continue wrong prefixes.").format(bleu=free.bleu))
    tf_best = min(vs, key=lambda v: v.heldout_loss)
    if tf_best is not best:
        text.append(_("The teacher-forced held-out loss favours ratio {ratio:g} ({loss:.3f}) while BLEU favours "
                      "another: scoring with correct prefixes hides the errors exposure bias causes.").format(
            ratio=tf_best.value, loss=tf_best.heldout_loss))
    return text


def _read_cell(vs: list[VariantResult], _: Translate, name: Callable[[VariantResult], str]) -> list[str]:
    gru, lstm = vs
    text = [_("The LSTM has {lstm:,} parameters against the GRU's {gru:,} ({ratio:.2f}×: four gate blocks per "
              "recurrent layer instead of three) and took {lstm_seconds:.1f} CPU seconds to train against "
              "{gru_seconds:.1f} (the training thread's CPU time with one thread: the work each cell needs, "
              "which the machine's other load hardly changes).").format(
                lstm=lstm.parameters, gru=gru.parameters, ratio=lstm.parameters / gru.parameters,
                lstm_seconds=lstm.cpu_seconds, gru_seconds=gru.cpu_seconds),
            _("Final training loss {lstm_loss:.3f} (LSTM) vs {gru_loss:.3f} (GRU); held-out BLEU {lstm_bleu:.1f} "
              "vs {gru_bleu:.1f}.").format(lstm_loss=lstm.final_loss, gru_loss=gru.final_loss,
                                           lstm_bleu=lstm.bleu, gru_bleu=gru.bleu)]
    if abs(_gap(lstm, gru)) < SIMILAR_BLEU:
        text.append(_("The difference is within seed noise (±{noise:g} BLEU on this setup): on short sentences the "
                      "two cells are interchangeable, and the GRU has fewer parameters.").format(noise=SIMILAR_BLEU))
    else:
        win, lose = (lstm, gru) if lstm.bleu > gru.bleu else (gru, lstm)
        text.append(_("The {label} is ahead by {gap:.1f} BLEU on this setup.").format(label=name(win),
                                                                                     gap=_gap(win, lose)))
    return text


def _output_layer_effects(_: Translate) -> dict[tuple[str, str], str]:
    """(variant, effect) -> its sentence: each is written whole, for languages that order them otherwise."""
    return {
        ("tied", "gains"): _("Tying gains {gap:.1f} BLEU with {fewer:,} fewer parameters."),
        ("tied", "costs"): _("Tying costs {cost:.1f} BLEU with {fewer:,} fewer parameters."),
        ("tied", "keeps"): _("Tying keeps the translation quality ({gap:+.1f} BLEU) with {fewer:,} fewer parameters."),
        ("adaptive", "gains"): _("The adaptive softmax gains {gap:.1f} BLEU with {fewer:,} fewer parameters."),
        ("adaptive", "costs"): _("The adaptive softmax costs {cost:.1f} BLEU with {fewer:,} fewer parameters."),
        ("adaptive", "keeps"): _("The adaptive softmax keeps the translation quality ({gap:+.1f} BLEU) with "
                                 "{fewer:,} fewer parameters."),
    }


def _read_output_layer(vs: list[VariantResult], _: Translate, name: Callable[[VariantResult], str]) -> list[str]:
    by = {v.value: v for v in vs}
    dense, tied, adaptive = by["dense"], by["tied"], by["adaptive"]
    text = [_("Parameters: dense output layer {dense:,}, tied to the embedding {tied:,} ({tied_diff:+,}), adaptive "
              "softmax {adaptive:,} ({adaptive_diff:+,}).").format(
        dense=dense.parameters, tied=tied.parameters, tied_diff=tied.parameters - dense.parameters,
        adaptive=adaptive.parameters, adaptive_diff=adaptive.parameters - dense.parameters),
            _("Held-out BLEU {dense_bleu:.1f}, {tied_bleu:.1f} and {adaptive_bleu:.1f}; final training loss "
              "{dense_loss:.3f}, {tied_loss:.3f} and {adaptive_loss:.3f}.").format(
        dense_bleu=dense.bleu, tied_bleu=tied.bleu, adaptive_bleu=adaptive.bleu, dense_loss=dense.final_loss,
        tied_loss=tied.final_loss, adaptive_loss=adaptive.final_loss)]
    effects = _output_layer_effects(_)
    for v, key in ((tied, "tied"), (adaptive, "adaptive")):
        gap = _gap(v, dense)
        effect = "gains" if gap >= SIMILAR_BLEU else "costs" if gap <= -SIMILAR_BLEU else "keeps"
        text.append(effects[key, effect].format(gap=gap, cost=-gap, fewer=dense.parameters - v.parameters))
    higher = {"tied": _("The tied model's held-out loss is higher ({loss:.3f} against {dense_loss:.3f}) although its "
                        "BLEU is higher: the loss punishes confident mistakes, greedy decoding only needs the right "
                        "token to win."),
              "adaptive": _("The adaptive-softmax model's held-out loss is higher ({loss:.3f} against "
                            "{dense_loss:.3f}) although its BLEU is higher: the loss punishes confident mistakes, "
                            "greedy decoding only needs the right token to win.")}
    text += [higher[key].format(loss=v.heldout_loss, dense_loss=dense.heldout_loss)
             for v, key in ((tied, "tied"), (adaptive, "adaptive"))
             if v.heldout_loss > dense.heldout_loss and _gap(v, dense) >= SIMILAR_BLEU]
    text.append(_("The adaptive softmax's savings in memory and time grow with the vocabulary; this one is small."))
    return text


_RULES = {"hyperparameters": _read_hyperparameters, "mask": _read_mask, "bridge": _read_bridge,
          "teacher_forcing": _read_teacher_forcing, "cell": _read_cell, "output_layer": _read_output_layer}


def _early_note(v: VariantResult, _: Translate, label: str) -> str:
    """Why a variant's numbers are partial: it stopped or diverged before its last epoch."""
    if v.status == Status.STOPPED:
        return _("{label} stopped early: its numbers are from its last completed epoch.").format(label=label)
    if v.status == Status.DIVERGED:
        return _("{label} diverged early: its numbers are from its last completed epoch.").format(label=label)
    return _("{label} {status} early: its numbers are from its last completed epoch.").format(label=label,
                                                                                               status=v.status)


def _joined(sentences: list[str]) -> str:
    """One paragraph: a space between sentences, none after a full-width stop (Chinese)."""
    text = ""
    for sentence in sentences:
        text += ("" if not text or text.endswith(("。", "！", "？")) else " ") + sentence
    return text


def interpret(result: ExperimentResult, lang: str = "en") -> str:
    """One paragraph about `result` in `lang`, written from its numbers by simple rules."""
    _ = translator(lang)

    def name(v: VariantResult) -> str:
        return variant_label(v.label, lang)

    vs = result.variants
    notes = [_early_note(v, _, name(v)) for v in vs if v.status != Status.FINISHED]
    if result.status == Status.STOPPED or len(vs) < 2:
        return _joined(notes + [_("The experiment was stopped before every variant trained: re-run it to compare.")])
    return _joined(_RULES[result.experiment](vs, _, name) + notes)

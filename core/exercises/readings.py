"""What each exercise's numbers say: one paragraph per experiment, written by simple rules
from the measured results (held-out BLEU, losses, parameter counts), never a fixed text.
"""
from __future__ import annotations

from .results import ExperimentResult, VariantResult

# Seed noise, measured: BASE trained with seeds 0-3 reaches held-out BLEU 21.1, 19.7, 17.9 and
# 14.6 (std 2.8), so two runs differ by about 4 points (std 2.8·√2) from the seed alone. Closer
# than this, a reading calls two variants equal; farther, it names the better one.
SIMILAR_BLEU = 4.0
NOISE = f"within seed noise (±{SIMILAR_BLEU:g} BLEU on this setup)"


def _gap(a: VariantResult, b: VariantResult) -> float:
    return a.bleu - b.bleu


def _read_hyperparameters(vs: list[VariantResult]) -> list[str]:
    low, high = min(vs, key=lambda v: v.final_loss), max(vs, key=lambda v: v.final_loss)
    best, worst = max(vs, key=lambda v: v.bleu), min(vs, key=lambda v: v.bleu)
    text = [f"The training loss ranges from {low.final_loss:.3f} ({low.label}) to {high.final_loss:.3f} "
            f"({high.label}), held-out BLEU from {worst.bleu:.1f} ({worst.label}) to {best.bleu:.1f} ({best.label})."]
    if _gap(best, worst) < SIMILAR_BLEU:
        text.append(f"A spread of {_gap(best, worst):.1f} BLEU points is {NOISE}: here the setting hardly "
                    "matters for translation.")
    elif low is best:
        text.append(f"The {best.label} setting both fits the training pairs best and translates unseen "
                    f"sentences best, with {best.parameters:,} parameters.")
    else:
        text.append(f"The lowest training loss ({low.label}) does not give the best held-out BLEU ({best.label}): "
                    "a lower loss on the training pairs partly measures memorisation, so choose "
                    "hyperparameters on held-out pairs.")
    return text


def _read_mask(vs: list[VariantResult]) -> list[str]:
    m, u = vs
    pads = (f"the loss at the padding positions ({u.pad_fraction:.0%} of target positions) to the same count "
            "of real tokens")
    why = (f"lower even though it also adds {pads}: <pad> after <eos> soon becomes trivial to predict, so those "
           "terms shrink to almost nothing" if u.final_loss < m.final_loss else
           f"higher, because it also adds {pads}: the two numbers measure different things")
    text = [f"The unmasked run reports a training loss of {u.final_loss:.3f} against the masked run's "
            f"{m.final_loss:.3f}: {why}.",
            f"Measured the same way, the masked loss on held-out pairs is {m.heldout_loss:.3f} (masked) and "
            f"{u.heldout_loss:.3f} (unmasked), and held-out BLEU is {m.bleu:.1f} and {u.bleu:.1f}."]
    if abs(_gap(m, u)) < SIMILAR_BLEU:
        text.append(f"The {abs(_gap(m, u)):.1f}-point gap is {NOISE}, so masking changes the number being "
                    f"reported more than what the model learns: even at {u.pad_fraction:.0%} padding, <pad> "
                    "after <eos> is so easy to predict that it takes little from the words, as the notes observe.")
    elif u.bleu < m.bleu:
        text.append(f"So scoring the padding cost the unmasked model {_gap(m, u):.1f} BLEU points: part of "
                    "every gradient went into predicting <pad> instead of words.")
    else:
        text.append(f"Here the unmasked model is {_gap(u, m):.1f} BLEU points ahead: learning <pad> after "
                    "<eos> did not hurt; the mask matters more when padding dominates.")
    return text


def _read_bridge(vs: list[VariantResult]) -> list[str]:
    eq, others = vs[0], vs[1:]
    text = [f"With equal sizes the decoder starts from the encoder's final state as it is: {eq.parameters:,} "
            f"parameters, training loss {eq.final_loss:.3f}, held-out BLEU {eq.bleu:.1f}."]
    text += [f"The {v.label} variant starts from the bridge's Linear + tanh projection: {v.parameters:,} "
             f"parameters, loss {v.final_loss:.3f}, BLEU {v.bleu:.1f} ({_gap(v, eq):+.1f})." for v in others]
    worst = min(others, key=lambda v: v.bleu)
    if all(abs(_gap(v, eq)) < SIMILAR_BLEU for v in others):
        text.append(f"Every mismatched model translates about as well as the equal one ({NOISE}): a learned projection "
                    "is a sound way to initialise a decoder of another size.")
    elif worst.bleu < eq.bleu:
        fewer = worst.parameters < eq.parameters
        text.append(f"The bridge lets mismatched sizes train, but the {worst.label} variant loses "
                    f"{_gap(eq, worst):.1f} BLEU " + (
                        f"with {eq.parameters - worst.parameters:,} fewer parameters: part of the gap is the "
                        "smaller model, not the bridge." if fewer else
                        "even with more parameters: the projection loses what the decoder needed."))
    else:
        text.append("The mismatched models do better here: the bridge adds a learned transformation of the "
                    "encoder's state instead of costing quality.")
    return text


def _read_teacher_forcing(vs: list[VariantResult]) -> list[str]:
    forced, free = vs[0], vs[-1]
    best = max(vs, key=lambda v: v.bleu)
    rises = free.final_loss > forced.final_loss
    text = ["Training loss by teacher-forcing ratio: " + ", ".join(f"{v.value:g} → {v.final_loss:.3f}" for v in vs)
            + ("; it rises as the ratio falls, because the decoder must continue from its own, often wrong, "
               "tokens." if rises else "; it does not rise as the ratio falls here."),
            "Held-out BLEU, where greedy decoding always feeds back the model's own predictions: "
            + ", ".join(f"{v.value:g} → {v.bleu:.1f}" for v in vs) + "."]
    if _gap(best, forced) < SIMILAR_BLEU:
        rank = "gives the best BLEU" if best is forced else f"is {NOISE} of the best"
        text.append(f"Pure teacher forcing {rank}: in "
                    f"{len(forced.epoch_loss)} epochs the exposure bias (trained on correct prefixes, tested "
                    "on its own) costs less than learning from its own early, noisy predictions.")
    else:
        text.append(f"Ratio {best.value:g} beats pure teacher forcing by {_gap(best, forced):.1f} BLEU: seeing "
                    "its own predictions in training makes the model robust to its own mistakes at test "
                    "time, which is the exposure bias of pure teacher forcing, measured.")
    if free is not best and _gap(best, free) >= SIMILAR_BLEU:
        text.append(f"Trained only on its own predictions (ratio 0) it reaches {free.bleu:.1f}: early "
                    "predictions are noise, so the decoder learns to continue wrong prefixes.")
    tf_best = min(vs, key=lambda v: v.heldout_loss)
    if tf_best is not best:
        text.append(f"The teacher-forced held-out loss favours ratio {tf_best.value:g} ({tf_best.heldout_loss:.3f}) "
                    "while BLEU favours another: scoring with correct prefixes hides the errors exposure bias causes.")
    return text


def _read_cell(vs: list[VariantResult]) -> list[str]:
    gru, lstm = vs
    text = [f"The LSTM has {lstm.parameters:,} parameters against the GRU's {gru.parameters:,} "
            f"({lstm.parameters / gru.parameters:.2f}×: four gate blocks per recurrent layer instead of three) "
            f"and trained in {lstm.train_seconds:.1f} s against {gru.train_seconds:.1f} s.",
            f"Final training loss {lstm.final_loss:.3f} (LSTM) vs {gru.final_loss:.3f} (GRU); held-out BLEU "
            f"{lstm.bleu:.1f} vs {gru.bleu:.1f}."]
    if abs(_gap(lstm, gru)) < SIMILAR_BLEU:
        text.append(f"The difference is {NOISE}: on short sentences the two "
                    "cells are interchangeable, and the GRU has fewer parameters.")
    else:
        win, lose = (lstm, gru) if lstm.bleu > gru.bleu else (gru, lstm)
        text.append(f"The {win.label} is ahead by {_gap(win, lose):.1f} BLEU on this setup.")
    return text


def _read_output_layer(vs: list[VariantResult]) -> list[str]:
    by = {v.value: v for v in vs}
    dense, tied, adaptive = by["dense"], by["tied"], by["adaptive"]
    text = [f"Parameters: dense output layer {dense.parameters:,}, tied to the embedding {tied.parameters:,} "
            f"({tied.parameters - dense.parameters:+,}), adaptive softmax {adaptive.parameters:,} "
            f"({adaptive.parameters - dense.parameters:+,}).",
            f"Held-out BLEU {dense.bleu:.1f}, {tied.bleu:.1f} and {adaptive.bleu:.1f}; final training loss "
            f"{dense.final_loss:.3f}, {tied.final_loss:.3f} and {adaptive.final_loss:.3f}."]
    for v, name in ((tied, "Tying"), (adaptive, "The adaptive softmax")):
        gap = _gap(v, dense)
        effect = (f"gains {gap:.1f} BLEU" if gap >= SIMILAR_BLEU else f"costs {-gap:.1f} BLEU"
                  if gap <= -SIMILAR_BLEU else f"keeps the translation quality ({gap:+.1f} BLEU)")
        text.append(f"{name} {effect} with {dense.parameters - v.parameters:,} fewer parameters.")
    text += [f"The {name} model's held-out loss is higher ({v.heldout_loss:.3f} against {dense.heldout_loss:.3f}) "
             "although its BLEU is higher: the loss punishes confident mistakes, greedy decoding only needs the "
             "right token to win." for v, name in ((tied, "tied"), (adaptive, "adaptive-softmax"))
             if v.heldout_loss > dense.heldout_loss and _gap(v, dense) >= SIMILAR_BLEU]
    text.append("The adaptive softmax's savings in memory and time grow with the vocabulary; this one is small.")
    return text


_RULES = {"hyperparameters": _read_hyperparameters, "mask": _read_mask, "bridge": _read_bridge,
          "teacher_forcing": _read_teacher_forcing, "cell": _read_cell, "output_layer": _read_output_layer}


def interpret(result: ExperimentResult) -> str:
    """One paragraph about `result`, written from its numbers by simple rules."""
    vs = result.variants
    notes = [f"{v.label} {v.status} early: its numbers are from its last completed epoch."
             for v in vs if v.status != "finished"]
    if result.status == "stopped" or len(vs) < 2:
        return " ".join(notes + ["The experiment was stopped before every variant trained: re-run it to compare."])
    return " ".join(_RULES[result.experiment](vs) + notes)

"""The chapter's figure on the pages (issue 27), driven headless with AppTest: at the top of Decode
with every token of the typed sentence and of its translation, highlighting the step Decode's
slider is on, with Decode's own numbers, beam search's hypothesis on request, in both languages;
and in the Model view for its first traced sentence."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from streamlit.testing.v1 import AppTest

from core.beam import beam_decode
from core.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint
from core.decode import encode_source, greedy_decode
from core.sources import pairs_to_show
from tests.apptest_helpers import HANG_GUARD, no_exception, open_page

DECODE, MODEL = "pages/3_🔎_Decode.py", "pages/0_🔬_Model.py"
SVG = "{http://www.w3.org/2000/svg}"
SENTENCE = "I'm home."


def figure_of(at: AppTest) -> ET.Element:
    """The one figure on the page, parsed (its markup is XML: every text escaped)."""
    drawn = [m.value for m in at.markdown if "seq2seq-figure" in m.value]
    assert len(drawn) == 1, f"{len(drawn)} figures on the page"
    return ET.fromstring(drawn[0]).find(f"{SVG}svg")


def words(svg: ET.Element, css: str) -> list[str]:
    """The text of the figure's <text> elements of one class ("": those of none), without their
    hover <title>s."""
    return [(t.text or "") + "".join(child.tail or "" for child in t)
            for t in svg.iter(f"{SVG}text") if t.get("class", "") == css]


def highlighted(svg: ET.Element) -> str:
    steps = [g.get("data-step") for g in svg.iter(f"{SVG}g") if g.get("class") == "fig-dec-step current"]
    assert len(steps) == 1, steps
    return steps[0]


def decode(**state) -> AppTest:
    return open_page(DECODE, timeout=HANG_GUARD, **{"keep.decode.sentence": SENTENCE, **state})


def test_decode_draws_the_figure_with_every_token_of_the_sentence_and_its_translation(with_default):
    at = decode()
    svg = figure_of(at)
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    source = encode_source(SENTENCE, ckpt.src_vocab, ckpt.data_config.num_steps, book=False)
    assert words(svg, "fig-source") == ["i'm", "home", ".", "<eos>"] + ["<pad>"] * 6 == \
        ckpt.src_vocab.to_tokens(source.padded)
    assert words(svg, "fig-output") == ["je", "suis", "chez", "moi", ".", "<eos>"]
    assert words(svg, "fig-input") == ["<bos>", "je", "suis", "chez", "moi", "."]
    assert svg.get("role") == "img" and "je suis chez moi" in svg.get("aria-label")
    assert highlighted(svg) == "6"                                  # the slider starts at the last step


def test_moving_the_step_slider_moves_the_highlight_and_its_details(with_default):
    at = decode()
    for step in (1, 3, 2):
        next(s for s in at.slider if s.key == "decode.step").set_value(step)
        at = no_exception(at.run())
        svg = figure_of(at)
        assert highlighted(svg) == str(step)
        assert words(svg, "fig-detail")[0] == f"Step {step} of 6"


def test_the_highlighted_steps_numbers_are_the_ones_decode_shows_beside_it(with_default):
    at = decode(**{"keep.decode.top_k": 4})
    next(s for s in at.slider if s.key == "decode.step").set_value(2)
    at = no_exception(at.run())
    svg = figure_of(at)
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    step = greedy_decode(ckpt.model, SENTENCE, ckpt.src_vocab, ckpt.tgt_vocab, 10, book=False).steps[1]
    p_chosen = next(m.value for m in at.metric if m.label == "p(chosen)")
    assert f"output: suis (p = {p_chosen})" in words(svg, "fig-detail")
    assert words(svg, "fig-top-k") == [f"{p:.3f}" for _t, p in step.top_k(ckpt.tgt_vocab, 4)]
    bars = next(p for p in at.get("plotly_chart") if "Step 2: top-4" in p.proto.spec)
    assert all(f'"{p:.3f}"' in bars.proto.spec for p in map(float, words(svg, "fig-top-k")))


def test_the_figure_follows_beam_searchs_best_hypothesis_when_asked(with_default):
    at = decode(**{"keep.decode.figure_beam": True, "keep.decode.beam_size": 4, "keep.decode.length_penalty": 0.75})
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    best = beam_decode(ckpt.model, SENTENCE, ckpt.src_vocab, ckpt.tgt_vocab, 10, 4, 0.75, book=False).best
    assert words(figure_of(at), "fig-output") == best.tokens
    assert any("Beam search's best hypothesis" in c.value for c in at.caption)


def test_what_the_learner_typed_is_drawn_as_text_never_as_markup(with_default):
    at = decode(**{"keep.decode.sentence": 'go <b onmouseover="x">now</b> & "run"'})
    svg = figure_of(at)                             # parses: nothing typed opened or closed an element
    assert not list(svg.iter(f"{SVG}b"))
    tokens = words(svg, "fig-source")
    assert tokens[:2] == ["go", "<b"] and "&" in tokens and '"run"' in tokens


def test_the_figure_speaks_chinese(with_default):
    at = open_page(DECODE, timeout=HANG_GUARD, **{"keep.decode.sentence": SENTENCE, "lang": "zh"})
    svg = figure_of(at)
    labels = ["".join(t.itertext()) for t in svg.iter(f"{SVG}text")]
    assert "编码器" in labels and "解码器" in labels and "Encoder" not in labels
    assert words(svg, "fig-detail")[0] == "第 6 步（共 6 步）"
    assert not re.search(r"[A-Za-z]{4,} [a-z]{3,}", " ".join(words(svg, "fig-detail")))   # no English sentence left


def test_the_model_view_draws_its_first_traced_sentence(with_default):
    at = open_page(MODEL, timeout=HANG_GUARD)
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    first = pairs_to_show(ckpt.data_config, ckpt.test_pairs, ckpt.src_vocab.idx_to_token,
                          ckpt.tgt_vocab.idx_to_token)[0][0]
    svg = figure_of(at)
    greedy = greedy_decode(ckpt.model, first, ckpt.src_vocab, ckpt.tgt_vocab, 10, book=False)
    assert words(svg, "fig-output") == [s.chosen_token for s in greedy.steps]
    assert words(svg, "fig-source")[:len(first.split())] == first.split()
    if len(greedy.steps) > 1:
        next(s for s in at.slider if s.key == "model.figure_step").set_value(1)
        assert highlighted(figure_of(no_exception(at.run()))) == "1"


def test_under_the_books_rule_chosen_in_the_sidebar_the_figure_shows_the_context_drift(with_default):
    at = decode()
    assert not [t for t in words(figure_of(at), "") if t.startswith("Δc")]       # the encoder rule: c everywhere
    next(r for r in at.sidebar.radio if r.label == "Decoder context at inference").set_value("book")
    at = no_exception(at.run())
    svg = figure_of(at)
    drifts = [t for t in words(svg, "") if t.startswith("Δc")]
    assert len(drifts) == len(words(svg, "fig-output")) - 1                     # every step after the first
    assert any("book's context rule" in c.value for c in at.caption)

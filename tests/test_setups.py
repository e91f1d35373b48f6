"""Shareable setups: every field's round trip through the URL, and hostile values refused."""
from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from core.setups import BLEU_FIELDS, DECODE_FIELDS, TRAIN_FIELDS, read_setup, write_setup
from tests.test_pages import BLEU, DECODE, HOME, ROOT, TRAIN, by_label, no_exception

# one value for each field, none of them its default
SETUP = {"source": "sort", "examples": 321, "held_out": 17, "num_steps": 7, "batch": 48, "min_freq": 1, "seed": 42,
         "tokenizer": "char",
         "cell": "lstm", "embed_size": 24, "hiddens": 40, "layers": 3, "dropout": 0.25, "bridge": True,
         "dec_hiddens": 20, "dec_layers": 1, "context": "book", "decoder": "attention", "lr": 0.0025, "epochs": 77,
         "clip": 2.5, "accum": 4, "tf": 0.75, "masked": False, "label_smoothing": 0.1, "reduction": "mean",
         "device": "cpu", "sample_every": 3}
HOSTILE = {
    "out of range": ("epochs", "1000000000"), "negative": ("seed", "-1"), "wrong type": ("lr", "fast"),
    "not whole": ("layers", "2.5"), "nan": ("dropout", "nan"), "infinite": ("clip", "inf"),
    "huge": ("examples", "9" * 5000), "script": ("cell", "<script>alert(1)</script>"),
    "script number": ("batch", "64<img src=x onerror=alert(1)>"), "not a choice": ("source", "tsv-path"),
    "bool": ("masked", "maybe"), "overflow": ("tf", "1e999"),
}


def test_every_train_field_survives_the_round_trip_through_a_link():
    assert {f.name for f in TRAIN_FIELDS} == set(SETUP)
    params = write_setup(SETUP, {}, TRAIN_FIELDS)
    assert all(isinstance(v, str) for v in params.values())
    values, problems = read_setup(params, TRAIN_FIELDS)
    assert values == SETUP and problems == []


def test_a_link_carries_only_what_differs_from_the_defaults():
    defaults = {**SETUP, "epochs": 300}
    assert write_setup({**SETUP, "epochs": 300}, defaults, TRAIN_FIELDS) == {}
    assert write_setup({**SETUP, "epochs": 5}, defaults, TRAIN_FIELDS) == {"epochs": "5"}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_bad_or_hostile_value_is_refused_with_a_message_naming_the_parameter(case):
    name, raw = HOSTILE[case]
    values, problems = read_setup({name: raw, "epochs": "12"} if name != "epochs" else {name: raw}, TRAIN_FIELDS)
    assert name not in values and len(problems) == 1 and problems[0].startswith(f"{name}:")
    assert len(problems[0]) < 200                       # a huge value is not echoed back
    if name != "epochs":
        assert values == {"epochs": 12}                 # the other values still apply


def test_the_servers_epoch_limit_bounds_a_links_epochs():
    assert read_setup({"epochs": "50"}, TRAIN_FIELDS, {"epochs": 50})[0] == {"epochs": 50}
    values, problems = read_setup({"epochs": "51"}, TRAIN_FIELDS, {"epochs": 50})
    assert values == {} and "outside 1–50" in problems[0]


def test_sentences_in_a_link_are_text_but_never_control_characters_or_a_flood():
    assert read_setup({"src": "<b>go</b> ."}, DECODE_FIELDS) == ({"src": "<b>go</b> ."}, [])
    assert read_setup({"src": "go\x00 ."}, DECODE_FIELDS)[1] == ["src: contains control characters"]
    assert "at most 2,000" in read_setup({"ref": "a " * 1100}, DECODE_FIELDS)[1][0]
    assert read_setup({"pred": "a b", "ref": "a b c", "k": "7"}, BLEU_FIELDS)[0] == {"pred": "a b", "ref": "a b c"}


# -- the views ---------------------------------------------------------------------------------
def open_with(page: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=60)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page != HOME:
        at.switch_page(page)
        at.run()
    return no_exception(at)


TRAIN_WIDGETS = {"examples": "Examples", "held_out": "Held out", "num_steps": "num_steps", "batch": "Batch size",
                 "min_freq": "min_freq", "seed": "Seed", "embed_size": "Embed size", "hiddens": "Hidden size",
                 "layers": "Layers", "dec_hiddens": "Decoder hidden size", "dec_layers": "Decoder layers",
                 "lr": "Learning rate", "epochs": "Epochs", "clip": "Clip θ (gradient norm)",
                 "accum": "Accumulation steps", "sample_every": "Sample every (epochs)"}


def test_a_link_fills_the_train_form_and_the_address_bar_follows_it(app_dir):
    link = write_setup({k: v for k, v in SETUP.items() if k != "source"}, {}, TRAIN_FIELDS)
    at = open_with(TRAIN, **link)
    for name, label in TRAIN_WIDGETS.items():
        assert by_label(at.number_input, label).value == pytest.approx(SETUP[name]), name
    assert by_label(at.radio, "Cell").value == "lstm" and by_label(at.radio, "Decoder").value == "attention"
    assert by_label(at.slider, "Dropout").value == pytest.approx(0.25)
    assert by_label(at.toggle, "Masked loss (the book)").value is False
    assert not at.warning or not any("link" in w.value for w in at.warning)
    assert at.query_params["epochs"] == "77" and "run" not in at.query_params
    shared = next(m.value for m in at.markdown if "epochs=77" in m.value)
    assert "hiddens=40" in shared


def test_the_train_forms_bounds_are_the_links_bounds(app_dir):
    at = open_with(TRAIN)
    fields = {f.name: f for f in TRAIN_FIELDS}
    for name, label in TRAIN_WIDGETS.items():
        widget = by_label(at.number_input, label)
        assert (widget.min, widget.max) == (pytest.approx(fields[name].low), pytest.approx(fields[name].high)), name


def test_label_smoothing_comes_from_a_link_into_its_slider_with_the_declared_bounds(app_dir):
    """One declaration (TrainConfig.label_smoothing) gives the link's field, the slider and its bounds."""
    at = open_with(TRAIN, label_smoothing="0.2")
    slider = by_label(at.slider, "Label smoothing")
    field = next(f for f in TRAIN_FIELDS if f.name == "label_smoothing")
    assert slider.value == pytest.approx(0.2) and (slider.min, slider.max) == (field.low, field.high) == (0.0, 0.5)
    assert at.query_params["label_smoothing"] == "0.2"
    assert by_label(at.slider, "Label smoothing").help and not any("link had values" in w.value for w in at.warning)


def test_a_hostile_link_gets_a_message_and_the_defaults_never_a_traceback(app_dir):
    at = open_with(TRAIN, **{name: raw for name, raw in HOSTILE.values()})
    warning = next(w.value for w in at.warning if "link had values" in w.value)
    assert all(f"{name}:" in warning.replace("\\", "") for name, _ in HOSTILE.values())
    assert by_label(at.number_input, "Epochs").value == 300 and by_label(at.radio, "Cell").value == "gru"
    assert re.search(r"(?<!\\)[<>]", warning) is None                  # every < and > escaped: shown as text


def test_decode_and_bleu_take_their_sentences_from_the_link(app_dir):
    at = open_with(DECODE, src="i am cold .")
    assert by_label(at.text_input, "Source sentence").value == "i am cold ."
    at = open_with(BLEU, pred="a b c", ref="a b c d", k="3")
    assert by_label(at.text_input, "Prediction").value == "a b c"
    assert by_label(at.text_input, "Reference").value == "a b c d"
    assert by_label(at.number_input, "k (n-gram orders)").value == 3
    at = open_with(BLEU, k="<script>")
    assert any("k:" in w.value for w in at.warning) and by_label(at.number_input, "k (n-gram orders)").value == 2


def test_a_script_in_a_links_sentence_is_shown_as_plain_text_as_the_docs_say(app_dir):
    """A sentence in a link is text: `<script>` stays the words it is, never run and never refused
    (docs/SERVING.md said "refused with a message", which only a number or a choice is)."""
    payload = "<script>alert(1)</script> i am cold ."
    at = open_with(DECODE, src=payload)
    assert by_label(at.text_input, "Source sentence").value == payload
    assert not any("link had values" in w.value for w in at.warning)
    drawn = [m.value for m in at.markdown] + [c.value for c in at.code]
    assert not any("<script>" in text for text in drawn if not text.lstrip().startswith("`"))   # escaped or code
    serving = (ROOT / "docs" / "SERVING.md").read_text(encoding="utf-8")
    assert "or script value is refused" not in serving and "shown as plain text" in serving

"""The sidebar's "Decoder context at inference" holds (issue 25): chosen on one page, it is the
rule of every page, in the session and in the URL (every sidebar link carries it), until the
learner changes it or another checkpoint is in use."""
from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qsl

from streamlit.testing.v1 import AppTest

from core.checkpoint import DEFAULT_CHECKPOINT, load_checkpoint, save_checkpoint
from core.evaluate import evaluate_pairs
from tests.apptest_helpers import HANG_GUARD, ROOT, no_exception, open_page

DECODE, BLEU, MODEL, TRAIN = "pages/3_🔎_Decode.py", "pages/4_📏_BLEU.py", "pages/0_🔬_Model.py", "pages/1_🏋️_Train.py"
PARAM = "inference_context"


def rule(at: AppTest):
    return next(r for r in at.sidebar.radio if r.label == "Decoder context at inference")


def corpus_bleu_shown(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Corpus BLEU (0–100)")


def corpus_bleu_with(context: str) -> str:
    """The default checkpoint's corpus BLEU on its held-out pairs, decoded with this rule."""
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    ckpt.model.decoder.fixed_context = context == "encoder"
    report = evaluate_pairs(ckpt.model, ckpt.test_pairs, ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                            tokenizer=ckpt.data_config.tokenizer)
    return f"{report.corpus.bleu.score:.2f}"


def link_params(at: AppTest, label: str) -> dict[str, str]:
    link = next(e for e in at.sidebar.get("page_link") if e.proto.label == label)
    return dict(parse_qsl(link.proto.query_string))


def opened_with(params: dict[str, str], page: str) -> AppTest:
    """A new session (a reload, or a link opened elsewhere) on `page` with the URL's `params`."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=HANG_GUARD)
    at.query_params.update(params)
    at.switch_page(page)
    return no_exception(at.run())


def follow_link(at: AppTest, label: str, page: str) -> AppTest:
    """Click the sidebar's link to `page`, as a browser does: that page, with the link's parameters."""
    params = link_params(at, label)
    at.query_params.clear()
    at.query_params.update(params)
    at.switch_page(page)
    return no_exception(at.run())


def test_the_decoder_context_chosen_on_decode_holds_on_bleu_model_and_train(with_default):
    at = open_page(DECODE, **{"keep.decode.sentence": "he's calm ."})
    at = no_exception(rule(at).set_value("book").run())
    assert at.query_params[PARAM] == "book"
    assert all(dict(parse_qsl(e.proto.query_string)).get(PARAM) == "book" for e in at.sidebar.get("page_link"))
    at = follow_link(at, "BLEU", BLEU)
    assert rule(at).value == "book"
    assert corpus_bleu_shown(at) == corpus_bleu_with("book") != corpus_bleu_with("encoder")
    at = follow_link(at, "Model", MODEL)
    assert rule(at).value == "book" and at.query_params[PARAM] == "book"
    at = follow_link(at, "Train", TRAIN)
    assert rule(at).value == "book"
    at.query_params.clear()                          # a way in without the parameter: the session still holds it
    at.switch_page(BLEU)
    at = no_exception(at.run())
    assert rule(at).value == "book" and at.query_params[PARAM] == "book"
    assert corpus_bleu_shown(at) == corpus_bleu_with("book")


def test_a_new_session_opened_with_the_links_decoder_context_starts_on_it(with_default):
    at = opened_with({PARAM: "book"}, BLEU)
    assert rule(at).value == "book" and link_params(at, "Decode")[PARAM] == "book"
    assert corpus_bleu_shown(at) == corpus_bleu_with("book")


def test_a_links_decoder_context_that_is_no_rule_is_said_and_the_checkpoints_own_is_used(with_default):
    at = opened_with({PARAM: "fixed"}, BLEU)
    assert rule(at).value == "encoder" and PARAM not in at.query_params
    assert any("decoder context" in w.value and "'fixed' is not one of book, encoder" in w.value
               for w in at.sidebar.warning)


def test_picking_another_checkpoint_brings_back_that_checkpoints_own_rule(with_default):
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    ckpt.model_config = replace(ckpt.model_config, context="book")
    save_checkpoint(ckpt, with_default / "own-book.pt")
    at = open_page(DECODE)
    picker = next(s for s in at.sidebar.selectbox if s.label == "In use on every page")
    assert picker.index == 0 and rule(at).value == "encoder"
    at = no_exception(rule(at).set_value("book").run())
    at = no_exception(next(s for s in at.sidebar.selectbox if s.label == "In use on every page").select_index(1).run())
    assert rule(at).value == "book"                                   # own-book.pt's own rule
    at = no_exception(rule(at).set_value("encoder").run())            # chosen for own-book.pt ...
    assert at.query_params[PARAM] == "encoder"
    at = no_exception(next(s for s in at.sidebar.selectbox if s.label == "In use on every page").select_index(0).run())
    assert rule(at).value == "encoder"                                # ... and default.pt is on its own rule again
    assert PARAM not in at.query_params and PARAM not in link_params(at, "BLEU")
    at = no_exception(next(s for s in at.sidebar.selectbox if s.label == "In use on every page").select_index(1).run())
    assert rule(at).value == "book"


def test_a_rule_chosen_for_another_checkpoint_is_not_given_to_the_one_a_reload_opens(with_default):
    """The link names the checkpoint the rule was chosen for (its file name, never a path): a
    reload opens the shipped checkpoint again, which then decodes with its own rule."""
    ckpt = load_checkpoint(DEFAULT_CHECKPOINT)
    save_checkpoint(ckpt, with_default / "mine.pt")
    at = open_page(DECODE)
    at = no_exception(next(s for s in at.sidebar.selectbox if s.label == "In use on every page").select_index(1).run())
    at = no_exception(rule(at).set_value("book").run())
    assert at.query_params[PARAM] == "book" and at.query_params["inference_for"] == "mine.pt"
    assert link_params(at, "BLEU") == {PARAM: "book", "inference_for": "mine.pt"}
    reloaded = opened_with({PARAM: "book", "inference_for": "mine.pt"}, DECODE)   # the same URL
    picker = next(s for s in reloaded.sidebar.selectbox if s.label == "In use on every page")
    assert picker.index == 0 and rule(reloaded).value == "encoder"          # default.pt, its own rule
    same = opened_with({PARAM: "book", "inference_for": "default.pt"}, DECODE)   # a link made for default.pt
    assert rule(same).value == "book"

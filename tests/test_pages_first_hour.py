"""What a newcomer meets in the first hour (issue 12), driven headless with AppTest: a second run
never silently replaces the first, and the samples say which sentences were trained on."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.checkpoint import load_checkpoint
from tests.apptest_helpers import HANG_GUARD, finish, no_exception, open_page, workspace_of

TRAIN = "pages/1_🏋️_Train.py"
TINY = {"keep.train.source": "reverse", "keep.train.examples": 96, "keep.train.held_out": 8,
        "keep.train.batch": 16, "keep.train.num_steps": 6, "keep.train.embed_size": 8,
        "keep.train.hiddens": 8, "keep.train.layers": 1, "keep.train.sample_every": 1,
        "keep.train.epochs": 2}


@pytest.fixture
def app_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    return tmp_path


def open_train(**state) -> AppTest:
    return open_page(TRAIN, **{**TINY, **state})


def start(at: AppTest) -> AppTest:
    return no_exception(next(b for b in at.button if b.label == "▶️ Start training").click().run())



@pytest.mark.trains
@pytest.mark.process
def test_the_finish_line_says_finished_once_with_the_epochs(app_dir):
    at = finish(start(open_train(**{"keep.train.name": "once"})))
    line = next(s.value for s in at.success if "once" in s.value)
    assert line == "Run **once** finished (2 epochs)", line

@pytest.mark.trains
@pytest.mark.process
def test_a_new_run_gets_a_new_default_name_and_never_overwrites_without_being_told(app_dir):
    at = finish(start(open_train(**{"keep.train.name": "first"})))
    first = (workspace_of(at) / "first.pt").read_bytes()
    assert at.text_input(key="keep.train.name").value != "first"        # a fresh default for the next run
    at.text_input(key="keep.train.name").set_value("first")
    at = no_exception(at.run())
    overwrite = next(c for c in at.checkbox if c.label.startswith("Overwrite first.pt"))
    assert overwrite.value is False
    at = start(at)                                                        # refused: the box is not ticked
    assert any("holds an earlier run" in e.value for e in at.error)
    assert (workspace_of(at) / "first.pt").read_bytes() == first and not any(b.key == "train.stop" for b in at.button)
    next(c for c in at.checkbox if c.label.startswith("Overwrite first.pt")).check()
    at = finish(start(no_exception(at.run())))
    assert (workspace_of(at) / "first.pt").read_bytes() != first
    status = at.dataframe[-1].value["status"].tolist()
    assert "overwritten by run 2" in status[0] and "overwritten" not in status[1]


@pytest.mark.trains
@pytest.mark.process
def test_the_samples_say_which_sentences_were_trained_on_and_which_were_held_out(app_dir):
    at = finish(start(open_train(**{"keep.train.name": "samples"})))
    table = next(d.value for d in at.dataframe if "pred" in d.value.columns)
    assert set(table["seen"]) == {"trained on", "not trained on"}
    history = load_checkpoint(workspace_of(at) / "samples.pt").history.samples
    assert {row["seen"] for row in history} == {True, False}


def test_the_app_decodes_with_the_encoders_context_by_default_and_offers_the_books_rule(app_dir):
    at = open_train()
    context = next(r for r in at.radio if r.label == "Decoder context at inference")
    assert context.value == "encoder" and list(context.options) == ["book", "encoder"]
    assert any("d2l 0.17.6's rule" in c.value for c in at.caption)


def test_an_upload_that_is_not_a_checkpoint_keeps_the_one_in_use_and_says_what_the_file_is(with_default):
    import io

    import torch

    from core.config import ModelConfig
    from core.model import build_model
    at = open_decode()
    before = next(s for s in at.sidebar.selectbox if s.label == "In use on every page").value
    weights = io.BytesIO()
    torch.save(build_model(ModelConfig(), 30, 40).state_dict(), weights)     # what the book's notebook saves
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("seq2seq.params", weights.getvalue(),
                                                                 "application/octet-stream").run())
    about = " ".join(i.value for i in at.sidebar.info)
    assert "seq2seq.params" in about and "trained with the book's code" in about and "GRU 2×64" in about
    assert next(s for s in at.sidebar.selectbox if s.label == "In use on every page").value == before
    other = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, other)
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("other.pt", other.getvalue(),
                                                                 "application/octet-stream").run())
    message = " ".join(e.value for e in at.sidebar.error)
    assert "other.pt" in message and "unchanged" in message and "weights" in message
    assert next(s for s in at.sidebar.selectbox if s.label == "In use on every page").value == before
    assert not any("is missing" in w.value for w in at.warning) and at.code       # Decode still works



def test_a_text_file_uploaded_as_a_checkpoint_says_what_a_checkpoint_is_and_where_text_goes(with_default):
    """Not Streamlit's own "text/plain files are not allowed": our refusal, naming the Train page."""
    at = open_decode()
    before = next(s for s in at.sidebar.selectbox if s.label == "In use on every page").value
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("pairs.txt", b"go .\tva !\n", "text/plain").run())
    message = " ".join(e.value for e in at.sidebar.error)
    assert "pairs.txt" in message and "not a checkpoint" in message and ".pt" in message, message
    assert "Train page" in message and "training data" in message
    assert next(s for s in at.sidebar.selectbox if s.label == "In use on every page").value == before
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("notes.docx", b"PK\x03\x04", "application/zip").run())
    assert any("notes.docx is not a checkpoint" in e.value for e in at.sidebar.error)

def open_decode(**state) -> AppTest:
    return open_page("pages/3_🔎_Decode.py", **state)


def test_a_new_source_sentence_takes_its_own_reference_not_the_previous_one(with_default):
    at = open_decode()
    assert at.text_input(key="keep.decode.reference").value == "je suis chez moi ."
    at.text_input(key="keep.decode.sentence").set_value("the cat is black .")
    at = no_exception(at.run())
    assert at.text_input(key="keep.decode.reference").value == ""
    assert not any("BLEU against the reference" in m.label for m in at.metric)
    held_out_source, held_out_reference = load_checkpoint(with_default / "default.pt").test_pairs[3]
    at.text_input(key="keep.decode.sentence").set_value(held_out_source)
    at = no_exception(at.run())
    assert at.text_input(key="keep.decode.reference").value == held_out_reference
    at.text_input(key="keep.decode.sentence").set_value("i lost .")            # a book example: trained on
    at = no_exception(at.run())
    assert at.text_input(key="keep.decode.reference").value == "j'ai perdu ."


def test_over_long_text_keeps_what_fits_and_says_so(with_default):
    long = ("i'm home . " * 300).strip()                      # 3,299 characters
    at = open_decode(**{"keep.decode.sentence": long})
    assert any("3,299 characters" in w.value and "2,000" in w.value for w in at.warning)
    assert at.code                                             # still translated, from the first 2,000
    bleu = open_page("pages/4_📏_BLEU.py", **{"keep.bleu.pred": long})
    assert any("Prediction: 3,299 characters" in w.value for w in bleu.warning)


def test_each_view_opens_with_a_sentence_from_the_checkpoints_own_data(with_default, tmp_path):
    from core.checkpoint import save_checkpoint
    from core.config import DataConfig, ModelConfig, TrainConfig
    from core.train import start_run
    run = start_run(DataConfig(source="reverse", num_examples=60, num_test=10, batch_size=16, num_steps=6),
                    ModelConfig(embed_size=8, num_hiddens=8, num_layers=1), TrainConfig(num_epochs=1))
    run.train()
    save_checkpoint(run.checkpoint(), with_default / "letters.pt")
    source, reference = run.data.test.sentences()[0]
    at = open_decode()                                         # the shipped model: the book's sentence
    assert at.text_input(key="keep.decode.sentence").value == "i'm home ."
    picker = next(s for s in at.sidebar.selectbox if s.label == "In use on every page")
    at = no_exception(picker.select(next(o for o in picker.options if "letters" in o)).run())
    at = no_exception(at.run())
    assert at.text_input(key="keep.decode.sentence").value == source
    assert at.text_input(key="keep.decode.reference").value == reference
    at.switch_page("pages/0_🔬_Model.py")
    at = no_exception(at.run())
    assert at.text_input(key="keep.model.sentence").value == source


def test_a_checkpoint_that_cannot_be_loaded_is_not_reported_as_missing(tmp_path, monkeypatch):
    (tmp_path / "broken.pt").write_bytes(b"\x00garbage")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    at = open_decode()
    assert any("could not be loaded" in w.value for w in at.warning)
    assert not any("is missing" in w.value for w in at.warning)


def book_state_dict_bytes(fra_eng_text: str) -> bytes:
    """A state_dict with the book's keys and the sizes load_data_nmt(…, 600) gives (as a notebook saves it)."""
    import io

    import torch

    from core.book_weights import book_vocabs
    from core.config import ModelConfig
    from core.model import build_model
    src, tgt, _ = book_vocabs(fra_eng_text, 600, 10)
    buffer = io.BytesIO()
    torch.save(build_model(ModelConfig(), len(src), len(tgt)).state_dict(), buffer)
    return buffer.getvalue()


def upload_book_weights(fra_eng_text: str) -> AppTest:
    """Decode open, and a book-trained state_dict uploaded in the sidebar."""
    at = open_decode()
    return no_exception(at.sidebar.get("file_uploader")[0].upload("seq2seq.params", book_state_dict_bytes(fra_eng_text),
                                                                   "application/octet-stream").run())


def test_the_books_weights_are_imported_from_the_sidebar_and_used_on_every_page(with_default, fra_eng_path,
                                                                              fra_eng_text, monkeypatch):
    monkeypatch.setenv("FRA_ENG_PATH", str(fra_eng_path))
    at = upload_book_weights(fra_eng_text)
    assert any("holds weights trained with the book's code" in i.value for i in at.sidebar.info)
    assert at.sidebar.number_input(key="import.num_examples").value == 600
    at = no_exception(at.sidebar.button(key="import.go").click().run())
    picker = next(s for s in at.sidebar.selectbox if s.label == "In use on every page")
    imported = workspace_of(at) / "seq2seq.pt"                          # an import is this browser's, as an upload
    assert picker.value.endswith("seq2seq.pt") and imported.is_file()
    assert load_checkpoint(imported).origin.startswith("imported from d2l 0.17.6")
    assert at.code                                                      # Decode translates with it
    home = open_page("app.py", **{"active_checkpoint": picker.value,       # the same browser opens Home
                                  "workspace": at.session_state["workspace"]})
    assert any("imported from d2l 0.17.6" in m.value for m in home.markdown)
    assert home.get("download_button")                                 # back to the book's code



def test_a_bad_data_file_in_the_import_form_is_said_not_raised(with_default, fra_eng_text, monkeypatch):
    monkeypatch.delenv("FRA_ENG_PATH", raising=False)                  # no book file: the form asks for one
    at = upload_book_weights(fra_eng_text)
    data = next(u for u in at.sidebar.get("file_uploader") if u.proto.id.endswith("import.data") or "fra" in u.label)
    at = no_exception(data.upload("fra.txt", b"Go.\tVa !\n\x00\x01binary", "text/plain").run())
    said = " ".join(e.value for e in at.sidebar.error)
    assert "fra.txt" in said and "/" not in said.replace("fra.txt", ""), said


def test_an_import_confirms_what_was_imported_and_that_it_is_now_in_use(with_default, fra_eng_path,
                                                                       fra_eng_text, monkeypatch):
    monkeypatch.setenv("FRA_ENG_PATH", str(fra_eng_path))
    at = no_exception(upload_book_weights(fra_eng_text).sidebar.button(key="import.go").click().run())
    said = " ".join(s.value for s in at.sidebar.success)
    assert "seq2seq.params" in said and "seq2seq.pt" in said and "now in use" in said, said
    assert "600 examples of fra-eng.zip" in said                       # what it was rebuilt from
    at = no_exception(at.run())
    assert not any("now in use" in s.value for s in at.sidebar.success)  # said once

def test_an_import_with_the_wrong_settings_says_which_and_keeps_the_checkpoint_in_use(with_default, fra_eng_path,
                                                                                      fra_eng_text, monkeypatch):
    monkeypatch.setenv("FRA_ENG_PATH", str(fra_eng_path))
    at = upload_book_weights(fra_eng_text)
    at.sidebar.number_input(key="import.num_examples").set_value(300)
    at = no_exception(at.sidebar.button(key="import.go").click().run())
    assert any("num_examples=300" in e.value for e in at.sidebar.error)
    assert next(s for s in at.sidebar.selectbox if s.label == "In use on every page").value.endswith("default.pt")


def test_weights_with_d2l_10s_keys_are_recognised_and_imported_with_its_settings(with_default, fra_eng_path,
                                                                                fra_eng_text, monkeypatch):
    import io
    import re

    import torch

    from core.book_weights import book10_vocabs
    from core.config import ModelConfig
    from core.model import build_model
    monkeypatch.setenv("FRA_ENG_PATH", str(fra_eng_path))
    src, tgt, _ = book10_vocabs(fra_eng_text)
    weights = build_model(ModelConfig(context="encoder"), len(src), len(tgt)).state_dict()
    buffer = io.BytesIO()
    torch.save({re.sub(r"^(encoder|decoder)\.rnn\.", r"\1.rnn.rnn.", k): v for k, v in weights.items()}, buffer)
    at = open_decode()
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("mt.params", buffer.getvalue(),
                                                                 "application/octet-stream").run())
    assert at.sidebar.radio(key="import.api").value == "1.0"
    assert at.sidebar.number_input(key="import.num_train").value == 512
    assert at.sidebar.number_input(key="import.num_steps.1.0").value == 9
    at = no_exception(at.sidebar.button(key="import.go").click().run())
    ckpt = load_checkpoint(workspace_of(at) / "mt.pt")
    assert ckpt.origin.startswith("imported from d2l 1.0") and ckpt.model_config.context == "encoder"
    assert ckpt.data_config.num_steps == 9 and at.code


def test_any_checkpoints_context_rule_is_switched_in_the_sidebar_without_changing_the_shared_model(tmp_path, monkeypatch):
    from core.checkpoint import save_checkpoint
    from core.config import DataConfig, ModelConfig, TrainConfig
    from core.decode import greedy_decode
    from core.train import start_run
    run = start_run(DataConfig(num_examples=300, num_test=20, batch_size=32),
                    ModelConfig(embed_size=16, num_hiddens=16, num_layers=1, context="book"), TrainConfig(num_epochs=3))
    run.train()
    save_checkpoint(run.checkpoint(), tmp_path / "book-rule.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    at = open_decode(**{"keep.decode.sentence": "i'm home ."})
    rule = next(r for r in at.sidebar.radio if r.label == "Decoder context at inference")
    assert rule.value == "book"                                   # the checkpoint's own rule first
    ckpt = load_checkpoint(tmp_path / "book-rule.pt")
    book = greedy_decode(ckpt.model, "i'm home .", ckpt.src_vocab, ckpt.tgt_vocab, 10, book=False).translation
    assert at.code[0].value.strip() == book
    at = no_exception(rule.set_value("encoder").run())
    ckpt.model.decoder.fixed_context = True
    fixed = greedy_decode(ckpt.model, "i'm home .", ckpt.src_vocab, ckpt.tgt_vocab, 10, book=False).translation
    assert at.code[0].value.strip() == fixed
    assert any("Decoding with the encoder rule" in c.value for c in at.sidebar.caption)
    from ui import models
    assert models.load(models.file_ref(tmp_path / "book-rule.pt")).model.decoder.fixed_context is False


def test_the_home_deep_link_opens_the_home_page_in_the_links_language(with_default):
    """/Home (pages/8_🔁_Home.py) is the home page, as /Train is the Train view: not "page not found"."""
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app.py"), default_timeout=HANG_GUARD)
    at.query_params["lang"] = "zh"
    at = no_exception(at.run())
    at.switch_page("pages/8_🔁_Home.py")
    at = no_exception(at.run())
    assert at.title[0].value.endswith("seq2seq playground") and at.query_params["lang"] == "zh"
    assert any(s.value.startswith("🧠 ") and "检查点" in s.value for s in at.subheader)   # Home's own, in Chinese


@pytest.mark.trains
@pytest.mark.process
def test_the_forms_label_smoothing_reaches_the_run_and_its_checkpoint(app_dir):
    """Declared once (TrainConfig.label_smoothing) and placed in the form: the widget's value is the run's."""
    at = finish(start(open_train(**{"keep.train.name": "smooth", "keep.train.label_smoothing": 0.15})))
    assert load_checkpoint(workspace_of(at) / "smooth.pt").train_config.label_smoothing == pytest.approx(0.15)

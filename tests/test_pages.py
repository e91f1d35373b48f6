"""The Streamlit views, driven headless with AppTest: each shows the numbers core computes.

Every test runs the app from `app.py` and switches page like the sidebar does, against a
temporary checkpoint folder (`SEQ2SEQ_CHECKPOINT_DIR`) holding one tiny checkpoint.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.decode import greedy_decode
from core.loss import MaskedSoftmaxCELoss
from core.metrics import bleu
from core.probes.masking import real_batch, toy_batch
from core.train import start_run
from tests.apptest_helpers import finish, rerun_until, tab_job, workspace_of

ROOT = Path(__file__).resolve().parent.parent
HOME, TRAIN, MASKING, DECODE, BLEU = ("app.py", "pages/1_🏋️_Train.py", "pages/2_🎭_Masking.py",
                                      "pages/3_🔎_Decode.py", "pages/4_📏_BLEU.py")
HTML = "<img src=x onerror=\"document.title='owned'\">"
TIMEOUT = 60


@pytest.fixture
def tiny(ckpt_dir):
    return load_checkpoint(ckpt_dir / "tiny.pt")


def open_page(page: str, **state) -> AppTest:
    """Run the app on `page`, with session state (e.g. widget values) set first."""
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    if page != HOME:
        at.switch_page(page)
    return at.run()


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def by_label(widgets, label: str):
    return next(w for w in widgets if w.label == label)


def metric(at: AppTest, label: str) -> str:
    return by_label(at.metric, label).value


@pytest.mark.parametrize("page", [HOME, TRAIN, MASKING, DECODE, BLEU, "pages/9_🦶_Step.py"])
def test_every_page_renders_with_the_checkpoint_in_the_sidebar(app_dir, page):
    at = no_exception(open_page(page))
    assert not at.error
    assert by_label(at.sidebar.selectbox, "In use on every page").value.endswith("tiny.pt")


@pytest.mark.parametrize("page", [HOME, DECODE, BLEU])
def test_without_any_checkpoint_pages_say_so_and_offer_training(tmp_path, monkeypatch, page):
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(tmp_path))
    at = no_exception(open_page(page))
    assert any("needs a trained model" in w.value for w in at.warning)
    assert any(link.label == "Train a model" for link in at.get("page_link"))


def test_decode_shows_the_translation_greedy_decode_gives(app_dir, tiny):
    at = no_exception(open_page(DECODE, **{"keep.decode.sentence": "He's calm!"}))
    expected = greedy_decode(tiny.model, "He's calm!", tiny.src_vocab, tiny.tgt_vocab,
                             tiny.data_config.num_steps, book=False)
    assert at.code[0].value == expected.translation
    assert metric(at, "Valid length") == str(expected.source.valid_len)


def test_decode_what_if_decodes_on_from_the_chosen_token(app_dir, tiny):
    at = no_exception(open_page(DECODE))
    token = by_label(at.selectbox, "Choose instead").value
    forced = greedy_decode(tiny.model, "i'm home .", tiny.src_vocab, tiny.tgt_vocab, tiny.data_config.num_steps,
                           book=False, forced={0: tiny.tgt_vocab[token]})
    assert at.code[-1].value == forced.translation and forced.steps[0].chosen_token == token


def test_decode_with_an_empty_sentence_asks_for_one(app_dir):
    at = no_exception(open_page(DECODE, **{"keep.decode.sentence": "   "}))
    assert any("Type a sentence" in i.value for i in at.info) and not at.code


def test_decode_shows_html_as_text(app_dir):
    at = no_exception(open_page(DECODE, **{"keep.decode.sentence": HTML, "keep.decode.reference": HTML}))
    chips = [m.value for m in at.markdown if "<span" in m.value]
    assert chips and not any("<img" in c for c in chips) and any("&lt;img" in c for c in chips)


def test_decode_opens_the_bleu_view_with_both_sentences(app_dir, tiny):
    at = no_exception(open_page(DECODE))
    translation = at.code[0].value
    at = no_exception(at.button(key="decode.to_bleu").click().run())
    assert by_label(at.text_input, "Prediction").value == translation
    assert by_label(at.text_input, "Reference").value == "je suis chez moi ."


@pytest.mark.parametrize("pred, ref, k", [("suis suis chez moi", "je suis chez moi .", 2),
                                          ("le chat est sur le tapis", "le chat est sur le tapis", 4),
                                          ("moi", "je suis chez moi .", 3)])
def test_bleu_shows_the_score_core_bleu_gives(app_dir, pred, ref, k):
    at = no_exception(open_page(BLEU, **{"keep.bleu.pred": pred, "keep.bleu.ref": ref, "keep.bleu.k": k}))
    assert metric(at, f"BLEU (k = {k})") == f"{bleu(pred, ref, k):.4f}"


@pytest.mark.parametrize("pred, ref", [("", ""), ("  ", "je suis"), ("je suis", "")])
def test_bleu_asks_for_both_sentences_instead_of_scoring_empty_ones(app_dir, pred, ref):
    at = no_exception(open_page(BLEU, **{"keep.bleu.pred": pred, "keep.bleu.ref": ref}))
    assert any("Type a prediction and a reference" in i.value for i in at.info)
    assert not any(m.label.startswith("BLEU (k") for m in at.metric)


def test_bleu_warns_that_repeated_spaces_make_empty_tokens(app_dir):
    at = no_exception(open_page(BLEU, **{"keep.bleu.pred": "je  suis", "keep.bleu.ref": "je suis"}))
    assert any("empty token" in w.value for w in at.warning)
    assert metric(at, "BLEU (k = 2)") == f"{bleu('je  suis', 'je suis', 2):.4f}"


def test_bleu_explains_an_order_longer_than_the_prediction(app_dir):
    at = no_exception(open_page(BLEU, **{"keep.bleu.pred": "moi", "keep.bleu.k": 2}))
    assert any("no 2-grams" in i.value and "skipped" in i.value for i in at.info)


def test_bleu_shows_html_as_text(app_dir):
    at = no_exception(open_page(BLEU, **{"keep.bleu.pred": HTML, "keep.bleu.ref": HTML + " x"}))
    chips = [m.value for m in at.markdown if "<span" in m.value]
    assert not any("<img" in c for c in chips) and any("&lt;img" in c for c in chips)


def test_bleu_corpus_row_opens_its_breakdown(app_dir, tiny):
    at = no_exception(open_page(BLEU))
    assert float(metric(at, "Corpus BLEU (0–100)")) >= 0
    worst = by_label(at.selectbox, "Sentence")
    at = no_exception(worst.select(1).run().button(key="bleu.open").click().run())
    row = at.dataframe[-1].value.iloc[1]
    assert by_label(at.text_input, "Prediction").value == row["pred"]
    assert by_label(at.text_input, "Reference").value == row["ref"]


def per_sequence_table(at: AppTest):
    return next(d.value for d in at.dataframe if "MaskedSoftmaxCELoss" in d.value.columns)


def test_masking_edited_batch_shows_what_masked_softmax_ce_loss_gives(app_dir):
    at = no_exception(open_page(MASKING))
    batch = toy_batch(["A B C", "D <pad> <pad>"], ["A B F", "D Z X"], [3, 1], 0.9)
    expected = MaskedSoftmaxCELoss()(batch.logits, batch.labels, batch.valid_len)
    assert per_sequence_table(at)["MaskedSoftmaxCELoss"].tolist() == pytest.approx(expected.tolist(), abs=1e-6)


def test_masking_real_batch_shows_what_masked_softmax_ce_loss_gives(app_dir, tiny):
    at = no_exception(open_page(MASKING, **{"keep.mask.mode": "A real batch through the checkpoint in use"}))
    batch = real_batch(tiny, tiny.test_pairs[:4])
    expected = MaskedSoftmaxCELoss()(batch.logits, batch.labels, batch.valid_len)
    assert per_sequence_table(at)["MaskedSoftmaxCELoss"].tolist() == pytest.approx(expected.tolist(), abs=1e-5)


@pytest.mark.parametrize("text, says", [("1, two", "whole numbers"), ("99999999999999999999, 1", "at most 1000")])
def test_masking_rejects_bad_valid_lengths_with_a_message(app_dir, text, says):
    at = no_exception(open_page(MASKING, **{"keep.mask.valid": text}))
    assert any(says in e.value for e in at.error)


def test_a_broken_checkpoint_upload_shows_a_message(app_dir):
    at = open_page(HOME)
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("bad.pt", b"not a checkpoint", "application/octet-stream").run())
    assert any("Could not load" in e.value for e in at.sidebar.error)


def test_an_uploaded_checkpoint_becomes_the_one_in_use(app_dir):
    at = open_page(DECODE)
    raw = (app_dir / "tiny.pt").read_bytes()
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("mine.pt", raw, "application/octet-stream").run())
    picker = by_label(at.sidebar.selectbox, "In use on every page")
    assert picker.value.startswith("upload:") and "mine.pt (uploaded)" in picker.options
    assert at.code


def test_a_picked_checkpoint_stays_in_use_when_a_newer_file_is_listed_before_it(ckpt_dir, tmp_path, monkeypatch):
    """A run saved while browsing lands first in the list; switching pages kept the widget's
    old position and showed the new file as the one in use."""
    import shutil
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in ("a.pt", "b.pt"):
        shutil.copy(ckpt_dir / "tiny.pt", folder / name)
        time.sleep(0.01)                                   # newest first: b, a
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(folder))
    at = no_exception(open_page(DECODE))
    def picker():
        return by_label(at.sidebar.selectbox, "In use on every page")
    assert picker().value.endswith("b.pt")
    at = no_exception(picker().select_index(1).run())
    assert picker().value.endswith("a.pt")
    shutil.copy(ckpt_dir / "tiny.pt", folder / "c.pt")    # listed first now: c, b, a
    for page in (TRAIN, BLEU, DECODE):
        at.switch_page(page)
        at = no_exception(at.run())
        assert picker().value.endswith("a.pt") and picker().options[0] == "c.pt", (page, picker().options)


def test_the_books_download_offline_says_what_to_do(app_dir, tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("SEQ2SEQ_CACHE", str(tmp_path))
    monkeypatch.delenv("FRA_ENG_PATH", raising=False)
    at = no_exception(open_page(TRAIN, **{"keep.train.source": "tatoeba-book"}))
    at = no_exception(at.button(key="train.download").click().run())
    assert any("no internet" in e.value and "upload" in e.value for e in at.error)
    assert by_label(at.button, "▶️ Start training").disabled          # nothing to train on yet


def tiny_run_state(**extra) -> dict:
    state = {"keep.train.source": "reverse", "keep.train.examples": 96, "keep.train.held_out": 8,
             "keep.train.batch": 16, "keep.train.num_steps": 6, "keep.train.embed_size": 8,
             "keep.train.hiddens": 8, "keep.train.layers": 1, "keep.train.sample_every": 5,
             "keep.train.name": "tiny-run"}
    return {**state, **{f"keep.train.{k}": v for k, v in extra.items()}}


def step_loss_points(at: AppTest) -> int:
    """The last step the live loss chart shows (its x range; the curve itself is thinned)."""
    for chart in at.get("plotly_chart"):
        if chart.proto.id.endswith("train.step_loss"):
            return max(json.loads(chart.proto.spec)["data"][0].get("x", []), default=0)
    return 0


@pytest.mark.trains
@pytest.mark.process
def test_train_runs_a_job_live_then_saves_and_lists_it(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=60)))
    at = no_exception(at.button[0].click().run())     # ▶️ Start training
    points: list[int] = []

    def saved(page: AppTest):
        points.append(step_loss_points(page))
        return page.get("download_button")
    at = rerun_until(at, saved, "the run to end and save")
    assert len(set(points)) > 1 and points == sorted(points)       # the chart grew while it trained
    mine = workspace_of(at)              # saved in the tab's browser's workspace, not the shared folder
    assert (mine / "tiny-run.pt").is_file()
    assert load_checkpoint(mine / "tiny-run.pt").history.epoch_loss
    assert any(s.value.startswith("Run **tiny-run** finished") for s in at.success)
    assert "1. tiny-run (masked, sum)" in at.dataframe[-1].value["run"].tolist()


@pytest.mark.trains
@pytest.mark.process
def test_train_stop_button_stops_the_job_and_keeps_its_checkpoint(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=100_000, name="stopped-run")))
    at = no_exception(at.button[0].click().run())
    at = no_exception(at.button(key="train.stop").click().run())
    at = rerun_until(at, lambda page: page.get("download_button"), "the stopped run to save")
    assert any("stopped" in w.value for w in at.warning)
    assert (workspace_of(at) / "stopped-run.pt").is_file()


def test_train_rejects_an_unusable_run_name_with_a_message(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(name="///")))
    at = no_exception(at.button[0].click().run())
    assert any("run name" in e.value for e in at.error) and not at.get("download_button")


@pytest.mark.trains
@pytest.mark.process
def test_a_running_job_lives_on_across_pages_and_tabs_are_independent(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=100_000, name="long-run")))
    at = no_exception(at.button[0].click().run())
    at.switch_page(DECODE)
    at = no_exception(at.run())
    assert any("long-run" in p.proto.text and "running" in p.proto.text for p in at.sidebar.get("progress"))
    other_tab = no_exception(open_page(TRAIN))
    assert any("No run in this tab yet" in i.value for i in other_tab.info)
    at.switch_page(TRAIN)
    at = no_exception(at.run())
    job = tab_job(at)
    at = no_exception(at.button(key="train.stop").click().run())
    at = rerun_until(at, lambda page: page.get("download_button"), "the stopped run to save")
    # the Stop ended it (its 100,000 epochs are far from done), not the end of its epochs
    assert job.status == "stopped" and job.epochs_done < job.planned_epochs and (workspace_of(at) / "long-run.pt").is_file()


@pytest.mark.trains
@pytest.mark.process
def test_train_continues_the_checkpoint_in_use_without_touching_it(app_dir, tiny):
    before = greedy_decode(tiny.model, "i'm home .", tiny.src_vocab, tiny.tgt_vocab, 10, book=False).translation
    key = "shared:tiny.pt"                                   # other tests add newer files to the folder
    at = no_exception(open_page(TRAIN, **{"active_checkpoint": key, "keep.train.more_epochs": 2,
                                          "keep.train.more_name." + key: "tiny-more"}))
    at = finish(no_exception(at.button(key="train.continue").click().run()))
    more = load_checkpoint(workspace_of(at) / "tiny-more.pt")
    assert len(more.history.epoch_loss) == 4 and more.history.epoch_loss[:2] == tiny.history.epoch_loss
    assert more.train_config.lr == tiny.train_config.lr and more.src_vocab.to_dict() == tiny.src_vocab.to_dict()
    assert len(load_checkpoint(app_dir / "tiny.pt").history.epoch_loss) == 2        # the file as it was
    at.switch_page(DECODE)                                  # the cached model was not trained further
    at = no_exception(at.run())
    assert at.code[0].value == before
    (workspace_of(at) / "tiny-more.pt").unlink()


def tsv_checkpoint_folder(pairs: Path, folder: Path, monkeypatch) -> None:
    """The server's checkpoint folder `folder`, holding tsv.pt: a tiny run trained on the TSV
    file `pairs` (its checkpoint names that file)."""
    pairs.write_text("".join(f"{w}\t{w[::-1]}\n" for w in ("ab", "cd", "ef", "gh", "ij", "kl") * 4))
    folder.mkdir()
    data = DataConfig(source="tsv", path=str(pairs), num_examples=24, num_test=4, batch_size=4, min_freq=0)
    run = start_run(data, ModelConfig(embed_size=4, num_hiddens=4, num_layers=1), TrainConfig(num_epochs=1))
    run.train()
    save_checkpoint(run.checkpoint(), folder / "tsv.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(folder))


@pytest.mark.trains
@pytest.mark.process
def test_continuing_a_run_on_a_file_asks_for_the_file_instead_of_reading_its_path(tmp_path, monkeypatch):
    """A checkpoint names its data file; the server reads no path a checkpoint chooses."""
    pairs = tmp_path / "pairs.tsv"
    tsv_checkpoint_folder(pairs, tmp_path / "checkpoints", monkeypatch)
    monkeypatch.delenv("SEQ2SEQ_ALLOW_LOCAL_PATHS", raising=False)
    at = no_exception(open_page(TRAIN, **{"keep.train.more_epochs": 1}))
    assert at.button(key="train.continue").disabled
    uploader = next(u for u in at.get("file_uploader") if "upload that file again" in u.proto.label)
    at = no_exception(uploader.upload("pairs.tsv", pairs.read_bytes(), "text/tab-separated-values").run())
    assert not at.button(key="train.continue").disabled
    at = finish(no_exception(at.button(key="train.continue").click().run()))
    assert len(load_checkpoint(workspace_of(at) / "tsv-more.pt").history.epoch_loss) == 2


@pytest.mark.trains
@pytest.mark.process
def test_each_finished_run_joins_the_overlay_and_a_deselected_one_stays_out(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=3, name="cmp-a")))
    for name in ("cmp-b", "cmp-c"):
        at = finish(no_exception(by_label(at.button, "▶️ Start training").click().run()))
        overlay = by_label(at.multiselect, "Runs to overlay")
        if name == "cmp-c":                                      # before the third run: drop the first
            at = no_exception(overlay.unselect(overlay.value[0]).run())
        at.session_state["keep.train.name"] = name
        at = no_exception(at.run())
    at = finish(no_exception(by_label(at.button, "▶️ Start training").click().run()))
    assert by_label(at.multiselect, "Runs to overlay").value == ["2. cmp-b (masked, sum)", "3. cmp-c (masked, sum)"]
    for name in ("cmp-a", "cmp-b", "cmp-c"):
        (workspace_of(at) / f"{name}.pt").unlink()


@pytest.mark.trains
@pytest.mark.process
def test_a_reloaded_tab_takes_its_running_job_over_from_the_url(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=100_000, name="reloaded")))
    at = no_exception(by_label(at.button, "▶️ Start training").click().run())
    token = at.query_params["run"]
    assert token and isinstance(token, str) and len(token) >= 16
    reloaded = AppTest.from_file(str(ROOT / HOME), default_timeout=TIMEOUT)     # a new session
    reloaded.session_state["workspace"] = at.session_state["workspace"]       # of the same browser (its cookie)
    reloaded.query_params["run"] = token
    reloaded.switch_page(TRAIN)
    reloaded = no_exception(reloaded.run())
    assert any("reloaded" in p.proto.text and "running" in p.proto.text for p in reloaded.get("progress"))
    stranger = AppTest.from_file(str(ROOT / HOME), default_timeout=TIMEOUT)     # a wrong token adopts nothing
    stranger.query_params["run"] = "not-" + token
    stranger.switch_page(TRAIN)
    assert any("No run in this tab yet" in i.value for i in no_exception(stranger.run()).info)
    reloaded = finish(no_exception(reloaded.button(key="train.stop").click().run()))
    assert (workspace_of(at) / "reloaded.pt").is_file()        # where the tab that started it saves
    (workspace_of(at) / "reloaded.pt").unlink()


def test_train_says_what_file_a_cleaned_run_name_becomes(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(name="../my run!")))
    assert any("Will be saved as `my-run.pt`" in c.value for c in at.caption)


def test_grids_never_show_a_negative_zero():
    from ui.charts import no_negative_zero
    assert [no_negative_zero(t) for t in ("-0.000", "-0.001", "0.250", "-0", "n/a")] == \
        ["0.000", "-0.001", "0.250", "0", "n/a"]


def test_train_says_when_fewer_pairs_are_held_out_than_asked(app_dir):
    at = no_exception(open_page(TRAIN, **tiny_run_state(examples=4, held_out=5)))
    assert metric(at, "Held-out pairs") == "1"
    assert any("1 held out, not 5" in c.value for c in at.caption)

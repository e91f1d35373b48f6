"""简体中文 and English: complete catalogs, the book's terms, every page drawn in both languages."""
from __future__ import annotations

import ast
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from core.book_weights import origin_text
from core.i18n import LANGUAGES, Text, from_accept_language, glossary, language_of, text_in, translator
from tests.apptest_helpers import rerun_until
from tests.test_pages import HOME, ROOT, no_exception, tiny_run_state

LOCALES = ROOT / "locales"
PAGES = ["app.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# texts that are the same in both languages: code names, the book's abbreviations, numbers
SAME_IN_BOTH = re.compile(r"^[\W\d_]*$|^(?:[\w.\-]*_[\w.\-]*|top-k|k|BLEU|chrF|GRU|LSTM|lr|d2l[\w. ]*|"
                          r"English|简体中文|Language / 语言|seq2seq playground|[A-Z]{2,6}|[\w.]+\([^()]*\))$")
# the terms: the Chinese edition's words must appear where the English ones do
CORE_TERMS = {"encoder": ["编码器"], "decoder": ["解码器"], "context variable": ["上下文变量"],
              "hidden state": ["隐状态"], "embedding layer": ["嵌入层"], "token": ["词元"],
              "vocabulary": ["词表"], "valid length": ["有效长度"], "padding": ["填充"],
              "mask": ["遮蔽"], "teacher forcing": ["强制教学"], "greedy": ["贪心"],
              "beam search": ["束搜索"], "gradient clipping": ["梯度裁剪"], "accumulation": ["累加"],
              "perplexity": ["困惑度"], "attention weights": ["注意力权重"]}


def catalog(lang: str):
    with open(LOCALES / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


def messages(lang: str) -> dict[str, str]:
    return {m.id: m.string for m in catalog(lang) if m.id}


# -- the catalogs ------------------------------------------------------------------------------
@pytest.mark.process
def test_the_catalogs_hold_every_message_of_the_code_and_are_compiled():
    """scripts/i18n.py --check: the .pot is what the code says, each .po follows it, each .mo its .po."""
    done = subprocess.run([sys.executable, "scripts/i18n.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_no_catalog_entry_is_missing_empty_or_fuzzy(lang):
    entries = list(catalog(lang))[1:]
    assert len(entries) > 300
    missing = [m.id for m in entries if not m.string or "fuzzy" in m.flags]
    assert missing == [], f"{len(missing)} untranslated in {lang}: {missing[:10]}"


def test_every_translation_keeps_its_placeholders_and_markdown_code():
    for msgid, msgstr in messages("zh").items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(msgstr)), (msgid, msgstr)
        assert msgstr.count("`") == msgid.count("`"), (msgid, msgstr)


def test_the_chinese_interface_uses_the_chinese_editions_terms():
    zh = messages("zh")
    assert {t.english: t.chinese for t in glossary()}["teacher forcing"] == "强制教学"
    wrong = []
    for msgid, msgstr in zh.items():
        # a password (an operator's, Ray's) is not a 词元
        prose = re.sub(r"`[^`]*`|(operator|wrong|server's) token|token the cluster", "", msgid.lower())
        for term, words in CORE_TERMS.items():
            if re.search(rf"\b{re.escape(term)}", prose) and not any(w in msgstr for w in words):
                wrong.append((term, msgid, msgstr))
    assert wrong == [], wrong[:10]


def test_a_language_comes_from_a_tag_or_an_accept_language_header():
    assert language_of("zh-CN") == language_of("zh_Hans") == language_of("zh-TW;q=0.8") == "zh"
    assert language_of("en-GB") == "en" and language_of("fr") is None and language_of(None) is None
    assert from_accept_language("fr-FR,fr;q=0.9,zh-CN;q=0.8,en;q=0.5") == "zh"
    assert from_accept_language("de") is None
    assert translator("zh")("Train") != "Train" and translator("en")("Train") == "Train"


# -- every page in both languages --------------------------------------------------------------
def open_in(page: str, lang: str | None) -> AppTest:
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=90)
    if lang:
        at.query_params["lang"] = lang
    at.run()
    if page != HOME:
        at.switch_page(page)
        at.run()
    return no_exception(at)


def shown_texts(at: AppTest) -> list[str]:
    """Headers, labels, buttons, captions, messages and Markdown the page draws (not user data or
    code: raw HTML is the token chips of a sentence)."""
    texts = [e.value for kind in ("title", "header", "subheader", "caption", "info", "warning", "error", "success")
             for e in at.get(kind)]
    texts += [e.value for e in at.markdown if not e.value.lstrip().startswith("<")]
    texts += [w.label for kind in ("button", "number_input", "text_input", "selectbox", "radio", "slider",
                                   "toggle", "checkbox", "multiselect", "text_area", "expandable")
              for w in at.get(kind) if getattr(w, "label", None)]
    return [t for t in texts if t and t.strip()]


def plain(text: str) -> str:
    """Without Markdown escapes, code spans, emoji and icons."""
    text = re.sub(r"`[^`]*`", "", text.replace("\\", ""))
    text = re.sub(r":[a-z_]+:", "", text)
    return re.sub(r"[^\w\s\-/.,:;()'’%+×→?!]", "", text).strip()


def untranslated(at: AppTest) -> list[str]:
    """What the page draws in English although the catalogs translate it (or with no Chinese at all)."""
    english = {m for m, zh in messages("zh").items() if zh != m}
    found = []
    for text in shown_texts(at):
        words = plain(text)
        if words and not SAME_IN_BOTH.match(words) and (text in english or not CJK.search(text)):
            found.append(text)
    return found


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_drawn_in_chinese_with_nothing_left_in_english(app_dir, page):
    assert untranslated(open_in(page, "zh")) == [], untranslated(open_in(page, "zh"))[:15]


def test_the_untranslated_check_finds_english(app_dir):
    """The check above can fail: the English Train view is full of what it looks for."""
    assert len(untranslated(open_in("pages/1_🏋️_Train.py", "en"))) > 30


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_drawn_in_english_by_default(app_dir, page):
    at = open_in(page, None)
    # the language picker names itself in both; the notes' own 以时间换空间 is quoted in English too
    assert not any(CJK.search(t) for t in shown_texts(at) if "语言" not in t and "以时间换空间" not in t)


def test_the_sidebar_switches_the_language_and_the_url_keeps_it(app_dir):
    at = open_in(HOME, None)
    assert at.title[0].value.endswith("seq2seq playground")
    at.sidebar.get("button_group")[0].set_value("zh").run()
    assert at.query_params["lang"] == "zh" and CJK.search(" ".join(shown_texts(at)))
    again = open_in(HOME, "zh")                                # a shared link opens in its language
    assert CJK.search(again.subheader[0].value)
    back = open_in(HOME, "en")
    assert not CJK.search(back.subheader[0].value)


def test_home_shows_the_glossary_translators_and_tests_use(app_dir):
    at = open_in(HOME, "zh")
    table = next(d.value for d in at.dataframe if "中文" in d.value.columns)
    terms = dict(zip(table["English"], table["中文"]))
    assert terms["teacher forcing"] == "强制教学" and terms["beam search"] == "束搜索" and len(terms) == len(glossary())


# -- what the engine says ----------------------------------------------------------------------
def test_an_engine_message_is_english_as_a_string_and_chinese_where_shown():
    step = Text("one decoder step")
    said = Text("the decoder RNN's input, {step}", step=step)
    assert said == "the decoder RNN's input, one decoder step" and isinstance(said, str)
    assert text_in(said, "zh") == "解码器 RNN 的输入，解码器的一个时间步"     # the nested Text translated too
    err = ValueError(Text("a valid length is at most {most} here (any length past maxlen keeps every position), "
                          "got {got}", most=1000, got=1234))
    assert str(err).startswith("a valid length is at most 1000") and "1234" in text_in(err, "zh")
    assert CJK.search(text_in(err, "zh")) and text_in(err, "en") == str(err)
    again = pickle.loads(pickle.dumps(err))                    # as it comes back from a worker process
    assert text_in(again, "zh") == text_in(err, "zh")
    assert text_in("Model", "zh") == "Model" and text_in(7, "zh") == "7"       # a run's name stays its name
    assert text_in(KeyError("encoder.rnn.weight_hh_l0"), "zh") == "'encoder.rnn.weight_hh_l0'"


ENGINE_ERRORS = re.compile(r"Error$|^LimitExceeded$|^QueueFull$|^WorkerCrashed$|^WorkerFailed$")
PROGRAMMING_ERRORS = {"NotImplementedError", "RuntimeError", "AttributeError", "TypeError", "KeyError"}
CLI_ONLY = {"core/cli.py", "core/import_d2l.py", "core/i18n.py"}


def literal_messages_raised(path: Path) -> list[str]:
    """`raise SomeError("…")` / `raise SomeError(f"…")` in a module: a message the UI could only show in English."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            name = getattr(node.exc.func, "id", getattr(node.exc.func, "attr", ""))
            first = node.exc.args[0]
            if (ENGINE_ERRORS.search(name) and name not in PROGRAMMING_ERRORS
                    and isinstance(first, (ast.Constant, ast.JoinedStr, ast.BinOp))):
                found.append(f"{path.name}:{node.lineno} {name}")
    return found


def test_every_error_the_engine_raises_at_a_user_is_a_translatable_text():
    """A ValueError (or CheckpointError, DataError, LimitError …) raised with an English literal
    would reach the Chinese interface in English: core raises them with a `Text`."""
    modules = [p for p in sorted((ROOT / "core").rglob("*.py")) if str(p.relative_to(ROOT)) not in CLI_ONLY]
    found = [hit for path in modules for hit in literal_messages_raised(path)]
    assert found == [], found


def test_the_finder_of_literal_messages_finds_one(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text('def f(x):\n    raise ValueError(f"bad {x}")\n\n\ndef g(x):\n    raise ValueError(Text("bad {x}", x=x))\n')
    assert literal_messages_raised(sample) == ["m.py:2 ValueError"]


def open_in_chinese(page: str, **session) -> AppTest:
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=90)
    at.query_params["lang"] = "zh"
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page)
    return no_exception(at.run())


def test_a_refusal_by_the_servers_limits_is_shown_in_chinese(app_dir, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_MAX_PARAMETERS", "500")
    at = open_in_chinese("pages/1_🏋️_Train.py", **tiny_run_state(name="too-big", epochs=2))
    at = no_exception(at.button[0].click().run())                  # ▶️ 开始训练
    refusal = next(text for text in (e.value.replace("\\", "") for e in at.error) if "SEQ2SEQ_MAX_PARAMETERS" in text)
    assert CJK.search(refusal.split("**:")[1]) and "this server allows" not in refusal


def test_a_file_that_is_no_checkpoint_is_refused_in_chinese(app_dir):
    at = open_in_chinese(HOME)
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("notes.pt", b"just some text",
                                                                "application/octet-stream").run())
    refusal = next(e.value for e in at.sidebar.error if "notes.pt" in e.value)
    assert "not a seq2seq-playground checkpoint" not in refusal and "检查点" in refusal
    at = no_exception(at.sidebar.get("button_group")[0].set_value("en").run())     # switched: the same refusal
    refusal = next(e.value for e in at.sidebar.error if "notes.pt" in e.value)
    assert "not a seq2seq-playground checkpoint" in refusal and not CJK.search(refusal)


def test_the_model_views_trace_is_labelled_in_chinese(app_dir):
    at = open_in_chinese("pages/0_🔬_Model.py")
    table = next(d.value for d in at.dataframe if "张量" in d.value.columns)
    labels = " ".join(table["张量"].tolist())
    assert "编码器" in labels and "解码器" in labels and "encoder" not in labels


@pytest.mark.trains
@pytest.mark.process
def test_a_finished_run_says_so_in_chinese(app_dir, monkeypatch):
    """The run's status line comes from the worker process as a Text and is shown translated."""
    at = open_in_chinese("pages/1_🏋️_Train.py", **tiny_run_state(name="zh-run", epochs=3))
    at = no_exception(at.button[0].click().run())
    at = rerun_until(at, lambda page: page.success, "the run's finish line")
    line = next(s.value for s in at.success if "zh-run" in s.value)
    assert "training finished" not in line and CJK.search(line.split("：", 1)[-1]), line


@pytest.mark.parametrize("origin", ["imported from d2l 0.17.6 state_dict, GRU, 600 examples of fra.txt",
                                    "imported from d2l 1.0 state_dict, LSTM, MTFraEng num_train 512, num_val 128 of fra.txt",
                                    "imported from d2l 0.17.6 state_dict, GRU, vocabulary files"])
def test_an_imported_checkpoints_origin_is_shown_in_chinese(origin):
    """`origin` is saved in the .pt as English text; the page reads it back as a Text."""
    assert origin_text(origin) == origin
    assert CJK.search(text_in(origin_text(origin), "zh")) and "imported" not in text_in(origin_text(origin), "zh")
    assert text_in(origin_text(origin, short=True), "zh").startswith("从 d2l")
    assert origin_text("trained somewhere else") == "trained somewhere else"


# -- issue 25, item 9: what the Chinese pages still said in English, and 掩码 beside 遮蔽 --------
LEFTOVER = re.compile(r"\bcorpus\b|Playground|GRU kernel|\bNone\b|掩码")


def drawn_in_chinese(page: str) -> list[str]:
    """Every text the page shows a reader (code spans left out), its select options and its formulas."""
    at = open_in(page, "zh")
    options = [str(o) for kind in ("selectbox", "radio") for w in at.get(kind) for o in (w.options or [])]
    return [re.sub(r"`[^`]*`", "", t.replace("\\", "")) for t in shown_texts(at) + options] + [f.value for f in at.latex]


@pytest.mark.parametrize("page", ["app.py", "pages/1_🏋️_Train.py", "pages/2_🎭_Masking.py", "pages/6_➕_Accumulation.py"])
def test_the_chinese_pages_leave_no_english_corpus_playground_kernel_or_formula_word(ckpt_dir, tmp_path, monkeypatch,
                                                                                     page):
    only_tiny = tmp_path / "checkpoints"          # the corpus checkpoint alone: no run another test saved
    only_tiny.mkdir()
    shutil.copy(ckpt_dir / "tiny.pt", only_tiny / "tiny.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(only_tiny))
    texts = drawn_in_chinese(page)
    assert [t for t in texts if LEFTOVER.search(t)] == []
    assert not any(r"\text{plain}" in t for t in texts)
    if page == "app.py":                                      # the sidebar's model line and Home's facts
        assert any("数据：内置语料" in t for t in texts), texts
    if page == "pages/2_🎭_Masking.py":
        assert any(r"\text{未遮蔽}" in t for t in texts)
    if page == "pages/6_➕_Accumulation.py":
        assert any("GRU 内核" in t for t in texts)


def test_the_chinese_catalog_says_遮蔽_for_mask_as_the_editions_chapter_does():
    assert {t.english: t.chinese for t in glossary()}["mask"] == "遮蔽"
    assert [(m, zh) for m, zh in messages("zh").items() if "掩码" in zh] == []
    masked = {m: zh for m, zh in messages("zh").items() if re.search(r"\bmask", m.lower()) and "`" not in m}
    assert masked and all("遮蔽" in zh for zh in masked.values()), masked


def test_the_operator_pages_where_line_reads_as_one_chinese_sentence():
    """The place comes from the engine as a phrase; the Chinese line names it after a colon
    instead of wrapping it in 运行在 … 中训练, which broke the word order."""
    from core.i18n import translator
    where = translator("zh")("worker processes on this server, {jobs} at once").format(jobs=1)
    line = translator("zh")("Runs train in {where}; {free} free slot(s) now.").format(where=where, free=1)
    assert line == "训练位置：本服务器上的工作进程，同时 1 个；当前有 1 个空闲位置。"

"""Each student's runs are their own (issue 24), driven headless with AppTest: a tab lists the
shared checkpoints and its own browser's, never another browser's; the operator lists all; no
page shows a path of the server's.

A browser is its workspace id (`ui.workspace`, kept in a cookie): AppTest sends no cookie, so a
test gives a session its browser's id in session state, or stands in for the cookie."""
from __future__ import annotations

import io
import shutil
import uuid
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.checkpoint import checkpoint_payload, load_checkpoint
from core.service.workspaces import new_workspace_id, workspace_dir
from tests.apptest_helpers import HANG_GUARD, finish, no_exception, open_page, workspace_of
from tests.test_pages import BLEU, DECODE, HOME, TRAIN, tiny_run_state, tsv_checkpoint_folder
from ui import state
from ui import workspace as browser_workspace

PICKER = "In use on every page"
OPERATOR = "pages/7_🛠️_Operator.py"
TOKEN = "correct horse battery staple"
SERVER_FOLDER = "server-side-folder"


@pytest.fixture
def shared(ckpt_dir, tmp_path, monkeypatch) -> Path:
    """A server's checkpoint folder holding the shared tiny.pt (its name, no Markdown escape
    changes, is what a page must never show)."""
    folder = tmp_path / SERVER_FOLDER
    folder.mkdir()
    shutil.copy(ckpt_dir / "tiny.pt", folder / "tiny.pt")
    monkeypatch.setenv("SEQ2SEQ_CHECKPOINT_DIR", str(folder))
    return folder


def browser(shared: Path, run: str) -> str:
    """A browser's workspace id, its workspace holding one run."""
    workspace = new_workspace_id()
    workspace_dir(workspace).mkdir(parents=True)
    shutil.copy(shared / "tiny.pt", workspace_dir(workspace) / f"{run}.pt")
    return workspace


def offered(at: AppTest) -> list[str]:
    return list(next(s for s in at.sidebar.selectbox if s.label == PICKER).options)


def in_use(at: AppTest) -> str:
    return next(s for s in at.sidebar.selectbox if s.label == PICKER).value


def test_a_tab_lists_the_shared_checkpoints_and_its_browsers_own_but_no_other_browsers(shared):
    a, b = browser(shared, "a-run"), browser(shared, "b-run")
    for workspace, own, other in ((a, "a-run.pt", "b-run.pt"), (b, "b-run.pt", "a-run.pt")):
        at = no_exception(open_page(DECODE, **{state.WORKSPACE: workspace}))
        assert offered(at) == ["tiny.pt", own] and other not in offered(at)
    stranger = no_exception(open_page(DECODE))                   # a new browser: the shared ones only
    assert offered(stranger) == ["tiny.pt"]


def test_a_reload_finds_its_browsers_workspace_by_the_cookie(shared, monkeypatch):
    a = browser(shared, "a-run")
    monkeypatch.setattr(browser_workspace, "_sent_cookie", lambda: a)   # what the browser sends on a reload
    at = no_exception(open_page(HOME))
    assert at.session_state[state.WORKSPACE] == a and "a-run.pt" in offered(at)
    assert not [h for h in at.get("html") if browser_workspace.COOKIE in h.proto.body]   # already kept: not written again


def test_a_first_visit_gets_a_new_workspace_and_the_script_that_keeps_it(shared, monkeypatch):
    browser(shared, "a-run")
    at = no_exception(open_page(HOME))
    workspace = at.session_state[state.WORKSPACE]
    script = " ".join(h.proto.body for h in at.get("html"))
    assert f"{browser_workspace.COOKIE}={workspace};" in script and "a-run.pt" not in offered(at)


@pytest.mark.parametrize("cookie", ["../../../etc", "a-run", "x" * 15, "<script>alert(1)</script>" * 2])
def test_a_cookie_that_is_no_workspace_id_gets_a_new_workspace_inside_the_folder(shared, monkeypatch, cookie):
    monkeypatch.setattr(browser_workspace, "_sent_cookie", lambda: cookie)
    at = no_exception(open_page(HOME))
    workspace = at.session_state[state.WORKSPACE]
    assert workspace != cookie and workspace_dir(workspace).parent == shared / "workspaces"
    assert offered(at) == ["tiny.pt"]


@pytest.mark.parametrize("key", ["mine:b-run.pt", "workspace:{b}/b-run.pt", "shared:../workspaces/{b}/b-run.pt",
                                 "file:{folder}/b-run.pt"])
def test_another_browsers_checkpoint_cannot_be_put_in_use_by_a_session_value_or_a_link(shared, key):
    a, b = browser(shared, "a-run"), browser(shared, "b-run")
    key = key.format(b=b, folder=workspace_dir(b))
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / HOME), default_timeout=HANG_GUARD)
    at.session_state[state.WORKSPACE] = a
    at.session_state[state.ACTIVE_CHECKPOINT] = key
    at.query_params.update({"inference_context": "book", "inference_for": "b-run.pt"})   # a link naming it
    at.switch_page(TRAIN)
    at = no_exception(at.run())
    assert in_use(at) == "shared:tiny.pt" and "b-run.pt" not in offered(at)
    continued = " ".join(m.value for m in at.markdown)            # the continue form names what it would train
    assert "tiny.pt" in continued and "b-run" not in continued


def test_the_operator_lists_every_browsers_checkpoints(shared, monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_OPERATOR_TOKEN", TOKEN)
    b = browser(shared, "b-run")
    student = no_exception(open_page(DECODE))
    assert "b-run.pt" not in " ".join(offered(student))
    at = no_exception(open_page(OPERATOR))
    at = no_exception(at.text_input(key="operator.token_input").input(TOKEN).run())
    at.switch_page(DECODE)
    at = no_exception(at.run())
    assert f"b-run.pt (workspace {b[:6]})" in offered(at)


def test_an_uploaded_checkpoint_is_read_once(shared, monkeypatch):
    ckpt = load_checkpoint(shared / "tiny.pt")
    ckpt.origin = f"uploaded in a test ({uuid.uuid4()})"          # bytes no cache has seen
    raw = io.BytesIO()
    torch.save(checkpoint_payload(ckpt), raw)
    reads = []
    load = torch.load
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: reads.append(1) or load(*args, **kwargs))
    at = no_exception(open_page(DECODE))
    reads.clear()
    at = no_exception(at.sidebar.get("file_uploader")[0].upload("once.pt", raw.getvalue(),
                                                                "application/octet-stream").run())
    assert "once.pt (uploaded)" in offered(at) and in_use(at).startswith("upload:")
    assert len(reads) == 1


@pytest.mark.trains
@pytest.mark.process
def test_a_link_with_another_browsers_run_token_opens_no_one_s_run(shared):
    """The address bar of a tab that trains holds its run's token (?run=): copied into another
    browser, it neither shows that run nor offers its checkpoint for download."""
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=100_000, name="not-yours")))
    at = no_exception(next(b for b in at.button if b.label == "▶️ Start training").click().run())
    token = at.query_params["run"]

    def opened_by(workspace: str) -> AppTest:
        other = AppTest.from_file(str(Path(__file__).resolve().parent.parent / HOME), default_timeout=HANG_GUARD)
        other.session_state[state.WORKSPACE] = workspace
        other.query_params["run"] = token
        other.switch_page(TRAIN)
        return no_exception(other.run())
    stranger = opened_by(new_workspace_id())
    assert any("No run in this tab yet" in i.value for i in stranger.info)
    assert not any("not-yours" in p.proto.text for p in stranger.get("progress"))
    reloaded = opened_by(at.session_state[state.WORKSPACE])        # its own browser, reloaded
    assert any("not-yours" in p.proto.text for p in reloaded.get("progress"))
    finish(no_exception(reloaded.button(key="train.stop").click().run()))
    assert not no_exception(stranger.run()).get("download_button")     # the run ended: still not offered there


def everything_sent(at: AppTest) -> str:
    """Every element of the page as Streamlit sends it to the browser: texts, labels, options,
    widget ids, file names."""
    def walk(node) -> list[str]:
        proto = getattr(node, "proto", None)
        children = getattr(node, "children", {}).values()
        return ([str(proto)] if proto is not None else []) + [text for child in children for text in walk(child)]
    return "\n".join(walk(at._tree))


@pytest.mark.trains
@pytest.mark.process
def test_no_page_shows_a_path_of_the_server_after_a_run_is_saved_and_put_in_use(shared):
    at = no_exception(open_page(TRAIN, **tiny_run_state(epochs=2, name="pathless")))
    at = finish(no_exception(next(b for b in at.button if b.label == "▶️ Start training").click().run()))
    assert any("Saved to `pathless.pt`" in m.value for m in at.markdown)
    assert (workspace_of(at) / "pathless.pt").is_file() and SERVER_FOLDER not in everything_sent(at)
    at = no_exception(at.button(key="train.use").click().run())
    assert in_use(at) == "mine:pathless.pt"
    for page in (HOME, DECODE, BLEU, TRAIN):
        at.switch_page(page)
        at = no_exception(at.run())
        assert SERVER_FOLDER not in everything_sent(at), page


def test_no_page_shows_the_path_a_checkpoints_data_was_read_from(tmp_path, monkeypatch):
    (tmp_path / SERVER_FOLDER).mkdir()
    tsv_checkpoint_folder(tmp_path / SERVER_FOLDER / "pairs.tsv", tmp_path / "checkpoints", monkeypatch)
    monkeypatch.setenv("SEQ2SEQ_ALLOW_LOCAL_PATHS", "1")           # the continue form reads the file itself
    for page in (HOME, TRAIN):
        at = no_exception(open_page(page))
        shown = everything_sent(at)
        assert "pairs.tsv" in shown and SERVER_FOLDER not in shown, page

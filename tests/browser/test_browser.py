"""The playground in a real Chromium against a real `python serve.py` (`streamlit run app.py`).

Each test that depends on server state gets a server of its own; the read-only view tests
share one. Screenshots of every view (viewport 1400×1000) go to a temporary folder;
`bash scripts/screenshots.sh` makes the same tests refresh the README's, docs/screenshots/.
"""
from __future__ import annotations

import pytest

from core.checkpoint import load_checkpoint
from tests.browser import streamlit_server as sts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOAD = "<img src=x onerror=\"document.title='owned'\">"
TIMEOUT = sts.HANG_GUARD_MS        # waits are hang guards, not speed checks


def shot(page, path, anchor=None) -> None:
    """Screenshot the viewport, first scrolling `anchor` (a locator) to the top if given."""
    page.mouse.move(5, 995)                 # no hover toolbar over a chart
    if anchor is not None:
        anchor.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.wait_for_timeout(300)           # let plotly finish its transition
    page.screenshot(path=str(path))


def assert_clean(page) -> None:
    assert sts.exceptions(page) == 0, page.locator('[data-testid="stException"]').first.inner_text()


# -- a. every view opens -----------------------------------------------------------------------
@pytest.mark.parametrize("view", list(sts.all_views()))
def test_every_view_opens(shared_server, page, view, screenshots, tmp_path):
    sts.open_view(page, shared_server.url, view)
    _, text = sts.all_views()[view]
    assert text.lower() in sts.main_title(page).lower()
    assert page.title().endswith("seq2seq playground")
    assert_clean(page)
    # train.png (mid-training) and decode.png (a decoded sentence) come from their own tests
    target = screenshots if view in ("home", "masking", "bleu") else tmp_path
    shot(page, target / f"{view}.png")


# -- b. deep link on a fresh server ------------------------------------------------------------
def test_deep_link_to_decode_on_fresh_server(fresh_server, page):
    page.goto(fresh_server.url + "/Decode")            # the server's very first request
    sts.title(page).filter(has_text="Decode").wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    nav = sts.sidebar_nav(page)
    for label in sts.NAV_LABELS:
        assert label in nav, f"sidebar navigation {nav} lacks {label}"
    assert "app" not in nav, nav
    code = page.locator('[data-testid="stMain"] [data-testid="stCode"]').first
    assert code.inner_text().strip() == "je suis chez moi ."
    assert_clean(page)
    page.locator('[data-testid="stSidebar"] .st-key-nav a', has_text="BLEU").click()   # navigation works
    sts.title(page).filter(has_text="BLEU").wait_for(timeout=TIMEOUT)
    assert page.url.endswith("/BLEU")


def test_deep_link_to_model_on_fresh_server(fresh_server, page, screenshots):
    """/Model as a first request: the traced shapes, the diagram and the context map are drawn."""
    page.goto(fresh_server.url + "/Model")
    sts.title(page).filter(has_text="Inside the model").wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    assert_clean(page)
    main = page.locator('[data-testid="stMain"]')
    assert main.get_by_text("(T, N, D + H) = (10, 4, 96)").count() >= 1       # the shipped model, N=4, T=10
    assert main.locator('[data-testid="stGraphVizChart"] svg').count() == 1
    assert main.get_by_text("Parameters per layer").count() == 1
    assert "Model" in sts.sidebar_nav(page)[:2]
    shot(page, screenshots / "model.png", page.get_by_role("heading", name="Shapes, from a real forward pass"))


# -- c. Train: a tiny run, the chart grows, the checkpoint is saved ----------------------------
TINY = [("Examples", 300), ("Held out", 20), ("Embed size", 8), ("Hidden size", 16), ("Layers", 1),
        ("Sample every (epochs)", 25)]


def fill_tiny_run(page, name: str, epochs: int, seed: int = 0) -> None:
    sts.choose(page, "Source", "Synthetic: reverse a letter sequence")
    for label, value in TINY + [("Epochs", epochs), ("Seed", seed)]:
        sts.set_text(page, label, value)
    sts.set_text(page, "Run name", name)


def job_line(page) -> str:
    """The live panel's progress text, e.g. 'tiny — running: epoch 3/200, 0.4 s, ...'."""
    bar = page.locator('[data-testid="stMain"] [data-testid="stProgress"]')
    return bar.first.inner_text() if bar.count() else ""


def test_train_tiny_run(fresh_server, page, screenshots):
    """Long enough to watch (2000 epochs), reloaded (the run goes on), then stopped:
    independent of the machine's speed."""
    sts.open_view(page, fresh_server.url, "train")
    fill_tiny_run(page, "tiny-reverse", epochs=2000)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("running: epoch").first.wait_for(timeout=TIMEOUT)
    grew = """(n) => { const gd = document.querySelector('.st-key-train-step_loss .js-plotly-plot');
                       const x = gd && gd.data ? gd.data[0].x : null;
                       return !!x && x.length > 0 && Number(x[x.length - 1]) > n; }"""
    page.wait_for_function(grew, arg=0, timeout=TIMEOUT)
    first_points, first_line = sts.plot_points(page, "train.step_loss"), job_line(page)
    page.wait_for_function(grew, arg=first_points, timeout=TIMEOUT)     # the next refresh
    later_points, later_line = sts.plot_points(page, "train.step_loss"), job_line(page)
    assert later_points > first_points, (first_points, later_points)
    assert "running" in first_line and "running" in later_line, (first_line, later_line)
    shot(page, screenshots / "train.png", page.get_by_role("heading", name="Live"))
    assert "run=" in page.url
    page.reload()                                   # a new session takes the job over from the URL
    page.get_by_text("running: epoch").first.wait_for(timeout=TIMEOUT)
    page.wait_for_function(grew, arg=later_points, timeout=TIMEOUT)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Saved to").first.wait_for(timeout=TIMEOUT)
    assert "stopped" in job_line(page), job_line(page)
    page.get_by_text("Run tiny-reverse stopped").first.wait_for()
    path = sts.saved_run(fresh_server.checkpoint_dir, "tiny-reverse")     # in this browser's workspace
    assert path is not None and path.is_file()
    ckpt = load_checkpoint(path)
    assert 1 <= len(ckpt.history.step_loss) and len(ckpt.history.epoch_loss) < 2000
    assert ckpt.data_config.source == "reverse" and ckpt.model_config.num_hiddens == 16
    assert_clean(page)


# -- c2. the book's own weights, uploaded in the sidebar and used ------------------------------
def test_weights_trained_with_the_books_code_are_uploaded_imported_and_decode(fresh_server, page, d2l,
                                                                            book_decoder, fra_eng_text, tmp_path):
    import torch
    source, target = d2l.tokenize_nmt(d2l.preprocess_nmt(fra_eng_text), 600)
    src_vocab = d2l.Vocab(source, min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    tgt_vocab = d2l.Vocab(target, min_freq=2, reserved_tokens=["<pad>", "<bos>", "<eos>"])
    arrays = (*d2l.build_array_nmt(source, src_vocab, 10), *d2l.build_array_nmt(target, tgt_vocab, 10))
    torch.manual_seed(0)
    net = d2l.EncoderDecoder(d2l.Seq2SeqEncoder(len(src_vocab), 16, 32, 2, 0.1),
                             book_decoder(len(tgt_vocab), 16, 32, 2, 0.1))
    d2l.train_seq2seq(net, d2l.load_array(arrays, 64), 0.005, 5, tgt_vocab, "cpu")   # the book's own loop
    params = tmp_path / "seq2seq.params"
    torch.save(net.state_dict(), params)
    expected = d2l.predict_seq2seq(net, "i'm home .", src_vocab, tgt_vocab, 10, "cpu")[0]

    sts.open_view(page, fresh_server.url, "decode")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Upload a checkpoint").click()
    sts.rerun(page, lambda: sidebar.locator('input[type="file"]').set_input_files(str(params)))
    sidebar.get_by_text("holds weights trained with the book's code").wait_for(timeout=TIMEOUT)
    sts.rerun(page, lambda: sidebar.get_by_role("button", name="Import").click())
    sidebar.get_by_text("imported from d2l 0.17.6").first.wait_for(timeout=TIMEOUT)   # the checkpoint in use
    sts.wait_idle(page, TIMEOUT)
    code = page.locator('[data-testid="stMain"] [data-testid="stCode"]').first
    assert code.inner_text().strip() == expected
    assert load_checkpoint(sts.saved_run(fresh_server.checkpoint_dir, "seq2seq")).origin.startswith(
        "imported from d2l 0.17.6")
    assert_clean(page)


# -- d. Decode: type, step through, see the translation ----------------------------------------
def test_decode_step_by_step(shared_server, page, screenshots):
    sts.open_view(page, shared_server.url, "decode")
    codes = page.locator('[data-testid="stMain"] [data-testid="stCode"]')
    sts.set_text(page, "Source sentence", "go .")
    assert codes.first.inner_text().strip() != "je suis chez moi ."
    sts.set_text(page, "Source sentence", "i'm home .")
    assert codes.first.inner_text().strip() == "je suis chez moi ."
    slider = page.get_by_role("slider", name="Step")
    assert slider.get_attribute("max") == "6"          # je suis chez moi . <eos>
    slider.focus()
    sts.rerun(page, lambda: slider.press("Home"))
    seen = [codes.nth(1).inner_text().strip()]
    for _ in range(5):
        sts.rerun(page, lambda: slider.press("ArrowRight"))
        seen.append(codes.nth(1).inner_text().strip())
    assert seen == ["je", "je suis", "je suis chez", "je suis chez moi", "je suis chez moi .",
                    "je suis chez moi ."], seen
    assert codes.first.inner_text().strip() == "je suis chez moi ."
    assert_clean(page)
    shot(page, screenshots / "decode.png", page.get_by_role("heading", name="Greedy translation"))


# -- e. script injection into every text field -------------------------------------------------
FIELDS = {   # view -> text inputs that must exist (more found are filled too); other pages: what is found
    "home": [],
    "train": ["Run name", "Run name for the continued model"],
    "masking": ["Valid lengths, one per sequence"],
    "decode": ["Source sentence", "Reference translation (optional)"],
    "bleu": ["Prediction", "Reference"],
}


def assert_not_owned(page, where: str) -> None:
    ev = sts.injection_evidence(page)
    assert ev["title"] != "owned" and "owned" not in ev["titles"], (where, ev)
    assert page.locator('img[src="x"]').count() == 0, (where, ev)
    assert ev["img_onerror"] == 0 and not ev["img_errors"], (where, ev)


def open_expanders(page) -> None:
    """Open the main area's closed expanders, so the text fields inside them can be typed into."""
    closed = page.locator('[data-testid="stMain"] [data-testid="stExpander"] details:not([open]) > summary')
    while closed.count():
        closed.first.click()
        page.wait_for_timeout(100)


def text_fields(page) -> list[str]:
    return page.locator('[data-testid="stTextInput"] input, [data-testid="stTextArea"] textarea') \
        .evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")


def fill_text_field(page, label: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(PAYLOAD)
    submit = "Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter"
    sts.rerun(page, lambda: box.press(submit))


def fill_comboboxes(page, view: str) -> int:
    """Type the payload into every selectbox's search box (it filters options), then Escape."""
    labels = page.locator('input[role="combobox"]').evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    for label in labels:
        box = page.get_by_label(label, exact=True)
        box.click()
        box.press_sequentially(PAYLOAD, delay=0)
        assert_not_owned(page, f"{view}: selectbox {label}")
        box.press("Escape")
    return len(labels)


def edit_masking_table(page) -> None:
    """Type the payload into the first label cell of the Masking view's editable batch."""
    sts.wait_idle(page)
    grid = page.locator(".st-key-mask-batch")
    grid.scroll_into_view_if_needed()
    editor = page.locator("textarea.gdg-input")
    for _ in range(5):                  # the grid is a canvas: open the cell editor by position
        box = grid.bounding_box()
        page.mouse.dblclick(box["x"] + 60, box["y"] + 35 + 17)   # below the header: row 0, "label"
        try:
            editor.wait_for(timeout=2_000)
            break
        except Exception:
            page.keyboard.press("Escape")
    editor.fill(PAYLOAD)
    sts.rerun(page, lambda: editor.press("Enter"))
    # the label tokens reach the (canvas) grids; their accessible cells hold them as text
    page.locator('[role="gridcell"]', has_text="src=x").first.wait_for(state="attached")


@pytest.mark.parametrize("view", list(sts.all_views()))
def test_script_injection(shared_server, page, view):
    sts.open_view(page, shared_server.url, view)
    open_expanders(page)
    found = text_fields(page)
    for label in FIELDS.get(view, []):
        assert label in found, f"{view}: no text field {label!r} (found {found})"
    for label in found:
        fill_text_field(page, label)
        assert_not_owned(page, f"{view}: {label}")
    assert fill_comboboxes(page, view) >= 1           # at least the sidebar's checkpoint picker
    if view == "masking":
        edit_masking_table(page)
        assert_not_owned(page, "masking: batch table")
    if view == "decode":   # the user's text reaches the chips, and then the BLEU view
        assert page.get_by_text("onerror=").count() > 0
        page.get_by_role("button", name="Break this pair down in the BLEU view").click()
        sts.title(page).filter(has_text="BLEU").wait_for(timeout=TIMEOUT)
        sts.wait_idle(page)
        assert page.get_by_label("Prediction", exact=True).input_value() != ""
    if view == "bleu":
        assert page.get_by_text("onerror=").count() > 0
    page.wait_for_timeout(300)
    assert_not_owned(page, f"{view}: end")
    assert_clean(page)


# -- f. two tabs train at once -----------------------------------------------------------------
@pytest.fixture
def two_jobs_server():
    """A fresh server that trains two runs at once (on 2 cores the default is one: a second waits)."""
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder, env={"SEQ2SEQ_MAX_JOBS": "2"}) as server:
        yield server


def test_two_tabs_train_at_once(two_jobs_server, browser):
    """Tab A's run cannot end by itself (100,000 epochs), so it trains the whole time tab B's
    60-epoch run does, however fast the machine: the overlap is an event, not a race."""
    fresh_server = two_jobs_server
    a, b = sts.first_page(browser), browser.new_page()
    for tab, name, seed, epochs in ((a, "tab-a", 1, 100_000), (b, "tab-b", 2, 60)):
        sts.open_view(tab, fresh_server.url, "train")
        fill_tiny_run(tab, name, epochs=epochs, seed=seed)
    a.get_by_role("button", name="Start training").click()
    a.get_by_text("running: epoch").first.wait_for(timeout=TIMEOUT)
    b.get_by_role("button", name="Start training").click()
    b.get_by_text("Saved to").first.wait_for(timeout=2 * TIMEOUT)
    assert "finished" in job_line(b), job_line(b)
    assert "running" in job_line(a), job_line(a)          # A trained on all the while B did
    a.get_by_role("button", name="Stop").click()
    a.get_by_text("Saved to").first.wait_for(timeout=TIMEOUT)
    assert "stopped" in job_line(a), job_line(a)
    for tab in (a, b):
        assert_clean(tab)
    ckpts = [load_checkpoint(sts.saved_run(fresh_server.checkpoint_dir, n)) for n in ("tab-a", "tab-b")]
    assert len(ckpts[1].history.epoch_loss) == 60 and ckpts[0].history.step_loss
    assert ckpts[0].history.epoch_loss != ckpts[1].history.epoch_loss
    assert ckpts[0].data_config.seed == 1 and ckpts[1].data_config.seed == 2

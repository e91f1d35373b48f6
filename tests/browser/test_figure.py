"""The chapter's figure (issue 27) in a real Chromium: `/Decode?src=…` draws it with every token,
Decode's step slider moves its highlight, pointing at a step or clicking it shows its numbers, a
GRU, an LSTM, a bridge and an attention checkpoint each draw theirs, in English and in Chinese,
and at a phone's width it scrolls sideways instead of shrinking. Screenshots: figure.png (the
README's first), figure-zh.png, figure-phone.png, figure-attention.png."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from core.checkpoint import load_checkpoint, save_checkpoint
from core.config import DataConfig, ModelConfig, TrainConfig
from core.decode import greedy_decode
from core.train import start_run
from tests.browser import streamlit_server as sts
from tests.browser.conftest import _skip_unless_browser
from tests.browser.test_browser import assert_clean

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT = sts.HANG_GUARD_MS        # waits are hang guards, not speed checks
SENTENCE = "I'm home."
LINK = "/Decode?src=I%27m%20home."
PICKER = "In use on every page"
MODELS = {   # file stem -> a tiny model of each kind the figure draws differently (default.pt: the book's GRU)
    "lstm": ModelConfig(cell="lstm", embed_size=16, num_hiddens=16, num_layers=2),
    "bridge": ModelConfig(embed_size=16, num_hiddens=16, num_layers=2, dec_num_hiddens=12, dec_num_layers=1),
    "attention": ModelConfig(embed_size=16, num_hiddens=16, num_layers=1, decoder="attention"),
}
FIGURE = "svg.seq2seq-figure"


@pytest.fixture(scope="module")
def figure_server(tmp_path_factory):
    """A server whose checkpoint folder holds the shipped model and a tiny LSTM, bridge and
    attention model, each trained for ten epochs (seconds) on the shipped corpus: enough to write a
    few words before `<eos>`."""
    _skip_unless_browser()
    folder = tmp_path_factory.mktemp("figure-checkpoints")
    shutil.copy(sts.DEFAULT_CHECKPOINT, folder / "default.pt")
    data = DataConfig(source="corpus", num_examples=300, num_test=30, batch_size=32)
    for name, model in MODELS.items():
        run = start_run(data, model, TrainConfig(num_epochs=10))
        run.train()
        save_checkpoint(run.checkpoint(), folder / f"{name}.pt")
    with sts.run_streamlit(folder) as server:
        yield server


def texts(page, css: str = "") -> list[str]:
    """The figure's <text> elements (of one class), as drawn: without their hover <title>s (an SVG
    text has no innerText)."""
    return page.locator(f"{FIGURE} text" + (f".{css}" if css else "")).evaluate_all(
        "els => els.map(e => [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.data).join(''))")


def highlighted(page) -> str:
    return page.locator(f"{FIGURE} g.fig-dec-step.current").get_attribute("data-step")


def open_decode(page, url: str, link: str = LINK) -> None:
    page.goto(url + link)
    sts.title(page).filter(has_text=re.compile("Decode|解码")).wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    page.locator(FIGURE).wait_for(timeout=TIMEOUT)


def shot_figure(page, path: Path) -> None:
    """The figure and its heading, the width of the main column."""
    page.mouse.move(5, 5)
    heading = page.get_by_role("heading", name=re.compile("encoder–decoder|编码器–解码器")).first
    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    sts.settle(page)
    top, figure = heading.bounding_box(), page.locator(FIGURE).bounding_box()
    main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    page.screenshot(path=str(path), clip={"x": main["x"], "y": top["y"] - 8, "width": main["width"],
                                          "height": figure["y"] + figure["height"] - top["y"] + 24})


def test_a_decode_link_draws_the_figure_with_every_token(figure_server, page, screenshots):
    open_decode(page, figure_server.url)
    assert page.locator(FIGURE).count() == 1
    assert texts(page, "fig-source") == ["i'm", "home", ".", "<eos>"] + ["<pad>"] * 6
    translation = page.locator('[data-testid="stMain"] [data-testid="stCode"]').first.inner_text().strip()
    assert translation == "je suis chez moi ."
    assert texts(page, "fig-output") == translation.split() + ["<eos>"]
    assert texts(page, "fig-input") == ["<bos>"] + translation.split()
    assert "je suis chez moi" in page.locator(FIGURE).get_attribute("aria-label")
    assert page.locator(f"{FIGURE} title").count() > 50                  # hover: every part says its numbers
    assert highlighted(page) == "6"
    assert_clean(page)
    shot_figure(page, screenshots / "figure.png")


def test_moving_decodes_step_slider_moves_the_figures_highlight(figure_server, page):
    open_decode(page, figure_server.url)
    slider = page.get_by_role("slider", name="Step")
    slider.focus()
    sts.rerun(page, lambda: slider.press("Home"))
    assert highlighted(page) == "1" and texts(page, "fig-detail")[:2] == ["Step 1 of 6", "input: <bos>"]
    for step in range(2, 5):
        sts.rerun(page, lambda: slider.press("ArrowRight"))
        assert highlighted(page) == str(step)
        assert texts(page, "fig-detail")[0] == f"Step {step} of 6"
    assert page.locator(FIGURE).count() == 1                             # redrawn in place, not added
    assert_clean(page)


def shown_details(page) -> list[str]:
    """Which step's details the figure shows under it (each step has its own; CSS shows one)."""
    return page.locator(f"{FIGURE} g.fig-details").evaluate_all(
        "els => els.filter(e => getComputedStyle(e).display !== 'none').map(e => e.getAttribute('data-for'))")


def test_pointing_at_a_step_or_clicking_it_shows_that_steps_numbers(figure_server, page):
    open_decode(page, figure_server.url)
    assert shown_details(page) == ["6"]                                   # the slider's step
    page.locator(f'{FIGURE} g.fig-dec-step[data-step="2"] text.fig-output').hover()
    assert shown_details(page) == ["2"]
    details = page.locator(f'{FIGURE} g.fig-details[data-for="2"] text').evaluate_all(
        "els => els.map(e => [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.data).join(''))")
    assert details[:2] == ["Step 2 of 6", "input: je"] and "output: suis (p = 0.999)" in details
    assert any(line.startswith("decoder state (top layer): norm ") for line in details)
    page.mouse.move(5, 5)
    assert shown_details(page) == ["6"]
    page.locator(f'{FIGURE} g.fig-dec-step[data-step="3"] text.fig-output').click()
    page.mouse.move(5, 5)
    assert shown_details(page) == ["3"]                                    # a click keeps it (the focus)
    assert highlighted(page) == "6"                                        # the slider's step is unchanged


@pytest.mark.parametrize("name", list(MODELS))
def test_an_lstm_a_bridge_and_an_attention_checkpoint_each_draw_their_figure(figure_server, page, name, screenshots,
                                                                           tmp_path):
    open_decode(page, figure_server.url)
    page.get_by_label(PICKER, exact=True).click()
    sts.rerun(page, lambda: page.get_by_role("option", name=re.compile(rf"^{name}\.pt")).click())
    sts.set_text(page, "Source sentence", SENTENCE)
    page.locator(FIGURE).wait_for(timeout=TIMEOUT)
    ckpt = load_checkpoint(figure_server.checkpoint_dir / f"{name}.pt")
    expected = greedy_decode(ckpt.model, SENTENCE, ckpt.src_vocab, ckpt.tgt_vocab, ckpt.data_config.num_steps,
                             book=False, tokenizer=ckpt.data_config.tokenizer)
    assert texts(page, "fig-output") == [s.chosen_token[:9] + "…" if len(s.chosen_token) > 10 else s.chosen_token
                                         for s in expected.steps]
    assert texts(page, "fig-source")[:3] == ["i'm", "home", "."]
    labels = texts(page)
    if name == "lstm":
        assert "layer 2 (h, c)" in labels and "layer 1 (h, c)" in labels
    if name == "bridge":
        assert "bridge: Linear + tanh (7.9.3)" in labels and "bridge output" in labels
    if name == "attention":
        assert len(expected.steps) > 1 and page.locator(f"{FIGURE} line.fig-attention").count() >= len(expected.steps)
    assert_clean(page)
    shot_figure(page, (screenshots if name == "attention" else tmp_path) / f"figure-{name}.png")


def test_the_figure_in_chinese(figure_server, page, screenshots):
    open_decode(page, figure_server.url, LINK + "&lang=zh")
    labels = texts(page)
    assert "编码器" in labels and "解码器" in labels and "Encoder" not in labels
    assert texts(page, "fig-detail")[0] == "第 6 步（共 6 步）"
    assert texts(page, "fig-output") == ["je", "suis", "chez", "moi", ".", "<eos>"]
    assert_clean(page)
    shot_figure(page, screenshots / "figure-zh.png")


def test_at_a_phones_width_the_figure_scrolls_sideways_and_keeps_its_text_readable(figure_server, screenshots):
    _skip_unless_browser()
    with sts.chromium_context(viewport={"width": 390, "height": 844}) as ctx:
        page = sts.first_page(ctx)
        open_decode(page, figure_server.url)
        frame = page.locator(f"div.fig-scroll:has({FIGURE})")
        sizes = frame.evaluate("e => [e.scrollWidth, e.clientWidth]")
        assert sizes[0] > sizes[1], sizes                                  # wider than the phone: it scrolls
        drawn = page.locator(FIGURE).bounding_box()["width"]
        view_width = float(page.locator(FIGURE).get_attribute("viewBox").split()[2])
        assert drawn >= 0.75 * view_width                                   # not shrunk past three quarters
        assert texts(page, "fig-source")[:3] == ["i'm", "home", "."]
        assert_clean(page)
        page.get_by_role("heading", name=re.compile("encoder–decoder")).first.evaluate(
            "e => e.scrollIntoView({block: 'start'})")
        sts.settle(page)
        page.screenshot(path=str(screenshots / "figure-phone.png"))

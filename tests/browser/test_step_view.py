"""The Step view (notes 7.5) in a real Chromium: /Step as a deep link, in English and in Chinese,
every stage drawn from the shipped checkpoint, and screenshots of both (step.png, step-zh.png:
the README's, refreshed by `bash scripts/screenshots.sh`)."""
from __future__ import annotations

import pytest

from tests.browser import streamlit_server as sts

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT = sts.HANG_GUARD_MS        # a hang guard, not a speed check
STAGES_EN = ["1 · Data → teacher forcing", "4 · Backward", "9 · Where the time goes"]
STAGES_ZH = ["1 · 数据 → 强制教学", "4 · 反向传播", "9 · 时间花在哪里"]


def headings(page) -> list[str]:
    return [h.strip() for h in page.locator('[data-testid="stMain"] h2').all_inner_texts()]


def test_step_opens_as_a_deep_link_in_english_and_in_chinese(shared_server, page, screenshots):
    page.goto(shared_server.url + "/Step")
    sts.title(page).filter(has_text="Step").wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    assert sts.exceptions(page) == 0
    assert all(stage in headings(page) for stage in STAGES_EN), headings(page)
    nav = sts.sidebar_nav(page)
    assert nav.index("Step") == nav.index("Train") + 1, nav                  # in the sidebar after Train
    page.mouse.move(5, 995)
    page.screenshot(path=str(screenshots / "step.png"))

    page.goto(shared_server.url + "/Step?lang=zh")
    sts.title(page).filter(has_text="单步").wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    assert sts.exceptions(page) == 0
    assert all(stage in headings(page) for stage in STAGES_ZH), headings(page)
    assert "lang=zh" in page.url and "/Step" in page.url
    page.get_by_role("heading", name="3 · 训练曲线上的数字").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.mouse.move(5, 995)
    sts.wait_idle(page, TIMEOUT)               # the scroll redraws nothing, but let the app settle before the shot
    page.screenshot(path=str(screenshots / "step-zh.png"))

"""简体中文 in a real Chromium: a ?lang=zh link, a deep link keeping it, the sidebar's switch.

Screenshots (a CJK font is installed by scripts/test.sh, so they show the characters) go to the
screenshots folder: home-zh.png is the README's.
"""
from __future__ import annotations

import re

import pytest

from tests.browser import streamlit_server as sts

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT = sts.HANG_GUARD_MS
CJK = re.compile(r"[\u4e00-\u9fff]")


def nav_link(page, label: str):
    return page.locator('[data-testid="stSidebar"] .st-key-nav a', has_text=label)


def test_a_chinese_link_a_deep_link_and_the_sidebar_switch(shared_server, page, screenshots):
    page.goto(shared_server.url + "/?lang=zh")
    sts.title(page).wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    main = page.locator('[data-testid="stMain"]')
    assert CJK.search(main.inner_text()) and "训练" in " ".join(sts.sidebar_nav(page))
    assert sts.exceptions(page) == 0
    page.screenshot(path=str(screenshots / "home-zh.png"))

    nav_link(page, "解码").first.click()                       # the sidebar's links keep the language
    sts.title(page).filter(has_text=CJK).wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    assert "lang=zh" in page.url and "/Decode" in page.url

    page.goto(shared_server.url + "/Train?lang=zh")             # a deep link in Chinese on its own
    sts.title(page).filter(has_text="训练").wait_for(timeout=TIMEOUT)
    sts.wait_idle(page, TIMEOUT)
    assert sts.exceptions(page) == 0
    page.screenshot(path=str(screenshots / "train-zh.png"))

    sts.rerun(page, lambda: page.locator('[data-testid="stSidebar"]').get_by_role("radio", name="English").click())
    sts.title(page).filter(has_text="Train").wait_for(timeout=TIMEOUT)
    assert "lang=en" in page.url and not CJK.search(sts.main_title(page))
    assert "Train" in sts.sidebar_nav(page)

"""Two browsers on one server (issue 24): each lists the shipped checkpoint and the runs it
trained itself, never the other's; a reload and a second tab of the same browser find its runs
again (the workspace's cookie); no page shows the server's checkpoint folder."""
from __future__ import annotations

import pytest

from core.checkpoint import load_checkpoint
from tests.browser import streamlit_server as sts
from tests.browser.test_browser import assert_clean, fill_tiny_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT = sts.HANG_GUARD_MS        # waits are hang guards, not speed checks
PICKER = "In use on every page"


def offered(page) -> list[str]:
    """The sidebar picker's options, as the reader sees them."""
    page.get_by_label(PICKER, exact=True).click()
    options = page.get_by_role("option")
    options.first.wait_for(timeout=TIMEOUT)
    shown = [option.inner_text().strip() for option in options.all()]
    page.keyboard.press("Escape")
    return shown


def test_two_browsers_on_one_server_each_see_only_their_own_runs_and_the_shipped_ones(fresh_server, tmp_path):
    folder = fresh_server.checkpoint_dir.name          # the server's own folder: no page may name it
    with sts.separate_browsers(2) as (first, second):
        a, b = first.new_page(), second.new_page()
        for page, name, seed in ((a, "run-of-a", 1), (b, "run-of-b", 2)):
            sts.open_view(page, fresh_server.url, "train")
            fill_tiny_run(page, name, epochs=3, seed=seed)
            sts.rerun(page, lambda page=page: page.get_by_role("button", name="Start training").click())
        for page in (a, b):                            # on two cores the second waits for the first
            page.get_by_text("Saved to").first.wait_for(timeout=TIMEOUT)
            assert folder not in page.content()
        runs = {name: sts.saved_run(fresh_server.checkpoint_dir, name) for name in ("run-of-a", "run-of-b")}
        assert runs["run-of-a"].parent != runs["run-of-b"].parent          # two workspaces
        assert [load_checkpoint(runs[n]).data_config.seed for n in ("run-of-a", "run-of-b")] == [1, 2]

        a_again = first.new_page()                     # the same browser, another tab: its runs again
        for page, own, other in ((a, "run-of-a.pt", "run-of-b.pt"), (a_again, "run-of-a.pt", "run-of-b.pt"),
                                 (b, "run-of-b.pt", "run-of-a.pt")):
            if page is a_again:
                sts.open_view(page, fresh_server.url, "decode")
            else:
                page.reload()                          # a new session: the cookie brings the workspace back
                sts.title(page).filter(has_text="Train").wait_for(timeout=TIMEOUT)
                sts.wait_idle(page, TIMEOUT)
            shown = offered(page)
            assert shown[0] == "default.pt (shipped default)" and own in shown and other not in shown, shown
            assert folder not in page.content()
            assert_clean(page)
        page.screenshot(path=str(tmp_path / "browser-b.png"))

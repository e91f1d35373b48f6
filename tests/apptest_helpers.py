"""What the AppTest page tests share: open the app on a page with session state set, fail on
any exception, wait for a training run to finish."""
from __future__ import annotations

import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
HOME = "app.py"


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(page: str, timeout: float = 60, **state) -> AppTest:
    """Run the app from its home page switched to `page`, with session state (e.g. widget values) set first."""
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    if page != HOME:
        at.switch_page(page)
    return no_exception(at.run())


def finish(at: AppTest, seconds: float = 60) -> AppTest:
    """Rerun (as the browser's polling would) until this tab's run has saved its checkpoint."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not at.get("download_button"):
        time.sleep(0.2)
        at = no_exception(at.run())
    assert at.get("download_button"), "the run did not finish in time"
    return at

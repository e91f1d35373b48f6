"""Fixtures for the real-browser tests: a Streamlit server on a temp checkpoint folder, Chromium.

The tests are marked `browser` and `slow` (markers in pyproject.toml); they run by default
(`-m "not slow"` or `-m "not browser"` leaves them out) and skip only when playwright or
Chromium is missing.

Screenshots go to a temporary folder; `SEQ2SEQ_SCREENSHOTS_DIR=docs/screenshots` (what
`bash scripts/screenshots.sh` sets) makes them refresh the README's.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import streamlit_server as sts

SCREENSHOTS_ENV = "SEQ2SEQ_SCREENSHOTS_DIR"


def _skip_unless_browser() -> None:
    reason = sts.browser_missing_reason()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> Path:
    """Where the tests save their screenshots: a temporary folder (a test run writes nothing in
    the checkout), or $SEQ2SEQ_SCREENSHOTS_DIR when set (scripts/screenshots.sh: docs/screenshots)."""
    target = os.environ.get(SCREENSHOTS_ENV)
    if not target:
        return tmp_path_factory.mktemp("screenshots")
    folder = Path(target).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def shared_server():
    """One server for the read-only views tests of a module (checkpoint folder = copy of default.pt)."""
    _skip_unless_browser()
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder) as server:
        yield server


@pytest.fixture
def fresh_server():
    """A server of its own, freshly started, with its own checkpoint folder."""
    _skip_unless_browser()
    with sts.checkpoint_folder() as folder, sts.run_streamlit(folder) as server:
        yield server


@pytest.fixture
def browser():
    """A fresh Chromium (persistent context on a temp profile) with the page watchers installed."""
    _skip_unless_browser()
    with sts.chromium_context() as ctx:
        yield ctx


@pytest.fixture
def page(browser):
    return sts.first_page(browser)

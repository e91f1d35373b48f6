"""Fixtures for the real-browser tests: a Streamlit server on a temp checkpoint folder, Chromium.

The tests are marked `browser`; they run by default (`-m "not browser"` leaves them out) and
skip only when playwright or Chromium is missing.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamlit_server as sts  # noqa: E402

SCREENSHOTS = sts.ROOT / "docs" / "screenshots"


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives the app in a real Chromium (slow; needs chromium)")
    config.addinivalue_line("markers", "load: many concurrent browser sessions against one server")


def _skip_unless_browser() -> None:
    reason = sts.browser_missing_reason()
    if reason:
        pytest.skip(f"browser test skipped: {reason}")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


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

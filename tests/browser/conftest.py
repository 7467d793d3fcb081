"""Fixtures of the browser tests: one JupyterLab server and one headless Chromium for all of them.

Without Chromium or playwright the tests are skipped with the reason; with ``CI=true`` they fail
instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab_driver import INSTALL_HINT, NOTEBOOKS, JupyterLab, find_chromium, start_jupyterlab

def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path is None:
        _unavailable(f"Chromium is not installed ({INSTALL_HINT})")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    return path


@pytest.fixture(scope="session")
def jupyterlab(chromium_path) -> Iterator[JupyterLab]:
    with tempfile.TemporaryDirectory(prefix="workbench-browser-") as scratch:
        lab = start_jupyterlab(Path(scratch), NOTEBOOKS)
        try:
            yield lab
        finally:
            lab.stop()


@pytest.fixture(scope="session")
def browser(chromium_path) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, headless=True,
            # Audio plays without a user gesture; no sandbox when CI runs as root.
            args=["--autoplay-policy=no-user-gesture-required", "--no-sandbox", "--mute-audio"],
        )  # fmt: skip
        try:
            yield chromium
        finally:
            chromium.close()

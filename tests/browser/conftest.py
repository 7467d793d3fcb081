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
from notebook_page import Run, start_run_all

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


TEST_NOTEBOOKS = {
    "test_quickstart_explorer_renders_plays_and_survives_a_reload": "00_quickstart.ipynb",
    "test_difference_aware_runs_without_temp_path_warnings": "02_difference_aware.ipynb",
    "test_asc_tagging_runs_and_shows_its_figures": "03_asc_tagging.ipynb",
    "test_care_sep_figures_render_and_the_player_separates_and_plays": "04_care_sep.ipynb",
    "test_layer_fusion_figures_render_and_the_fusion_widget_scores_a_choice": "05_layer_fusion.ipynb",
    "test_leaderboard_cell_click_opens_its_run": "06_leaderboard.ipynb",
}
"""The notebook each test opens: only the selected tests' notebooks are started (``-k care_sep`` runs one)."""


@pytest.fixture(scope="module")
def runs(request, jupyterlab, browser) -> dict[str, Run]:
    """The notebooks of this module's selected tests, each in its tab, all started at once: the kernels share
    the cores. Per module, as ``make test`` hands each test module to one pytest-xdist worker."""
    selected = {TEST_NOTEBOOKS[item.name] for item in request.session.items
                if item.name in TEST_NOTEBOOKS and getattr(item, "module", None) is request.module}  # fmt: skip
    started = {name: start_run_all(browser, jupyterlab, name) for name in NOTEBOOKS if name in selected}
    yield started
    for run in started.values():
        run.page.close()

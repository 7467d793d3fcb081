"""The notebooks 02 and 03 as a researcher runs them in JupyterLab: Run All shows every
figure, no warning pointing at a kernel's temporary file, and saving leaves the tracked file as committed
(the server, browser and the ``runs`` fixture are conftest.py's)."""

from __future__ import annotations

import pytest

from notebook_page import assert_figures_drawn, assert_no_widget_errors, finish, save_and_check_unchanged, wait_until_done

pytestmark = pytest.mark.slow


def test_difference_aware_runs_without_temp_path_warnings(runs, jupyterlab, tmp_path):
    name = "02_difference_aware.ipynb"
    run = runs[name]
    wait_until_done(run, jupyterlab)
    # loss curves, BgKnown, retrieval, general tasks, difference maps, the player's spectrogram
    assert_figures_drawn(run.page, name, minimum=6, views=1)
    finish(run, jupyterlab, tmp_path, together=len(runs))
    save_and_check_unchanged(run.page, jupyterlab, name)
    assert_no_widget_errors(run.console, name)


def test_asc_tagging_runs_and_shows_its_figures(runs, jupyterlab, tmp_path):
    name = "03_asc_tagging.ipynb"
    run = runs[name]
    wait_until_done(run, jupyterlab)
    # fusion scores, grid, confusion, attention, the tag player
    assert_figures_drawn(run.page, name, minimum=4, views=1)
    finish(run, jupyterlab, tmp_path, together=len(runs))
    save_and_check_unchanged(run.page, jupyterlab, name)
    assert_no_widget_errors(run.console, name)

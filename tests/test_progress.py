"""Notebook progress bars: few redraws, no per-epoch bars for long trainings (IOPub stays small), and a
finished transient bar leaves no output naming its closed widgets."""

import pytest

from workbench.progress import NotebookBar


def test_notebook_bars_redraw_every_few_seconds_unless_told_otherwise():
    from workbench.progress import NOTEBOOK_MININTERVAL

    assert NotebookBar(total=3).mininterval == NOTEBOOK_MININTERVAL >= 1
    assert NotebookBar(total=3, mininterval=0.5).mininterval == 0.5


def test_long_trainings_show_no_per_epoch_bars_in_a_notebook(monkeypatch):
    from workbench import progress

    assert progress.epoch_bars_shown(500) == (not progress.IN_NOTEBOOK)
    monkeypatch.setattr(progress, "IN_NOTEBOOK", True)
    assert progress.epoch_bars_shown(progress.NOTEBOOK_EPOCH_BARS)
    assert not progress.epoch_bars_shown(progress.NOTEBOOK_EPOCH_BARS + 1)


@pytest.fixture
def published(monkeypatch):
    """Every display message an IPython shell publishes: (data, display id, whether it updates an output)."""
    from IPython.core.interactiveshell import InteractiveShell

    started = not InteractiveShell.initialized()
    shell = InteractiveShell.instance()
    messages = []

    def publish(data, metadata=None, source=None, *, transient=None, update=False, **_):
        messages.append((data, (transient or {}).get("display_id"), update))

    monkeypatch.setattr(shell.display_pub, "publish", publish)
    yield messages
    if started:
        InteractiveShell.clear_instance()


def test_a_finished_transient_bar_empties_its_output_and_a_kept_bar_stays(published):
    transient = NotebookBar(total=3, leave=False)
    transient.update(3)
    transient.close()
    shown, emptied = published
    assert "application/vnd.jupyter.widget-view+json" in shown[0] and not shown[2]
    assert emptied == ({"text/plain": ""}, shown[1], True)  # the same output, replaced by nothing
    published.clear()
    kept = NotebookBar(total=2, leave=True)
    kept.update(2)
    kept.close()
    assert len(published) == 1 and "application/vnd.jupyter.widget-view+json" in published[0][0]
    assert NotebookBar(total=2, disable=True).close() is None and len(published) == 1  # a disabled bar shows nothing

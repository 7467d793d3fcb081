"""Notebook progress bars: few redraws, and no per-epoch bars for long trainings (IOPub stays small)."""

from tqdm.notebook import tqdm_notebook

from workbench.progress import HidingNotebookBar


def _finish(bar_class, **options):
    bar = bar_class(range(3), leave=False, **options)
    for _ in bar:
        pass
    return bar


def test_notebook_bars_redraw_every_few_seconds_unless_told_otherwise():
    from workbench.progress import NOTEBOOK_MININTERVAL

    assert HidingNotebookBar(total=3).mininterval == NOTEBOOK_MININTERVAL >= 1
    assert HidingNotebookBar(total=3, mininterval=0.5).mininterval == 0.5


def test_long_trainings_show_no_per_epoch_bars_in_a_notebook(monkeypatch):
    from workbench import progress

    assert progress.epoch_bars_shown(500) == (not progress.IN_NOTEBOOK)
    monkeypatch.setattr(progress, "IN_NOTEBOOK", True)
    assert progress.epoch_bars_shown(progress.NOTEBOOK_EPOCH_BARS)
    assert not progress.epoch_bars_shown(progress.NOTEBOOK_EPOCH_BARS + 1)

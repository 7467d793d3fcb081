"""Transient notebook progress bars keep their widget model when they finish (hidden, not closed), so a
reloaded JupyterLab page finds every model its saved outputs name."""

from tqdm.notebook import tqdm_notebook

from workbench.progress import HidingNotebookBar


def _finish(bar_class, **options):
    bar = bar_class(range(3), leave=False, **options)
    for _ in bar:
        pass
    return bar


def test_a_finished_transient_bar_is_hidden_and_its_model_stays_open():
    bar = _finish(HidingNotebookBar)
    assert bar.container.layout.display == "none"
    assert bar.container.comm is not None


def test_tqdms_own_bar_closes_the_model_which_is_what_a_reload_cannot_find():
    bar = _finish(tqdm_notebook)
    assert bar.container.comm is None


def test_a_bar_left_on_screen_and_a_failed_bar_stay_visible():
    kept = HidingNotebookBar(range(2), leave=True)
    for _ in kept:
        pass
    assert kept.container.layout.display != "none"
    failed = HidingNotebookBar(total=5, leave=False)
    failed.update(2)
    failed.close()  # stopped short: tqdm marks it 'danger' and keeps it in view
    assert failed.container.children[1].bar_style == "danger"
    assert failed.container.layout.display != "none"


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

"""A leaderboard: every encoder x every task (x every tapped layer), each cell a linear evaluation with its
interval, ranked with ties decided by paired tests, from the runs already made.

What researchers in this field open every morning is the table across encoders and tasks (EVAR's ``scores.csv``
and its ``summarize.py`` pivot, HEAR's leaderboard, the tables of the layer-fusion paper). :func:`run` evaluates a
grid of encoders x tasks with the workbench's linear evaluation (standardised embeddings, one linear layer, early
stopping, the honest protocols of :mod:`workbench.evaluation.protocols`, mean ± 95 % CI over probe seeds):

1. the encoders of ``encoders`` always, those of ``encoders_at_hand`` only where their weights are already in a
   weights mirror (``$WORKBENCH_WEIGHTS``, ``$WORKBENCH_SHARED/weights``) or the cache; the tasks of ``tasks``
   always, those of ``tasks_at_hand`` where their files are found (the shared ESC-10 and FSDD clips);
2. each (encoder, task) is one **cell**, one run directory whose id holds only that cell's encoder, weights
   file, data, layers and probe (:mod:`~workbench.recipes.leaderboard.cells`): a finished cell is read back from
   any earlier leaderboard, a missing one is estimated from the finished cells' measured cost and computed under a
   progress bar (embeddings through the shared cache), so adding an encoder computes only its column and a warm
   rerun computes nothing;
3. the table (:mod:`~workbench.recipes.leaderboard.table`): one row per encoder (or per encoder layer in the
   layer view), one column per task, ranks with ties where a paired comparison with the task's best row does not
   separate them, and the average over tasks stratified by task
   (:func:`~workbench.evaluation.replication.compare_stratified`); exported as CSV (EVAR's ``scores.csv`` columns
   plus the interval and its n) and markdown.

The unit of every interval is named: probe trainings (seeds of the linear probe) on a fixed encoder, and for
single-label tasks the test items as well. They say how stable a score is on these clips; they do not say how the
encoders would rank on another dataset.

The package, one module per concern: :mod:`~workbench.recipes.leaderboard.params` (``Params``, the grid),
:mod:`~workbench.recipes.leaderboard.cells` (encoders at hand, one run per cell), :mod:`~workbench.recipes.
leaderboard.table` (ranks, ties, average, exports), :mod:`~workbench.recipes.leaderboard.result` (the
:class:`LeaderboardRun` it returns, its two views) and :mod:`~workbench.recipes.leaderboard.run` (:func:`run`,
read it first).
"""

from workbench.recipes.leaderboard.cells import EncoderSpec, resolve_encoders, weights_here
from workbench.recipes.leaderboard.params import AT_HAND, BUILT_IN, NAME, NOTEBOOK, Params
from workbench.recipes.leaderboard.result import VIEWS, LeaderboardRun
from workbench.recipes.leaderboard.run import run
from workbench.recipes.leaderboard.plan import plan as plan  # one leaf per cell, for `workbench launch`
from workbench.recipes.leaderboard.table import UNIT, Leaderboard, TableCell, build_leaderboard, paired, tied_ranks

__all__ = [
    "AT_HAND",
    "BUILT_IN",
    "NAME",
    "NOTEBOOK",
    "UNIT",
    "VIEWS",
    "EncoderSpec",
    "Leaderboard",
    "LeaderboardRun",
    "Params",
    "TableCell",
    "build_leaderboard",
    "paired",
    "resolve_encoders",
    "run",
    "tied_ranks",
    "weights_here",
]

"""Fan a paper table out over a cluster: each recipe's plan of leaves, run stage by stage as submitit job
arrays (Slurm, local processes, or in this process), then gathered by the recipe's ordinary ``run``.

    workbench launch care_sep --preset paper-esc50 --executor slurm --partition gpu --gpus 1 --time 720

- :mod:`.plan`: :class:`Leaf`, :class:`Stage`, :class:`Plan` (pure data; each recipe's ``plan(params)``).
- :mod:`.executors`: :class:`ExecutorOptions` and the submitit executors (submitit imported when used).
- :mod:`.job`: the ``Checkpointable`` job that runs one leaf and is requeued on timeout or preemption.
- :mod:`.versions`: which code made each leaf; the gather refuses leaves of mixed code versions.
- :mod:`.launcher`: :func:`launch`.

The launch package sits between ``train`` and ``recipes``: recipes import its plan types, and it runs
their leaf functions by import path, never importing a recipe itself.
"""

from workbench.launch.executors import EXECUTORS, ExecutorOptions, parse_extra
from workbench.launch.launcher import LaunchError, LaunchReport, LeafOutcome, launch
from workbench.launch.plan import Leaf, Plan, Stage
from workbench.launch.versions import MixedCodeError, check_code_versions

__all__ = [
    "EXECUTORS", "ExecutorOptions", "LaunchError", "LaunchReport", "Leaf", "LeafOutcome", "MixedCodeError", "Plan",
    "Stage", "check_code_versions", "launch", "parse_extra",
]  # fmt: skip

"""Smoke runs at full size: a paper preset's exact models, optimiser, schedule, batch size and input length
for a few steps of every stage, on stand-in data in the real dataset's on-disk layout, with the measured
step time, peak memory and the projected cost of the full preset.

- :mod:`.standins`: generated stand-in datasets (ESC-50, ...) in the real layouts, cached.
- :mod:`.measure`: timing, memory and FLOPs of a few steps (:class:`StageMeasure`, :func:`measure_calls`,
  :class:`StepTimer` for the :class:`~workbench.train.loop.Trainer`).
- :mod:`.table`: :class:`SmokeReport` and the table it prints.

Each recipe's ``smoke(params, steps=...)`` composes these with its own systems; ``workbench reproduce
RECIPE --preset P --smoke`` calls it.
"""

from workbench.smoke.measure import (
    GPU_NAME,
    GPU_TFLOPS,
    GPU_UTILISATION,
    SmokeStop,
    StageMeasure,
    StepTimer,
    measure_calls,
    measure_trainer,
    measured_batch,
    workers_here,
)
from workbench.smoke.standins import STANDINS, standin_root
from workbench.smoke.table import SmokeReport
from workbench.smoke.weights import encoder_or_random

__all__ = [
    "GPU_NAME", "GPU_TFLOPS", "encoder_or_random", "GPU_UTILISATION", "STANDINS", "SmokeReport", "SmokeStop", "StageMeasure", "StepTimer",
    "measure_calls", "measure_trainer", "measured_batch", "standin_root", "workers_here",
]  # fmt: skip

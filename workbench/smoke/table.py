"""The smoke report: every stage's measurements as one table, with the full preset's projected hours on
this device and on the named GPU."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from workbench.smoke.measure import GPU_NAME, GPU_TFLOPS, GPU_UTILISATION, StageMeasure

_HEADER = ("stage", "runs", "steps/run", "s/step", "measured", "peak RSS MiB", "CUDA MiB", "GFLOP/step",
           "hours here", f"hours {GPU_NAME}", "note")  # fmt: skip


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


@dataclass
class SmokeReport:
    """What ``smoke(params, steps)`` returns: the recipe, the preset (or ``""``), the device, the stages
    and notes that hold for the whole run (stand-in data, random weights)."""

    recipe: str
    preset: str
    device: str
    stages: list[StageMeasure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    live: bool = True
    """Print each stage to stderr as it finishes (a full-size stage may take minutes)."""

    def add(self, stage: StageMeasure) -> None:
        """Record a finished stage (and print it when :attr:`live`)."""
        self.stages.append(stage)
        if self.live:
            print(f"smoke {self.recipe}: {' | '.join(self.rows()[-1])}", file=sys.stderr, flush=True)

    @property
    def projected_hours(self) -> float:
        """The whole preset on this device, stages one after another."""
        return sum(stage.projected_hours for stage in self.stages)

    @property
    def gpu_hours(self) -> float | None:
        """The whole preset on the named GPU from the counted FLOPs; None if no stage was counted."""
        hours = [stage.gpu_hours() for stage in self.stages]
        counted = [value for value in hours if value is not None]
        return sum(counted) if counted else None

    def rows(self) -> list[tuple[str, ...]]:
        """One row of strings per stage, in :data:`_HEADER`'s order."""
        return [
            (stage.stage, str(stage.runs), f"{stage.steps_per_run:,}", f"{stage.step_seconds:.3f}",
             str(stage.measured_steps), f"{stage.peak_rss_mib:,.0f}", _number(stage.cuda_peak_mib, 0),
             _number(stage.flops_per_step / 1e9 if stage.flops_per_step else None, 1),
             f"{stage.projected_hours:,.2f}", _number(stage.gpu_hours(), 3), stage.note)
            for stage in self.stages
        ]  # fmt: skip

    def markdown(self) -> str:
        """The table as markdown, with the totals and the GPU assumption under it."""
        lines = [f"| {' | '.join(_HEADER)} |", "|" + " --- |" * len(_HEADER)]
        lines += [f"| {' | '.join(row)} |" for row in self.rows()]
        title = f"smoke {self.recipe}" + (f" --preset {self.preset}" if self.preset else "") + f" on {self.device}"
        total_gpu = _number(self.gpu_hours, 2)
        footer = [
            f"total projected: {self.projected_hours:,.1f} h on {self.device}; {total_gpu} h on one {GPU_NAME} "
            f"(counted FLOPs / ({GPU_TFLOPS:g} TFLOP/s x {GPU_UTILISATION:.0%} utilisation))",
            *self.notes,
        ]
        return "\n".join([title, "", *lines, "", *footer])

    def __str__(self) -> str:
        return self.markdown()

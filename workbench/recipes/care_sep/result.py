"""The result of a run (:class:`CareSepRun`): the table per row, the paired items of the claims, the
Figure-3 panels, the summary, and the trained systems to listen to."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from workbench.errors import UnknownNameError
from workbench.recipes import base
from workbench.recipes.care_sep.data import SeparationData
from workbench.recipes.care_sep.params import METRICS, ROWS, SAMPLE_RATE
from workbench.recipes.care_sep.systems import SeparationSystem, _device_of, labels_with_widths


def _db(value: float) -> str:
    """``value`` with one decimal, never ``-0.0``; ``-`` for NaN (a row without that metric)."""
    return "-" if not math.isfinite(value) else f"{round(value, 1) + 0.0:.1f}"


@dataclass
class CareSepRun(base.Result):
    """Tables per row (pooled over seeds and test examples) and what the notebook draws.

    Attributes:
        table: row -> metric (``mixture_sdr``, ``clean_sdr``, ``silence_sdr``, ``sdri``, ``map``) ->
            (mean, ci95); SDRs pool every test example of every seed (NaN for CaRE-CLS), mAP is the
            seeds' mean ± CI.
        items: row -> ``(seeds, test examples)`` mixture-SDR, the paired data of the claims.
        query_blind: mean SDR of half the mixture against each source (what ignoring the query gets).
        input_sdr: mean SDR of the unprocessed mixture.
        histories: row -> loss curves of its first seed.
        panels: row -> Figure-3 panels of its first seed, ``{kind: (points, classes)}``.
        kl: row -> Figure-3 KL divergences (nats) of its first seed.
        systems: row -> the trained system of its first seed (for listening).
        data: the pairs (test pairs for the widget).
        seeding: the training seeds used (``seeds``) and, where ``max_seeds`` added them one at a time
            (:meth:`~workbench.recipes.base.seeding.SeedingResult.to_dict`), the budget, why adding stopped
            and the runs a fixed design would have needed.
    """

    table: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    items: dict[str, np.ndarray] = field(default_factory=dict)
    query_blind: float = float("nan")
    input_sdr: float = float("nan")
    histories: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    panels: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    kl: dict[str, dict[str, float]] = field(default_factory=dict)
    systems: dict[str, SeparationSystem] = field(default_factory=dict)
    data: SeparationData | None = None
    seeding: dict = field(default_factory=dict)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.data.class_names if self.data is not None else ()

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def labels(self) -> dict[str, str]:
        """row -> its display label, with the query width its trained system has (``"A 128-d ST-SED-SEP"``)."""
        return labels_with_widths(self.systems, list(self.table))

    def seeds_line(self) -> str:
        """Which training seeds the tables and claims pool, and how they were chosen."""
        return base.seeding.seeds_line(self.seeding, self.params["seeds"])

    def separating_rows(self) -> list[str]:
        """The rows that separate (all but CaRE-CLS)."""
        return [row for row in self.table if ROWS[row].separator != "none" and row in self.systems]

    def mapping(self) -> list[dict[str, str]]:
        """One record per row run: the paper's letter and name, its flags, separator and query network."""
        records = []
        for row in self.table:
            flags = ROWS[row]
            query = "own encoder" if flags.shared else "ST-SED (HTS-AT-style, mel)"
            separator = {"swin-unet": "Swin-UNET", "resunet": "ResUNet CNN", "none": "-"}[flags.separator]
            records.append({"row": row, "name": flags.name, "flags": flags.flags(), "separator": separator,
                            "query": query, "loss": "BCE" if flags.separator == "none" else
                            ("MAE - SDR + BCE" if flags.tagging else "MAE - SDR")})  # fmt: skip
        return records

    @torch.no_grad()
    def separate(self, row: str, mixture: torch.Tensor, query_class: int) -> torch.Tensor:
        """Separate ``mixture (samples,)`` with ``row``'s system and the test query of ``query_class``.

        Raises:
            UnknownNameError: a row that was not trained or does not separate, or a class without query clips.
        """
        if row not in self.separating_rows():
            raise UnknownNameError("separating row of this care_sep run", row, self.separating_rows())
        if self.data is None or query_class not in self.data.test.anchors:
            known = [str(label) for label in (self.data.test.anchors if self.data else ())]
            raise UnknownNameError("query class", str(query_class), known)
        system = self.systems[row].eval()
        device = _device_of(system)
        query = system.class_query(self.data.test.anchors[query_class])
        return system.separator.separate(mixture.reshape(1, -1).to(device), query[None].to(device))[0].cpu()

    def summary(self) -> str:
        params = self.params
        lines = [
            f"recipe: {self.recipe}: {params['model_size']} on {params['dataset']}, rows {','.join(params['rows'])}, "
            f"{self.seeds_line()}",
            "row (Grad Init Shared): mixture-SDR | clean-SDR | silence-SDR | SDRi (dB) | tagging mAP",
        ]
        labels = self.labels()
        for row, values in self.table.items():
            lines.append(
                f"  {labels[row]} ({ROWS[row].flags()}): " + " | ".join(_db(values[metric][0]) for metric in METRICS)
                + f" | {values['map'][0]:.2f}"
            )  # fmt: skip
        lines.append(f"input mixture {_db(self.input_sdr)} dB; query-blind half mixture {_db(self.query_blind)} dB")
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)

"""What a recipe's ``run`` returns: the :class:`Result` and its :class:`Claim` objects, each a paper's claim
as data with the paired statistics that decide it."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.evaluation.stats import Comparison


@dataclass(frozen=True)
class Claim:
    """One claim of a paper that a run checks, as data: what is compared, the paper's figure, and the
    paired statistics of what was measured (see :mod:`workbench.evaluation.stats`).

    Attributes:
        name: what is claimed, e.g. ``"ADD {1,1,1,1} is more accurate than CE"``.
        paper: the paper's figure with its table or section, e.g. ``"+1.2 points (Table 2)"``.
        measured: the two conditions' measured means in words, e.g. ``"CE 0.62 -> ADD 0.65"``.
        verdict: ``"holds"``, ``"contradicted"`` or ``"inconclusive"`` (the interval spans zero, or there
            is a single run).
        effect: measured effect (treatment minus control, or minus the reference), None when not computed.
        ci_low, ci_high: its 95 % interval (None when infinite: one run).
        n: paired runs (or shared test items) behind the interval.
        mde: minimum detectable effect of this test bed (80 % power), None when infinite.
        paper_effect: the paper's own effect size on the same scale, where it prints one.
        method: how the interval was made (``"paired t over runs"``, ``"one-sample t"``, ...).
        detail: anything else a reader needs (per-run values, which variant).
        unit: what ``n`` counts, the unit of replication (``"training runs"``, ``"pre-training runs"``,
            ``"probe trainings"``, ``"test items of fixed models"``, ``"tasks"``).
        nested: what was averaged inside each unit (``"96 test examples averaged per seed"``).
    """

    name: str
    paper: str
    measured: str
    verdict: str = "inconclusive"
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    mde: float | None = None
    paper_effect: float | None = None
    method: str = ""
    detail: str = ""
    unit: str = ""
    nested: str = ""

    def __post_init__(self) -> None:
        from workbench.evaluation.stats import VERDICTS

        if self.verdict not in VERDICTS:
            raise ValueError(f"claim {self.name!r}: verdict must be one of {list(VERDICTS)}, got {self.verdict!r}")

    @classmethod
    def from_comparison(
        cls,
        name: str,
        paper: str,
        comparison: Comparison,
        *,
        measured: str,
        paper_effect: float | None = None,
        detail: str = "",
    ) -> Claim:
        """A claim whose verdict and numbers come from a :class:`~workbench.evaluation.stats.Comparison`."""
        fields = comparison.to_dict()
        return cls(
            name=name,
            paper=paper,
            measured=measured,
            verdict=comparison.verdict,
            effect=fields["effect"],
            ci_low=fields["ci_low"],
            ci_high=fields["ci_high"],
            n=comparison.n,
            mde=fields["mde"],
            paper_effect=paper_effect,
            method=comparison.method,
            detail=detail,
            unit=comparison.unit,
            nested=comparison.nested,
        )

    @property
    def holds(self) -> bool:
        return self.verdict == "holds"

    def interval(self, digits: int = 3) -> str:
        """``effect +0.012 [-0.004, +0.028], n=3 paired t, MDE 0.031``: the statistics in one phrase."""
        if self.effect is None:
            return f"n={self.n}"
        if self.ci_low is None or self.ci_high is None:
            text = f"effect {self.effect:+.{digits}f} [no interval], n={self.n}"
        else:
            text = (f"effect {self.effect:+.{digits}f} [{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}], "
                    f"n={self.n}")  # fmt: skip
        if self.unit:
            text += f" {self.unit}"
        if self.method:
            text += f", {self.method}" if self.unit else f" {self.method}"
        text += f", MDE {self.mde:.{digits}f}" if self.mde is not None else ", MDE unbounded"
        if self.paper_effect is not None:
            text += f" (paper's effect {self.paper_effect:+.{digits}g})"
        return text

    @property
    def paper_check(self) -> str:
        """Whether the paper's effect size lies inside the interval (``""`` when the paper prints none)."""
        from workbench.evaluation.replication import paper_size_check

        return paper_size_check(self.ci_low, self.ci_high, self.paper_effect)

    def line(self) -> str:
        check = f"; {self.paper_check}" if self.paper_check else ""
        return f"{self.name}: paper {self.paper}; measured {self.measured}; {self.interval()} -> {self.verdict}{check}"

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Claim:
        """Rebuild a claim stored in ``metrics.json`` (earlier runs stored ``holds`` instead of a verdict:
        those are read as inconclusive, since no interval was computed for them)."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})


@dataclass
class Result:
    """What ``run`` returns: metrics, claims, the run directory, and arrays the notebook draws."""

    recipe: str
    params: dict[str, Any]
    run_dir: Path | None
    metrics: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)

    def summary(self) -> str:
        """A compact deterministic text: what the notebook's compared cell prints."""
        lines = [f"recipe: {self.recipe}"]
        lines += [f"claim {claim.line()}" for claim in self.claims]
        return "\n".join(lines)

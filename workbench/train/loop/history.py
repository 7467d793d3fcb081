"""The per-epoch records a :class:`~workbench.train.loop.Trainer` keeps and ``fit`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

from workbench.errors import UnknownNameError


@dataclass
class History:
    """Per-epoch records, each ``{"epoch", "lr", "loss", step_fn metrics..., eval_fn metrics...}``
    (``"grad_norm"`` too when clipping: the mean gradient norm before clipping)."""

    epochs: list[dict[str, float]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.epochs)

    def names(self) -> list[str]:
        return sorted({name for record in self.epochs for name in record})

    def __getitem__(self, name: str) -> list[float]:
        """The values of metric ``name`` over the epochs that recorded it.

        Raises:
            UnknownNameError: no epoch recorded ``name``.
        """
        values = [record[name] for record in self.epochs if name in record]
        if not values:
            raise UnknownNameError("metric", name, self.names())
        return values

    @property
    def last(self) -> dict[str, float]:
        return dict(self.epochs[-1]) if self.epochs else {}

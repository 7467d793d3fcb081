"""What gets built: the fusion config of each variant and of each cell of the ablation grid, and the
run's models by name."""

from __future__ import annotations

from typing import Any

from workbench.models.tag_fusion import FusionConfig
from workbench.recipes.asc_tagging.params import Params


def fusion_of(params: Params, variant: str, n_tags: int, **changes: Any) -> FusionConfig:
    """The canonical fusion config of ``variant`` with the params' settings (and ``changes``).

    The combined variant (e) takes its own settings (``combined_heads``, ``combined_layers_before`` and,
    with separate transforms, ``combined_attention_layers``), so that each fusion defaults to its best
    configuration in the paper.
    """
    settings = {"variant": variant, "n_tags": 0 if variant == "baseline" else n_tags,
                "layers_before": params.layers_before, "layers_after": params.layers_after,
                "hidden_dim": params.hidden_dim, "heads": params.heads, "attention_layers": params.attention_layers,
                "combined_concat": params.combined_concat, "shared_transform": params.shared_transform}  # fmt: skip
    if variant == "combined":
        shared = params.shared_transform and params.combined_concat == "transform_concat"
        settings.update(heads=params.combined_heads, layers_before=params.combined_layers_before,
                        attention_layers=params.combined_layers_before if shared else params.combined_attention_layers)
    return FusionConfig(**{**settings, **changes}).canonical()


def grid_cells(params: Params, n_tags: int) -> list[tuple[int, int, str, FusionConfig]]:
    """``(row, column, name, fusion)`` for every cell of ``params.grid`` (axes in :data:`GRID_AXES`).

    Raises:
        ValueError: a ``"separate"`` column that is not two digits (concatenation layers, then attention layers).
    """
    cells = []
    for row in params.grid_rows:
        for column in params.grid_columns:
            if params.grid == "concat":  # Table 2: 0 layers before is (b), otherwise (c)
                variant = "concat" if row == 0 else "transform_concat"
                fusion = fusion_of(params, variant, n_tags, layers_before=row, layers_after=column)
                name = f"concat before {row} after {column}"
            elif params.grid == "attention":  # Table 3
                fusion = fusion_of(params, "attention", n_tags, heads=row, attention_layers=column)
                name = f"attention heads {row} layers {column}"
            elif params.grid == "separate":  # Table 4: (c) and (d), each with its own tag transform
                if not 10 <= column <= 99:
                    raise ValueError(
                        f"grid='separate' columns are two digits, concatenation then attention transform layers "
                        f"(e.g. 34 for 3 and 4), got {column}"
                    )
                before, attention = divmod(column, 10)
                fusion = fusion_of(params, "combined", n_tags, combined_concat="transform_concat", heads=row,
                                   shared_transform=False, layers_before=before, attention_layers=attention)
                name = f"separate heads {row} layers {before}/{attention}"
            else:  # Table 5: (c) and (d) through one shared tag transform of `column` layers (0: the raw tags)
                fusion = fusion_of(params, "combined", n_tags, combined_concat="transform_concat", heads=row,
                                   shared_transform=True, layers_before=column, attention_layers=column)
                name = f"shared heads {row} layers {column}"
            cells.append((row, column, name, fusion))
    return cells


def models_to_train(params: Params, n_tags: int) -> tuple[dict[str, FusionConfig], dict[tuple[int, int], str]]:
    """Every model of the run by name (the variants, then the grid cells), and each grid cell's model
    name; a cell that builds the same network as a variant is that variant."""
    models = {variant: fusion_of(params, variant, n_tags) for variant in params.variants}
    cell_names: dict[tuple[int, int], str] = {}
    for row, column, name, fusion in grid_cells(params, n_tags) if params.grid != "none" else []:
        cell_names[row, column] = next((known for known, config in models.items() if config == fusion), name)
        models.setdefault(cell_names[row, column], fusion)
    return models, cell_names

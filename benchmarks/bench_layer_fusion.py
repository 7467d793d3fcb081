"""Per-layer feature extraction: one forward pass for all layers against one pass per layer, per model.

    python -m benchmarks.run layer_fusion

For each model, on N random 1-second clips at the model's rate (random weights: the architecture, not
the values, sets the cost):

- ``one pass``: :class:`~workbench.features.views.LayerVectorEncoder`, every layer's Eq. 1-3 clip
  vector and the usual embedding from one forward pass per batch (what the layer_fusion recipe caches);
- ``pass per layer``: the same vectors computed with one forward pass per layer (a naive sweep that
  re-runs the model for each layer);
- their ratio (close to the number of layers: every pass runs the whole model, whichever layer it taps);
- the feature cache's size per clip (float32), i.e. the memory of the table the sweep works from.

The layer-wise linear evaluation itself then reads the cache and never runs the model again.
"""

from __future__ import annotations

import torch

from benchmarks.timing import best_seconds, table_rows
from workbench.features.views import VIEWS, LayerVectorEncoder, clip_vectors
from workbench.models.efficientat import EfficientATMobileNet
from workbench.models.zoo import build_encoder

BATCH = 8


def _models(quick: bool) -> dict[str, torch.nn.Module]:
    if quick:
        return {"cnn14-tiny": build_encoder("cnn14-tiny")}
    models = {name: build_encoder(name) for name in ("cnn14-tiny", "vggish-tiny", "ast-tiny")}
    models["efficientat-mn04 (random weights)"] = EfficientATMobileNet().eval()
    return models


def run(quick: bool = False) -> list[dict]:
    clips = BATCH if quick else 2 * BATCH
    rows = []
    for label, encoder in _models(quick).items():
        stack = LayerVectorEncoder(encoder).eval()
        view = VIEWS[stack.view]
        waveforms = torch.randn(clips, encoder.sample_rate, generator=torch.Generator().manual_seed(0)) * 0.1
        batches = waveforms.split(BATCH)

        @torch.no_grad()
        def one_pass() -> None:
            for batch in batches:
                stack(batch)

        @torch.no_grad()
        def pass_per_layer() -> None:
            for batch in batches:
                for name in stack.names:
                    clip_vectors(encoder.layers(batch, [name]), view, stack.n_frames)

        repeats = 1 if quick else 2
        setting = f"{label}, {len(stack.names)} layers, {clips} clips of 1 s"
        one = best_seconds(one_pass, repeats)
        separate = best_seconds(pass_per_layer, repeats)
        measured = [
            ("all layers, one pass", one, "s"),
            ("all layers, pass per layer", separate, "s"),
            ("one-pass speed-up", separate / one, "x"),
            ("feature cache per clip", stack.embedding_dim * 4 / 1024, "KiB"),
        ]
        rows += table_rows("layer_fusion", setting, measured)
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)

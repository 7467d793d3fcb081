"""Layer-wise features of pre-trained encoders: taps on intermediate layers, pooling, fusion.

    from workbench.features import LayerFeatures, fuse_pooled
    features = LayerFeatures(encoder)                  # every layer of encoder.layer_names
    vectors = features.extract(waveforms)              # {"block1": (N, D_1), ...}, one pass per batch
    fused = fuse_pooled(vectors, ["block11", "block17"])

Eq. 1-3 of Niizumi et al. (EUSIPCO 2022) are :func:`temporal_maxpool`, :func:`fuse` and
:func:`pool_clip`; :func:`tap_layers` reads any layers in one forward pass, windowing long clips for
encoders that take a fixed-length input.
"""

from workbench.features.compose import (
    LayerFeatures,
    default_n_frames,
    fuse,
    fuse_pooled,
    model_n_frames,
    pool_clip,
    temporal_maxpool,
    time_frames,
)
from workbench.features.taps import join_segments, segment_waveform, tap_layers

__all__ = [
    "LayerFeatures",
    "default_n_frames",
    "fuse",
    "fuse_pooled",
    "join_segments",
    "model_n_frames",
    "pool_clip",
    "segment_waveform",
    "tap_layers",
    "temporal_maxpool",
    "time_frames",
]

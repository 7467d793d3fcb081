"""Clip embeddings of a whole dataset, computed once by a frozen encoder and cached on disk.

Linear evaluation (BYOL-A, EVAR), the SVM back-end, retrieval and the embedding explorer all start from
the same table: one embedding per clip with its target, fold/split and id. :func:`extract_embeddings`
builds that table with :meth:`workbench.models.base.Encoder.embed` and caches it under
``<cache root>/embeddings/<key>.npz``; the key hashes the encoder's weights and the dataset's
fingerprint (:mod:`workbench.data.fingerprint`: its files' sizes and modification times, or the
synthetic world's seed and parameters) with its clip ids, labels and partition, so retraining or
changing the dataset never reads a stale cache. The key comes from metadata only: a cache hit renders
and reads no clip.

:mod:`.table` holds the :class:`Embeddings` record, :mod:`.cache` the cache key (which must never change
for unchanged inputs: ``tests/test_run_id_pins.py`` pins it), :mod:`.extract` the extraction.
"""

from workbench.evaluation.embeddings.cache import _clip_ids, cache_key, dataset_fingerprint, encoder_fingerprint
from workbench.evaluation.embeddings.extract import extract_embeddings
from workbench.evaluation.embeddings.table import Embeddings

__all__ = [
    "Embeddings",
    "cache_key",
    "dataset_fingerprint",
    "encoder_fingerprint",
    "extract_embeddings",
]

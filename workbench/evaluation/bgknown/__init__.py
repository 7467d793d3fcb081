"""BgKnown: sound events over a known background, the difference-aware evaluation of Takeuchi et al.

"Towards Learning a Difference-Aware General-Purpose Audio Representation" evaluates whether a
representation ``f`` can remove a background it is given: a labelled clip is mixed with a crop of a
long background recording at a random SNR in [0, 3] dB, and a reference crop of the same background is
known. The difference ``y_diff = f(mixture) - f(reference)`` should carry the foreground's class,
better the more the reference overlaps the crop in the mixture: the same crop (100 %), a crop shifted
by half its length (50 %), or the next, non-overlapping stretch (0 %: only the background's kind is
known). Table 1 of the paper scores a linear classifier on ``y_diff`` for the three references, and
on ``y_mix = f(mixture)``.

:class:`BgKnownBuilder` makes the items from any labelled dataset and any dataset of long backgrounds
(ESC-50 and recorded ambiences, or the synthetic world's events and ``"synthetic-backgrounds"``):
item ``i`` draws its background, crop position and SNR from ``numpy.random.default_rng([seed, i])``,
so it is the same audio in any order. :meth:`BgKnownBuilder.view` exposes the mixtures, references and
foregrounds as datasets (ids, targets and folds of the labelled clips) for any tool that takes one;
:func:`bgknown_embeddings` embeds every item's parts in one pass and returns the ``y_mix`` and
``y_diff`` tables ready for :func:`~workbench.evaluation.linear.linear_evaluation`.

Backgrounds come in two pools, as in the paper (FSD50K dev for training items, eval for test items):
pass ``backgrounds={"train": ..., "test": ...}`` and the items of ``test_folds`` draw from the test
pool only. ``per_item=True`` gives every item a background of its own (the synthetic long
backgrounds of :mod:`workbench.data.synthetic.backgrounds`, rendered from disjoint seeds);
:func:`recorded_background_pools` splits the real recordings (ESC-10 ambiences, FSDD babble) by
recording, :func:`split_by_recording` does the same for any dataset, e.g. a ``folder`` of your own
long recordings.

The paper's protocol (Sec. 5.2) is :class:`BgKnownProtocol`: folds 1-3 train, 4-5 test, one linear
layer on ``y_diff`` for at most 200 epochs with early stopping on the validation LOSS (10 % of the
training items), Adam at 1e-3, three probe seeds. :func:`probe_bgknown` returns every test item's
correctness per probe seed, so two encoders are compared on the same items with
:func:`compare_bgknown` (two pre-training methods, a paired t over pre-training runs with probe seeds and items
nested) and :func:`compare_bgknown_items` (two fixed encoders, a paired bootstrap over items).

The modules, in the order they import one another: :mod:`.protocol` (the paper's constants and
:class:`BgKnownProtocol`), :mod:`.backgrounds` (the background pools), :mod:`.items` (the builder and
its views), :mod:`.tables` (embedding the items), :mod:`.probe` (:func:`probe_bgknown`) and
:mod:`.compare` (:func:`compare_bgknown`).
"""

from workbench.evaluation.bgknown.backgrounds import (
    RECORDED_BACKGROUND_CATEGORIES,
    BackgroundPool,
    RecordedBabble,
    folder_background_pools,
    recorded_background_pools,
    split_by_recording,
)
from workbench.evaluation.bgknown.compare import compare_bgknown, compare_bgknown_items
from workbench.evaluation.bgknown.items import (
    BACKGROUND_CACHE,
    SILENT_CROP,
    SILENT_CROP_ATTEMPTS,
    BgKnownBuilder,
    BgKnownItem,
    BgKnownView,
)
from workbench.evaluation.bgknown.probe import BgKnownScores, probe_bgknown, protocol_rows
from workbench.evaluation.bgknown.protocol import (
    OVERLAPS,
    SNR_RANGE_DB,
    TEST_FOLDS,
    TRAIN_FOLDS,
    BgKnownProtocol,
    overlap_name,
)
from workbench.evaluation.bgknown.tables import bgknown_embeddings, difference

__all__ = [
    "BACKGROUND_CACHE",
    "BackgroundPool",
    "BgKnownBuilder",
    "BgKnownItem",
    "BgKnownProtocol",
    "BgKnownScores",
    "BgKnownView",
    "OVERLAPS",
    "RECORDED_BACKGROUND_CATEGORIES",
    "RecordedBabble",
    "SILENT_CROP",
    "SILENT_CROP_ATTEMPTS",
    "SNR_RANGE_DB",
    "TEST_FOLDS",
    "TRAIN_FOLDS",
    "bgknown_embeddings",
    "compare_bgknown",
    "compare_bgknown_items",
    "difference",
    "folder_background_pools",
    "overlap_name",
    "probe_bgknown",
    "protocol_rows",
    "recorded_background_pools",
    "split_by_recording",
]

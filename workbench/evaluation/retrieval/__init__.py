"""Retrieval: recall@K, and audio retrieval with a text modifier ("this sound, plus a bark").

Takeuchi et al., "Towards Learning a Difference-Aware General-Purpose Audio Representation", test
whether a representation supports composed retrieval: a query sound and a sentence describing a
difference should find the target sound. With the audio and text encoders frozen, a small adapter
(the paper's Figure 3, as read here) fuses the query's audio embedding with the sentence embedding into
a joint space where the target's (linearly projected) audio embedding should be nearest. It is trained
with a contrastive loss (InfoNCE over the training gallery, hard distractors included) plus a
classification loss on the event the sentence names; retrieval is scored by recall@1/5/10 on held-out
queries against their gallery.

The synthetic world makes the pairs (:func:`synthetic_modifier_pairs`): a scene without one of its
events is the query, the same scene with it is the target, and the same scene with an event of
another class in its place is a distractor, so that only the sentence tells target and distractors
apart and only the audio tells scenes apart. The sentence encoder is the small trainable
:class:`~workbench.models.text.SmallTextEncoder` (trained with the adapter), the same encoder pretrained
once and frozen (:func:`frozen_small_text_encoder`, standing in for a pretrained language model where
none can be downloaded), or frozen DistilBERT from local files (:func:`~workbench.models.text.load_distilbert`).

Training follows the paper's Sec. 5.3 (after Takeuchi et al., Interspeech 2022): the adapter uses GELU,
the loss is contrastive plus multi-label classification (the target scene's event tags, BCE), the
queries of the ``"valid"`` split (or 10 % of the training queries) select the epoch with the smallest
validation loss, whose weights are kept for the test.

The modules, in the order they import one another: :mod:`.ranking` (recall@K), :mod:`.pairs` (queries,
sentences, gallery), :mod:`.text` (the sentence encoders), :mod:`.adapter` (the adapter and its
training) and :mod:`.evaluate` (:func:`modifier_retrieval`, the driver a reader opens first).
"""

from workbench.evaluation.retrieval.adapter import ACTIVATIONS, ModifierAdapter, RetrievalConfig, train_modifier_adapter
from workbench.evaluation.retrieval.evaluate import RetrievalResult, modifier_retrieval
from workbench.evaluation.retrieval.pairs import TEMPLATES, ModifierPairs, embed_waveforms, synthetic_modifier_pairs
from workbench.evaluation.retrieval.ranking import KS, recall_at_k
from workbench.evaluation.retrieval.text import TextEncoderFactory, frozen_small_text_encoder, small_text_encoder

__all__ = [
    "ACTIVATIONS",
    "KS",
    "ModifierAdapter",
    "ModifierPairs",
    "RetrievalConfig",
    "RetrievalResult",
    "TEMPLATES",
    "TextEncoderFactory",
    "embed_waveforms",
    "frozen_small_text_encoder",
    "modifier_retrieval",
    "recall_at_k",
    "small_text_encoder",
    "synthetic_modifier_pairs",
    "train_modifier_adapter",
]

"""The random stream each class definition of the synthetic world is drawn from.

Each definition has its own stream ``[seed, 0, family, index]``, so asking for more classes never
changes the first ones.
"""

from __future__ import annotations

import numpy as np


class DefinitionFamily:
    """Second element of the random-stream key of each definition family."""

    EVENT, SPEAKER, WORD, SCENE, WORD_POOL = 0, 1, 2, 3, 4


def definition_rng(seed: int, family: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, 0, family, index])

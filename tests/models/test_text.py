"""Text encoders of the retrieval: the small trainable default, and DistilBERT's guarded loading."""

import importlib.util

import pytest
import torch

from workbench.errors import MissingFileError
from workbench.models.text import SmallTextEncoder, Vocabulary, load_distilbert, words


def test_words_and_vocabulary():
    assert words("Add a Bark-like!") == ["add", "a", "bark", "like"]
    vocabulary = Vocabulary(["add a bell", "plus a gong"])
    assert vocabulary.tokens == ("<unk>", "a", "add", "bell", "gong", "plus")
    assert vocabulary.encode("add a siren") == [2, 1, 0] and vocabulary.encode("!!") == [0]
    with pytest.raises(ValueError, match="no words"):
        Vocabulary(["", "?"])


def test_small_text_encoder_mean_pools_word_embeddings():
    torch.manual_seed(0)
    encoder = SmallTextEncoder(Vocabulary(["add a bell", "add a gong"]), dim=8)
    embedded = encoder(["add a bell", "a bell add", "add a gong"])
    assert embedded.shape == (3, 8)
    torch.testing.assert_close(embedded[0], embedded[1])  # a bag of words: order does not matter
    assert not torch.allclose(embedded[0], embedded[2])
    bag = encoder.word_embeddings.weight[[2, 1, 3]].mean(dim=0)
    torch.testing.assert_close(embedded[0], encoder.mlp(bag))
    with pytest.raises(TypeError, match="list of sentences"):
        encoder("add a bell")


def test_distilbert_without_weights_says_where_they_go(tmp_path):
    with pytest.raises(MissingFileError, match=r"DistilBERT weights not found in .*distilbert-base-uncased"):
        load_distilbert()
    with pytest.raises(MissingFileError, match=str(tmp_path)):
        load_distilbert(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("transformers") is not None, reason="transformers is installed")
def test_distilbert_without_transformers_says_what_to_install(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ImportError, match="pip install transformers"):
        load_distilbert(tmp_path)

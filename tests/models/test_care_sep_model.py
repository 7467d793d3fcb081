"""The CaRE-SEP Swin-UNET: shapes, windows, the query's effect, classifier initialisation, checkpoints."""

import pytest
import torch
from timm.models.swin_transformer import window_partition, window_reverse

from workbench.errors import AudioError, CheckpointError
from workbench.models.care_sep import (
    CaReSep,
    CaReSepConfig,
    PatchExpand,
    classifier_config,
    init_from_classifier,
)
from workbench.models.registry import read_checkpoint


@pytest.fixture(scope="module")
def model() -> CaReSep:
    torch.manual_seed(0)
    return CaReSep(CaReSepConfig.tiny(n_classes=5)).eval()


def test_window_partition_and_merge_round_trip():
    tokens = torch.randn(2, 8, 12, 6)  # (B, H, W, C)
    windows = window_partition(tokens, (4, 4))
    assert windows.shape == (2 * 2 * 3, 4, 4, 6)
    assert torch.equal(windows[1], tokens[0, 0:4, 4:8])  # second window of the first row of windows
    assert torch.equal(window_reverse(windows, (4, 4), 8, 12), tokens)


def test_patch_expand_is_a_pixel_shuffle_of_its_linear_map():
    expand = PatchExpand(dim=8, out_dim=4, scale=2)
    tokens = torch.randn(1, 3, 5, 8)
    out = expand(tokens)
    assert out.shape == (1, 6, 10, 4)
    # Token (1, 2) becomes the 2x2 block at rows 2-3, columns 4-5, from its own linear output only.
    block = expand.expand(tokens[0, 1, 2]).reshape(2, 2, 4)
    assert torch.allclose(out[0, 2:4, 4:6], expand.norm(block), atol=1e-6)


@pytest.mark.parametrize("samples", [16000, 12345])
def test_shapes_of_query_tags_and_separation(model, samples):
    waveform = torch.randn(2, samples) * 0.05
    with torch.no_grad():
        query = model.embed_query(waveform)
        logits = model.tag_logits(waveform)
        estimate, features = model.separate(waveform, query, return_features=True)
    assert query.shape == (2, 8 * 16) and model.embedding_dim == 128
    assert logits.shape == (2, 5)
    assert estimate.shape == (2, samples) and features.shape == (2, 128)
    assert torch.isfinite(estimate).all()
    layers = model.layers(waveform)
    assert list(layers) == ["group1", "group2", "group3", "connector"]
    padded_frames = -(-(samples // 320 + 1) // 32) * 32  # STFT frames, padded to the patch size x 8
    assert layers["group1"].shape[1:3] == (64 // 4, padded_frames // 4)
    assert layers["connector"].shape[1:] == (2, layers["group1"].shape[2] // 8, 128)


def test_the_query_changes_the_output(model):
    torch.manual_seed(3)
    mixture = torch.randn(1, 16000) * 0.05
    first, second = torch.randn(2, 1, 128)
    with torch.no_grad():
        one, two, again = model.separate(mixture, first), model.separate(mixture, second), model.separate(mixture, first)
    assert torch.equal(one, again)
    assert (one - two).abs().max() > 1e-4
    # The mask is a sigmoid on the mixture's STFT: the estimate never has more energy than ~the mixture.
    assert one.pow(2).sum() < 1.5 * mixture.pow(2).sum()


def test_queries_do_not_depend_on_other_clips_in_the_batch(model):
    clips = torch.randn(3, 8000) * 0.05
    with torch.no_grad():
        together = model.embed_query(clips)
        alone = model.embed_query(clips[1:2])
    assert torch.allclose(together[1:2], alone, atol=1e-5)


def test_classifier_initialises_a_separator(model):
    torch.manual_seed(1)
    classifier = CaReSep(classifier_config(model.config))
    assert not hasattr(classifier, "decoder") and classifier.encoder[0].blocks[0].condition is None
    separator = CaReSep(model.config)
    copied = init_from_classifier(separator, classifier.state_dict())
    assert "tagging_head.conv.weight" in copied and not any(name.startswith("decoder") for name in copied)
    clips = torch.randn(2, 8000) * 0.05
    with torch.no_grad():
        assert torch.allclose(separator.embed_query(clips), classifier.embed_query(clips), atol=1e-6)
        assert torch.allclose(separator.tag_logits(clips), classifier.tag_logits(clips), atol=1e-6)
    bigger = CaReSep(classifier_config(CaReSepConfig.tiny(n_classes=7)))
    with pytest.raises(CheckpointError, match="of another shape"):
        init_from_classifier(separator, bigger.state_dict())
    with pytest.raises(ValueError, match="separator=False"):
        classifier.separate(clips, torch.zeros(2, 128))


def test_checkpoint_round_trip(model, tmp_path):
    path = tmp_path / "care_sep.pt"
    torch.save(model.state_dict(), path)
    restored = CaReSep(CaReSepConfig.tiny(n_classes=5))
    restored.load_state_dict(read_checkpoint(path))
    mixture, query = torch.randn(1, 9000) * 0.05, torch.randn(1, 128)
    with torch.no_grad():
        assert torch.equal(restored.eval().separate(mixture, query), model.separate(mixture, query))


def test_errors_name_what_is_wrong(model):
    with pytest.raises(AudioError, match="at least 513 samples"):
        model.embed_query(torch.zeros(1, 400))
    with pytest.raises(ValueError, match=r"query must be \(batch=1, 128\)"):
        model.separate(torch.zeros(1, 8000), torch.zeros(1, 64))
    with pytest.raises(ValueError, match="n_bands=60 must be divisible by patch_size \\* 8 = 32"):
        CaReSepConfig(n_bands=60)
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        CaReSepConfig(embed_dim=10, num_heads=(3, 3, 3, 3))


def test_paper_configs_have_the_papers_query_widths():
    assert CaReSepConfig.paper().query_dim == 768 and CaReSepConfig.paper_large().query_dim == 2048
    assert CaReSepConfig.paper().resolved_decoder_depths == (6, 2, 2)

"""BYOL-A networks (heads, moving-average target) and the official pretrained encoders' registry entries."""

import pytest
import torch

from workbench.atomic import atomic_torch_save
from workbench.errors import CheckpointError, MissingFileError
from workbench.models import load_pretrained
from workbench.models.audiontt import AudioNTT2020, AudioNTTConfig
from workbench.models.byola import (
    PUBLISHED_MEAN,
    PUBLISHED_STD,
    BYOLConfig,
    BYOLNetworks,
    convert_official,
    set_normalization,
)
from workbench.models.registry import spec


def networks(difference_predictor=False, seed=0):
    torch.manual_seed(seed)
    return BYOLNetworks(AudioNTT2020(AudioNTTConfig.tiny(channels=4)), BYOLConfig.tiny(difference_predictor=difference_predictor))


def official_state(dim=512, prefix=""):
    """Random tensors under the official key names and shapes of AudioNTT2020-BYOLA-64x96d<dim>.pth."""
    model = AudioNTT2020(AudioNTTConfig(embedding_dim=dim))
    generator = torch.Generator().manual_seed(dim)
    state = {}
    for name, tensor in model.encoder_state_dict().items():
        if not tensor.is_floating_point():
            state[prefix + name] = tensor + 3  # num_batches_tracked
        elif name.endswith("running_var"):
            state[prefix + name] = 0.5 + torch.rand(tensor.shape, generator=generator)
        else:
            state[prefix + name] = torch.randn(tensor.shape, generator=generator)
    return state


def test_online_and_target_branches_have_byol_shapes():
    model = networks(difference_predictor=True)
    log_mel = torch.randn(3, 64, 32)
    online = model.online(log_mel)
    assert online.embedding.shape == (3, 128) and online.projection.shape == online.prediction.shape == (3, 64)
    assert model.target(log_mel).shape == (3, 64) and not model.target(log_mel).requires_grad
    assert model.difference_head(online.embedding).shape == (3, 64)
    assert all(not p.requires_grad for p in (*model.target_encoder.parameters(), *model.target_projector.parameters()))
    # The target starts as an exact copy of the online networks.
    for online_p, target_p in zip(model.online_encoder.parameters(), model.target_encoder.parameters()):
        assert torch.equal(online_p, target_p)
    with pytest.raises(RuntimeError, match="no difference predictor"):
        networks().difference_head(online.embedding)


def test_moving_average_update_matches_the_formula():
    model = networks()
    with torch.no_grad():
        for parameter in model.target_encoder.parameters():
            parameter.add_(1.0)
        model.target_encoder.features[1].running_mean.fill_(5.0)
    before = {name: p.clone() for name, p in model.target_encoder.named_parameters()}
    online = dict(model.online_encoder.named_parameters())
    model.update_target(decay=0.9)
    for name, parameter in model.target_encoder.named_parameters():
        torch.testing.assert_close(parameter, 0.9 * before[name] + 0.1 * online[name])
    # Batch-norm statistics are each network's own, not averaged.
    assert torch.equal(model.target_encoder.features[1].running_mean, torch.full((4,), 5.0))
    # decay=None uses the configured 0.99.
    snapshot = model.target_projector.net[0].weight.clone()
    model.update_target()
    expected = 0.99 * snapshot + 0.01 * model.online_projector.net[0].weight
    torch.testing.assert_close(model.target_projector.net[0].weight, expected)


def test_registry_lists_the_three_official_files_without_invented_checksums():
    for dim in (512, 1024, 2048):
        entry = spec(f"byola-d{dim}")
        assert entry.remote.filename == f"AudioNTT2020-BYOLA-64x96d{dim}.pth"
        assert entry.remote.url.startswith("https://github.com/nttcslab/byol-a/")
        # Only the d512 file's checksum is known (the file itself is in the repository; the others are not).
        known = "6cc64226318494f06ef41d7e5810be7d37abfd6490da45abdab48f188c5332e2" if dim == 512 else None
        assert entry.remote.sha256 == known


def test_official_layout_loads_strictly_with_the_published_normalisation(tmp_path):
    # Training checkpoints carry prefixes (and a state_dict wrapper); the official loader keeps what
    # follows 'features.' / 'fc.', and so does ours.
    state = official_state(512, prefix="learner.net.")
    path = atomic_torch_save(tmp_path / "AudioNTT2020-BYOLA-64x96d512.pth", {"state_dict": state, "epoch": 100})
    encoder = load_pretrained("byola-d512", path=path)
    assert torch.equal(encoder.fc[3].weight, state["learner.net.fc.3.weight"])
    assert float(encoder.normalizer.mean) == pytest.approx(PUBLISHED_MEAN)
    assert float(encoder.normalizer.std) == pytest.approx(PUBLISHED_STD)
    waveform = 0.1 * torch.randn(2, 16000, generator=torch.Generator().manual_seed(1))
    log_mel = encoder.frontend(waveform)
    expected = encoder.forward_log_mel((log_mel - PUBLISHED_MEAN) / PUBLISHED_STD)
    torch.testing.assert_close(encoder.embed(waveform), expected)
    # Dataset statistics replace the published ones.
    set_normalization(encoder, -3.0, 2.0)
    torch.testing.assert_close(encoder.embed(waveform), encoder.forward_log_mel((log_mel + 3.0) / 2.0))


def test_a_checkpoint_of_another_size_or_layout_is_refused(tmp_path):
    wrong_size = atomic_torch_save(tmp_path / "d1024.pth", official_state(1024))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_pretrained("byola-d512", path=wrong_size)
    not_byola = atomic_torch_save(tmp_path / "other.pth", {"encoder.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="no 'features.\\*' or 'fc.\\*' tensors"):
        load_pretrained("byola-d512", path=not_byola)


def test_offline_without_the_file_says_where_to_put_it():
    with pytest.raises(MissingFileError, match="AudioNTT2020-BYOLA-64x96d2048.pth"):
        load_pretrained("byola-d2048")


def test_convert_official_adds_the_statistics_it_is_given():
    converted = convert_official(official_state(512), mean=-1.0, std=4.0)
    assert float(converted["normalizer.mean"]) == -1.0 and float(converted["normalizer.std"]) == 4.0

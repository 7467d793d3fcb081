"""BYOL-A's augmentations and the intra-batch mixing of difference-aware BYOL-A, against the formulas."""

import math

import pytest
import torch
from torch.nn import functional

from workbench.audio.byola_augment import (
    MixupMemory,
    RandomLinearFader,
    RandomResizeCrop,
    byola_augmentation,
    normalize_batch,
    sample_mixing_weights,
    shift_batch,
    subtraction_mix,
)


def spectrograms(batch=4, n_mels=16, frames=24, seed=0):
    return torch.randn(batch, n_mels, frames, generator=torch.Generator().manual_seed(seed))


def test_mixup_memory_mixes_each_item_with_a_past_one_in_the_linear_domain():
    first, second = spectrograms(seed=1), spectrograms(seed=2)
    mixup = MixupMemory(ratio=0.4, memory_size=3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(mixup(first), first)  # empty memory: unchanged, as the official first clip
    assert torch.equal(mixup.memory, first[-3:])  # first in, first out
    mixed = mixup(second)
    # The same draws by hand, then the paper's formula item by item.
    replay = torch.Generator().manual_seed(5)
    alpha = 0.4 * torch.rand(4, generator=replay)
    chosen = torch.randint(3, (4,), generator=replay)
    for item in range(4):
        partner = first[-3:][chosen[item]]
        expected = torch.log((1 - alpha[item]) * second[item].exp() + alpha[item] * partner.exp())
        torch.testing.assert_close(mixed[item], expected, rtol=1e-5, atol=1e-5)
        assert 0 <= alpha[item] <= 0.4
    assert torch.equal(mixup.memory, torch.cat([first, second])[-3:])


def test_mixup_memory_without_log_mixup_exp_interpolates_directly():
    mixup = MixupMemory(ratio=1.0, memory_size=4, log_mixup_exp=False, generator=torch.Generator().manual_seed(0))
    constant = torch.full((2, 3, 5), 2.0)
    mixup(constant)
    mixed = mixup(torch.zeros(2, 3, 5))
    replay = torch.Generator().manual_seed(0)
    alpha = torch.rand(2, generator=replay)
    torch.testing.assert_close(mixed, 2.0 * alpha[:, None, None].expand(2, 3, 5))


def test_mixup_memory_is_identity_in_eval_mode_and_checks_shapes():
    mixup = MixupMemory(memory_size=4)
    mixup(spectrograms())
    mixup.eval()
    batch = spectrograms(seed=3)
    assert torch.equal(mixup(batch), batch) and len(mixup.memory) == 4
    mixup.train()
    with pytest.raises(ValueError, match=r"holds spectrograms of shape \(16, 24\), got a batch of \(16, 10\)"):
        mixup(spectrograms(frames=10))
    with pytest.raises(ValueError, match="mixup ratio must lie in"):
        MixupMemory(ratio=1.5)


def test_mixup_memory_travels_in_the_state_dict():
    trained = MixupMemory(memory_size=8)
    trained(spectrograms(seed=4))
    fresh = MixupMemory(memory_size=8)
    fresh.load_state_dict(trained.state_dict())
    assert torch.equal(fresh.memory, trained.memory)


def test_random_resize_crop_is_the_identity_at_unit_scales():
    crop = RandomResizeCrop(virtual_crop_scale=(1.0, 1.0), freq_scale=(1.0, 1.0), time_scale=(1.0, 1.0))
    batch = spectrograms()
    torch.testing.assert_close(crop(batch), batch, rtol=1e-5, atol=1e-5)


def test_random_resize_crop_resizes_the_drawn_box_of_the_zero_padded_canvas():
    batch = spectrograms(batch=6, n_mels=16, frames=20)
    crop = RandomResizeCrop(generator=torch.Generator().manual_seed(3))
    output = crop(batch)
    assert output.shape == batch.shape
    boxes = RandomResizeCrop(generator=torch.Generator().manual_seed(3)).crop_boxes(16, 20, 6)
    canvas = torch.zeros(6, 16, 30)  # time scaled by 1.5, the input centred
    canvas[:, :, 5:25] = batch
    for item, (top, left, height, width) in enumerate(boxes.tolist()):
        assert 0.6 * 16 - 1 <= height <= 16 and 0.6 * 20 - 1 <= width <= 30
        assert 0 <= top <= 16 - height and 0 <= left <= 30 - width
        box = canvas[item, top : top + height, left : left + width]
        expected = functional.interpolate(box[None, None], size=(16, 20), mode="bicubic", align_corners=True)[0, 0]
        torch.testing.assert_close(output[item], expected)
    # Reproducible from the seed.
    again = RandomResizeCrop(generator=torch.Generator().manual_seed(3))(batch)
    assert torch.equal(output, again)


def test_random_linear_fader_adds_a_linear_slope_over_time():
    batch = spectrograms()
    faded = RandomLinearFader(gain=1.0, generator=torch.Generator().manual_seed(2))(batch)
    slopes = faded - batch  # (B, F, T): the same for every frequency, linear in time
    torch.testing.assert_close(slopes, slopes[:, :1, :].expand_as(slopes))
    for slope in slopes[:, 0, :]:
        head, tail = float(slope[0]), float(slope[-1])
        assert abs(head) <= 1 and abs(tail) <= 1
        torch.testing.assert_close(slope, torch.linspace(head, tail, 24), rtol=1e-5, atol=1e-5)


def test_official_chains_and_their_constants():
    v1, v2 = byola_augmentation("v1"), byola_augmentation("v2")
    assert [type(step).__name__ for step in v1] == ["MixupMemory", "RandomResizeCrop"]
    assert (v1[0].ratio, v1[0].memory_size) == (0.4, 2048)
    assert v1[1].virtual_crop_scale == (1.0, 1.5) and v1[1].freq_scale == v1[1].time_scale == (0.6, 1.5)
    assert [type(step).__name__ for step in v2] == ["MixupMemory", "RandomResizeCrop", "RandomLinearFader"]
    assert (v2[0].ratio, v2[0].memory_size, v2[2].gain) == (0.2, 512, 1.0)
    with pytest.raises(ValueError, match="must be 'v1' or 'v2'"):
        byola_augmentation("v3")


def test_augmentations_are_reproducible_with_a_seed():
    batches = [spectrograms(seed=seed) for seed in range(3)]

    def augmented(seed):
        chain = byola_augmentation("v2", memory_size=4, generator=torch.Generator().manual_seed(seed))
        return [chain(batch) for batch in batches]

    first, again, other = augmented(0), augmented(0), augmented(1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[-1], other[-1])
    assert all(output.shape == batch.shape for output, batch in zip(first, batches))


def test_shift_operator_and_subtraction_mix_match_the_paper():
    views = spectrograms(batch=5)
    shifted = shift_batch(views)
    for item in range(5):
        assert torch.equal(shifted[item], views[item - 1])  # cyclic: item 0 takes the last one
    gamma = sample_mixing_weights(5, generator=torch.Generator().manual_seed(0))
    assert ((gamma >= 0.4) & (gamma <= 0.6)).all()
    mixed = subtraction_mix(views, gamma)
    for item in range(5):
        expected = torch.log(gamma[item] * views[item - 1].exp() + (1 - gamma[item]) * views[item].exp())
        torch.testing.assert_close(mixed[item], expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="0 <= low <= high <= 1"):
        sample_mixing_weights(3, 0.7, 0.2)


def test_normalize_batch_standardises_the_whole_batch():
    batch = 3.0 + 2.0 * spectrograms()
    normalised = normalize_batch(batch)
    assert math.isclose(float(normalised.mean()), 0.0, abs_tol=1e-5)
    assert math.isclose(float(normalised.std()), 1.0, rel_tol=1e-5)

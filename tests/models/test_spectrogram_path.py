"""The optional Encoder spectrogram path: spectrogram() then forward_spectrogram() is forward()."""

from __future__ import annotations

import pytest
import torch

from workbench.models.zoo import build_encoder


@pytest.fixture(scope="module")
def waveforms() -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return 0.1 * torch.randn(2, 16000, generator=generator)


@pytest.mark.parametrize(
    ("name", "time_first", "shape"),
    [("ast-tiny", False, (2, 128, 100)), ("beats-tiny", True, (2, 98, 128)), ("audiontt-tiny", False, (2, 64, 101))],
)
def test_spectrogram_then_forward_spectrogram_equals_forward(waveforms, name, time_first, shape):
    encoder = build_encoder(name)
    with torch.no_grad():
        spectrogram = encoder.spectrogram(waveforms)
        assert tuple(spectrogram.shape) == shape and encoder.spectrogram_time_first is time_first
        torch.testing.assert_close(encoder.forward_spectrogram(spectrogram), encoder(waveforms))


@pytest.mark.parametrize("name", ["ast-tiny", "beats-tiny", "audiontt-tiny"])
def test_front_end_has_nothing_to_train(waveforms, name):
    """The contract that lets a recipe cache spectrograms: no gradient reaches the front-end."""
    encoder = build_encoder(name)
    trainable_before = {key for key, parameter in encoder.named_parameters() if parameter.requires_grad}
    spectrogram = encoder.spectrogram(waveforms)
    assert not spectrogram.requires_grad
    assert trainable_before  # the rest of the model is trainable


def test_models_without_the_path_say_so(waveforms):
    encoder = build_encoder("logmel-stats")
    assert encoder.spectrogram_time_first is False
    with pytest.raises(NotImplementedError, match="LogMelStats does not expose a spectrogram front-end"):
        encoder.spectrogram(waveforms)
    with pytest.raises(NotImplementedError, match="use forward\\(waveform\\)"):
        encoder.forward_spectrogram(torch.zeros(2, 64, 10))

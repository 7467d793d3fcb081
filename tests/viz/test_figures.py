"""Plotly figures: the data they carry match the arrays and results they were given."""

from __future__ import annotations

import numpy as np
import pytest
import sklearn.metrics
import torch

from workbench.evaluation.linear import LinearEvalResult
from workbench.viz.figures import (
    confusion_figure,
    curve_figure,
    chance_level,
    linear_eval_figure,
    log_mel,
    scatter_figure,
    spectrogram_figure,
    waveform_figure,
)


def tone(frequency: float, seconds: float = 0.5, sample_rate: int = 16_000) -> torch.Tensor:
    time = torch.arange(int(seconds * sample_rate)) / sample_rate
    return 0.5 * torch.sin(2 * torch.pi * frequency * time).unsqueeze(0)  # (1, samples)


def result(mean: float, ci95: float, metric: str = "accuracy") -> LinearEvalResult:
    return LinearEvalResult(
        metric=metric, protocol="holdout", mean=mean, ci95=ci95, per_seed=(mean - 0.01, mean + 0.01),
        per_fold={"holdout": (mean,)}, seeds=(0, 1), n_train=10, n_valid=2, n_test=4,
        test_indices=np.arange(4), test_targets=np.zeros(4, dtype=int), predictions=np.zeros(4, dtype=int),
    )


def test_spectrogram_axes_are_seconds_and_mel_bins_and_pitch_moves_up():
    figure = spectrogram_figure(tone(500.0), 16_000, title="tone")
    heatmap = figure.data[0]
    z = np.asarray(heatmap.z)
    assert z.shape[0] == 64 and len(heatmap.x) == z.shape[1] == 51  # 0.5 s at a 10 ms hop, centred frames
    assert heatmap.x[0] == 0.0 and heatmap.x[-1] == pytest.approx(0.5)
    assert figure.layout.xaxis.title.text == "time (s)" and figure.layout.title.text == "tone"
    assert z.max() - z.min() == pytest.approx(80.0, abs=1e-3)  # the 80 dB floor
    low_band = np.argmax(log_mel(tone(500.0), 16_000)[1].mean(axis=1))
    high_band = np.argmax(log_mel(tone(3000.0), 16_000)[1].mean(axis=1))
    assert high_band > low_band + 10


def test_spectrogram_accepts_stereo_and_very_short_clips():
    stereo = torch.cat([tone(440.0), tone(440.0)])
    times, decibels = log_mel(stereo, 16_000)
    np.testing.assert_allclose(decibels, log_mel(tone(440.0), 16_000)[1], atol=1e-4)
    times, decibels = log_mel(np.ones(10, dtype=np.float32), 8000)
    assert decibels.shape[0] == 64 and len(times) == decibels.shape[1] >= 1


def test_waveform_figure_exact_for_short_clips_and_envelope_keeps_peaks():
    short = np.linspace(-1, 1, 100, dtype=np.float32)
    line = waveform_figure(short, 100).data[0]
    np.testing.assert_allclose(line.y, short)
    np.testing.assert_allclose(line.x, np.arange(100) / 100)

    long = np.zeros(100_000, dtype=np.float32)
    long[12_345], long[67_890] = 0.9, -0.7  # isolated spikes that decimation would miss
    envelope = waveform_figure(long, 16_000, max_points=1000).data[0]
    assert len(envelope.y) <= 1000
    assert max(envelope.y) == pytest.approx(0.9) and min(envelope.y) == pytest.approx(-0.7)


def test_scatter_has_one_trace_per_present_class_and_rows_in_customdata():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 2))
    labels = rng.integers(0, 3, size=30)
    labels[labels == 1] = 2  # class "b" absent: no empty trace for it
    figure = scatter_figure(points, labels, ["a", "b", "c"], hover_text=[f"id{i}" for i in range(30)])
    assert [trace.name for trace in figure.data] == ["a", "c"]
    for trace, label in zip(figure.data, (0, 2)):
        rows = np.asarray(trace.customdata)
        np.testing.assert_array_equal(rows, np.flatnonzero(labels == label))
        np.testing.assert_allclose(np.column_stack([trace.x, trace.y]), points[rows])
        assert list(trace.text) == [f"id{row}" for row in rows]
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        scatter_figure(points, labels, ["a", "b"])


def test_linear_eval_bars_carry_means_and_confidence_intervals():
    figure = linear_eval_figure({"random": result(0.3, 0.05), "trained": result(0.8, 0.02)})
    bars = figure.data[0]
    assert list(bars.x) == ["random", "trained"]
    np.testing.assert_allclose(bars.y, [0.3, 0.8])
    np.testing.assert_allclose(bars.error_y.array, [0.05, 0.02])
    assert figure.layout.yaxis.title.text == "accuracy (0-1)" and figure.layout.xaxis.title.text == "encoder"
    mixed = linear_eval_figure({"a": result(0.3, 0.0), "b": result(0.4, 0.0, metric="mAP")})
    assert mixed.layout.yaxis.title.text == "score (0-1)"


def test_linear_eval_chance_is_the_majority_class_share_or_the_positive_share():
    scores = result(0.8, 0.02)
    scores.test_targets = np.array([0, 0, 0, 1, 2, 2])
    assert chance_level(scores) == 0.5
    figure = linear_eval_figure({"a": scores, "b": scores})
    (line,) = figure.layout.shapes
    assert line.y0 == line.y1 == 0.5 and figure.layout.annotations[0].text == "chance: 0.500"
    tagged = result(0.4, 0.0, metric="mAP")
    tagged.test_targets = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0], [0, 0, 0]])
    assert chance_level(tagged) == pytest.approx((0.5 + 0.25) / 2)  # the class with no positive is left out
    differing = linear_eval_figure({"a": scores, "b": tagged})
    assert not differing.layout.shapes and list(differing.data[1].y) == [0.5, 0.375]
    unknown = result(0.5, 0.0)
    unknown.test_targets = np.zeros(0, dtype=int)
    assert chance_level(unknown) is None
    unknown.classes = ("a", "b", "c", "d")
    assert chance_level(unknown) == 0.25


def test_confusion_counts_match_scikit_learn():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 4, size=200), rng.integers(0, 4, size=200)
    figure = confusion_figure(y_true, y_pred, ["w", "x", "y", "z"])
    heatmap = figure.data[0]
    expected = sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(4))
    shares = expected / expected.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(np.asarray(heatmap.customdata), expected)
    np.testing.assert_allclose(np.asarray(heatmap.z), shares)
    # What the cells say is what the colour bar measures: shares, in percent.
    assert heatmap.text[0][0] == f"{100 * shares[0, 0]:.0f} %" and "share" in heatmap.colorbar.title.text
    counts = confusion_figure(y_true, y_pred, ["w", "x", "y", "z"], normalize=False).data[0]
    np.testing.assert_array_equal(np.asarray(counts.z), expected)
    np.testing.assert_array_equal(np.asarray(counts.text), expected)
    assert counts.colorbar.title.text == "clips"


def test_curve_band_surrounds_the_mean():
    x = ["layer 1", "layer 2", "layer 3"]
    mean, half_width = np.array([0.5, 0.7, 0.6]), np.array([0.05, 0.02, 0.03])
    figure = curve_figure(x, {"model": (mean, half_width)}, "layer", "accuracy")
    band, line = figure.data
    np.testing.assert_allclose(band.y, [0.55, 0.72, 0.63, 0.57, 0.68, 0.45])
    assert list(band.x) == x + x[::-1] and band.fill == "toself"
    np.testing.assert_allclose(line.y, mean)
    assert figure.layout.yaxis.title.text == "accuracy"
    with pytest.raises(ValueError, match="series 'model': mean and half width must both have 3 values"):
        curve_figure(x, {"model": (mean[:2], half_width[:2])}, "layer", "accuracy")

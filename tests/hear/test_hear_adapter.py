"""The HEAR 2021 API both ways: workbench encoders as HEAR modules give the workbench's own embeddings,
with timestamps that pass the HEAR validator's rules; a HEAR module (``tests/hear/logmel_mean_hear.py``,
written for these tests) is an encoder that linear evaluation runs on, recorded in the run's identity."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

import workbench.hear as hear
from tests.hear import logmel_mean_hear
from workbench.audio.io import resample
from workbench.data.synthetic.views import SyntheticDataset
from workbench.errors import ParameterError, UnknownNameError
from workbench.evaluation.embeddings import extract_embeddings
from workbench.models.zoo import build_encoder
from workbench.recipes import linear_eval
from workbench.train.rundir import RunDir
from workbench.train.runs_index import read_run

TEST_MODULE = "tests.hear.logmel_mean_hear"


def _noise(n_sounds: int, seconds: float, rate: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n_sounds, int(seconds * rate), generator=generator) * 2 - 1  # the validator's white noise


@pytest.mark.parametrize("name", ["logmel-stats", "audiontt-tiny"])
def test_scene_embeddings_through_hear_equal_the_workbench_extraction(name, tmp_path):
    dataset = SyntheticDataset(seed=0, n_clips=6, duration=0.5)
    direct = extract_embeddings(build_encoder(name), dataset, cache_dir=tmp_path, progress=False)
    model = hear.load_model(name)
    assert model.sample_rate == 16000 and model.scene_embedding_size == direct.dim
    audio = torch.stack([dataset[index][0].mean(dim=0) for index in range(len(dataset))])
    through_hear = hear.get_scene_embeddings(audio, model)
    assert through_hear.dtype == torch.float32 and through_hear.shape == (6, direct.dim)
    np.testing.assert_allclose(through_hear.numpy(), direct.features, rtol=1e-5, atol=1e-6)


def test_a_32_khz_encoder_declares_48_khz_and_resamples_like_the_extraction():
    model = hear.load_model("cnn14-tiny")
    assert (model.sample_rate, model.encoder_sample_rate) == (48000, 32000)
    audio = _noise(2, 0.6, 48000)
    expected = build_encoder("cnn14-tiny").embed(resample(audio, 48000, 32000))
    torch.testing.assert_close(hear.get_scene_embeddings(audio, model), expected)


@pytest.mark.parametrize("seconds", [1.07, 1.98])
def test_timestamp_embeddings_follow_the_hear_validators_rules(seconds):
    model = hear.load_model("logmel-stats")
    audio = _noise(2, seconds, model.sample_rate)
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    count = int(seconds * 1000 // 50) + 1
    assert embeddings.shape == (2, count, model.timestamp_embedding_size) and embeddings.dtype == torch.float32
    assert timestamps.shape == (2, count)
    steps = np.diff(timestamps.numpy())
    assert np.allclose(steps, 50.0)  # milliseconds, regular
    length_ms = 1000 * audio.shape[1] / model.sample_rate
    assert timestamps.min() == 0 and length_ms - 50 <= timestamps.max() <= length_ms

    # The embedding at t is the encoder's embedding of the 1-s window centred on t (zero-padded).
    encoder = build_encoder("logmel-stats")
    padded = torch.nn.functional.pad(audio, (8000, 8000))
    for index in (0, 7, count - 1):
        start = round(float(timestamps[0, index]) * 16)  # 16 samples per ms
        window = padded[:, start:start + 16000]
        torch.testing.assert_close(embeddings[:, index], encoder.embed(window), rtol=1e-5, atol=1e-5)


def test_every_encoder_is_a_module_of_its_own_and_weights_files_are_loaded(tmp_path):
    module = importlib.import_module("workbench.hear.audiontt_tiny")
    assert module.ENCODER == "audiontt-tiny"
    audio = _noise(2, 0.5, 16000)
    torch.testing.assert_close(module.get_scene_embeddings(audio, module.load_model()),
                               hear.get_scene_embeddings(audio, hear.load_model("audiontt-tiny")))  # fmt: skip

    trained = build_encoder("audiontt-tiny", seed=3)  # other weights than the default seed 0
    weights = tmp_path / "mine.pt"
    torch.save(trained.state_dict(), weights)
    expected = trained.embed(audio)
    torch.testing.assert_close(hear.get_scene_embeddings(audio, module.load_model(str(weights))), expected)
    torch.testing.assert_close(hear.get_scene_embeddings(audio, hear.load_model(f"audiontt-tiny@{weights}")), expected)
    assert not torch.allclose(hear.get_scene_embeddings(audio, module.load_model()), expected)

    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("workbench.hear.no_such_encoder")
    with pytest.raises(UnknownNameError, match="unknown encoder 'no-such'"):
        hear.load_model("no-such")
    with pytest.raises(ValueError, match="needs an encoder name"):
        hear.load_model()


def test_a_hear_module_is_an_encoder_with_its_own_embeddings():
    encoder = build_encoder(f"hear:{TEST_MODULE}")
    audio = _noise(3, 0.4, 16000)
    model = logmel_mean_hear.load_model()
    torch.testing.assert_close(encoder.embed(audio), logmel_mean_hear.get_scene_embeddings(audio, model))
    embeddings, timestamps = encoder.timestamp_embeddings(audio)
    assert embeddings.shape == (3, 41, 32) and timestamps.shape == (3, 41) and float(timestamps[0, 1]) == 10.0
    assert encoder.sample_rate == 16000 and encoder.embedding_dim == 32


def test_linear_evaluation_runs_on_a_hear_module_and_records_it(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    projection = torch.linalg.qr(torch.randn(32, 32, generator=torch.Generator().manual_seed(0)))[0]
    weights = tmp_path / "projection.pt"
    torch.save({"projection": projection}, weights)
    plain_name, weighted_name = f"hear:{TEST_MODULE}", f"hear:{TEST_MODULE}@{weights}"
    params = linear_eval.Params(n_clips=60, n_seeds=1, max_epochs=5, patience=2,
                                encoders=(plain_name, weighted_name, "logmel-stats"))  # fmt: skip
    result = linear_eval.run(params)
    assert set(result.scores) == {plain_name, weighted_name, "logmel-stats"}
    assert all(0.0 <= score.mean <= 1.0 for score in result.scores.values())

    # The embeddings linear evaluation used are the module's own, clip by clip.
    dataset = result.dataset
    audio = torch.stack([dataset[index][0].mean(dim=0) for index in range(4)])
    for name, model in ((plain_name, logmel_mean_hear.load_model()),
                        (weighted_name, logmel_mean_hear.load_model(str(weights)))):  # fmt: skip
        expected = logmel_mean_hear.get_scene_embeddings(audio, model).numpy()
        np.testing.assert_allclose(result.embeddings[name].features[:4], expected, rtol=1e-5, atol=1e-5)

    # The weights file and the module's source are part of what the run read.
    provenance = RunDir(result.run_dir).provenance
    assert [item["name"] for item in provenance["weights"]] == [f"hear:{TEST_MODULE}"]
    assert provenance["weights"][0]["path"] == str(weights.resolve())
    code = [item for item in provenance["data"]["datasets"] if item.get("kind") == "code"]
    assert {item["name"] for item in code} == {plain_name} and len(code) == 2  # one per hear encoder

    listed = read_run(result.run_dir)  # what `workbench runs` shows
    assert [item["name"] for item in listed.weights] == [plain_name, f"{plain_name} source", f"{plain_name} source"]

    again = linear_eval.run(params)  # read back from the finished run
    assert again.run_dir == result.run_dir
    assert again.scores[weighted_name].mean == result.scores[weighted_name].mean


def test_bad_hear_names_fail_when_the_parameters_are_built(tmp_path):
    with pytest.raises(ParameterError, match="no module 'no_such_hear_module' can be imported"):
        linear_eval.Params(encoders=("hear:no_such_hear_module",))
    with pytest.raises(ParameterError, match="weights file .*missing.pt does not exist"):
        linear_eval.Params(encoders=(f"hear:{TEST_MODULE}@{tmp_path / 'missing.pt'}",))
    with pytest.raises(ParameterError, match="is not a module name"):
        linear_eval.Params(encoders=("hear:not a module",))
    with pytest.raises(ParameterError, match="lacks the HEAR API function"):
        build_encoder("hear:json")


@pytest.mark.shared
def test_mn04_with_the_shared_weights_through_its_hear_module(shared_dir):
    weights = shared_dir / "weights" / "efficientat-mn04" / "mn04_as_mAP_432.pt"
    if not weights.is_file():
        pytest.skip(f"the EfficientAT mn04 release file is not at {weights}")
    module = importlib.import_module("workbench.hear.efficientat_mn04")
    model = module.load_model(str(weights))
    assert (model.sample_rate, model.scene_embedding_size) == (48000, model.encoder.embedding_dim)
    audio = _noise(2, 1.07, 48000)
    direct = model.encoder.embed(resample(audio, 48000, 32000))
    torch.testing.assert_close(module.get_scene_embeddings(audio, model), direct)
    embeddings, timestamps = module.get_timestamp_embeddings(audio, model)
    assert embeddings.shape == (2, 22, model.timestamp_embedding_size) and timestamps[0, -1] == 1050.0

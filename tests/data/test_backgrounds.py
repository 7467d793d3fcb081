"""Backgrounds for BgKnown: synthetic long backgrounds in disjoint seed pools, real recordings split by recording."""

import numpy as np
import pytest
import torch

from workbench import data
from workbench.data.synthetic import BackgroundDataset, LongBackgroundDataset
from workbench.data.synthetic.backgrounds import LONG_BACKGROUND_KINDS
from workbench.errors import UnknownNameError
from workbench.evaluation.bgknown import BackgroundPool, recorded_background_pools, split_by_recording


def _frame_rms_variation(waveform: torch.Tensor, frame: int = 1600) -> float:
    audio = waveform[0].numpy()
    frames = audio[: len(audio) // frame * frame].reshape(-1, frame)
    levels = np.sqrt((frames**2).mean(axis=1))
    return float(levels.std() / levels.mean())


def test_no_seed_or_clip_is_in_both_pools():
    train = data.get("synthetic-long-backgrounds", pool="train", n_clips=40, duration=1.0)
    test = data.get("synthetic-long-backgrounds", pool="test", n_clips=40, duration=1.0)
    train_seeds = {train.seed_of(i) for i in range(len(train))}
    test_seeds = {test.seed_of(i) for i in range(len(test))}
    assert len(train_seeds) == len(test_seeds) == 40 and not train_seeds & test_seeds
    assert not {train.group_of(i) for i in range(40)} & {test.group_of(i) for i in range(40)}
    assert not torch.equal(train[0][0], test[0][0])  # same index, different pool: different audio
    assert torch.equal(train[3][0], LongBackgroundDataset(pool="train", n_clips=40, duration=1.0)[3][0])
    assert train.split_of(5) == "train" and test[2][2]["pool"] == "test"


def test_every_kind_changes_over_time_unlike_a_stationary_texture():
    long = LongBackgroundDataset(seed=0, n_clips=8, duration=3.0)
    assert [long[i][2]["kind"] for i in range(4)] == list(LONG_BACKGROUND_KINDS)
    variation = [_frame_rms_variation(long[i][0]) for i in range(len(long))]
    textures = BackgroundDataset(seed=0, n_clips=8, duration=3.0)
    stationary = [_frame_rms_variation(textures[i][0]) for i in range(8) if textures[i][2]["kind"] != "babble"]
    assert min(variation) > 0.25 and np.mean(variation) > 2 * np.mean(stationary)
    waveform = long[1][0]
    assert waveform.shape == (1, 48000) and waveform.dtype == torch.float32
    assert float(waveform.pow(2).mean().sqrt()) == pytest.approx(0.05, rel=0.05) and waveform.abs().max() <= 0.9


def test_a_crop_identifies_the_recording_it_came_from():
    """The next, non-overlapping second of a recording is nearer (in its quiet spectral shape: the 20th
    percentile of each log-mel band, level removed) to the first second than that of 31 other recordings,
    far more often than chance (1/32): what the 0 % reference can tell a difference-aware encoder."""
    from workbench.audio.frontends import LogMelSpectrogram

    frontend = LogMelSpectrogram()

    def shape(waveform: torch.Tensor) -> np.ndarray:
        floor = frontend(waveform[None])[0].quantile(0.2, dim=1)
        return (floor - floor.mean()).numpy()

    long = LongBackgroundDataset(seed=0, n_clips=32, duration=2.0)
    first, second = zip(*((shape(long[i][0][0, :16000]), shape(long[i][0][0, 16000:])) for i in range(32)))
    distances = ((np.asarray(first)[:, None] - np.asarray(second)[None]) ** 2).sum(axis=-1)
    assert (distances.argmin(axis=1) == np.arange(32)).mean() >= 0.4


def test_bad_options_are_named():
    with pytest.raises(UnknownNameError, match="unknown background pool 'dev'"):
        LongBackgroundDataset(pool="dev")
    with pytest.raises(UnknownNameError, match="unknown long background kind 'pink'"):
        LongBackgroundDataset(kinds=("pink",))
    with pytest.raises(ValueError, match="n_clips must be a positive integer"):
        LongBackgroundDataset(n_clips=0)
    with pytest.raises(UnknownNameError, match="'colour'"):
        data.get("synthetic-long-backgrounds", colour="red")


def test_split_by_recording_keeps_each_recording_on_one_side():
    speakers = data.get("synthetic", task="speaker", n_clips=60, seed=0)

    class Grouped(type(speakers)):
        def group_of(self, index):
            return f"rec{index // 3}"  # three clips per recording

    grouped = Grouped(seed=0, task="speaker", n_clips=60)
    split = split_by_recording(grouped, test_share=0.4, seed=1)
    train = {grouped.group_of(i) for i in split["train"]}
    test = {grouped.group_of(i) for i in split["test"]}
    assert not train & test and len(train | test) == 20
    assert sorted(split["train"] + split["test"]) == list(range(60))
    with pytest.raises(ValueError, match="test_share must lie in"):
        split_by_recording(grouped, test_share=1.0)


@pytest.mark.shared
def test_recorded_pools_share_no_recording(shared_dir):
    pools = recorded_background_pools(shared_dir / "data", n_babble=2)
    assert set(pools) == {"train", "test"} and all(isinstance(pool, BackgroundPool) for pool in pools.values())
    recordings = {name: {pool.group_of(i) for i in range(len(pool))} for name, pool in pools.items()}
    assert not recordings["train"] & recordings["test"]
    # ESC-10 by src_file: the same Freesound recording never feeds both pools; babble by talker.
    talkers = {name: {t for group in groups if group.startswith("fsdd-babble:") for t in group.split(":")[-1].split("+")}
               for name, groups in recordings.items()}  # fmt: skip
    assert talkers["train"] and talkers["test"] and not talkers["train"] & talkers["test"]
    waveform, _, meta = pools["test"][0]
    assert waveform.shape == (1, 5 * 16000) and meta["recording"] in recordings["test"]
    babble_index = next(i for i in range(len(pools["train"])) if pools["train"].group_of(i).startswith("fsdd"))
    babble, _, meta = pools["train"][babble_index]
    assert babble.shape == (1, 80000) and meta["id"].startswith("fsdd-babble:") and float(babble.abs().max()) > 0

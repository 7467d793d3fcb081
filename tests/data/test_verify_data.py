"""``--verify-data`` (issue 25): file datasets fingerprinted by their clips' sha256 instead of their size and
times, each file hashed once per version (path, size, mtime, ctime) and remembered across processes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from workbench import data
from workbench.audio.io import save
from workbench.cli import main
from workbench.data import digests
from workbench.data.fingerprint import DATA_DIGEST_TABLE, VERIFY_DATA_VARIABLE, dataset_fingerprint, verify_data
from workbench.train.rundir import RunDir


def write_clips(folder: Path, seed: int = 0) -> list[Path]:
    """Two classes of six half-second tones each (different pitches, so a probe can tell them apart)."""
    rng, rate = np.random.default_rng(seed), 16000
    time = np.arange(rate // 2) / rate
    paths = []
    for label, frequency in (("low", 300.0), ("high", 2000.0)):
        for index in range(6):
            tone = 0.3 * np.sin(2 * np.pi * frequency * (1 + 0.05 * rng.standard_normal()) * time)
            save(folder / label / f"{index}.wav", tone[None].astype(np.float32), rate)
            paths.append(folder / label / f"{index}.wav")
    return paths


@pytest.fixture
def hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file :func:`digests._hash_file` reads, in a fresh cache and process memory."""
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(digests, "_MEMORY", {})
    reads: list[Path] = []
    original = digests._hash_file
    monkeypatch.setattr(digests, "_hash_file", lambda path: reads.append(path) or original(path))
    return reads


def fingerprint(folder: Path, monkeypatch: pytest.MonkeyPatch, verify: bool) -> dict:
    monkeypatch.setenv(VERIFY_DATA_VARIABLE, "1" if verify else "0")
    return dataset_fingerprint(data.get("folder", path=folder))


def test_contents_not_times_decide_the_fingerprint_and_each_version_is_hashed_once(tmp_path, hashed, monkeypatch):
    folder = tmp_path / "clips"
    paths = write_clips(folder)
    stamped, verified = fingerprint(folder, monkeypatch, False), fingerprint(folder, monkeypatch, True)
    assert "contents" not in stamped and verified["contents"] == "sha256" and len(hashed) == len(paths)
    assert verified["files"] != stamped["files"]

    # Nothing changed, another process (empty memory): the table answers, no file is read again.
    monkeypatch.setattr(digests, "_MEMORY", {})
    assert fingerprint(folder, monkeypatch, True) == verified and len(hashed) == len(paths)
    assert (tmp_path / "cache" / DATA_DIGEST_TABLE).is_file()

    # Touched, contents unchanged: a new fingerprint by times, the same by contents (one file hashed again).
    os.utime(paths[0], ns=(paths[0].stat().st_atime_ns, paths[0].stat().st_mtime_ns + 10**9))
    assert fingerprint(folder, monkeypatch, False) != stamped
    assert fingerprint(folder, monkeypatch, True) == verified and len(hashed) == len(paths) + 1

    # Other audio of the same size with its times set back (as cp -p or rsync -a leave them; the ctime moves,
    # which nothing can set back): a new fingerprint by contents.
    status = paths[1].stat()
    write_clips(tmp_path / "other", seed=1)
    paths[1].write_bytes((tmp_path / "other" / paths[1].relative_to(folder)).read_bytes())
    os.utime(paths[1], ns=(status.st_atime_ns, status.st_mtime_ns))
    assert paths[1].stat().st_size == status.st_size and paths[1].stat().st_mtime_ns == status.st_mtime_ns
    assert fingerprint(folder, monkeypatch, True)["files"] != verified["files"] and len(hashed) == len(paths) + 2


def test_a_copy_of_the_data_is_the_same_fingerprint_by_contents(tmp_path, hashed, monkeypatch):
    write_clips(tmp_path / "a")
    write_clips(tmp_path / "b")  # the same clips written again: other times, same bytes
    by_contents = [fingerprint(tmp_path / name, monkeypatch, True)["files"] for name in "ab"]
    by_times = [fingerprint(tmp_path / name, monkeypatch, False)["files"] for name in "ab"]
    assert by_contents[0] == by_contents[1] and by_times[0] != by_times[1]


def test_the_switch_is_checked(monkeypatch):
    monkeypatch.setenv(VERIFY_DATA_VARIABLE, "yes")
    assert verify_data()
    monkeypatch.delenv(VERIFY_DATA_VARIABLE)
    assert not verify_data()
    monkeypatch.setenv(VERIFY_DATA_VARIABLE, "ture")
    with pytest.raises(ValueError, match="WORKBENCH_VERIFY_DATA='ture': set it to 1"):
        verify_data()


def test_workbench_run_verify_data_keys_the_run_by_contents(tmp_path, hashed, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv(VERIFY_DATA_VARIABLE, "0")  # restored after the test: --verify-data sets it in this process
    write_clips(tmp_path / "clips")
    command = ["run", "linear_eval", "-p", "dataset=folder", "-p", f"data_root={tmp_path / 'clips'}", "-p",
               "encoders=logmel-stats", "-p", "n_seeds=1", "-p", "max_epochs=3", "-p", "n_folds=2"]  # fmt: skip
    assert main(command) == 0
    plain = Path(capsys.readouterr().out.split("run directory: ")[1].strip())
    assert main([*command, "--verify-data"]) == 0
    verified = Path(capsys.readouterr().out.split("run directory: ")[1].strip())
    assert verified != plain and len(hashed) == 12
    (files,) = RunDir(verified).provenance["data"]["datasets"]
    assert files["contents"] == "sha256" and "contents" not in RunDir(plain).provenance["data"]["datasets"][0]
    assert verify_data()  # what --verify-data set, for this process and the ones it starts

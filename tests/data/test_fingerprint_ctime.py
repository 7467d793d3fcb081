"""A data fingerprint sees what ``cp -p``/``rsync -a`` hide: two same-size clips swapped with their
modification times restored are a new fingerprint (the status-change time moved), and an untouched
folder keeps its fingerprint."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from workbench.audio.io import save
from workbench.data.fingerprint import data_fingerprint, file_stamp
from workbench.data.folder import FolderDataset


def _clips(tmp_path: Path) -> Path:
    folder = tmp_path / "clips"
    time = np.arange(8000) / 16000
    for index, frequency in enumerate((220.0, 330.0, 440.0, 550.0)):
        save(folder / f"clip{index}.wav", (0.3 * np.sin(2 * np.pi * frequency * time)).astype(np.float32), 16000)
    (folder / "labels.csv").write_text("filename,label\n" + "".join(f"clip{i}.wav,{'ab'[i % 2]}\n" for i in range(4)))
    return folder


def test_swapped_same_size_clips_with_restored_mtimes_are_detected(tmp_path: Path) -> None:
    folder = _clips(tmp_path)
    before = data_fingerprint(FolderDataset(folder, "labels.csv"))["digest"]
    assert data_fingerprint(FolderDataset(folder, "labels.csv"))["digest"] == before  # untouched: the same

    first, second = folder / "clip0.wav", folder / "clip1.wav"
    stamps = {path: path.stat() for path in (first, second)}
    contents = {path: path.read_bytes() for path in (first, second)}
    first.write_bytes(contents[second])
    second.write_bytes(contents[first])
    for path, status in stamps.items():  # what cp -p and rsync -a do: the old mtimes back
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert [file_stamp(path)[:2] for path in (first, second)] == [
        (stamps[path].st_size, stamps[path].st_mtime_ns) for path in (first, second)
    ]
    assert data_fingerprint(FolderDataset(folder, "labels.csv"))["digest"] != before


def test_file_stamp_of_a_missing_file() -> None:
    assert file_stamp("/nonexistent/clip.wav") == (-1, -1, -1)

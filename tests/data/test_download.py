"""Downloads through file:// URLs (no network): verify, keep, refuse, explain, extract safely."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

import workbench.data.esc50  # noqa: F401  (registers esc50 and esc10)
from workbench.audio.io import save
from workbench.data import registry
from workbench.data.download import (
    ArchiveError,
    ChecksumError,
    RemoteFile,
    download_dataset,
    extract,
    fetch,
    sha256sum,
)
from workbench.data.fsdd import FSDD
from workbench.data.speech_commands import SpeechCommands
from workbench.errors import MissingFileError, UnknownNameError


def _remote_for(source: Path, *, sha256: str | None = "auto", filename: str | None = None) -> RemoteFile:
    digest = hashlib.sha256(source.read_bytes()).hexdigest() if sha256 == "auto" else sha256
    return RemoteFile(url=source.as_uri(), sha256=digest, filename=filename or source.name)


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    source = tmp_path / "server" / "weights.bin"
    source.parent.mkdir()
    source.write_bytes(np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17))  # several read chunks
    return source


def test_sha256sum_matches_hashlib(payload: Path):
    assert sha256sum(payload) == hashlib.sha256(payload.read_bytes()).hexdigest()


def test_fetch_downloads_verifies_and_reuses(payload: Path, tmp_path: Path):
    remote = _remote_for(payload)
    cache = tmp_path / "cache"
    path = fetch(remote, cache, offline=False, progress=False)
    assert path == cache / "weights.bin"
    assert path.read_bytes() == payload.read_bytes()
    assert [p.name for p in cache.iterdir()] == ["weights.bin"]  # no temporary file left behind
    # A verified file in place is used as is: even offline and with the source gone.
    payload.unlink()
    assert fetch(remote, cache, offline=True, progress=False) == path


def test_fetch_rejects_a_download_with_the_wrong_checksum(payload: Path, tmp_path: Path):
    remote = _remote_for(payload, sha256="0" * 64)
    with pytest.raises(ChecksumError) as caught:
        fetch(remote, tmp_path / "cache", offline=False, progress=False)
    message = str(caught.value)
    assert "weights.bin" in message and "0" * 64 in message and sha256sum(payload) in message
    assert list((tmp_path / "cache").iterdir()) == []  # the bad download was not kept


def test_fetch_checks_size_when_no_checksum_is_published(payload: Path, tmp_path: Path):
    remote = dataclasses.replace(_remote_for(payload, sha256=None), size_bytes=12)
    with pytest.raises(ChecksumError, match="expected 12"):
        fetch(remote, tmp_path / "cache", offline=False, progress=False)
    unverified = _remote_for(payload, sha256=None)
    assert fetch(unverified, tmp_path / "cache", offline=False, progress=False).is_file()


def test_fetch_rejects_a_wrong_file_already_in_place(payload: Path, tmp_path: Path):
    remote = _remote_for(payload)
    placed = tmp_path / "cache" / "weights.bin"
    placed.parent.mkdir()
    placed.write_bytes(b"something else")
    with pytest.raises(ChecksumError) as caught:
        fetch(remote, placed.parent, offline=False, progress=False)
    message = str(caught.value)
    assert str(placed) in message
    assert remote.sha256 in message and hashlib.sha256(b"something else").hexdigest() in message
    assert "Delete it" in message


def _assert_by_hand_message(message: str, remote: RemoteFile, target: Path) -> None:
    assert remote.url in message
    assert remote.filename in message
    assert remote.sha256 in message
    assert f"    {target}\n" in message  # the exact path, alone on its line


def test_offline_error_says_where_to_put_the_file(payload: Path, tmp_path: Path, monkeypatch):
    remote = _remote_for(payload)
    monkeypatch.setenv("WORKBENCH_OFFLINE", "1")
    with pytest.raises(MissingFileError) as caught:
        fetch(remote, tmp_path / "cache", progress=False)  # offline=None reads the variable
    _assert_by_hand_message(str(caught.value), remote, tmp_path / "cache" / "weights.bin")
    assert "offline" in str(caught.value)


def test_unreachable_url_gives_the_same_instructions(tmp_path: Path):
    remote = RemoteFile(url=(tmp_path / "gone.bin").as_uri(), sha256="a" * 64, filename="gone.bin")
    with pytest.raises(MissingFileError) as caught:
        fetch(remote, tmp_path / "cache", offline=False, progress=False)
    _assert_by_hand_message(str(caught.value), remote, tmp_path / "cache" / "gone.bin")


def test_remote_file_validates_its_fields():
    with pytest.raises(ValueError, match="64 lower-case hex"):
        RemoteFile(url="https://example.org/a", sha256="ABC", filename="a")
    with pytest.raises(ValueError, match="bare file name"):
        RemoteFile(url="https://example.org/a", sha256=None, filename="../a")


# ------------------------------------------------------------------------------------------------
# Extraction

_FILES = {"top/a.txt": b"alpha", "top/sub/b.bin": bytes(range(256))}


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in files.items():
            bundle.writestr(name, data)
    return path


def _tar(path: Path, files: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            bundle.addfile(info)
    return path


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz", ".tgz"])
def test_extract_round_trip(tmp_path: Path, suffix: str):
    archive = tmp_path / f"bundle{suffix}"
    (_zip if suffix == ".zip" else _tar)(archive, _FILES)
    destination = extract(archive, tmp_path / "out", progress=False)
    for name, data in _FILES.items():
        assert (destination / name).read_bytes() == data


@pytest.mark.parametrize("member", ["../evil.txt", "top/../../evil.txt", "/tmp/evil.txt"])
@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
def test_extract_refuses_members_escaping_the_destination(tmp_path: Path, suffix: str, member: str):
    archive = tmp_path / f"bad{suffix}"
    (_zip if suffix == ".zip" else _tar)(archive, {"top/ok.txt": b"ok", member: b"evil"})
    with pytest.raises(ArchiveError) as caught:
        extract(archive, tmp_path / "out", progress=False)
    assert member in str(caught.value) and str(archive) in str(caught.value)
    assert not (tmp_path / "out" / "top" / "ok.txt").exists()  # nothing written before the check
    assert not (tmp_path / "evil.txt").exists()


def test_extract_refuses_symlinks_pointing_outside(tmp_path: Path):
    archive = _tar(tmp_path / "links.tar.gz", {"top/ok.txt": b"ok"}, links={"top/escape": "../../outside"})
    with pytest.raises(ArchiveError, match="links outside"):
        extract(archive, tmp_path / "out", progress=False)


def test_extract_rejects_unknown_and_corrupt_archives(tmp_path: Path):
    rar = tmp_path / "a.rar"
    rar.write_bytes(b"Rar!")
    with pytest.raises(ArchiveError, match="unsupported archive type"):
        extract(rar, tmp_path / "out")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip at all")
    with pytest.raises(ArchiveError, match="not a readable archive"):
        extract(broken, tmp_path / "out", progress=False)


# ------------------------------------------------------------------------------------------------
# download_dataset: the registry's remotes, extraction and layout, end to end on tiny archives


def _tone(seconds: float = 0.1, rate: int = 8000) -> np.ndarray:
    return (0.1 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def _with_remote(monkeypatch, name: str, archive: Path, expected_clips: int | None) -> None:
    info = dataclasses.replace(
        registry.info(name), remotes=(_remote_for(archive),), expected_clips=expected_clips
    )
    monkeypatch.setitem(registry._INFOS, name, info)


def test_download_dataset_unpacks_a_release_with_a_top_folder(tmp_path: Path, monkeypatch):
    staging = tmp_path / "release" / "free-spoken-digit-dataset-1.0.10"
    for digit in range(2):
        for take in (0, 7):
            save(staging / "recordings" / f"{digit}_alice_{take}.wav", _tone(), 8000)
    (staging / "README.md").write_text("FSDD")
    archive = tmp_path / "server" / "free-spoken-digit-dataset-1.0.10.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as bundle:
        for file in staging.rglob("*"):
            bundle.write(file, file.relative_to(staging.parent).as_posix())
    _with_remote(monkeypatch, "fsdd", archive, expected_clips=4)

    root = tmp_path / "data"
    folder = download_dataset("fsdd", root, offline=False, progress=False)
    assert folder == root / "free-spoken-digit-dataset"
    dataset = FSDD(root)
    assert len(dataset) == 4 and [dataset.split_of(i) for i in range(4)].count("test") == 2
    assert not (root / "archives" / archive.name).exists()  # removed after a verified extraction
    assert sorted(p.name for p in root.iterdir()) == ["archives", "free-spoken-digit-dataset"]
    # Idempotent: a dataset that loads is left alone, with no network and no archive.
    archive.unlink()
    assert download_dataset("fsdd", root, offline=True, progress=False) == folder


def test_download_dataset_checks_the_clip_count(tmp_path: Path, monkeypatch):
    staging = tmp_path / "release" / "fsdd-x"
    save(staging / "recordings" / "3_bob_1.wav", _tone(), 8000)
    archive = tmp_path / "fsdd-x.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(staging, arcname="fsdd-x")
    _with_remote(monkeypatch, "fsdd", archive, expected_clips=3000)
    with pytest.raises(ArchiveError, match="has 1 clips, expected 3000"):
        download_dataset("fsdd", tmp_path / "data", offline=False, progress=False)


def test_download_dataset_lays_out_a_flat_archive(tmp_path: Path, monkeypatch):
    # The Speech Commands archive has no top folder: its words sit at the archive root.
    files = tmp_path / "flat"
    save(files / "yes" / "aa_nohash_0.wav", _tone(rate=16000), 16000)
    save(files / "no" / "bb_nohash_0.wav", _tone(rate=16000), 16000)
    (files / "validation_list.txt").write_text("yes/aa_nohash_0.wav\n")
    (files / "testing_list.txt").write_text("")
    archive = tmp_path / "speech_commands_v0.02.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        for file in files.rglob("*"):
            bundle.add(file, arcname="./" + file.relative_to(files).as_posix(), recursive=False)
    _with_remote(monkeypatch, "speech_commands", archive, expected_clips=None)
    root = tmp_path / "data"
    folder = download_dataset("speech_commands", root, offline=False, progress=False)
    assert folder == root / "SpeechCommands" / "speech_commands_v0.02"
    dataset = SpeechCommands(root)
    assert dataset.classes == ("no", "yes") and len(dataset) == 2


def test_download_dataset_offline_names_the_archive_and_where_it_goes(tmp_path: Path):
    with pytest.raises(MissingFileError) as caught:
        download_dataset("esc50", tmp_path / "data", offline=True, progress=False)
    message = str(caught.value)
    assert "https://github.com/karolpiczak/ESC-50/archive/master.zip" in message
    assert f"    {tmp_path / 'data' / 'archives' / 'ESC-50-master.zip'}\n" in message


def test_download_dataset_needs_a_downloadable_name(tmp_path: Path):
    with pytest.raises(UnknownNameError) as caught:
        download_dataset("folder", tmp_path)
    assert "esc50" in str(caught.value) and "fsdd" in str(caught.value)


def test_fetch_removes_the_partial_file_of_a_killed_download(payload: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    cache.mkdir()
    killed = cache / ".weights.bin.4194303.0badf00d.tmp"  # a dead process's partial download
    killed.write_bytes(b"first half")
    fetch(_remote_for(payload), cache, offline=False, progress=False)
    assert sorted(p.name for p in cache.iterdir()) == ["weights.bin"]

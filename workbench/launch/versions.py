"""Which code made each leaf, and the check that the gather reads leaves of one code version only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.launch.plan import Leaf
from workbench.train.rundir import RunDir
from workbench.train.rundir.provenance import _code_provenance

RECORD_NAME = "launch.json"
"""In a run directory (or ``<cache file>.launch.json``): the code version that finished the leaf."""


class MixedCodeError(WorkbenchError):
    """The finished leaves of a plan were made by different code versions."""


def record_path(leaf: Leaf) -> Path:
    """Where a launched leaf's record goes: ``<run>/launch.json`` or ``<cache file>.launch.json``."""
    return Path(leaf.path) / RECORD_NAME if leaf.kind == "run" else Path(leaf.path + "." + RECORD_NAME)


def code_version() -> dict[str, Any]:
    """The code this process runs: workbench version, git commit and whether the checkout had changes."""
    code = _code_provenance()
    return {key: code[key] for key in ("workbench", "git_commit", "git_dirty")}


def leaf_code_version(leaf: Leaf) -> dict[str, Any] | None:
    """The code version that finished ``leaf``: its launch record, else (a run made without the launcher)
    its provenance.json; None when neither says (a cache file made by a plain run)."""
    record = record_path(leaf)
    if record.is_file():
        return json.loads(record.read_text(encoding="utf-8"))["code"]
    provenance = Path(leaf.path) / RunDir.PROVENANCE_FILE
    if leaf.kind == "run" and provenance.is_file():
        values = json.loads(provenance.read_text(encoding="utf-8"))
        return {key: values.get(key) for key in ("workbench", "git_commit", "git_dirty")}
    return None


def _describe(version: tuple[Any, ...]) -> str:
    workbench, commit, dirty = version
    text = f"workbench {workbench}, commit {str(commit)[:12] if commit else 'unknown'}"
    return text + (" with uncommitted changes" if dirty else "")


def check_code_versions(leaves: Sequence[Leaf], allow_mixed: bool = False) -> list[str]:
    """Raise unless every finished leaf whose version is known was made by the same code version.

    Returns:
        Notes for the user: leaves of unknown version, a version with uncommitted changes, or (with
        ``allow_mixed``) the versions found.

    Raises:
        MixedCodeError: two or more versions, listing which leaves each made.
    """
    groups: dict[tuple[Any, ...], list[str]] = {}
    unknown = []
    for leaf in leaves:
        version = leaf_code_version(leaf)
        if version is None:
            unknown.append(leaf.name)
            continue
        key = (version.get("workbench"), version.get("git_commit"), version.get("git_dirty"))
        groups.setdefault(key, []).append(leaf.name)
    notes = []
    if unknown:
        notes.append(f"code version unknown (made without the launcher) for: {', '.join(unknown)}")
    if len(groups) > 1:
        lines = [f"  {_describe(key)}: {', '.join(names)}" for key, names in groups.items()]
        message = "the leaves were made by different code versions:\n" + "\n".join(lines)
        if not allow_mixed:
            raise MixedCodeError(
                message + "\ndelete the run directories of the versions you do not want and launch again (they are "
                "retrained), or pass --allow-mixed-code to gather them anyway"
            )
        notes.append(message)
    elif groups and next(iter(groups))[2]:
        notes.append("the leaves were made from a checkout with uncommitted changes: the commit alone does not "
                     "say which code made them")  # fmt: skip
    return notes

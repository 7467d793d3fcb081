"""The ``workbench`` command: run recipes, reproduce notebooks, list and download data and weights.

    workbench run linear_eval -p dataset=fsdd -p task=speaker
    workbench params diff_byola --preset lambda-sweep -p epochs=2   # resolved parameters, runs nothing
    workbench reproduce                      # quickstart + every recipe notebook, claims report
    workbench reproduce add_loss --preset paper-ast-esc50
    workbench recipes | datasets | weights
    workbench download esc50

Under ``torchrun --nproc_per_node=N -m workbench.cli run RECIPE ...`` the training loop runs with
DistributedDataParallel; nothing else changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import ParameterError, WorkbenchError


def _parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``: values stay text until the recipe's ``Params`` parses
    each against its declared type (``task=no`` stays the string "no", ``weights_path={shared}/x`` a path,
    ``epochs=3`` becomes 3, ``lambdas=[0, 0.5]`` or ``lambdas=0,0.5`` a tuple)."""
    values: dict[str, str] = {}
    for assignment in assignments:
        key, separator, raw = assignment.partition("=")
        if not separator or not key.strip():
            raise ParameterError(f"parameter {assignment!r} must look like key=value")
        values[key.strip()] = raw.strip()
    return values


def _given_values(arguments: argparse.Namespace) -> dict[str, Any]:
    """Parameters the command line gives, later sources winning: ``-f`` files, ``-y`` YAML, ``-p`` pairs."""
    from workbench.recipes.base import load_parameter_file, parse_yaml_mapping

    values: dict[str, Any] = {}
    for path in arguments.file:
        values.update(load_parameter_file(path))
    for text in arguments.yaml:
        values.update(parse_yaml_mapping(text, f"-y {text!r}"))
    values.update(_parse_assignments(arguments.param))
    return values


def _resolve_params(recipe: str, preset: str | None, given: dict[str, Any]) -> Any:
    """The recipe's ``Params`` from its defaults, ``preset`` and the command line's values, in that order."""
    from workbench import recipes
    from workbench.recipes.base import load_preset

    return recipes.get(recipe).Params.from_dict({**(load_preset(recipe, preset) if preset else {}), **given})


def check_writable(folder: Path, what: str, remedy: str) -> None:
    """Raise unless ``folder`` (or, while it does not exist yet, its nearest existing parent) takes new files.

    A run finds out before it computes anything, not when it saves its results.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise WorkbenchError(f"{what} {folder} cannot be created: {existing} is not a folder; {remedy}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise WorkbenchError(f"{what} {folder} is not writable ({reason} in {existing}); {remedy}") from None


def _check_cache_writable() -> None:
    from workbench.paths import cache_dir

    check_writable(cache_dir(), "cache folder", "set WORKBENCH_CACHE to a folder you can write")


def _command_run(arguments: argparse.Namespace) -> int:
    from workbench import recipes
    from workbench.paths import runs_root

    module = recipes.get(arguments.recipe)
    params = _resolve_params(arguments.recipe, arguments.preset, _given_values(arguments))
    check_writable(runs_root(), "runs folder", "set WORKBENCH_RUNS to a folder you can write")
    _check_cache_writable()
    result = module.run(params)
    print(result.summary())
    if result.run_dir is not None:
        print(f"run directory: {result.run_dir}")
    return 0


def _command_params(arguments: argparse.Namespace) -> int:
    from workbench.paths import shared_dir
    from workbench.recipes.base import SHARED_PLACEHOLDER

    params = _resolve_params(arguments.recipe, arguments.preset, _given_values(arguments))
    text = params.to_yaml()
    print(f"# workbench params {arguments.recipe}" + (f" --preset {arguments.preset}" if arguments.preset else ""))
    if SHARED_PLACEHOLDER in text:
        print(f"# {SHARED_PLACEHOLDER} = {shared_dir()}")
    print(text, end="")
    return 0


def _command_reproduce(arguments: argparse.Namespace) -> int:
    from workbench import recipes, reproduce

    out_dir = Path(arguments.out).resolve()
    given = _given_values(arguments)
    if arguments.smoke:
        _check_cache_writable()  # the stand-in datasets are written there
        for recipe in arguments.recipes or [name for name in recipes.names() if name != "linear_eval"]:
            params = _resolve_params(recipe, arguments.preset, given)
            print(reproduce.smoke(recipe, params, arguments.preset, arguments.smoke_steps,
                                  arguments.smoke_batch), end="\n\n", flush=True)
        return 0
    # Papermill injects Python values: give it each value as the recipe's Params parsed it.
    overrides: dict[str, Any] = {}
    for recipe in dict.fromkeys(arguments.recipes or recipes.names()):
        resolved = _resolve_params(recipe, arguments.preset, given).to_dict()
        overrides.update({key: resolved[key] for key in given})
    check_writable(out_dir, "output folder", "pass --out with a folder you can write")
    _check_cache_writable()
    jobs = reproduce.plan(arguments.recipes, out_dir, arguments.preset, overrides)
    print(f"executing {len(jobs)} notebook(s) into {out_dir} ...", flush=True)
    report = reproduce.execute(jobs, out_dir, arguments.jobs)
    print()
    for outcome in report.outcomes:
        if outcome.error is not None:
            print(f"  FAILED {outcome.job.output.name}: {outcome.error}")
    for claim in report.claims:
        print(f"  {claim['recipe']}: {claim['name']}: paper {claim['paper']}; measured {claim['measured']}; "
              f"{claim['interval']} -> {claim['verdict']}")
    print(f"\nexecuted notebooks: {out_dir}")
    print(f"figures:            {out_dir / 'runs'}/<recipe>/<run-id>/figures/")
    print(f"claims report:      {report.markdown_path} and {report.html_path.name}")
    return 0 if report.ok else 1


def _command_recipes(arguments: argparse.Namespace) -> int:
    from workbench import recipes
    from workbench.recipes.base import preset_names

    for name in recipes.names():
        presets = ", ".join(preset_names(name)) or "(none)"
        print(f"{name:16s} notebook {recipes.notebook_of(name):28s} presets: {presets}")
    return 0


def _command_datasets(arguments: argparse.Namespace) -> int:
    """One line per dataset: its rate, whether a copy is present, and how complete it is (clips found
    against the official counts, per fold or split where they are known)."""
    import workbench.data as data
    from workbench.data.registry import describe_copy
    from workbench.errors import DatasetNotFoundError
    from workbench.paths import data_root

    root = Path(arguments.root) if arguments.root else data_root()
    print(f"data root: {root}")
    for name in data.names():
        entry = data.info(name)
        if name.startswith("synthetic"):
            status = "built in"
        elif name == "folder":
            status = "your own files (path=..., labels=...)"
        else:
            try:
                status = describe_copy(name, data.get(name, root=root))
            except DatasetNotFoundError:
                status = f"absent (workbench download {name})" if entry.remotes else "absent: bring your own"
            except WorkbenchError as error:
                status = f"incomplete: {str(error).splitlines()[0]}"
        print(f"{name:22s} {entry.sample_rate:>6d} Hz  {status:40s} {entry.description}")
    return 0


def _command_weights(arguments: argparse.Namespace) -> int:
    from workbench import models
    from workbench.paths import cache_dir

    names = models.names()
    if not names:
        print("no pretrained weights are registered yet")
    for name in names:
        spec = models.spec(name)
        cached = (cache_dir() / "weights" / spec.remote.filename).is_file()
        checked = {"sha256": "sha256-verified", "size only": "size-checked"}.get(
            models.registry.checksum_status(name), "unverified"
        )
        print(f"{name:28s} {'cached' if cached else 'not cached':10s}  {checked:15s}  {spec.description}")
    return 0


def _command_download(arguments: argparse.Namespace) -> int:
    import workbench.data as data
    from workbench import models
    from workbench.data.download import download_dataset
    from workbench.errors import UnknownNameError

    if arguments.name in data.names():
        from workbench.paths import data_root

        root = Path(arguments.root) if arguments.root else None
        remedy = "pass --root with a folder you can write" if root else "set WORKBENCH_DATA to a folder you can write"
        check_writable(root or data_root(), "data root", remedy)
        path = download_dataset(arguments.name, root)
    elif arguments.name in models.names():
        _check_cache_writable()
        path = models.download_weights(arguments.name)
    else:
        raise UnknownNameError("dataset or weights", arguments.name, [*data.names(), *models.names()])
    print(f"{arguments.name}: {path}")
    return 0


def _add_parameter_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--preset", help="a YAML preset from notebooks/params/<notebook>/")
    command.add_argument("-f", "--file", action="append", default=[], metavar="FILE.yaml",
                         help="a YAML file of parameter: value (after the preset)")  # fmt: skip
    command.add_argument("-y", "--yaml", action="append", default=[], metavar="YAML",
                         help="parameters as a YAML mapping, e.g. '{n_seeds: 5}' (after -f)")  # fmt: skip
    command.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                         help="one parameter, parsed as its declared type (last, wins)")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one recipe with its Params")
    run.add_argument("recipe")
    _add_parameter_options(run)
    run.set_defaults(handler=_command_run)

    params = commands.add_parser("params", help="print a recipe's fully resolved parameters; runs nothing")
    params.add_argument("recipe")
    _add_parameter_options(params)
    params.set_defaults(handler=_command_params)

    reproduce = commands.add_parser("reproduce", help="execute notebooks with papermill and report claims")
    reproduce.add_argument("recipes", nargs="*", help="recipes to reproduce (default: quickstart + all)")
    _add_parameter_options(reproduce)
    reproduce.add_argument("--out", default="reproduce", help="folder for executed notebooks (default ./reproduce)")
    reproduce.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
    reproduce.add_argument("--smoke", action="store_true",
                           help="instead of the notebooks: every stage at the preset's full size for a few steps on "
                                "stand-in data; prints step times, peak memory and the projected hours")  # fmt: skip
    reproduce.add_argument("--smoke-steps", type=int, default=2, metavar="N", help="steps per stage of --smoke")
    reproduce.add_argument("--smoke-batch", type=int, metavar="B",
                           help="--smoke: train at this smaller batch and scale the step time to the preset's")  # fmt: skip
    reproduce.set_defaults(handler=_command_reproduce)

    commands.add_parser("recipes", help="list recipes, notebooks and presets").set_defaults(handler=_command_recipes)
    datasets = commands.add_parser("datasets", help="list datasets and whether their files are present")
    datasets.add_argument("--root")
    datasets.set_defaults(handler=_command_datasets)
    commands.add_parser("weights", help="list pretrained weights").set_defaults(handler=_command_weights)
    download = commands.add_parser("download", help="download a dataset or pretrained weights")
    download.add_argument("name")
    download.add_argument("--root", help="data root for datasets")
    download.set_defaults(handler=_command_download)
    return parser


USER_ERRORS = (WorkbenchError, ValueError, OSError, yaml.YAMLError)
"""What a user's input can cause (bad value, unknown name, YAML, missing or unwritable file): one line, exit 2.
``WORKBENCH_DEBUG=1`` shows the traceback instead."""


def one_line(error: BaseException) -> str:
    """The error's message on one line (multi-line messages joined), or its type when it has none."""
    text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except USER_ERRORS as error:
        if os.environ.get("WORKBENCH_DEBUG"):
            raise
        print(f"workbench: error: {one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

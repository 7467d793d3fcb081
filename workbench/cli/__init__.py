"""The ``workbench`` command: run recipes, reproduce notebooks, list and download data and weights.

    workbench run linear_eval -p dataset=fsdd -p task=speaker
    workbench run linear_eval -p dataset=folder -p data_root=/my/clips --verify-data   # runs keyed by contents
    workbench params diff_byola --preset lambda-sweep -p epochs=2   # resolved parameters, runs nothing
    workbench params linear_eval --explain   # what each parameter means (also: workbench run RECIPE --help)
    workbench reproduce                      # quickstart + every recipe notebook, claims report
    workbench reproduce add_loss --preset paper-ast-esc50
    workbench launch care_sep --preset paper-esc50 --executor slurm --partition gpu --gpus 1 --time 12:00:00
    workbench leaderboard --view layers --csv scores.csv   # encoders x tasks, only the missing cells computed
    workbench recipes | datasets | weights
    workbench runs --recipe linear_eval      # the runs side by side; --curves RUN... draws their curves
    workbench download esc50

Under ``torchrun --nproc_per_node=N -m workbench.cli run RECIPE ...`` the training loop runs with
DistributedDataParallel; nothing else changes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from workbench.cli.launch import _minutes, add_launch_command  # noqa: F401  (_minutes: tested here)
from workbench.cli.leaderboard import add_leaderboard_command
from workbench.cli.parameters import (  # noqa: F401  (_parse_assignments: tested here)
    _add_parameter_options,
    _check_cache_writable,
    _given_values,
    _parse_assignments,
    _resolve_params,
    check_writable,
)
from workbench.cli.runs import add_runs_command
from workbench.errors import WorkbenchError


def _command_run(arguments: argparse.Namespace) -> int:
    from workbench import recipes
    from workbench.evaluation.protocols import one_warning_per_cause
    from workbench.paths import runs_root
    from workbench.train.rundir import failures_marked

    module = recipes.get(arguments.recipe)
    params = _resolve_params(arguments.recipe, arguments.preset, _given_values(arguments))
    if arguments.verify_data:  # read by every file dataset's fingerprint, in this process and its children
        from workbench.data.fingerprint import VERIFY_DATA_VARIABLE

        os.environ[VERIFY_DATA_VARIABLE] = "1"
    check_writable(runs_root(), "runs folder", "set WORKBENCH_RUNS to a folder you can write")
    _check_cache_writable()
    # Whatever the recipe: each warning's cause once per run, and a run an error stops is marked failed.
    with one_warning_per_cause(), failures_marked():
        result = module.run(params)
    print(result.summary())
    if result.run_dir is not None:
        print(f"run directory: {result.run_dir}")
    return 0


def _command_params(arguments: argparse.Namespace) -> int:
    from workbench.paths import shared_dir
    from workbench.recipes.base import SHARED_PLACEHOLDER, explain_text

    params = _resolve_params(arguments.recipe, arguments.preset, _given_values(arguments))
    text = explain_text(type(params), params) + "\n" if arguments.explain else params.to_yaml()
    print(f"# workbench params {arguments.recipe}" + (f" --preset {arguments.preset}" if arguments.preset else ""))
    if SHARED_PLACEHOLDER in text:
        print(f"# {SHARED_PLACEHOLDER} = {shared_dir()}")
    print(text, end="")
    return 0


class _RecipeHelp(argparse.Action):
    """``workbench run RECIPE --help``: the command's options, then every parameter of RECIPE with its
    default, allowed values and meaning (without a recipe, or with an unknown one, the options only)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any):
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, *_: Any) -> None:
        from workbench import recipes
        from workbench.recipes.base import explain_text

        parser.print_help()
        recipe = getattr(namespace, "recipe", None)
        if recipe in recipes.names():
            print(f"\nparameters of {recipe} (set with -p NAME=VALUE; `workbench params {recipe} --explain` "
                  f"shows a preset's values):\n")  # fmt: skip
            print(explain_text(recipes.get(recipe).Params))
        else:
            print(f"\nrecipes: {', '.join(recipes.names())}; `workbench run RECIPE --help` lists its parameters")
        parser.exit()


def _command_reproduce(arguments: argparse.Namespace) -> int:
    from workbench import recipes, reproduce

    out_dir = Path(arguments.out).resolve()
    given = _given_values(arguments)
    if arguments.smoke:
        _check_cache_writable()  # the stand-in datasets are written there
        # Without names: every recipe that trains, i.e. has a smoke run (linear_eval and leaderboard train nothing).
        for recipe in arguments.recipes or [name for name in recipes.names() if hasattr(recipes.get(name), "smoke")]:
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


def _files_rate(dataset: Any) -> int | None:
    """The sample rate in the header of a local copy's first listed file (one header read), or None for a
    dataset without listed files or whose first file is unreadable."""
    from workbench.data.files import header_rate

    records = getattr(dataset, "records", None)
    if not records or getattr(records[0], "path", None) is None:
        return None
    try:
        return header_rate(records[0].path)
    except WorkbenchError:
        return None  # the listing still says what is present; reading the clip will name the bad file


def _command_datasets(arguments: argparse.Namespace) -> int:
    """One line per dataset: its rate (that of a local copy's files, read from one header, else the
    official one), whether a copy is present, and how complete it is (clips found against the official
    counts, per fold or split where they are known)."""
    import workbench.data as data
    from workbench.data.registry import describe_copy
    from workbench.errors import DatasetNotFoundError
    from workbench.paths import data_root

    root = Path(arguments.root) if arguments.root else data_root()
    print(f"data root: {root}")
    for name in data.names():
        entry = data.info(name)
        rate = entry.sample_rate
        if name.startswith("synthetic"):
            status = "built in"
        elif name == "folder":
            status = "your own files (path=..., labels=...)"
        else:
            try:
                dataset = data.get(name, root=root)
                status = describe_copy(name, dataset)
                rate = _files_rate(dataset) or rate
                if rate != entry.sample_rate:  # a copy resampled before it came here (e.g. to 16 kHz)
                    status += f" (files at {rate} Hz, official {entry.sample_rate} Hz)"
            except DatasetNotFoundError:
                status = f"absent (workbench download {name})" if entry.remotes else "absent: bring your own"
            except WorkbenchError as error:
                status = f"incomplete: {str(error).splitlines()[0]}"
        print(f"{name:22s} {rate:>6d} Hz  {status:40s} {entry.description}")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one recipe with its Params", add_help=False)
    run.add_argument("-h", "--help", action=_RecipeHelp, help="show this help and the recipe's parameters")
    run.add_argument("recipe")
    _add_parameter_options(run)
    run.add_argument("--verify-data", action="store_true",
                     help="fingerprint file datasets by their clips' sha256 instead of size and times (each file "
                          "hashed once per version; also WORKBENCH_VERIFY_DATA=1)")  # fmt: skip
    run.set_defaults(handler=_command_run)

    params = commands.add_parser("params", help="print a recipe's fully resolved parameters; runs nothing")
    params.add_argument("recipe")
    _add_parameter_options(params)
    params.add_argument("--explain", action="store_true",
                        help="each parameter's meaning, type, allowed values and value, instead of YAML")  # fmt: skip
    params.set_defaults(handler=_command_params)

    add_launch_command(commands)
    add_leaderboard_command(commands)

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
    add_runs_command(commands)
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


"""The ``workbench`` command: run recipes, reproduce notebooks, list and download data and weights.

    workbench run linear_eval -p dataset=fsdd -p task=speaker
    workbench reproduce                      # quickstart + every recipe notebook, claims report
    workbench reproduce add_loss --preset paper-ast-esc50
    workbench recipes | datasets | weights
    workbench download esc50

Under ``torchrun --nproc_per_node=N -m workbench.cli run RECIPE ...`` the training loop runs with
DistributedDataParallel; nothing else changes.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import WorkbenchError


def _parse_assignments(assignments: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` with YAML scalars (numbers, booleans, lists)."""
    values: dict[str, Any] = {}
    for assignment in assignments:
        key, separator, raw = assignment.partition("=")
        if not separator or not key.strip():
            raise WorkbenchError(f"parameter {assignment!r} must look like key=value")
        values[key.strip()] = yaml.safe_load(raw) if raw.strip() else ""
    return values


def _command_run(arguments: argparse.Namespace) -> int:
    from workbench import recipes

    module = recipes.get(arguments.recipe)
    overrides = _parse_assignments(arguments.param)
    if arguments.preset:
        params = module.Params.from_preset(arguments.preset, **overrides)
    else:
        params = module.Params.from_dict(overrides)
    result = module.run(params)
    print(result.summary())
    if result.run_dir is not None:
        print(f"run directory: {result.run_dir}")
    return 0


def _command_reproduce(arguments: argparse.Namespace) -> int:
    from workbench import reproduce

    out_dir = Path(arguments.out).resolve()
    jobs = reproduce.plan(arguments.recipes, out_dir, arguments.preset, _parse_assignments(arguments.param))
    print(f"executing {len(jobs)} notebook(s) into {out_dir} ...", flush=True)
    report = reproduce.execute(jobs, out_dir, arguments.jobs)
    print()
    for claim in report.claims:
        mark = "holds" if claim["holds"] else "does not hold"
        print(f"  {claim['recipe']}: {claim['name']}: paper {claim['paper']}, measured {claim['measured']} -> {mark}")
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
        print(f"{name:28s} {'cached' if cached else 'not cached':10s}  {spec.description}")
    return 0


def _command_download(arguments: argparse.Namespace) -> int:
    import workbench.data as data
    from workbench import models
    from workbench.data.download import download_dataset
    from workbench.errors import UnknownNameError

    if arguments.name in data.names():
        path = download_dataset(arguments.name, Path(arguments.root) if arguments.root else None)
    elif arguments.name in models.names():
        path = models.download_weights(arguments.name)
    else:
        raise UnknownNameError("dataset or weights", arguments.name, [*data.names(), *models.names()])
    print(f"{arguments.name}: {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one recipe with its Params")
    run.add_argument("recipe")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--preset", help="a YAML preset from notebooks/params/<notebook>/")
    run.set_defaults(handler=_command_run)

    reproduce = commands.add_parser("reproduce", help="execute notebooks with papermill and report claims")
    reproduce.add_argument("recipes", nargs="*", help="recipes to reproduce (default: quickstart + all)")
    reproduce.add_argument("--preset")
    reproduce.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE")
    reproduce.add_argument("--out", default="reproduce", help="folder for executed notebooks (default ./reproduce)")
    reproduce.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
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


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except WorkbenchError as error:
        print(f"workbench: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The install contract: one place for dependencies, two README commands, CI calling the test command."""

import re
import tomllib
from pathlib import Path

import yaml

from workbench.paths import REPO_DIR


def test_environment_yml_installs_the_project_from_pyproject():
    environment = yaml.safe_load((REPO_DIR / "environment.yml").read_text())
    pyproject = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())
    conda = [d for d in environment["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python"))
    # The Python of environment.yml satisfies pyproject's requires-python.
    assert python == "python=3.11"
    assert ">=3.11" in pyproject["project"]["requires-python"]
    # No dependency is declared in environment.yml: pip installs the project with its extras.
    assert set(conda) == {"python=3.11", "pip"}
    assert pip_section == ["--editable .[dev]"]
    assert "dev" in pyproject["project"]["optional-dependencies"]


def test_torch_and_torchaudio_are_pinned_to_the_measured_pair():
    dependencies = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.14.1" in dependencies
    assert "torchaudio==2.11.0" in dependencies


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
    readme = (REPO_DIR / "README.md").read_text()
    setup = readme.split("## Set up", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make (\w+)", setup, flags=re.MULTILINE)
    assert commands == ["demo", "test"]
    makefile = (REPO_DIR / "Makefile").read_text()
    assert re.search(r"^demo: env$", makefile, flags=re.MULTILINE)
    assert re.search(r"^test: env$", makefile, flags=re.MULTILINE)
    ci = (REPO_DIR / ".ci" / "run").read_text()
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", "set ", "cd "))]
    assert commands[-1] == "make test"
    # the browser tests' Chromium, and node for the plotly view's front-end test
    assert all("apt-get install" in line and "chromium" in line and "nodejs" in line for line in commands[:-1])


def test_every_recipe_has_its_notebook():
    from workbench import recipes

    for name in recipes.names():
        assert (REPO_DIR / "notebooks" / recipes.notebook_of(name)).is_file(), name


def test_the_environments_jupyter_server_really_uses_the_clean_save_contents_manager():
    """`make env` must switch the manager on where Jupyter Server reads it: started the README's way
    (`.venv/bin/jupyter lab notebooks/`, no flags), the server shows it in its resolved configuration."""
    import subprocess
    import sys

    jupyter = Path(sys.prefix) / "bin" / "jupyter"
    shown = subprocess.run(
        [str(jupyter), "server", "--show-config"], capture_output=True, text=True, timeout=120, cwd=REPO_DIR
    )
    assert "workbench.notebooks.OutputsAsideContentsManager" in shown.stdout, shown.stdout + shown.stderr


def test_the_documented_module_entry_points_start():
    """README and the launch docs start ``python -m workbench.cli`` (under torchrun) and ``workbench``."""
    import subprocess
    import sys

    for module in ("workbench.cli",):
        finished = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120,
                                  cwd=REPO_DIR)  # fmt: skip
        assert finished.returncode == 0, finished.stderr[-1500:]
        assert "reproduce" in finished.stdout

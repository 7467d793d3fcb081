"""Params validation: the one way parameters come in from notebooks, the CLI and presets."""

import math
import sys
import types
from dataclasses import dataclass
from typing import ClassVar, Literal

import nbformat
import pytest

from workbench import recipes
from workbench.errors import ParameterError, UnknownNameError
from workbench.paths import notebooks_dir
from workbench.recipes import base
from workbench.recipes.base import Claim, Params, Result, params_from_namespace


@dataclass(frozen=True)
class ExampleParams(Params):
    recipe: ClassVar[str] = "example"
    epochs: int = 2
    learning_rate: float = 1e-3
    use_mixup: bool = False
    window: Literal["hann", "hamming"] = "hann"
    encoders: tuple[str, ...] = ("a", "b")
    checkpoint: str | None = None
    name: str = "x"
    weights: tuple[float, ...] = (0.5,)

    checks: ClassVar = {
        "epochs": base.AT_LEAST_ONE,
        "learning_rate": base.POSITIVE,
        "encoders": (base.NonEmpty(distinct=True), base.OneOf("encoder", ("a", "b", "c", "x", "y", "z"))),
        "weights": (base.NonEmpty(), base.PROBABILITY),
    }


def test_defaults_and_round_trip():
    params = ExampleParams()
    assert ExampleParams.from_dict(params.to_dict()) == params
    assert params.to_dict()["encoders"] == ["a", "b"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"epochs": "3"}, {"epochs": 3}),
        ({"epochs": 4.0}, {"epochs": 4}),
        ({"learning_rate": "0.01"}, {"learning_rate": 0.01}),
        ({"learning_rate": 1}, {"learning_rate": 1.0}),
        ({"use_mixup": "true"}, {"use_mixup": True}),
        ({"encoders": "x, y,z"}, {"encoders": ("x", "y", "z")}),
        ({"encoders": ["x"]}, {"encoders": ("x",)}),
        ({"checkpoint": None}, {"checkpoint": None}),
        ({"checkpoint": "model.pt"}, {"checkpoint": "model.pt"}),
    ],
)
def test_types_are_converted(values, expected):
    params = ExampleParams.from_dict(values)
    for key, value in expected.items():
        assert getattr(params, key) == value
        assert type(getattr(params, key)) is type(value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 2.5}, "parameter 'epochs' must be an integer"),
        ({"epochs": "many"}, "parameter 'epochs' must be an integer"),
        ({"epochs": True}, "parameter 'epochs' must be an integer"),
        ({"learning_rate": "fast"}, "parameter 'learning_rate' must be a number"),
        ({"use_mixup": "maybe"}, "parameter 'use_mixup' must be true or false"),
        ({"window": "kaiser"}, "parameter 'window' must be one of ['hann', 'hamming']"),
    ],
)
def test_bad_values_name_the_parameter(values, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ExampleParams.from_dict(values)


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(UnknownNameError) as caught:
        ExampleParams.from_dict({"epoch": 3})
    message = str(caught.value)
    assert "unknown parameter of recipe 'example' 'epoch'" in message
    assert "epochs" in message and "learning_rate" in message


def test_namespace_of_a_notebook_is_validated():
    namespace = {"epochs": 5, "window": "hamming", "In": [], "_": "", "_i1": "x", "get_ipython": print}
    assert params_from_namespace(ExampleParams, namespace) == ExampleParams(epochs=5, window="hamming")
    with pytest.raises(UnknownNameError, match="'epohcs'"):
        params_from_namespace(ExampleParams, {**namespace, "epohcs": 3})
    # A notebook's own display parameters are not the recipe's.
    assert params_from_namespace(ExampleParams, {**namespace, "projection": "pca"}, view=("projection",)).epochs == 5


def test_result_summary_lists_claims():
    claim = Claim("beats chance", "> 0.10", "0.80 over 3 seeds", "holds", effect=0.7, ci_low=0.65, ci_high=0.75,
                  n=3, mde=0.04, method="one-sample t")  # fmt: skip
    result = Result("example", {}, None, claims=[claim])
    assert result.summary() == (
        "recipe: example\nclaim beats chance: paper > 0.10; measured 0.80 over 3 seeds; "
        "effect +0.700 [+0.650, +0.750], n=3 one-sample t, MDE 0.040 -> holds"
    )


# --- issue 13: parameters always arrive, with their declared types --------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"name": "no"}, {"name": "no"}),  # never YAML's False for a str field
        ({"name": "{shared}/weights/x.pt"}, {"name": "{shared}/weights/x.pt"}),
        ({"encoders": "[c, a]"}, {"encoders": ("c", "a")}),
        ({"weights": "[0, 0.1, 1]"}, {"weights": (0.0, 0.1, 1.0)}),
        ({"weights": "0,0.2"}, {"weights": (0.0, 0.2)}),
        ({"checkpoint": "null"}, {"checkpoint": None}),
        ({"window": "hamming"}, {"window": "hamming"}),
    ],
)
def test_text_is_parsed_against_the_declared_type(values, expected):
    params = ExampleParams.from_dict(values)
    for key, value in expected.items():
        assert getattr(params, key) == value


def test_a_yaml_boolean_for_a_string_says_to_quote_it():
    with pytest.raises(ParameterError, match="parameter 'name' must be a string, got False .*quote the value"):
        ExampleParams.from_dict({"name": False})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": 0}, "parameter 'epochs' must be at least 1, got 0"),
        ({"epochs": -1}, "parameter 'epochs' must be at least 1, got -1"),
        ({"learning_rate": "nan"}, "parameter 'learning_rate' must be a finite number, got nan"),
        ({"learning_rate": float("inf")}, "parameter 'learning_rate' must be a finite number, got inf"),
        ({"learning_rate": 0}, "parameter 'learning_rate' must be > 0, got 0.0"),
        ({"weights": [0.5, 1.5]}, "parameter 'weights' must be in [0, 1], got 1.5"),
        ({"weights": []}, "parameter 'weights' needs at least one value"),
        ({"encoders": "a,a"}, "parameter 'encoders' lists a more than once"),
        ({"encoders": "a,q"}, "parameter 'encoders': unknown encoder 'q'; valid: a, b, c, x, y, z"),
        ({"encoders": "[a, b"}, "parameter 'encoders': '[a, b' is not a valid list"),
    ],
)
def test_ranges_and_names_are_checked_when_params_are_built(values, message):
    with pytest.raises(ValueError if "unknown" not in message else UnknownNameError) as caught:
        ExampleParams.from_dict(values)
    assert message in str(caught.value)


def test_the_constructor_converts_and_checks_too():
    assert ExampleParams(encoders=["c"]).encoders == ("c",)  # a list arrives as the declared tuple
    with pytest.raises(ParameterError, match="parameter 'epochs' must be at least 1"):
        ExampleParams(epochs=0)


def test_integers_are_non_negative_unless_declared_otherwise():
    @dataclass(frozen=True)
    class Signed(Params):
        offset: int = 0
        seed: int = 0
        checks: ClassVar = {"offset": base.ANY_NUMBER}

    assert Signed(offset=-3).offset == -3
    with pytest.raises(ParameterError, match="parameter 'seed' must be >= 0, got -1"):
        Signed(seed=-1)


def test_namespace_lists_arrive_and_unknown_lists_fail(monkeypatch):
    namespace = {"encoders": ["c", "b"], "weights": (0.1, 0.2), "In": ["x"], "Out": {}, "np": math, "print": print}
    params = params_from_namespace(ExampleParams, namespace)
    assert params.encoders == ("c", "b") and params.weights == (0.1, 0.2)
    with pytest.raises(UnknownNameError, match="'n_seedz'"):
        params_from_namespace(ExampleParams, {**namespace, "n_seedz": [5]})
    # A constant that the validation cell imports (``from module import KS``) is not a parameter.
    module = types.ModuleType("constants_for_a_test")
    module.KS = tuple(range(3))
    monkeypatch.setitem(sys.modules, module.__name__, module)
    assert params_from_namespace(ExampleParams, {**namespace, "KS": module.KS}) == params
    with pytest.raises(UnknownNameError, match="'KS'"):
        params_from_namespace(ExampleParams, {**namespace, "KS": list(module.KS)})
    # In a kernel the namespace is the ``__dict__`` of IPython's ``__main__`` module: its own values count.
    notebook = types.ModuleType("notebook_main_for_a_test")
    vars(notebook).update(namespace)
    monkeypatch.setitem(sys.modules, notebook.__name__, notebook)
    assert params_from_namespace(ExampleParams, vars(notebook)) == params


def _notebook_params(notebook: str, injected: dict, monkeypatch):
    """Run a notebook's parameters cell, papermill's injected assignments and its validation cell in a module
    namespace, as a kernel does (IPython's ``__main__``)."""
    cells = [cell for cell in nbformat.read(notebooks_dir() / notebook, as_version=4).cells if cell.cell_type == "code"]
    module = types.ModuleType("kernel_main_for_a_test")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    namespace = vars(module)
    exec(cells[0].source, namespace)  # noqa: S102 - our own notebook
    namespace.update(injected)  # what papermill's injected-parameters cell assigns
    validation = next(cell for cell in cells[1:] if "params_from_namespace" in cell.source)
    exec(validation.source.replace("\nparams\n", "\n"), namespace)  # noqa: S102
    return namespace["params"]


def test_lambda_sweep_preset_reaches_the_notebooks_params(monkeypatch):
    from workbench import reproduce

    five = (0.0, 0.1, 0.2, 0.5, 0.8)
    (job,) = reproduce.plan(["diff_byola"], notebooks_dir(), preset="lambda-sweep")
    assert job.parameters["difference_weights"] == list(five)
    assert _notebook_params(recipes.notebook_of("diff_byola"), job.parameters, monkeypatch).difference_weights == five
    with pytest.raises(UnknownNameError, match="'n_seedz'"):
        _notebook_params(recipes.notebook_of("diff_byola"), {**job.parameters, "n_seedz": [5]}, monkeypatch)


@pytest.mark.parametrize(
    ("recipe", "values", "message"),
    [
        ("add_loss", {"repeats": 0}, "parameter 'repeats' must be at least 1, got 0"),
        ("add_loss", {"epochs": -1}, "parameter 'epochs' must be at least 1, got -1"),
        ("add_loss", {"learning_rate": "nan"}, "parameter 'learning_rate' must be a finite number, got nan"),
        ("add_loss", {"batch_size": 0}, "parameter 'batch_size' must be at least 1, got 0"),
        ("add_loss", {"mixup": 1.5}, "parameter 'mixup' must be in [0, 1], got 1.5"),
        ("add_loss", {"variants": "ce,hinge"}, "parameter 'variants': unknown loss variant 'hinge'"),
        ("add_loss", {"encoder": "nope"}, "parameter 'encoder': unknown encoder 'nope'"),
        ("linear_eval", {"max_epochs": -1}, "parameter 'max_epochs' must be at least 1, got -1"),
        ("linear_eval", {"learning_rate": "nan"}, "parameter 'learning_rate' must be a finite number, got nan"),
        ("linear_eval", {"batch_size": 0}, "parameter 'batch_size' must be at least 1, got 0"),
        ("linear_eval", {"task": "no"}, "parameter 'task': unknown task of dataset 'synthetic' 'no'"),
        ("linear_eval", {"dataset": "esc5"}, "parameter 'dataset': unknown dataset 'esc5'"),
        ("linear_eval", {"dataset": "esc50", "task": "event"}, "dataset 'esc50' has a single task"),
        ("layer_fusion", {"tasks": "fsdd:speakr"}, "parameter 'tasks': unknown task of dataset 'fsdd' 'speakr'"),
        ("care_sep", {"device": "gpu"}, "parameter 'device' must be auto, cpu, cuda or cuda:<index>, got 'gpu'"),
        ("add_loss", {"task": "scene"}, "parameter 'task': unknown task of dataset 'synthetic' 'scene'"),
        ("linear_eval", {"weights_path": "x.pt"}, "parameter 'weights_path' loads one pretrained encoder"),
        ("diff_byola", {"pretrain_seeds": []}, "parameter 'pretrain_seeds' needs at least one value"),
        ("diff_byola", {"ema_decay": 2}, "parameter 'ema_decay' must be in [0, 1], got 2.0"),
        ("asc_tagging", {"seeds": "0,0"}, "parameter 'seeds' lists 0 more than once"),
        ("asc_tagging", {"svm_c": 0}, "parameter 'svm_c' must be > 0, got 0.0"),
        ("care_sep", {"mae_weight": "nan"}, "parameter 'mae_weight' must be a finite number, got nan"),
        ("care_sep", {"learning_rate": -1}, "parameter 'learning_rate' must be > 0, got -1.0"),
        ("layer_fusion", {"tasks": "event,esc51"}, "parameter 'tasks': unknown dataset 'esc51'"),
        ("layer_fusion", {"n_seeds": 0}, "parameter 'n_seeds' must be at least 1, got 0"),
    ],
)
def test_every_recipe_rejects_degenerate_settings_naming_the_parameter(recipe, values, message):
    with pytest.raises((ValueError, KeyError)) as caught:
        recipes.get(recipe).Params.from_dict(values)
    assert message in str(caught.value)


@pytest.mark.parametrize("recipe", recipes.names())
def test_defaults_and_presets_pass_their_checks(recipe):
    params_class = recipes.get(recipe).Params
    assert params_class.from_dict(params_class().to_dict()) == params_class()
    for preset in base.preset_names(recipe):
        params = params_class.from_preset(preset)
        assert params_class.from_dict(params.to_dict()) == params


def test_linear_eval_defaults_work_for_every_registered_dataset():
    import workbench.data as data
    from workbench.recipes import linear_eval

    for name in data.names():
        params = linear_eval.Params(dataset=name, data_root="/clips" if name == "folder" else "")
        assert params.task == "" and not math.isnan(params.learning_rate)

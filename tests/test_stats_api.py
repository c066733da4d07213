"""The public statistics API keeps its one rule (see :mod:`dynamics.stats`): names, types, results, errors."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import json
import typing
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT
from dynamics.errors import ArgumentError, InputError
from dynamics.stats.result import Result, plain

STATS = sorted(p for p in (ROOT / "dynamics" / "stats").glob("*.py") if p.name != "__init__.py")
MODULES = {p.stem: importlib.import_module(f"dynamics.stats.{p.stem}") for p in STATS}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_declares_what_is_public(name):
    module = MODULES[name]
    assert hasattr(module, "__all__"), f"dynamics.stats.{name} has no __all__"
    public = {n for n, v in vars(module).items() if not n.startswith("_") and getattr(v, "__module__", None) == module.__name__
              and (inspect.isfunction(v) or inspect.isclass(v))}
    aliases = {n for n in public if getattr(module, n).__name__ != n}
    assert set(module.__all__) >= public - aliases  # every function and class defined here is listed
    assert all(hasattr(module, n) for n in module.__all__)


def _run_wrappers():
    for name, module in MODULES.items():
        for fname in module.__all__:
            fn = getattr(module, fname)
            if inspect.isfunction(fn):
                first = next(iter(inspect.signature(fn).parameters), None)
                if first in ("run", "runs"):
                    yield f"{name}.{fname}", fn, first


#: Takes a run but computes no statistic: checks that it holds predictions and returns them.
NOT_STATISTICS = {"probabilities.require_predictions",
                  # picks the epoch of lowest val_loss, then fits: a composition, not one statistic's wrapper
                  "temperature.kept_temperature"}


def test_run_wrappers_follow_the_naming_rule_and_take_a_typed_run():
    from collections.abc import Sequence

    from dynamics.run import Run

    wrappers = [w for w in _run_wrappers() if w[0] not in NOT_STATISTICS]
    assert len(wrappers) >= 15  # the rule is checked on the real wrappers, not on none
    for qualname, fn, first in wrappers:
        suffixes = ("_table", "_of_run") if first == "run" else ("_of_runs",)
        assert fn.__name__.endswith(suffixes), qualname
        hints = typing.get_type_hints(fn, globalns={**vars(inspect.getmodule(fn)), "Run": Run})
        assert hints[first] == (Run if first == "run" else Sequence[Run]), qualname
        if fn.__name__.endswith(("_of_run", "_of_runs")):  # names the array function whose result it returns
            stem = fn.__name__.rsplit("_of_run", 1)[0]
            assert stem == "analysis" or callable(getattr(inspect.getmodule(fn), stem, None)), qualname


def test_every_result_is_a_dataclass_with_to_dict():
    results = [getattr(m, n) for m in MODULES.values() for n in m.__all__
               if inspect.isclass(getattr(m, n)) and dataclasses.is_dataclass(getattr(m, n))]
    assert len(results) >= 13
    assert [r.__name__ for r in results if not issubclass(r, Result)] == []


def test_to_dict_is_plain_python_a_json_encoder_takes():
    from dynamics.stats.calibration import brier_decomposition
    from dynamics.stats.paired import mcnemar_test
    from dynamics.stats.seeds import seed_spread

    b = brier_decomposition([0.2, 0.2, 0.8, 0.8], [0, 1, 1, 1], n_bins=5).to_dict()
    # Hand-worked (Murphy): bins {0.2: outcomes 0, 1} and {0.8: 1, 1}; base rate 0.75.
    assert b == pytest.approx({"brier": 0.19, "reliability": 0.065, "resolution": 0.0625, "uncertainty": 0.1875,
                               "residual": 0.0})
    t = mcnemar_test([True, True, False], [False, True, True]).to_dict()
    assert (t["right_to_wrong"], t["wrong_to_right"], t["discordant"], t["p_value"]) == (1, 1, 2, 1.0)
    s = seed_spread([[0.8, 0.82], [0.78, 0.8]], 10_000, from_epoch=1).to_dict()
    assert [row["epoch"] for row in s["table"]] == [1, 2] and s["summary"]["n_runs"] == 2
    json.dumps([b, t, s])
    assert plain({"a": np.float32(0.5), "b": np.arange(2)}) == {"a": 0.5, "b": [0, 1]}


def test_no_stats_module_raises_a_bare_value_error():
    raised = []
    for path in STATS:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                name = getattr(node.exc.func, "id", None)
                if name not in ("ArgumentError", "InputError", None):
                    raised.append(f"{path.name}:{node.lineno} raises {name}")
    assert raised == []


def test_bad_arguments_are_argument_errors_and_missing_data_input_errors():
    from dynamics.run import Run, make_epoch_table
    from dynamics.stats.noise import wilson_interval
    from dynamics.stats.probabilities import check_labels
    from dynamics.stats.seeds import seed_spread_of_runs

    for call in (lambda: check_labels([0.5]), lambda: wilson_interval(0.5, 0),
                 lambda: seed_spread_of_runs([Run(make_epoch_table({1: {"val_accuracy": 0.5}}))])):
        with pytest.raises(ArgumentError, match="Received|integer"):
            call()
    no_acc = [Run(make_epoch_table({1: {"loss": 0.5}}))] * 2
    with pytest.raises(InputError, match="no val_accuracy") as info:
        seed_spread_of_runs(no_acc)
    assert not isinstance(info.value, ArgumentError)


def test_the_rule_is_documented_where_the_package_starts():
    doc = importlib.import_module("dynamics.stats").__doc__
    assert "_of_run" in doc and "_table" in doc and "ArgumentError" in doc and "to_dict" in doc


def test_result_base_has_no_fields_of_its_own():
    assert Path(inspect.getfile(Result)).name == "result.py" and not dataclasses.is_dataclass(Result)

"""The isolated budget (issue 12, item 2): a forked child with CPU-time and memory
limits stops what a signal cannot (long C-level integer arithmetic, runaway memory),
and an analysis past its budget is ``undetermined`` with the reason."""

from __future__ import annotations

import math
import time

import pytest
import sympy as sp

from neuronid.theory._budget import BudgetExhausted, analysis_seconds, run_isolated
from neuronid.theory._parse import Z
from neuronid.theory.activations import analyze_within_budget, get_activation, undetermined_analysis


def test_results_and_exceptions_come_back():
    assert run_isolated(lambda: sp.tanh(Z) + 1, seconds=10) == sp.tanh(Z) + 1
    with pytest.raises(ZeroDivisionError):
        run_isolated(lambda: 1 / 0, seconds=10)


def test_c_level_work_is_stopped_by_the_cpu_limit():
    """``10**(10**10)`` never returns to the interpreter, so the signal-based budget
    could not stop it; the kernel's CPU limit does."""
    start = time.perf_counter()
    with pytest.raises(BudgetExhausted, match="CPU time"):
        run_isolated(lambda: 10 ** (10**10), seconds=1, what="a huge power")
    assert time.perf_counter() - start < 30


def test_runaway_memory_is_stopped_by_the_memory_limit():
    with pytest.raises(BudgetExhausted, match="memory"):
        run_isolated(lambda: bytearray(8 << 30), seconds=10, memory=256 << 20)


def test_environment_sets_the_time_budget(monkeypatch):
    monkeypatch.setenv("NEURONID_SYMBOLIC_SECONDS", "3.5")
    assert analysis_seconds() == 3.5
    for bad in ("-1", "nan", "abc", "0"):
        monkeypatch.setenv("NEURONID_SYMBOLIC_SECONDS", bad)
        assert analysis_seconds() == 20.0


def test_undetermined_analysis_is_conservative():
    a = undetermined_analysis("budget ran out")
    assert a.monotone == "non_monotone" and math.isinf(a.lipschitz.value) and math.isinf(a.curvature.value)
    assert a.undetermined == "budget ran out" and all("undetermined" in m for m in a.method.values())


def test_hostile_expression_is_undetermined_within_the_budget(monkeypatch):
    monkeypatch.setenv("NEURONID_SYMBOLIC_SECONDS", "2")
    act = get_activation("sympy:sin(z**3)**63*cosh(z)**63")
    start = time.perf_counter()
    a = analyze_within_budget(act.expr)
    assert time.perf_counter() - start < 40
    assert a.undetermined is not None and "budget" in a.undetermined


def test_ordinary_expression_is_analysed_exactly_in_isolation():
    a = analyze_within_budget(sp.tanh(Z))
    assert a.undetermined is None and a.lipschitz.exact == 1 and a.monotone == "strictly_increasing"


def test_child_results_rebuild_only_allowed_classes():
    """The child's result is decoded with a whitelist: SymPy values and exceptions come
    back; a function (here os.system, via a pickled reference) is refused."""
    import os
    import pickle

    import pytest
    import sympy as sp

    from neuronid.theory._budget import _describe_exception, _load_child_result, _rebuild_exception

    z = sp.Symbol("z")
    assert _load_child_result(pickle.dumps(("ok", sp.tanh(z) * z))) == ("ok", sp.tanh(z) * z)
    # exceptions travel as (module, class, message) strings and are rebuilt only as
    # allowed exception types
    kind, described = _load_child_result(pickle.dumps(("error", _describe_exception(ValueError("x")))))
    exc = _rebuild_exception(described)
    assert kind == "error" and type(exc) is ValueError and str(exc) == "x"
    assert type(_rebuild_exception(("neuronid.errors", "InvalidDataError", "bad"))).__name__ == "InvalidDataError"
    assert type(_rebuild_exception(("os", "system", "rm"))) is RuntimeError
    with pytest.raises(pickle.UnpicklingError, match="os.system|posix.system"):
        _load_child_result(pickle.dumps(("ok", os.system)))

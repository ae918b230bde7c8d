"""``full_check`` records seconds per stage (``report.json`` ``timings``) and, with
``progress``, announces the stages on stderr."""

from __future__ import annotations

import numpy as np
import pytest

from neuronid.errors import UnknownResultError
from neuronid.numerics.structures import standard_mlp
from neuronid.proofs_checks.checkers import CHECKED_RESULTS
from neuronid.proofs_checks.report import StageTimer, full_check


def _pair():
    A, B = standard_mlp([4, 6, 3], seed=0), standard_mlp([4, 6, 3], seed=1)
    X = np.random.default_rng(0).normal(size=(60, 4))
    return A, B, X, np.arange(60) % 3


def test_full_check_timings_cover_every_stage(capsys):
    A, B, X, y = _pair()
    report = full_check(A, B, X, y, loss="ce", progress=True)
    timings = report.to_json()["timings"]
    stages = ["forward passes", "supports and costs", "neuron correspondence", "paths and certificates",
              "repaired paths"]
    assert list(timings) == stages + [f"checker {rid}" for rid in CHECKED_RESULTS] + ["total"]
    assert all(isinstance(v, float) and v >= 0.0 for v in timings.values())
    assert timings["total"] == pytest.approx(sum(v for k, v in timings.items() if k != "total"), rel=1e-12)
    err = capsys.readouterr().err
    for stage in stages:
        assert f"  {stage} ..." in err and f"  {stage}: " in err


def test_full_check_subset_is_one_stage_and_quiet(capsys):
    A, B, X, y = _pair()
    report = full_check(A, B, X, y, loss="ce", ids=["P2", "T4"])
    assert list(report.timings) == ["checkers P2,T4", "total"]
    assert capsys.readouterr().err == ""


def test_full_check_subset_unknown_id_still_raises():
    A, B, X, y = _pair()
    with pytest.raises(UnknownResultError):
        full_check(A, B, X, y, loss="ce", ids=["P9"])


def test_stage_timer_accumulates_repeated_stages():
    timer = StageTimer()
    for _ in range(2):
        with timer("x"):
            pass
    assert list(timer.seconds) == ["x"] and timer.seconds["x"] >= 0.0

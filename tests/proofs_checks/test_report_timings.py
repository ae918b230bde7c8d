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


def test_full_check_subset_times_what_ran_and_is_quiet(capsys):
    """A subset computes only what its checkers need (P2: costs; T4: paths), each
    shared stage timed when first computed, nested stages counted once; a stage the
    report computes later (rendering needs the correspondence) is added then, and
    total follows."""
    A, B, X, y = _pair()
    report = full_check(A, B, X, y, loss="ce", ids=["P2", "t4", "P2"])
    keys = list(report.timings)
    assert sorted(keys) == sorted(["checker P2", "checker T4", "forward passes", "supports and costs",
                                   "paths and certificates", "total"])
    assert keys[-1] == "total" and [c.id for c in report.checks].count("T4") >= 1
    assert report.timings["total"] == pytest.approx(sum(v for k, v in report.timings.items() if k != "total"),
                                                    rel=1e-12)
    timings = report.to_json()["timings"]  # rendering computes the correspondence: timed too
    assert "neuron correspondence" in timings and list(timings)[-1] == "total"
    assert timings["total"] == pytest.approx(sum(v for k, v in timings.items() if k != "total"), rel=1e-12)
    assert capsys.readouterr().err == ""


def test_full_check_announces_without_progress_bars(capsys):
    A, B, X, y = _pair()
    full_check(A, B, X, y, loss="ce", ids=["P2"], progress=False, announce=True)
    err = capsys.readouterr().err
    assert "  checker P2 ..." in err and "  supports and costs ..." in err


def test_full_check_subset_unknown_id_still_raises():
    A, B, X, y = _pair()
    with pytest.raises(UnknownResultError):
        full_check(A, B, X, y, loss="ce", ids=["P9"])


def test_stage_timer_accumulates_repeated_stages():
    timer = StageTimer()
    for _ in range(2):
        with timer("x"):
            pass
    assert list(timer.seconds) == ["x", "total"] and timer.seconds["x"] >= 0.0


def test_stage_timer_counts_nested_stages_once(monkeypatch):
    """A clock that ticks one second per reading: outer reads 0 and 3, inner 1 and 2."""
    import time
    ticks = iter(range(100))
    monkeypatch.setattr(time, "perf_counter", lambda: float(next(ticks)))
    timer = StageTimer()
    with timer("outer"):
        with timer("inner"):
            pass
    assert timer.seconds == {"outer": 2.0, "inner": 1.0, "total": 3.0}

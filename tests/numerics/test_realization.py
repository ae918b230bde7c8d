"""cvxpy realizations (D2): answers checked against optimality conditions (KKT), not
stored numbers; solver statuses; non-monotone branches; bad inputs.

KKT of ``min ||theta||^2 (+ beta b^2)`` with ``z = X_T theta + const + b`` (multiplier
``lam`` of the link constraint, cvxpy's sign convention) and constraints on ``z``:
stationarity ``2 theta = X_T^T lam``, ``sum lam = 2 beta b``, and
``lam + eq_ind * nu_eq - lo_ind * nu_lo + hi_ind * nu_hi = 0``; dual feasibility
``nu_lo, nu_hi >= 0``; complementarity ``nu_lo (z - lo) = 0``, ``nu_hi (hi - z) = 0``.
CLARABEL runs at 1e-10 gap/feasibility tolerances; residuals are checked at 1e-6
relative to the data scale (interior-point duals of degenerate problems are accurate to
about the square root of the tolerance)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronid.numerics.activations import apply_activation
from neuronid.numerics.realization import (
    CANONICAL_STATUSES,
    STATUS_TABLE,
    Realizer,
    inverse_activation,
    preimage_intervals,
    realize,
)
from neuronid.errors import InvalidDataError, InvalidOptionError, UnknownActivationError


def _kkt(realizer: Realizer, res, lo, hi, tol=1e-6):
    X = realizer.X
    T = realizer.trainable
    theta = res.theta[T]
    lam = res.duals["link"]
    z = X @ (realizer.mask * res.theta) + realizer.const + res.bias
    scale = 1.0 + np.max(np.abs(z)) + np.max(np.abs(lam))
    assert np.max(np.abs(2 * theta - X[:, T].T @ lam)) <= tol * scale, "stationarity in theta"
    assert abs(np.sum(lam) - 2 * realizer.beta * res.bias) <= tol * scale, "stationarity in b"
    eq = np.isfinite(lo) & (lo == hi)
    has_lo = np.isfinite(lo) & ~eq
    has_hi = np.isfinite(hi) & ~eq
    d = res.duals
    if "zs" in realizer._problems.get("equality", {}).get("params", {}) and res.method == "equality_qp":
        assert np.max(np.abs(lam + d["eq"])) <= tol * scale
        return
    nu_lo, nu_hi = d["lo"] * has_lo, d["hi"] * has_hi
    assert np.max(np.abs(lam + d["eq"] * eq - nu_lo + nu_hi)) <= tol * scale, "stationarity in z"
    assert np.min(nu_lo, initial=0.0) >= -tol * scale and np.min(nu_hi, initial=0.0) >= -tol * scale
    assert np.max(np.abs(nu_lo * np.where(has_lo, z - lo, 0.0))) <= tol * scale, "complementarity (lo)"
    assert np.max(np.abs(nu_hi * np.where(has_hi, hi - z, 0.0))) <= tol * scale, "complementarity (hi)"
    # primal feasibility
    assert np.all(z >= np.where(np.isfinite(lo), lo, -np.inf) - tol * scale)
    assert np.all(z <= np.where(np.isfinite(hi), hi, np.inf) + tol * scale)


@settings(deadline=None)
@given(seed=st.integers(0, 100_000), act=st.sampled_from(["relu", "hard_tanh", "identity", "tanh",
                                                            "leaky_relu:0.1"]))
def test_kkt_conditions_hold(seed, act):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(4, 12)), int(rng.integers(2, 5))
    X = rng.normal(size=(n, d))
    mask = (rng.random(d) < 0.8).astype(float)
    mask[0] = 1.0
    fixed = (1 - mask) * rng.normal(size=d)
    w = mask * rng.normal(size=d) + fixed  # realizable target
    z = X @ w + rng.normal()
    h = apply_activation(act, 0.7 * z if act == "tanh" else z)
    if act == "tanh":
        w, fixed = 0.7 * w, 0.7 * fixed
    R = Realizer(X, activation=act, mask=mask, fixed=fixed)
    res = R.realize(h)
    assert res.status == "optimal" and res.exact
    assert res.cost <= np.sum((mask * w) ** 2) * (1 + 1e-6) + 1e-9  # the generating weights are feasible
    lo, hi, _ = preimage_intervals(act, h)
    _kkt(R, res, lo[:, 0], hi[:, 0])


def test_problem_is_built_once_and_dpp():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4))
    R = Realizer(X, activation="relu")
    for _ in range(4):
        res = R.realize(np.maximum(X @ rng.normal(size=4), 0.0))
        assert res.status == "optimal"
    assert set(R._problems) == {"interval"}
    assert R._problems["interval"]["problem"].is_dpp()
    R.realize_many(np.maximum(X @ rng.normal(size=(4, 3)), 0.0))
    assert len(R._problems) == 1


def test_relu_never_above_preactivation_and_strict_case():
    rng = np.random.default_rng(1)
    for _ in range(5):
        X = rng.normal(size=(12, 3))
        w, b = rng.normal(size=3), rng.normal()
        z = X @ w + b
        relu = realize(X, np.maximum(z, 0.0), activation="relu")
        pre = realize(X, z, activation="identity")
        assert relu.cost <= pre.cost * (1 + 1e-6) + 1e-10
    X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    relu = realize(X, np.maximum(X @ np.array([1.0, -1.0]), 0.0), activation="relu")
    assert relu.cost == pytest.approx(1.0, rel=1e-6)
    assert realize(X, X @ np.array([1.0, -1.0])).cost == pytest.approx(2.0, rel=1e-6)


def test_infeasible_targets():
    X = np.array([[0.0], [1.0], [2.0]])
    neg = realize(X, np.array([0.0, -1.0, 1.0]), activation="relu")
    assert neg.status == "infeasible" and neg.cost == np.inf and neg.method == "preimage"
    assert "outside the range of relu" in neg.message
    bent = realize(X, np.array([0.0, 1.0, 0.0]), activation="identity")  # not affine
    assert bent.status == "infeasible" and np.isinf(bent.cost) and bent.solver == "CLARABEL"
    masked = realize(X, np.array([1.0, 2.0, 3.0]), mask=np.zeros(1))  # only the bias is free
    assert masked.status == "infeasible"
    flat = realize(X, np.array([2.0, 2.0, 2.0]), mask=np.zeros(1))
    assert flat.status == "optimal" and flat.cost == pytest.approx(0.0, abs=1e-9)


def test_saturated_targets_become_intervals():
    X = np.array([[0.0], [1.0], [2.0], [40.0]])
    h = np.tanh(X[:, 0] * 1.0)  # tanh(40) rounds to exactly 1.0
    assert h[-1] == 1.0
    res = realize(X, h, activation="tanh")
    assert res.status == "optimal" and res.method == "interval_qp"
    assert res.cost == pytest.approx(1.0, rel=1e-6)


def test_gelu_branch_enumeration_is_exact_and_estimate_labelled():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 3))
    w = 2.0 * rng.normal(size=3)
    z = X @ w - 0.5
    h = apply_activation("gelu", z)
    lo, _, count = preimage_intervals("gelu", h)
    assert np.all(np.abs(apply_activation("gelu", lo[count == 2, 1]) - h[count == 2]) < 1e-12)
    k = int(np.sum(count == 2))
    assert k >= 1
    exact = realize(X, h, activation="gelu")
    assert exact.method == "branch_enumeration" and exact.exact and exact.branches == 2**k
    # brute force: every branch choice as an equality problem
    best = np.inf
    amb = np.flatnonzero(count == 2)
    for bits in range(2**k):
        zz = lo[:, 0].copy()
        for t, idx in enumerate(amb):
            if bits >> t & 1:
                zz[idx] = lo[idx, 1]
        r = realize(X, zz, activation="identity")
        if r.status == "optimal":
            best = min(best, r.cost)
    assert exact.cost == pytest.approx(best, rel=1e-6)
    est = realize(X, h, activation="gelu", max_branch_points=0, z_hint=z)
    assert est.method == "branch_upper_estimate" and not est.exact
    assert "upper estimate" in est.message
    assert est.cost >= exact.cost * (1 - 1e-6)


def test_eps_realization_and_penalized_bias():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(10, 3))
    z = X @ rng.normal(size=3) + 2.0
    costs = [realize(X, z, eps=e).cost for e in (0.0, 0.1, 1.0)]
    assert costs[0] >= costs[1] >= costs[2]
    assert realize(X, z, eps=100.0).cost == pytest.approx(0.0, abs=1e-8)
    free = realize(X, z)
    pen = realize(X, z, bias="penalized", bias_penalty=0.5)
    assert pen.cost >= free.cost * (1 - 1e-9)
    R = Realizer(X, bias="penalized", bias_penalty=0.5)
    res = R.realize(z)
    lo, hi, _ = preimage_intervals("identity", z)
    _kkt(R, res, lo[:, 0], hi[:, 0])


def test_solver_statuses_and_fallback(monkeypatch):
    import cvxpy as cp

    X = np.array([[0.0], [1.0], [2.0]])
    h = np.array([1.0, 2.0, 3.0])
    missing = realize(X, h, solver="MOSEK", fallback=False)
    assert missing.status == "error" and np.isnan(missing.cost) and not missing.exact
    assert "not installed" in missing.message
    fb = realize(X, h, solver="MOSEK")
    assert fb.status == "optimal" and fb.attempts[0][:2] == ("MOSEK", "error") and "fallback" in fb.message

    original = cp.Problem.solve

    def failing(self, *args, **kwargs):
        if kwargs.get("solver") == "CLARABEL":
            raise cp.error.SolverError("simulated failure")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cp.Problem, "solve", failing)
    res = realize(X, h)
    assert res.status == "optimal" and res.solver == "OSQP"
    assert res.attempts[0][1] == "error" and "simulated failure" in res.attempts[0][2]
    only = realize(X, h, solver="CLARABEL", fallback=False)
    assert only.status == "error" and np.isnan(only.cost)
    monkeypatch.setattr(cp.Problem, "solve", original)
    inacc = realize(X, h, verify_rtol=-1.0, fallback=False)  # any residual counts as a violation
    assert inacc.status == "optimal_inaccurate" and not inacc.exact and np.isfinite(inacc.cost)


def test_status_table_is_canonical():
    import cvxpy as cp

    for status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE, cp.UNBOUNDED,
                   cp.UNBOUNDED_INACCURATE, cp.SOLVER_ERROR, cp.USER_LIMIT, None):
        assert STATUS_TABLE[status] in CANONICAL_STATUSES


@settings(deadline=None)
@given(z=st.lists(st.floats(-8.0, 8.0), min_size=1, max_size=20),
       act=st.sampled_from(["identity", "tanh", "sigmoid", "softplus", "elu", "elu:0.5", "leaky_relu:0.2"]))
def test_inverse_roundtrip(z, act):
    z = np.array(z)
    back = inverse_activation(act, apply_activation(act, z))
    # conditioning of the inverse: |dz| <= ulps(h) / sigma'(z); sigma' >= 3e-4 here
    assert np.allclose(back, z, rtol=1e-9, atol=1e-10)


def test_preimage_intervals_of_flat_activations():
    lo, hi, count = preimage_intervals("hard_tanh", np.array([1.0, -1.0, 0.3, 1.5]))
    assert lo[0, 0] == 1.0 and hi[0, 0] == np.inf and lo[1, 0] == -np.inf and hi[1, 0] == -1.0
    assert lo[2, 0] == hi[2, 0] == 0.3 and count[3] == 0
    lo, hi, count = preimage_intervals("silu", np.array([-0.5, 1.0]))
    assert count.tolist() == [0, 1]  # silu's minimum is about -0.278


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda: Realizer(np.eye(3)).realize(np.ones(2)), InvalidDataError, "expected 3 values"),
        (lambda: Realizer(np.eye(3)).realize(np.array([1.0, np.nan, 0.0])), InvalidDataError, "NaN"),
        (lambda: Realizer(np.eye(3)).realize(np.ones((3, 2))), InvalidDataError, "expected 3 values"),
        (lambda: Realizer(np.ones(3)), InvalidDataError, "2-D"),
        (lambda: Realizer(np.zeros((0, 2))), InvalidDataError, "empty support"),
        (lambda: Realizer(np.array([[np.inf, 1.0]])), InvalidDataError, "NaN or Inf"),
        (lambda: Realizer(np.eye(3), mask=np.ones(2)), InvalidDataError, "mask: expected shape (3,)"),
        (lambda: Realizer(np.eye(3), mask=np.full(3, 0.5)), InvalidDataError, "0 or 1"),
        (lambda: Realizer(np.eye(3), fixed=np.ones(4)), InvalidDataError, "fixed: expected shape"),
        (lambda: Realizer(np.eye(3), offset=np.ones(2)), InvalidDataError, "offset"),
        (lambda: Realizer(np.eye(3), bias="zero"), InvalidOptionError, "bias must be"),
        (lambda: Realizer(np.eye(3), bias="penalized"), InvalidOptionError, "bias_penalty > 0"),
        (lambda: Realizer(np.eye(3), eps=-1.0), InvalidOptionError, "eps"),
        (lambda: Realizer(np.eye(3), solver="NOPE"), InvalidOptionError, "unknown solver"),
        (lambda: Realizer(np.eye(3), activation="swishy"), UnknownActivationError, "unknown activation"),
        (lambda: Realizer(np.eye(3), max_branch_points=-1), InvalidOptionError, "max_branch_points"),
        (lambda: Realizer(np.eye(3)).realize_many(np.ones((2, 2))), InvalidDataError, "targets H"),
        (lambda: inverse_activation("relu", np.ones(2)), UnknownActivationError, "not strictly increasing"),
    ],
)
def test_bad_inputs(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)

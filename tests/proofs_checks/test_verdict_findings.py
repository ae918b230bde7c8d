"""An outside tester's findings on the verdicts of issue 11. Each test here failed
before its fix: an absurd slack for dead neurons, a degenerate measurement passing,
boolean slack lines without what was found, an unnamed P4 pair, repeated
``--results`` silently dropped, mutation points missing."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from neuronid.cli import main
from neuronid.numerics.correspondence import correspondence, relative_mismatch
from neuronid.numerics.structures import standard_mlp, syre_mlp, w_mlp
from neuronid.proofs_checks.checkers import (
    MUTATION_POINTS,
    CheckContext,
    check_p1,
    check_p3,
    check_p4,
    check_p6,
    check_t1,
    check_t2,
    check_t3,
)
from neuronid.proofs_checks.selftest import CASES


def data(d=6, n=60, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % classes


def ctx_of(A, B=None, X=None, y=None, **kw):
    if X is None:
        X, y = data(d=A.n_inputs, classes=A.sizes[-1])
    return CheckContext(A, A if B is None else B, X, y, loss="ce", align=(), **kw)


# --- 1. dead neurons: the mismatch is relative to the larger norm -------------------
def _dead_in_a():
    """A: hidden neuron 0 is zero on the data (dead ReLU); B: the same neuron alive."""
    A = standard_mlp([3, 4, 2], activation="relu", seed=0)
    A.layers[0].weight[0] = 0.0
    A.layers[0].bias[0] = -1.0
    B = A.copy()
    B.layers[0].weight[0] = 0.0
    B.layers[0].bias[0] = 1.0  # constant 1 on the data
    return A, B


def test_t2_dead_neuron_mismatch_is_one_not_1e11():
    A, B = _dead_in_a()
    (c,) = check_t2(ctx_of(A, B))
    h3 = c.hypotheses["H3_identity_correspondence"]
    assert h3["holds"] is False and h3["measured"] == pytest.approx(1.0, rel=1e-12)
    line = [s for s in c.slack_lines() if "H3_identity" in s][0]
    assert "max_mismatch = 1 > tol" in line


def test_t2_two_dead_neurons_agree():
    A, _ = _dead_in_a()
    B = A.copy()
    B.layers[0].bias[0] = -5.0  # dead in both runs (different parameters, same function 0)
    (c,) = check_t2(ctx_of(A, B))
    assert c.hypotheses["H3_identity_correspondence"]["holds"] is True


def test_correspondence_dead_neuron_mismatch_finite():
    A, B = _dead_in_a()
    X, _ = data(d=3, classes=2)
    corr = correspondence(A, B, X, 0)
    assert np.all(np.isfinite(corr.mismatch)) and np.max(corr.mismatch) <= 2.0
    both_dead = correspondence(A, A, X, 0)
    assert np.max(both_dead.mismatch) == 0.0


@given(arrays(np.float64, (5, 3), elements=st.floats(-1e3, 1e3)),
       arrays(np.float64, (5, 3), elements=st.floats(-1e3, 1e3)))
def test_relative_mismatch_symmetric_bounded(HA, HB):
    m = relative_mismatch(HA, HB)
    assert np.allclose(m, relative_mismatch(HB, HA), rtol=1e-12, atol=0.0)
    assert np.all((m >= 0) & (m <= 2.0 + 1e-12))
    assert np.all(relative_mismatch(HA, HA) == 0.0)


# --- 2. degenerate measurements: cross-checks and the P6 curve -----------------------
def _t1_net():
    return w_mlp([24, 8, 3], n_fixed=[12, 1], sigma_F=0.0, seed=0), *data(d=24, n=200)


@pytest.mark.parametrize("mutations, reason", [
    ({"T1.anisotropy": np.zeros_like}, "Monte Carlo anisotropy of mask 0 is 0"),
    ({"anisotropy": np.zeros_like}, "anisotropy of neuron"),
    ({"coherence": lambda nu: 1.5}, "coherence 1.5 outside [r/d, 1]"),
    ({"coherence": lambda nu: 0.9 * nu}, "differs from max_k ||U^T e_k||^2"),
])
def test_t1_degenerate_measurements_are_undetermined(mutations, reason):
    net, X, y = _t1_net()
    assert {c.verdict for c in check_t1(ctx_of(net, X=X, y=y))} == {"holds"}
    checks = check_t1(ctx_of(net, X=X, y=y, mutations=mutations))
    assert checks and all(c.verdict == "undetermined" for c in checks)
    assert reason in checks[0].conclusion["reason"] and "cross-check" in " ".join(checks[0].notes)


@pytest.mark.parametrize("fn", [lambda c: 2.0 * c, lambda c: c * (1.0 + 0.02 * np.linspace(-1, 1, c.size))])
def test_p6_norm_cost_curve_against_closed_form(fn):
    net = w_mlp([6, 7, 3], n_fixed=2, sigma_F=1.0, seed=0)
    (ok,) = check_p6(ctx_of(net))
    assert ok.verdict == "holds" and ok.quantities["norm_cost_curve_relative_error"] < 1e-12
    (bad,) = check_p6(ctx_of(net, mutations={"P6.norm_cost": fn}))
    assert bad.verdict == "theory violation"
    assert bad.quantities["norm_cost_curve_relative_error"] >= 0.01


# --- 3. boolean slack lines say what was found --------------------------------------
def test_boolean_slack_lines_say_found_and_expected():
    net = standard_mlp([4, 5, 2], activation="gelu", seed=0)
    ctx = ctx_of(net)
    (p1,) = check_p1(ctx)
    line = p1.slack_lines()[0]
    assert "activation gelu is non monotone (decreasing on (-inf, -0.752))" in line
    assert "strictly_increasing is False, expected True" in line
    (t2,) = check_t2(ctx)
    assert any("nondecreasing is False, expected True" in s and "gelu" in s for s in t2.slack_lines())


def test_t3_permutation_slack_names_moved_neurons():
    net = w_mlp([6, 7, 3], activation="tanh", n_fixed=2, sigma_F=1.0, seed=0)
    swap = {"T3.permutation": lambda p: p[[1, 0, *range(2, p.size)]]}
    (c,) = check_t3(ctx_of(net, mutations=swap))
    text = " ".join(c.slack_lines()) + " " + str(c.explanations)
    assert "A's neuron 0 -> B's 1" in text


# --- 4. P4 names its pair ------------------------------------------------------------
def test_p4_context_names_pair_and_neurons():
    net = w_mlp([6, 7, 3], n_fixed=2, sigma_F=1.0, seed=0)
    (c,) = check_p4(ctx_of(net))
    i, j = c.quantities["pair"]
    aniso = c.hypotheses["H1_isotropic"]["values"]
    assert f"(i, j) = ({i}, {j})" in c.context
    assert f"(neuron {i})" in c.context and f"(neuron {j})" in c.context and "max anisotropy" in c.context
    assert f"aniso_i = {aniso['aniso_i']:.3g}" in c.context


# --- 5. selftest --results repeated ----------------------------------------------------
def test_selftest_results_may_be_repeated(capsys):
    assert main(["selftest", "--results", "T2", "--results", "t4"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert set(rows) == {"T2", "T4"}


def test_selftest_empty_json_path(capsys):
    assert main(["selftest", "--results", "T2", "--json", ""]) == 2
    err = capsys.readouterr().err
    assert "the path is empty" in err and err.count("\n") == 1


# --- 6. the new mutation points ------------------------------------------------------
def test_new_mutation_points_exist_and_are_selftested():
    for point in ("Delta_in", "anisotropy", "support", "coherence"):
        assert point in MUTATION_POINTS
    used = {p for c in CASES for m in c.mutations for p in m.mutations}
    assert used == set(MUTATION_POINTS)  # every documented point has a planted defect
    assert "callable" in MUTATION_POINTS["P6.activation"] and "returns" in MUTATION_POINTS["P6.activation"]


def test_delta_in_alone_is_seen_by_p3_and_p4():
    syre = syre_mlp([6, 7, 3], kappa=1.0, activation="tanh", seed=0)
    assert {c.verdict for c in check_p4(ctx_of(syre))} == {"holds"}
    bump = {"Delta_in": lambda D: D + 0.01 * np.max(np.abs(D)) * (1 - np.eye(D.shape[0]))}
    assert {c.verdict for c in check_p4(ctx_of(syre, mutations=bump))} == {"theory violation"}
    wm = w_mlp([24, 6, 3], activation="tanh", n_fixed=[4, 1], sigma_F=0.0, seed=0)
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.normal(size=(24, 3)))[0]
    X, y = rng.normal(size=(200, 3)) @ basis.T, np.arange(200) % 3
    big = {"Delta_in": lambda D: D + 10 * max(np.max(np.abs(D)), 1e-3) * (1 - np.eye(D.shape[0]))}
    assert {c.verdict for c in check_p3(ctx_of(wm, X=X, y=y, tau=1.0))} == {"holds"}
    assert "theory violation" in {c.verdict for c in check_p3(ctx_of(wm, X=X, y=y, tau=1.0, mutations=big))}


def test_layer_anisotropy_cross_check_p4():
    syre = syre_mlp([6, 7, 3], kappa=1.0, activation="tanh", seed=0)
    (c,) = check_p4(ctx_of(syre, mutations={"anisotropy": lambda a: a + 0.1}))
    assert c.verdict == "undetermined" and "from the definition" in c.conclusion["reason"]


def test_support_cross_check_t3():
    net = w_mlp([6, 7, 3], activation="tanh", n_fixed=2, sigma_F=1.0, seed=0)
    rot = {"support": lambda s: dataclasses.replace(s, U=2.0 * s.U)}  # not orthonormal
    (c,) = check_t3(ctx_of(net, mutations=rot))
    assert c.verdict == "undetermined" and "not orthonormal" in c.conclusion["reason"]


def test_report_details_show_a_failing_conclusion():
    from neuronid.proofs_checks.report import Report

    net = w_mlp([6, 7, 3], n_fixed=2, sigma_F=1.0, seed=0)
    ctx = ctx_of(net, mutations={"P6.norm_cost": lambda c: 2.0 * c})
    rep = Report("x", ctx, checks=check_p6(ctx))
    lines = [s for s in rep.verdict_details() if "theory violation: conclusion fails" in s]
    assert lines and "balanced_minimizer is False, expected True" in lines[0]
    assert "max relative deviation from c2/s^2 + s^2 ||(w, b)||^2 1" in lines[0]

"""Numeric confirmations of P1-P4, T1 and the ReLU upper bound; cost plots."""

from __future__ import annotations

import os

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronid.numerics.structures import standard_mlp, syre_mlp, w_mlp
from neuronid.proofs_checks.checkers import (
    P1_REL_TOL,
    confirm_p1,
    confirm_p2,
    confirm_p3,
    confirm_p4,
    confirm_relu_upper_bound,
    confirm_t1,
    generated_layer_checks,
    p1_case,
    p4_growth,
    random_support_points,
)
from neuronid.errors import InvalidOptionError


@settings(deadline=None)
@given(seed=st.integers(0, 1_000_000), d=st.integers(2, 6), dr=st.integers(0, 4),
       realizable=st.booleans(), act=st.sampled_from(["identity", "tanh", "softplus"]))
def test_p1_property_cvxpy_equals_closed_form(seed, d, dr, realizable, act):
    """P1: relative agreement 1e-6 (P1_REL_TOL), both inf for unrealizable targets."""
    rng = np.random.default_rng(seed)
    r = max(1, d - dr)
    X = random_support_points(rng, r + 2 + int(rng.integers(0, 6)), d, r, spread=2.0)
    mask = (rng.random(d) < 0.6).astype(float)
    fixed = (1 - mask) * rng.normal(size=d)
    w = mask * rng.normal(size=d) + fixed if realizable else rng.normal(size=d)
    if act != "identity":  # keep |z| moderate so the inverse of sigma is well conditioned
        s = 1.0 / max(1.0, float(np.max(np.abs((X - X.mean(0)) @ w))))
        w = w * s
        fixed = fixed * s if realizable else fixed
    out = p1_case(X, mask, fixed, w, float(rng.normal()), activation=act)
    assert out["agree"], out
    if realizable:
        assert out["feasible"]
    assert P1_REL_TOL == 1e-6


def test_check_p1_generated_including_infeasible():
    out = confirm_p1(n_cases=12, seed=3)
    assert out["ok"] and out["infeasible_cases"] >= 1 and out["feasible_cases"] >= 1
    assert out["agree_infeasible"] == out["infeasible_cases"]
    assert out["max_relative_error"] <= P1_REL_TOL


def test_p2_standard_layers_zero_swap_cost():
    net = standard_mlp([10, 8, 6, 3], activation="relu", seed=2)
    X = np.random.default_rng(2).normal(size=(100, 10))
    for layer in (0, 1):
        out = confirm_p2(net, X, layer, tau=0.9)
        assert out["ok"] and out["standard_layer"] and out["max_abs_delta_out"] == 0.0
        assert out["relative_delta_in"] <= 1e-12


# each example runs a whole check: a quarter of the active profile's examples
# (8 under ci, 500 under thorough), never a pinned count
@settings(deadline=None, max_examples=max(8, settings().max_examples // 4))
@given(seed=st.integers(0, 10_000), n_fixed=st.integers(1, 8), r=st.integers(2, 5))
def test_p3_bounds_hold_on_wmlp_layers(seed, n_fixed, r):
    rng = np.random.default_rng(seed)
    d = 48
    X = random_support_points(rng, 150, d, r, spread=12.0)
    net = w_mlp([d, 10, 3], activation="tanh", n_fixed=[n_fixed, 1], sigma_F=0.0, seed=seed)
    out = confirm_p3(net, X, 0, tau=1.0)
    assert out["f_zero"] and out["applicable_neurons"] > 0
    assert out["ok"], out
    assert out["max_K_ratio"] <= 1.0 + 1e-9 and out["max_delta_ratio"] <= 1.0 + 1e-9


def test_p4_identity_exact_for_syre_and_bounded_otherwise():
    rng = np.random.default_rng(0)
    X = random_support_points(rng, 150, 32, 4, spread=12.0)
    syre = confirm_p4(syre_mlp([32, 9, 2], activation="tanh", kappa=1.5, seed=0), X, 0, tau=1.0)
    assert syre["exact_identity_case"] and syre["ok"]
    assert syre["max_relative_identity_error"] <= 1e-12  # rounding relative to the four K entries
    wm = confirm_p4(w_mlp([32, 9, 2], activation="tanh", n_fixed=[4, 1], sigma_F=1.0, seed=0), X, 0, tau=1.0)
    assert not wm["exact_identity_case"] and wm["ok"] and wm["pairs_checked"] > 0
    growth = p4_growth()
    assert growth["increasing"] and growth["mean_delta_in"][-1] > 0


def test_t1_monte_carlo_within_three_standard_errors():
    out = confirm_t1(n_masks=1500, delta=0.1, seed=1)
    kinds = {(c["coherence_kind"], c["mask_model"]) for c in out["cases"]}
    assert kinds == {("low", "bernoulli"), ("low", "exact_count"), ("high", "bernoulli"), ("high", "exact_count")}
    for case in out["cases"]:
        assert case["violation_rate"] <= case["allowed"], case
    low = [c for c in out["cases"] if c["coherence_kind"] == "low"]
    assert all(c["bound"] < 0.75 for c in low)  # non-vacuous: below the trivial bound max(p, 1-p)
    assert out["ok"]


def test_relu_realization_below_preactivation():
    out = confirm_relu_upper_bound(n_cases=4, seed=0)
    assert out["ok"] and out["strict_below"]
    assert out["strict_case"]["relu_cost"] == pytest.approx(1.0, rel=1e-6)


def test_generated_layer_checks_all_ok():
    out = generated_layer_checks(seed=1)
    assert all(v["ok"] for v in out.values()), out


def test_cost_plots(tmp_path):
    from neuronid.numerics.costs import network_costs
    from neuronid.proofs_checks.plots import (
        effective_classes_demo,
        plot_swap_heatmap,
        plot_t1_monte_carlo,
        write_cost_plots,
    )

    panels = effective_classes_demo(tmp_path / "demo.png")
    assert len(panels) == 3
    # standard: one shape; sigma_F = 0: common center 0, different shapes; sigma_F > 0: separate centers
    assert np.allclose(panels[0]["S"], panels[0]["S"][0])
    assert np.allclose(panels[1]["V"], 0.0) and not np.allclose(panels[1]["S"], panels[1]["S"][0])
    assert np.ptp(panels[2]["V"], axis=0).max() > 0.1
    rng = np.random.default_rng(0)
    X = random_support_points(rng, 200, 16, 3, spread=10.0)
    lcs = network_costs(w_mlp([16, 8, 6, 2], activation="relu", n_fixed=[4, 2, 2], sigma_F=1.0, seed=0), X,
                        tau=1.0)
    paths = write_cost_plots(lcs, tmp_path / "plots", prefix="A_", label="net")
    assert len(paths) == 10  # per layer: Delta_in, Delta_out, their sum, anisotropy, effective classes
    names = {Path(p).name for p in paths}
    assert {"A_layer0_delta_in.png", "A_layer0_delta_out.png", "A_layer0_delta_sum.png"} <= names
    plot_swap_heatmap(np.array([[0.0, np.inf], [np.inf, 0.0]]), tmp_path / "inf.png")
    plot_t1_monte_carlo(confirm_t1(n_masks=200), tmp_path / "t1.png")
    for p in [*paths, tmp_path / "demo.png", tmp_path / "inf.png", tmp_path / "t1.png"]:
        assert 5_000 < os.path.getsize(p) < 400_000  # small PNGs at 110 dpi


@pytest.mark.parametrize(
    "call, exc, fragment",
    [
        (lambda: confirm_p2(standard_mlp([3, 4, 2], seed=0), np.ones((5, 3)), 1), InvalidOptionError,
         "out of range"),
        (lambda: confirm_p3(standard_mlp([3, 4, 2], seed=0), np.ones((5, 3)), -1), InvalidOptionError,
         "out of range"),
        (lambda: confirm_t1(n_masks=10, delta=1.5), InvalidOptionError, "delta"),
    ],
)
def test_bad_inputs(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value)

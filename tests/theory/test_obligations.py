"""Every proof obligation is verified; deliberately false variants are rejected;
random numeric instances of the identities agree (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

from neuronid.theory import get_activation
from neuronid.theory import obligations as ob
from neuronid.theory.obligations import OBLIGATIONS, nonneg, nonneg_on, zero

ALL = [(rid, name, fn) for rid, items in OBLIGATIONS.items() for name, fn in items]


@pytest.mark.parametrize("rid, name, fn", ALL, ids=[f"{r}-{n}" for r, n, _ in ALL])
def test_obligation_verified(rid, name, fn):
    ok, detail = fn()
    assert ok is True, detail


FALSE_VARIANTS = [
    ("P1 cost with S instead of S^-1", lambda: ob.p1_kkt(cost_power=1)),
    ("P3 eta = eps/p^2", lambda: ob.p3_inverse_perturbation(lambda p, eps: p**2)),
    ("P4 coefficient 1/p", lambda: ob.p4_swap_cost_identity(coefficient=sp.Integer(1))),
    ("P4 wrong sign", lambda: ob.p4_swap_cost_identity(coefficient=sp.Integer(-2))),
    ("P5 level above the values", lambda: ob.p5_gelu_nonconvex(level=sp.Rational(1, 2))),
    ("P6 phi with -1", lambda: ob.p6_phi(phi_constant=sp.Integer(1))),
    ("P6 phi with -3", lambda: ob.p6_phi(phi_constant=sp.Integer(3))),
    ("T1 coefficient 1/3", lambda: ob.t1_threshold_upper_bound(linear_coefficient=sp.Rational(1, 3))),
    ("T3 margin not above eps", lambda: ob.t3_eps_assignment_is_minimizer(strict_margin=False)),
    ("T4 path identity sign +", lambda: ob.t4_path_identity(sign=+1)),
    ("T4 relu gap bound halved", lambda: ob.t4_relu_gap(factor=sp.Rational(1, 2))),
    ("T4 tight at t = 1/2", lambda: ob.t4_relu_gap_tight(t_star=sp.Rational(1, 2))),
    ("T4 CE bound 1", lambda: ob.t4_ce_gradient_bound(bound=sp.Integer(1))),
    ("D6 bias not permuted", lambda: ob.d6_permutation_preserves_function(bias_permuted=False)),
    # issue 11: obligations that passed trivially now test a real step and can fail
    ("T2 path sign +", lambda: ob.t2_equal_inputs(path_sign=+1)),
    ("T2 lemma claimed for z^2", lambda: ob.t2_monotone_sandwich(require_monotone=False)),
    ("T1 variance nu/2", lambda: ob.t1_bernstein_parameters(variance_factor=sp.Rational(1, 2))),
    ("T4 Green kernel halved", lambda: ob.t4_gap_curvature_green(kernel_scale=sp.Rational(1, 2))),
    ("T4 kink bound halved", lambda: ob.t4_gap_kink(factor=sp.Rational(1, 2))),
    ("T4 monotone cap halved", lambda: ob.t4_gap_cap(kappa_monotone=sp.Rational(1, 2))),
    ("T4 MSE box factor 1", lambda: ob.t4_box_mse(factor=sp.Integer(1))),
    ("T4 CE box wrong vertex", lambda: ob.t4_box_ce_vertex(sign_target=+1)),
]


def test_permutation_symmetry_is_a_real_check():
    from neuronid.theory.symmetries import _permutation

    assert _permutation().status == "proved"
    assert _permutation(permute_outgoing=False).status == "undetermined"


def test_sanity_identities_and_references_are_labelled_and_not_proofs():
    from neuronid.theory import get_result

    kinds = {(o.result_id, o.name): o.kind for rid in ("T2", "T4", "E3") for o in get_result(rid).obligations}
    assert kinds[("T2", "zero_barrier")] == "sanity identity"
    assert kinds[("T4", "identical_pair_zero")] == "sanity identity"
    assert kinds[("E3", "permutation_preserves_function")].startswith("reference")
    assert kinds[("T2", "equal_inputs_interpolate")] == "proof"
    assert {"gap_curvature_green", "gap_kink", "gap_cap"} <= {n for (r, n), k in kinds.items() if k == "proof"}


@pytest.mark.parametrize("label, check", FALSE_VARIANTS, ids=[v[0] for v in FALSE_VARIANTS])
def test_false_variant_rejected(label, check):
    ok, _ = check()
    assert ok is False


def test_helpers_can_fail():
    x = sp.Symbol("x", positive=True)
    t = sp.Symbol("t", real=True)
    assert zero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1) and not zero(sp.sin(x) - sp.cos(x))
    assert nonneg((x - 1) ** 2) and not nonneg(x - 1)
    assert nonneg_on(t * (1 - t), t, 0, 1) and not nonneg_on(t * (1 - t), t, 0, 2)


# --------------------------------------------------------------- property tests (numbers)

finite = st.floats(-10, 10, allow_nan=False)
unit = st.floats(0, 1)


@given(st.integers(0, 2**32 - 1), unit)
def test_t4_path_identity_numeric(seed, t):
    rng = np.random.default_rng(seed)
    WA, WB = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    hA, hB, e = rng.normal(size=5), rng.normal(size=5), rng.normal(size=5)
    Wt, ht = (1 - t) * WA + t * WB, (1 - t) * hA + t * hB + e
    lhs = Wt @ ht - ((1 - t) * WA @ hA + t * WB @ hB)
    rhs = -t * (1 - t) * (WA - WB) @ (hA - hB) + Wt @ e
    assert np.allclose(lhs, rhs, atol=1e-10)


@given(finite, finite, unit)
def test_relu_gap_bound_numeric(a, b, t):
    gap = max(0.0, (1 - t) * a + t * b) - ((1 - t) * max(a, 0.0) + t * max(b, 0.0))
    assert abs(gap) <= t * (1 - t) * abs(a - b) * (1 + 1e-12) + 1e-12
    if a > 0 > b:
        t0 = a / (a - b)
        gap0 = max(0.0, (1 - t0) * a + t0 * b) - (1 - t0) * a
        assert abs(gap0) == pytest.approx(t0 * (1 - t0) * (a - b), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "gelu", "silu", "softplus", "elu"])
@given(a=st.floats(-6, 6), b=st.floats(-6, 6), t=unit)
def test_smooth_gap_bound_with_derived_M(name, a, b, t):
    """|sigma(lerp) - lerp(sigma)| <= (M/2) t(1-t)(a-b)^2 with M from the activation analysis."""
    act = get_activation(name)
    f = act.numpy
    gap = f(np.array([(1 - t) * a + t * b]))[0] - ((1 - t) * f(np.array([a]))[0] + t * f(np.array([b]))[0])
    assert abs(gap) <= act.curvature / 2 * t * (1 - t) * (a - b) ** 2 + 1e-12


@given(st.floats(0.05, 20), unit, st.floats(-5, 5))
def test_p6_phi_numeric(alpha, t, c):
    c_t, s_t = (1 - t) * c + t * c / alpha, (1 - t) + t * alpha
    phi = 1 + t * (1 - t) * (alpha + 1 / alpha - 2)
    assert c_t * s_t == pytest.approx(c * phi, rel=1e-9, abs=1e-12)
    assert phi >= 1 - 1e-12


@given(st.floats(0.1, 10), st.floats(0.1, 10), st.floats(0.1, 10))
def test_p6_balanced_minimizer_numeric(c, n, alpha):
    g = lambda al: c**2 / al**2 + al**2 * n**2  # noqa: E731
    star = math.sqrt(c / n)
    assert g(alpha) >= g(star) - 1e-9 * g(star)
    assert c / star == pytest.approx(star * n, rel=1e-12)


@given(st.integers(0, 2**32 - 1), st.floats(0.05, 3))
def test_p4_swap_identity_numeric(seed, p):
    rng = np.random.default_rng(seed)
    ai, aj, vi, vj = rng.normal(size=(4, 6))
    K = lambda a, v: (a - v) @ (a - v) / p  # noqa: E731
    delta = K(aj, vi) + K(ai, vj) - K(ai, vi) - K(aj, vj)
    assert delta == pytest.approx(2 / p * (ai - aj) @ (vi - vj), rel=1e-9, abs=1e-9)


@given(st.integers(0, 2**32 - 1), st.floats(0.2, 1.0), st.floats(0.0, 0.9))
def test_p3_perturbation_bound_numeric(seed, p, frac):
    rng = np.random.default_rng(seed)
    eps = frac * p
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    lam = p + rng.uniform(-eps, eps, size=4)
    S = Q @ np.diag(lam) @ Q.T
    x = rng.normal(size=4)
    e = np.linalg.norm(S - p * np.eye(4), 2)
    err = abs(x @ np.linalg.solve(S, x) - x @ x / p)
    assert err <= (x @ x) * e / (p * (p - e)) * (1 + 1e-9) + 1e-12


@given(st.floats(0.01, 10), st.floats(0.01, 10), st.floats(0.01, 10), st.floats(0.01, 100))
def test_t1_threshold_numeric(R, sig2, L, s):
    s_star = R * L / 3 + math.sqrt((R * L / 3) ** 2 + 2 * sig2 * L)
    assert s_star**2 / 2 == pytest.approx(L * (sig2 + R * s_star / 3), rel=1e-9)
    assert s_star <= 2 / 3 * R * L + math.sqrt(2 * sig2 * L) + 1e-12
    expo = lambda x: x**2 / 2 / (sig2 + R * x / 3)  # noqa: E731
    assume(s > s_star)
    assert expo(s) >= L * (1 - 1e-12)


@given(st.lists(st.floats(-20, 20), min_size=3, max_size=3), st.integers(0, 2))
def test_ce_gradient_bound_numeric(logits, y):
    z = np.array(logits)
    p = np.exp(z - z.max())
    p /= p.sum()
    g = p.copy()
    g[y] -= 1
    assert g @ g <= 2 + 1e-12

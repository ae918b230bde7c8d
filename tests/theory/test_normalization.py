"""THEORY N2 (LayerNorm's scale symmetry): the SymPy obligations hold, and the same
checks reject a wrong constant."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from neuronid.theory import get_result
from neuronid.theory import normalization as N


@pytest.mark.parametrize("name, fn", N.N2_OBLIGATIONS, ids=[n for n, _ in N.N2_OBLIGATIONS])
def test_obligations_verified(name, fn):
    ok, detail = fn()
    assert ok, detail


def test_checks_reject_wrong_claims():
    t = sp.Symbol("t", real=True)
    c, V = sp.symbols("c V", positive=True)
    eps = sp.Symbol("eps", nonnegative=True)
    assert not N.n2_centering(scale_power=2)[0]
    assert not N.n2_variance(scale_power=1)[0]
    assert not N.n2_invariance(eps=sp.Rational(1, 10))[0]  # eps > 0 breaks the invariance
    assert not N.n2_flat_path(eps=sp.Rational(1, 10))[0]
    assert not N.n2_path_identity(claimed_scale=(1 - t) + t * c**2)[0]
    assert not N.n2_eps_factor(claimed=sp.sqrt(V + eps) / sp.sqrt(c**2 * V + eps))[0]  # the factor needs c


def test_eps_factor_numerically():
    """rho equals the ratio of the normalized centered parts computed in numpy."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        z = rng.normal(size=5)
        c, eps = float(rng.uniform(0.1, 10)), float(rng.uniform(0, 2))
        u = lambda v: (v - v.mean()) / np.sqrt(v.var() + eps)  # noqa: E731
        rho = float(N.eps_factor(sp.Float(c), sp.Float(z.var()), sp.Float(eps)))
        np.testing.assert_allclose(u(c * z), rho * u(z), rtol=1e-12)


def test_registered():
    r = get_result("N2")
    assert r.kind == "proposition" and [h.name for h in r.hypotheses] == ["H1_c_positive", "H2_eps_zero"]
    assert [o.name for o in r.obligations] == [n for n, _ in N.N2_OBLIGATIONS]
    assert all(o.verify().verified for o in r.obligations)
    out = r.evaluate({"scale_c": 2.0, "norm_eps": 0.0, "max_barrier": 1e-15, "tol": 1e-12})
    assert out["all_hold"] is True and out["conclusion"].status == "holds"
    out = r.evaluate({"scale_c": 2.0, "norm_eps": 1e-5, "max_barrier": 1e-9, "tol": 1e-12})
    assert out["all_hold"] is False and out["conclusion"].status == "fails"


def test_n1_permutation_equivariance():
    ok, detail = N.n1_permutation_equivariance()
    assert ok, detail
    assert not N.n1_permutation_equivariance(permute_gamma=False)[0]

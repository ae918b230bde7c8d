"""T4 certificate (THEORY.md T4): kernel vs a slow reference, the inequality on fine
grids, loss bounds, a tight case, the gap lemma, edge cases and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from scipy.stats import norm

from neuronid.numerics.activations import apply_activation
from neuronid.numerics.certificate import (
    FLOAT_SLACK,
    Certificate,
    activation_constants,
    certificate,
    certified_barriers,
)
from _reference import reference_path_outputs
from neuronid.numerics.io import to_jsonable
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.paths import interpolate, linear_path
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, syre_mlp, w_mlp
from neuronid.errors import (
    InvalidDataError,
    InvalidInputError,
    InvalidOptionError,
    StructureMismatchError,
)

# ----------------------------------------------------------------------------- reference constants
# Independent of the theory layer: closed forms, or dense maximization of known
# derivatives. (lip, M, kinks [(location, |slope jump|)], monotone)
_SQ3 = math.sqrt(3.0)


def _gelu_lip():
    z = math.sqrt(2.0)  # gelu'' = phi(z)(2 - z^2) = 0
    return norm.cdf(z) + z * norm.pdf(z)


def _dense_sup(f, lo=-30.0, hi=30.0):
    z = np.linspace(lo, hi, 2_000_001)
    return float(np.max(np.abs(f(z))))


def _silu_d1(z):
    s = expit(z)
    return s * (1 + z * (1 - s))


def _silu_d2(z):
    s = expit(z)
    return s * (1 - s) * (2 + z * (1 - 2 * s))


REF = {
    "relu": (1.0, 0.0, [(0.0, 1.0)], True),
    "leaky_relu:0.1": (1.0, 0.0, [(0.0, 0.9)], True),
    "tanh": (1.0, 4 / (3 * _SQ3), [], True),
    "sigmoid": (0.25, 1 / (6 * _SQ3), [], True),
    "softplus": (1.0, 0.25, [], True),
    "elu": (1.0, 1.0, [], True),
    "elu:0.5": (1.0, 0.5, [(0.0, 0.5)], True),
    "gelu": (_gelu_lip(), math.sqrt(2 / math.pi), [], False),
    "silu": (_dense_sup(_silu_d1), _dense_sup(_silu_d2), [], False),
    "hard_tanh": (1.0, 0.0, [(-1.0, 1.0), (1.0, 1.0)], True),
    "identity": (1.0, 0.0, [], True),
}
ACTS = list(REF)


def test_theory_constants_match_closed_forms():
    """The constants the certificate takes from the theory layer are upper bounds
    and agree with the closed forms / dense maxima to 1e-7."""
    for name, (lip, M, kinks, mono) in REF.items():
        c = activation_constants(name)
        assert c.supported, (name, c.reason)
        assert c.lipschitz >= lip * (1 - 1e-12) and c.lipschitz == pytest.approx(lip, rel=1e-7), name
        assert c.curvature >= M * (1 - 1e-12) - 1e-15 and c.curvature == pytest.approx(M, rel=1e-7, abs=1e-12), name
        assert [v for k in c.kinks for v in k] == pytest.approx([v for k in kinks for v in k]), name
        assert (c.cap == c.lipschitz) == mono, name


def _ref_gap(a, b, name):
    lip, M, kinks, mono = REF[name]
    dz = abs(a - b)
    g = 0.5 * M * dz * dz + sum(j * dz for c, j in kinks if min(a, b) < c < max(a, b))
    return min(g, (1.0 if mono else 2.0) * lip * dz)


def _theory_literal_gap(a, b, name):
    """THEORY.md T4's rules as written (ReLU / leaky ReLU / smooth)."""
    lip, M, kinks, _ = REF[name]
    dz = abs(a - b)
    if name in ("relu", "leaky_relu:0.1"):
        return kinks[0][1] * dz * (a * b < 0)
    assert not kinks or name == "hard_tanh"
    return 0.5 * M * dz * dz


def _names(layer):
    return list(layer.names)


def reference_R(A, B, X, gap=_ref_gap):
    """Slow, obviously correct: per sample, per layer, the recursion of THEORY.md T4."""
    WA, WB, bA, bB = A.effective_weights(), B.effective_weights(), A.biases(), B.biases()
    out = []
    for x in np.asarray(X, dtype=np.float64):
        hA = hB = x
        R = np.zeros_like(x)
        for l, layer in enumerate(A.layers):
            Q = np.abs(WA[l] - WB[l]) @ np.abs(hA - hB) + np.maximum(np.abs(WA[l]), np.abs(WB[l])) @ R
            zA, zB = WA[l] @ hA + bA[l], WB[l] @ hB + bB[l]
            if layer.is_output:
                R = Q
                break
            names = _names(layer)
            R = np.array([REF[nm][0] * Q[i] + gap(zA[i], zB[i], nm) for i, nm in enumerate(names)])
            hA = np.array([apply_activation(nm, np.array([zA[i]]))[0] for i, nm in enumerate(names)])
            hB = np.array([apply_activation(nm, np.array([zB[i]]))[0] for i, nm in enumerate(names)])
        out.append(R)
    return np.array(out)


def _scaled(net, s):
    for layer in net.layers:
        layer.weight *= s
        layer.bias *= s
    return net


def _pair(kind, act, seed, sizes=(4, 6, 5, 3), scale=2.0):
    sizes = list(sizes)
    if kind == "standard":
        A, B = (standard_mlp(sizes, activation=act, seed=seed + k) for k in (0, 1))
    elif kind == "w-mlp":
        A, B = (w_mlp(sizes, activation=act, n_fixed=2, sigma_F=1.0, seed=seed + k, structure_seed=9) for k in (0, 1))
    elif kind == "syre":
        A, B = (syre_mlp(sizes, activation=act, kappa=0.5, seed=seed + k, structure_seed=9) for k in (0, 1))
    else:
        A, B = (sigma_asymmetric_mlp(sizes, activations=ACTS, seed=seed + k, structure_seed=9) for k in (0, 1))
    return _scaled(A, scale), _scaled(B, scale)


def _data(n=40, d=4, seed=0, scale=1.5):
    return np.random.default_rng(seed).normal(size=(n, d)) * scale


# ----------------------------------------------------------------------------- kernel vs reference
@pytest.mark.parametrize("act", ACTS)
def test_kernel_matches_reference(act):
    A, B = _pair("standard", act, 3)
    X = _data()
    cert = certificate(A, B, X, keep_samples=True, block=7)
    ref = reference_R(A, B, X)
    np.testing.assert_allclose(cert.samples, ref, rtol=1e-7, atol=1e-12)
    assert cert.rho == pytest.approx(math.sqrt(np.mean(np.sum(ref**2, axis=1))), rel=1e-7)
    assert cert.mean_norm == pytest.approx(np.mean(np.linalg.norm(ref, axis=1)), rel=1e-7)
    np.testing.assert_allclose(cert.coord_max, ref.max(axis=0), rtol=1e-7)
    # never looser than THEORY.md's literal rules (the cap only tightens them)
    if act not in ("hard_tanh", "elu:0.5"):
        literal = reference_R(A, B, X, gap=_theory_literal_gap)
        assert np.all(cert.samples <= literal * (1 + 1e-9) + 1e-12)


@pytest.mark.parametrize("kind", ["w-mlp", "syre", "sigma-asym"])
def test_kernel_matches_reference_structures(kind):
    A, B = _pair(kind, "tanh", 5)
    X = _data(seed=2)
    cert = certificate(A, B, X, keep_samples=True, block=16)
    np.testing.assert_allclose(cert.samples, reference_R(A, B, X), rtol=1e-7, atol=1e-12)


def test_block_size_does_not_matter():
    A, B = _pair("sigma-asym", None, 1)
    X = _data(n=101)
    ref = certificate(A, B, X, keep_samples=True, block=4096)
    for block in (1, 7, 100, 101):
        c = certificate(A, B, X, keep_samples=True, block=block)
        np.testing.assert_allclose(c.samples, ref.samples, rtol=1e-13, atol=0)
        assert c.rho == pytest.approx(ref.rho, rel=1e-13)


# ----------------------------------------------------------------------------- the inequality
def _kink_times(A, B, X):
    """``t = a / (a + |b|)`` for every hidden pre-activation pair straddling a kink."""
    ts = []
    ta, tb = A.forward(X, record=True), B.forward(X, record=True)
    for l, layer in enumerate(A.layers[:-1]):
        for i, nm in enumerate(layer.names):
            for c, _ in REF.get(nm, (0, 0, [], 0))[2]:
                a, b = ta.pre[l][:, i] - c, tb.pre[l][:, i] - c
                m = a * b < 0
                ts.extend((np.abs(a[m]) / (np.abs(a[m]) + np.abs(b[m]))).tolist())
    return np.array(ts[:200])


def assert_inequality(A, B, X, grid):
    cert = certificate(A, B, X, keep_samples=True)
    F = reference_path_outputs(A, B, X, grid)
    lerp = (1 - grid)[:, None, None] * F[0] + grid[:, None, None] * F[-1]
    dev = np.abs(F - lerp)
    allowed = (grid * (1 - grid))[:, None, None] * cert.samples[None]
    # FLOAT_SLACK: rounding in F, lerp and R is ~1e-13 relative here (see certificate.FLOAT_SLACK)
    scale = np.abs(F).max() + np.abs(lerp).max()
    assert np.all(dev <= allowed * (1 + FLOAT_SLACK) + FLOAT_SLACK * scale), float(np.max(dev - allowed))
    return float(np.max(np.where(allowed > 0, dev / np.where(allowed > 0, allowed, 1), 0)))


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("kind", ["standard", "w-mlp"])
def test_inequality_on_fine_grid(act, kind):
    A, B = _pair(kind, act, 11, scale=2.5)
    X = _data(n=30, seed=4, scale=2.0)
    grid = np.unique(np.concatenate([np.linspace(0, 1, 101), _kink_times(A, B, X)]))
    assert_inequality(A, B, X, grid)


@settings(deadline=None)
@given(seed=st.integers(0, 10**6), depth=st.integers(1, 3), scale=st.floats(0.5, 4.0))
def test_inequality_sigma_asymmetric(seed, depth, scale):
    sizes = [3] + [5] * depth + [2]
    A = _scaled(sigma_asymmetric_mlp(sizes, activations=ACTS, seed=seed, structure_seed=seed), scale)
    B = _scaled(sigma_asymmetric_mlp(sizes, activations=ACTS, seed=seed + 1, structure_seed=seed), scale)
    X = np.random.default_rng(seed).normal(size=(12, 3)) * 2
    grid = np.unique(np.concatenate([np.linspace(0, 1, 101), _kink_times(A, B, X)]))
    assert_inequality(A, B, X, grid)


def test_inequality_user_expression():
    """A ``sympy:`` activation (no numba kernel: the external path of the kernel)."""
    act = "sympy:z*tanh(softplus(z))"
    A, B = (standard_mlp([3, 5, 2], activation=act, seed=s) for s in (0, 1))
    c = certificate(A, B, _data(d=3))
    assert c.ok and c.layers[0]["activation"].startswith("sympy:")
    assert_inequality(A, B, _data(n=20, d=3), np.linspace(0, 1, 101))
    absn = [standard_mlp([3, 5, 2], activation="sympy:Abs(z)", seed=s) for s in (0, 1)]
    assert_inequality(*absn, _data(n=20, d=3), np.linspace(0, 1, 101))


# ----------------------------------------------------------------------------- exact cases
def _one_neuron(w_hidden, c_out, bias=0.0, act="relu"):
    return Network([
        Layer([[w_hidden]], [bias], activation=act),
        Layer([[c_out]], [0.0]),
    ])


def test_tight_relu_case():
    """One hidden ReLU neuron, z_A = a > 0 > b = z_B, equal output weights: equality
    |f_t - lerp f| = t(1-t) R^L at t = a / (a + |b|) (THEORY.md T4)."""
    a, b = 1.3, -0.7
    A, B = _one_neuron(a, 1.0), _one_neuron(b, 1.0)
    X = np.array([[1.0]])
    cert = certificate(A, B, X, keep_samples=True)
    assert cert.samples[0, 0] == pytest.approx(a - b, rel=1e-15)
    t = a / (a + abs(b))
    Ws, bs = interpolate(A, B, t)
    ft = A.forward(X, weights=Ws, biases=bs)[0, 0]
    lerp = (1 - t) * a
    assert abs(ft - lerp) == pytest.approx(t * (1 - t) * cert.samples[0, 0], rel=1e-12)
    # the bias enters the pre-activation like a weight: the same with z = w x + b
    A2, B2 = _one_neuron(0.3, 1.0, bias=1.0), _one_neuron(-0.2, 1.0, bias=-0.5)
    c2 = certificate(A2, B2, X, keep_samples=True)
    assert c2.samples[0, 0] == pytest.approx(1.3 + 0.7, rel=1e-15)


def test_same_network_gives_exact_zero():
    for kind, act in (("standard", "relu"), ("w-mlp", "gelu"), ("sigma-asym", None), ("syre", "tanh")):
        A, _ = _pair(kind, act, 2)
        c = certificate(A, A, _data(), keep_samples=True)
        assert c.rho == 0.0 and c.mean_norm == 0.0 and c.max_norm == 0.0
        assert not np.any(c.samples)
        b = c.barrier_bounds(0.3, 0.3, "mse")
        assert b["B_lerp"] == 0.0 and b["B_peak"] == 0.0 and b["B_mid"] == 0.0


def test_identified_pair_gives_zero():
    """B = A with first-layer weights moved in the null space of the data (T2 case):
    the hidden outputs agree, R is zero up to rounding."""
    rng = np.random.default_rng(0)
    U = np.linalg.qr(rng.normal(size=(5, 2)))[0]
    X = rng.normal(size=(30, 2)) @ U.T
    A = standard_mlp([5, 7, 6, 2], activation="relu", seed=0)
    W = A.layers[0].weight.copy()
    P = np.eye(5) - U @ U.T
    W += 3.0 * rng.normal(size=W.shape) @ P
    B = Network([Layer(W, A.layers[0].bias, activation="relu")] + [l.copy() for l in A.layers[1:]])
    c = certificate(A, B, X)
    scale = float(np.abs(A(X)).max())
    assert c.max_norm <= 1e-12 * scale
    assert c.layers[0]["mean_dh"] <= 1e-13 * scale


def test_single_linear_layer_is_exact():
    A = Network([Layer(np.ones((2, 3)), [0.5, 0.0])])
    B = Network([Layer(-np.ones((2, 3)), [0.0, 1.0])])
    c = certificate(A, B, _data(d=3), keep_samples=True)
    assert c.rho == 0.0 and not np.any(c.samples)


def test_masks_may_differ():
    A = w_mlp([4, 5, 2], n_fixed=1, seed=0, structure_seed=1)
    B = w_mlp([4, 5, 2], n_fixed=2, seed=1, structure_seed=2)
    c = certificate(A, B, _data())
    assert c.ok and c.structure_differences
    assert_inequality(A, B, _data(n=10), np.linspace(0, 1, 41))


# ----------------------------------------------------------------------------- gap lemma
@pytest.mark.parametrize("act", ACTS + ["sympy:Abs(z)", "sympy:sin(z)"])
def test_gap_lemma_numerically(act):
    """|sigma(lerp) - lerp sigma| <= t(1-t) g(a, b) on dense (a, b, t), for the
    coefficient the kernel uses; equality for kinks at t = A/(A+B) where it is tight."""
    from neuronid.numerics.certificate import _gap_numpy

    c = activation_constants(act)
    z = np.concatenate([np.linspace(-5, 5, 81), [-30.0, -1.0 - 1e-9, 1.0 + 1e-9, 30.0]])
    a, b = (v.ravel() for v in np.meshgrid(z, z))
    g = _gap_numpy(a, b, c)
    fa, fb = apply_activation(act, a), apply_activation(act, b)
    for t in np.linspace(0.01, 0.99, 25):
        gap = np.abs(apply_activation(act, (1 - t) * a + t * b) - ((1 - t) * fa + t * fb))
        assert np.all(gap <= t * (1 - t) * g * (1 + 1e-12) + 1e-13 * (1 + np.abs(fa) + np.abs(fb)))


def test_hard_tanh_gap_is_tight_at_each_kink():
    # one kink crossed: a = 0 (linear part), b = 2 (flat part): tight at t = 1/2
    a, b, t = 0.0, 2.0, 0.5
    gap = abs(apply_activation("hard_tanh", np.array([(1 - t) * a + t * b]))[0] - (1 - t) * 0.0 - t * 1.0)
    assert gap == pytest.approx(t * (1 - t) * abs(a - b))


def test_elu_kink_plus_curvature_needed():
    """elu:0.5 has a kink (slopes 0.5 | 1) *and* curvature: the smooth rule alone fails."""
    a, b, t = -1e-3, 1e-3, 0.5
    s = apply_activation("elu:0.5", np.array([a, b, 0.0]))
    gap = abs(s[2] - 0.5 * (s[0] + s[1]))
    smooth_only = t * (1 - t) * 0.5 * 0.5 * (a - b) ** 2
    assert gap > 10 * smooth_only
    c = activation_constants("elu:0.5")
    from neuronid.numerics.certificate import _gap_numpy

    assert gap <= t * (1 - t) * _gap_numpy(np.array(a), np.array(b), c)


# ----------------------------------------------------------------------------- loss bounds
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("kind,act", [("standard", "relu"), ("w-mlp", "tanh"), ("syre", "gelu"),
                                      ("sigma-asym", None), ("standard", "hard_tanh")])
def test_loss_bounds_hold(loss, kind, act):
    A, B = _pair(kind, act, 21, scale=1.5)
    X = _data(n=50, seed=8)
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=50) if loss == "ce" else rng.normal(size=(50, 3))
    out = certified_barriers(A, B, X, y, loss=loss, steps=201)
    assert out.status == "ok" and all(out.holds.values()), out.measured
    # the pointwise bound along the whole grid
    cert = certificate(A, B, X)
    path = linear_path(A, B, X, y, loss=loss, steps=201)
    chord = (1 - path.steps) * path.loss[0] + path.steps * path.loss[-1]
    bound = cert.bound(path.steps, path.loss[0], path.loss[-1], loss)
    assert np.all(path.loss - chord <= bound + FLOAT_SLACK * (np.abs(path.loss) + bound))
    json.dumps(to_jsonable(out.to_json()), allow_nan=False)


@pytest.mark.parametrize("kind,act", [("standard", "relu"), ("w-mlp", "gelu"), ("syre", "tanh"),
                                      ("sigma-asym", None)])
def test_certified_path_is_linear_paths_curve_bitwise(kind, act):
    """certified_barriers takes the path's endpoints from the certificate's forward
    passes; the curve must be linear_path's, bitwise (n spans several row blocks; a
    different block size evaluates every point itself)."""
    A, B = _pair(kind, act, 5, sizes=(4, 8, 6, 3))  # small: the NUMBA_DISABLE_JIT pass runs it too
    X = _data(n=1100, seed=2)
    y = np.random.default_rng(1).integers(0, 3, size=1100)
    path = linear_path(A, B, X, y, loss="ce", steps=3)
    for block in (512, 100):
        out = certified_barriers(A, B, X, y, loss="ce", steps=3, block=block)
        assert out.status == "ok"
        assert np.array_equal(out.path.loss, path.loss) and np.array_equal(out.path.error, path.error)


def test_mse_bound_is_tight_for_a_linear_deviation():
    """One output, targets at the chord: the MSE bound's (s rho)^2 term is attained."""
    a, b = 1.3, -0.7
    A, B = _one_neuron(a, 1.0), _one_neuron(b, 1.0)
    X = np.array([[1.0]])
    y = np.array([[A(X)[0, 0]]])  # L_A = 0
    cert = certificate(A, B, X)
    t = a / (a + abs(b))
    LA, LB = 0.0, float((B(X)[0, 0] - y[0, 0]) ** 2)
    path = linear_path(A, B, X, y, loss="mse", steps=np.array([0.0, 0.5, t, 1.0]))
    assert path.loss[2] - ((1 - t) * LA + t * LB) <= cert.bound(t, LA, LB, "mse") * (1 + 1e-12)


def test_certified_max_is_an_upper_bound_on_the_continuum():
    c = Certificate("ok", None, 10, 3, rho=1.7, mean_norm=1.2, max_norm=3.0)
    t = np.linspace(0, 1, 2_000_001)
    for LA, LB in ((0.0, 0.0), (0.1, 2.5), (3.0, 0.2), (1.0, 1.0)):
        for loss in ("mse", "ce"):
            b = c.barrier_bounds(LA, LB, loss)
            dense = c.bound(t, LA, LB, loss)
            assert b["B_lerp"] >= dense.max() and b["B_lerp"] <= dense.max() * (1 + 1e-9) + 1e-300
            peak = np.max(dense + (1 - t) * LA + t * LB)
            assert b["B_peak"] + max(LA, LB) >= peak * (1 - 1e-15)
            assert b["B_peak"] + max(LA, LB) <= peak * (1 + 1e-9)
            assert b["B_mean"] - b["B_peak"] == pytest.approx(max(LA, LB) - 0.5 * (LA + LB))
            assert b["B_mid"] == pytest.approx(float(c.bound(0.5, LA, LB, loss)) + 0.5 * (LA + LB) - max(LA, LB))
    ce = c.barrier_bounds(0.4, 0.4, "ce")
    assert ce["B_lerp"] == pytest.approx(math.sqrt(2) * 0.25 * 1.2, rel=1e-12)


# ----------------------------------------------------------------------------- unsupported, errors
def test_unsupported_activation_is_a_status():
    A, B = (standard_mlp([2, 3, 1], activation="sympy:z**2", seed=s) for s in (0, 1))
    X = _data(d=2)
    c = certificate(A, B, X)
    assert c.status == "unsupported" and "Lipschitz" in c.reason
    assert c.bound(0.5, 1.0, 1.0, "mse") == math.inf
    out = certified_barriers(A, B, X, np.zeros((40, 1)), loss="mse")
    assert out.status == "unsupported" and out.bound["B_lerp"] == math.inf
    assert out.tightness["B_lerp"] is None
    js = json.loads(json.dumps(to_jsonable(out.to_json()), allow_nan=False))  # to_jsonable writes the nulls
    assert js["bound"]["B_lerp"] is None and js["bound"]["B_lerp_reason"]
    assert js["certificate"]["rho"] is None and js["certificate"]["non_finite_reason"]


def test_overflow_is_a_status():
    A, B = (standard_mlp([2, 3, 1], activation="relu", seed=s) for s in (0, 1))
    c = certificate(_scaled(A, 1e200), _scaled(B, 1e200), _data(d=2))
    assert c.status == "overflow" and c.bound(0.5, 0.0, 0.0, "ce") == math.inf


A0 = standard_mlp([3, 4, 2], seed=0)
BAD = [
    (lambda: certificate(A0, standard_mlp([3, 5, 2], seed=1), np.ones((2, 3))), StructureMismatchError, "sizes differ"),
    (lambda: certificate(A0, standard_mlp([3, 4, 2], activation="tanh"), np.ones((2, 3))), StructureMismatchError,
     "activations"),
    (lambda: certificate(A0, A0, np.ones((2, 4))), InvalidDataError, "expects 3 input features"),
    (lambda: certificate(A0, A0, np.ones((0, 3))), InvalidDataError, "empty"),
    (lambda: certificate(A0, A0, np.ones((2, 3)), block=0), InvalidOptionError, "block"),
    (lambda: certificate(A0, A0, np.ones((2, 3)), block=2.5), InvalidOptionError, "block"),
    (lambda: certificate(A0, "B", np.ones((2, 3))), InvalidOptionError, "Network"),
    (lambda: certificate(A0, A0, np.ones((2, 3))).bound(1.5, 0, 0, "ce"), InvalidOptionError, "t must lie"),
    (lambda: certificate(A0, A0, np.ones((2, 3))).bound(0.5, -1, 0, "mse"), InvalidOptionError, ">= 0"),
    (lambda: certificate(A0, A0, np.ones((2, 3))).bound(0.5, 0, 0, "hinge"), InvalidOptionError, "unknown loss"),
    (lambda: certified_barriers(A0, A0, np.ones((2, 3)), np.array([0.5, 1.5]), loss="ce"), InvalidDataError,
     "integer labels"),
    (lambda: certified_barriers(A0, A0, np.ones((2, 3)), np.array([0, 1]), loss="ce", steps=1), InvalidOptionError,
     "steps"),
]


@pytest.mark.parametrize("call,exc,msg", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg) as info:
        call()
    assert isinstance(info.value, InvalidInputError)


def test_json_round_trip():
    A, B = _pair("sigma-asym", None, 0)
    c = certificate(A, B, _data())
    js = json.loads(json.dumps(c.to_json()))
    assert js["result"] == "T4" and js["rho"] == pytest.approx(c.rho)
    assert js["constants"][0]["activations"][0]["gap_rule"].startswith("g =")
    assert [layer["layer"] for layer in js["layers"]] == [0, 1, 2]


def test_spot_check_catches_wrong_metadata():
    """A kink list missing a kink (or a too small Lipschitz constant) is caught before use."""
    from dataclasses import replace

    from neuronid.numerics.certificate import _spot_check
    from neuronid.theory.activations import get_activation

    good = activation_constants("hard_tanh")
    act = get_activation("hard_tanh")
    assert _spot_check(act, good) is None
    assert "gap lemma failed" in _spot_check(act, replace(good, kinks=good.kinks[:1]))
    assert "Lip" in _spot_check(act, replace(good, lipschitz=0.5, cap=0.5))
    tanh = activation_constants("tanh")
    assert "gap lemma failed" in _spot_check(get_activation("tanh"), replace(tanh, curvature=0.1, cap=10.0))

"""Tests of the row-parallel training kernels: every parallel kernel gives bitwise the
same result as its serial loop (so training does not depend on the numba thread count),
GELU's cached Phi gives bitwise the derivative the catalogue computes, and training
paper-like layers twice, or on 1 and on several numba threads, gives identical weights.

The kernel tests pass ``nt`` blocks explicitly, so the parallel code paths (block
splitting, per-block slices) run even where numba has a single thread.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from neuronid.numerics import _fast_math as fm
from neuronid.numerics import _train_kernels as K
from neuronid.numerics import training as T
from neuronid.numerics.activations import (
    ELU,
    GELU,
    HARD_TANH,
    IDENTITY,
    LEAKY_RELU,
    RELU,
    SIGMOID,
    SILU,
    SOFTPLUS,
    TANH,
    _dact,
)
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, train

CODES = [RELU, LEAKY_RELU, GELU, TANH, SIGMOID, SOFTPLUS, ELU, SILU, HARD_TANH, IDENTITY, K.MIXED]
B, M = 96, 80  # B * M = 7680 >= PAR_MIN_ACT: the parallel branch is taken for nt > 1
BLOCKS = 3  # more blocks than rows per block divide evenly: exercises uneven splits


def _layer(code, dtype, seed=0):
    rng = np.random.default_rng(seed)
    Z = (rng.normal(size=(B, M)) * 2.0).astype(dtype)
    bl = rng.normal(size=M).astype(dtype)
    if code == K.MIXED:
        cl = rng.choice([RELU, GELU, TANH, SIGMOID, ELU, SILU], size=M).astype(np.int64)
    else:
        cl = np.full(M, code, dtype=np.int64)
    pl = np.full(M, 0.1 if code in (LEAKY_RELU, ELU) else 0.0, dtype=dtype)
    if code == K.MIXED:
        pl[cl == ELU] = 0.5
    return Z, bl, cl, pl


def test_thresholds_make_paper_layers_parallel_and_e1_optimizer_serial():
    # paper size: 128 x 512 per hidden layer, 930k weights; E1: 20 x 128 weights
    assert 128 * 512 >= K.PAR_MIN_ACT and 784 * 512 + 2 * 512 * 512 >= K.PAR_MIN_OPT
    assert 20 * 128 < K.PAR_MIN_OPT
    assert K._blocks(1, 10**9, 1) == 1 and K._blocks(4, K.PAR_MIN_ACT - 1, K.PAR_MIN_ACT) == 1
    assert K._blocks(4, K.PAR_MIN_ACT, K.PAR_MIN_ACT) == 4


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("code", CODES)
def test_activation_kernels_parallel_equal_serial(code, dtype):
    Z0, bl, cl, pl = _layer(code, dtype)
    D0 = np.random.default_rng(1).normal(size=(B, M)).astype(dtype)
    out = {}
    for nt in (1, BLOCKS):
        Z, H, P = Z0.copy(), np.zeros_like(Z0), np.zeros((B, M), dtype=dtype) if code == GELU else np.zeros((0, 0), dtype=dtype)
        K._bias_act(Z, H, bl, cl, pl, code, P, nt)
        D, g = D0.copy(), np.zeros(M, dtype=dtype)
        K._dact_bias_grad(D, Z, g, cl, pl, code, P, nt)
        out[nt] = (Z, H, D, g)
    for a, b in zip(out[1], out[BLOCKS]):
        assert a.dtype == dtype and np.array_equal(a, b)
    # and against the catalogue, entry by entry: sigma' at the biased pre-activation
    Z, H, D, g = out[BLOCKS]
    if code == GELU and dtype == np.float32:
        # float32 training computes GELU in float32 (the float32 kernels of _fast_math):
        # sigma' = Phi + z phi in float32 arithmetic, in the kernel's order
        expect = D0 * (fm.evaluate32("ndtr", Z) + Z * fm.evaluate32("normal_pdf", Z))
        assert np.array_equal(H, fm.evaluate32("gelu", Z))
    else:
        # (the kernel multiplies in float64 and rounds once to the array dtype)
        expect = np.array([[np.float64(D0[s, i]) * _dact(cl[i], pl[i], Z[s, i]) for i in range(M)]
                           for s in range(B)]).astype(dtype)
    assert np.array_equal(D, expect)
    colsum = np.zeros(M, dtype=dtype)
    for s in range(B):  # bias gradient: column sums in row order
        colsum += D[s]
    assert np.array_equal(g, colsum)


def test_gelu_cached_phi_is_bitwise_the_catalogue_derivative():
    Z, bl, cl, pl = _layer(GELU, np.float64, seed=2)
    H, P = np.zeros_like(Z), np.zeros_like(Z)
    K._bias_act(Z, H, bl, cl, pl, GELU, P, 1)
    D_cached, sums_cached = np.ones_like(Z), np.zeros(M)
    K._dact_rows(D_cached, Z, cl, pl, GELU, P, sums_cached, True)
    D_recomputed, sums_recomputed = np.ones_like(Z), np.zeros(M)
    K._dact_serial(D_recomputed, Z, cl, pl, GELU, sums_recomputed, True)
    assert np.array_equal(D_cached, D_recomputed) and np.array_equal(sums_cached, sums_recomputed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_kernels_parallel_equal_serial(dtype):
    rng = np.random.default_rng(3)
    Z0 = rng.normal(size=(B, M)).astype(dtype)
    gl, bel = rng.normal(size=M).astype(dtype), rng.normal(size=M).astype(dtype)
    D0 = rng.normal(size=(B, M)).astype(dtype)
    out = {}
    for nt in (1, BLOCKS):
        U, Xh, rs = np.zeros_like(Z0), np.zeros_like(Z0), np.zeros(B, dtype=dtype)
        K._layer_norm_forward(Z0, U, Xh, rs, gl, bel, 1e-5, nt)
        D, gg = D0.copy(), np.zeros(M, dtype=dtype)
        K._layer_norm_backward(D, Xh, rs, gl, gg, nt)
        out[nt] = (U, Xh, rs, D, gg)
    for a, b in zip(out[1], out[BLOCKS]):
        assert np.array_equal(a, b)
    U = out[1][0]  # the norm itself: gamma * (Z - mean) / sqrt(var + eps) + beta
    z = Z0.astype(np.float64)
    ref = gl * (z - z.mean(1, keepdims=True)) / np.sqrt(z.var(1, keepdims=True) + 1e-5) + bel
    assert np.allclose(U, ref, rtol=1e-4 if dtype == np.float32 else 1e-12, atol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_optimizer_kernels_parallel_equal_serial_and_respect_mask(optimizer, dtype):
    rng = np.random.default_rng(4)
    n = K.PAR_MIN_OPT + 1001
    mask = (rng.random(n) > 0.2).astype(dtype)
    theta0 = (rng.normal(size=n) * mask).astype(dtype)
    fixed = (rng.normal(size=n) * (1 - mask)).astype(dtype)
    grad = rng.normal(size=n).astype(dtype)
    out = {}
    for nt in (1, BLOCKS):
        theta, weff = theta0.copy(), theta0 + fixed
        s1, s2 = np.zeros(n, dtype=dtype), np.zeros(n, dtype=dtype)
        for _ in range(3):
            if optimizer == "adamw":
                K._adamw_update(theta, grad, mask, fixed, weff, s1, s2, 1e-2, 1e-2, 0.9, 0.999, 1e-8, 0.1, 0.5,
                                True, nt)
            else:
                K._sgd_update(theta, grad, mask, fixed, weff, s1, 1e-2, 1e-2, 0.9, True, nt)
        out[nt] = (theta, weff, s1, s2)
    for a, b in zip(out[1], out[BLOCKS]):
        assert np.array_equal(a, b)
    theta, weff, s1, s2 = out[BLOCKS]
    frozen = mask == 0
    assert np.all(theta[frozen] == 0) and np.all(s1[frozen] == 0) and np.all(s2[frozen] == 0)
    assert np.array_equal(weff[frozen], fixed[frozen]) and np.all(theta[~frozen] != theta0[~frozen])


def _train_layers(dtype, seed=0):
    """Layers above both thresholds: batch 64 x width 128 hidden, 80k weights."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 300))
    y = rng.integers(0, 4, size=200)
    nets = [
        standard_mlp([300, 128, 128, 4], activation="gelu", seed=6, norm="layer"),
        w_mlp([300, 128, 128, 4], activation="tanh", p_fixed=0.2, sigma_F=1.0, seed=7),
        # one activation per neuron (mixed layers: per-neuron dispatch)
        sigma_asymmetric_mlp([300, 128, 128, 4], activations=["gelu", "tanh", "silu", "relu"], seed=8),
    ]
    cfg = TrainConfig(lr=1e-2, epochs=2, batch_size=64, dtype=dtype, seed=seed)
    return [train(net, X, y, cfg, progress=False) for net in nets]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_bitwise_identical_across_runs_and_numba_threads(dtype):
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = _train_layers(dtype)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        parallel = _train_layers(dtype)
        again = _train_layers(dtype)
    finally:
        numba.set_num_threads(threads)
    for a, b, c in zip(serial, parallel, again):
        assert a.history == b.history == c.history
        for la, lb, lc in zip(a.network.layers, b.network.layers, c.network.layers):
            assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
            assert np.array_equal(lb.weight, lc.weight) and np.array_equal(lb.bias, lc.bias)
            if la.norm is not None:
                assert np.array_equal(la.norm.gamma(), lb.norm.gamma())
                assert np.array_equal(la.norm.beta(), lb.norm.beta())


def test_small_networks_train_with_one_blas_thread():
    """Every product of an E1-size step is below SMALL_GEMM_WORK: one BLAS thread inside
    (threading such products cost more than it saved) and the kernels on the numba
    threads; a paper-size step keeps the process's BLAS setting and runs the kernels on
    one thread (the two pools spin against each other)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS, the one numba calls, before the limit)

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        outside = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
        small_plan, small_nt = T._thread_plan([20, 128, 1], 512)
        with small_plan:
            inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        large_plan, large_nt = T._thread_plan([784, 512, 512, 512, 10], 128)
        with large_plan:
            large = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()
                     if i["user_api"] == "blas"}
    assert inside and all(n == 1 for n in inside)
    assert large == outside
    assert small_nt == numba.get_num_threads() and large_nt == 1
    assert 512 * 20 * 128 <= T.SMALL_GEMM_WORK < 128 * 784 * 512

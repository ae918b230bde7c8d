"""Tests of the blocked training step: the row kernels match the catalogue, GELU's
cached Phi gives bitwise the derivative the catalogue computes, a step in row and
output-neuron blocks computes the one-block step (bitwise again for the same block
count), and training paper-like layers twice on the same thread count gives identical
weights (other counts: equal to rounding).

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
B, M = 96, 80  # a paper-like block of rows and neurons for the row kernels
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


def test_thresholds_split_paper_and_e1_steps_and_keep_tiny_ones_serial():
    # paper size: 128 rows x (784*512 + 2*512*512 + 512*10) multiply-adds; E1: 512 x 20 x 128
    paper, e1, tiny = np.array([784, 512, 512, 512, 10]), np.array([20, 128, 1]), np.array([2, 8, 2])
    assert K.row_blocks(2, 128, paper) == 2 and K.row_blocks(2, 512, e1) == 2
    assert K.row_blocks(1, 128, paper) == 1 and K.row_blocks(2, 16, tiny) == 1
    # never fewer than MIN_BLOCK_ROWS rows per block
    assert K.row_blocks(64, 128, paper) == 128 // K.MIN_BLOCK_ROWS
    assert K.step_work(e1, 512) == 512 * 20 * 128 + 512 * 128
    assert 784 * 512 + 2 * 512 * 512 >= K.PAR_MIN_OPT and 20 * 128 < K.PAR_MIN_OPT
    assert K._blocks(1, 10**9, 1) == 1 and K._blocks(4, 9, 10) == 1 and K._blocks(4, 10, 10) == 4


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("code", CODES)
def test_activation_row_kernels_match_the_catalogue(code, dtype):
    Z0, bl, cl, pl = _layer(code, dtype)
    D0 = np.random.default_rng(1).normal(size=(B, M)).astype(dtype)
    Z, H = Z0.copy(), np.zeros_like(Z0)
    P = np.zeros((B, M), dtype=dtype) if code == GELU else np.zeros((0, 0), dtype=dtype)
    K._bias_act_rows(Z, H, bl, cl, pl, code, P)
    assert np.array_equal(Z, Z0 + bl)
    D = D0.copy()
    K._dact_rows(D, Z, cl, pl, code, P)
    # sigma' at the biased pre-activation, entry by entry
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
    for s in range(B):  # the bias gradient: column sums in row order
        colsum += D[s]
    # the column-block sums of the step's second phase, block by block
    out = np.full(M, np.nan, dtype=dtype)
    for i0, i1 in ((0, 7), (7, 8), (8, M)):
        K._column_sums(D, i0, i1, out[i0:i1])
    assert np.array_equal(out, colsum)
    prod_out = np.full(M, np.nan, dtype=dtype)
    out[:] = np.nan
    K._norm_column_sums(D, Z, 5, M, out[5:], prod_out[5:])
    prod = np.zeros(M, dtype=dtype)
    for s in range(B):
        prod += D[s] * Z[s]
    assert np.array_equal(out[5:], colsum[5:]) and np.array_equal(prod_out[5:], prod[5:])


def test_gelu_cached_phi_is_bitwise_the_catalogue_derivative():
    Z, bl, cl, pl = _layer(GELU, np.float64, seed=2)
    H, P = np.zeros_like(Z), np.zeros_like(Z)
    K._bias_act_rows(Z, H, bl, cl, pl, GELU, P)
    D_cached = np.ones_like(Z)
    K._dact_rows(D_cached, Z, cl, pl, GELU, P)
    D_recomputed = np.ones_like(Z)  # the per-neuron path: the catalogue's _dact
    K._dact_rows(D_recomputed, Z, cl, pl, K.MIXED, np.zeros((0, 0)))
    assert np.array_equal(D_cached, D_recomputed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layer_norm_row_kernels(dtype):
    rng = np.random.default_rng(3)
    Z0 = rng.normal(size=(B, M)).astype(dtype)
    gl, bel = rng.normal(size=M).astype(dtype), rng.normal(size=M).astype(dtype)
    U, Xh, rs = np.zeros_like(Z0), np.zeros_like(Z0), np.zeros(B, dtype=dtype)
    K._layer_norm_forward_rows(Z0, U, Xh, rs, gl, bel, 1e-5)
    # the norm itself: gamma * (Z - mean) / sqrt(var + eps) + beta
    z = Z0.astype(np.float64)
    xhat = (z - z.mean(1, keepdims=True)) / np.sqrt(z.var(1, keepdims=True) + 1e-5)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert np.allclose(U, gl * xhat + bel, **tol)
    # backward: dZ = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = gamma * dU
    dU = rng.normal(size=(B, M)).astype(dtype)
    D = np.full_like(dU, np.nan)
    K._layer_norm_backward_rows(dU, Xh, rs, gl, D)
    in_place = dU.copy()
    K._layer_norm_backward_rows(in_place, Xh, rs, gl, in_place)
    assert np.array_equal(in_place, D)
    g = gl.astype(np.float64) * dU
    ref = (g - g.mean(1, keepdims=True) - xhat * (g * xhat).mean(1, keepdims=True)) / np.sqrt(
        z.var(1, keepdims=True) + 1e-5)
    assert np.allclose(D, ref, rtol=1e-3 if dtype == np.float32 else 1e-10, atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
def test_optimizer_kernels_parallel_equal_serial_and_respect_mask(optimizer, dtype):
    rng = np.random.default_rng(4)
    n = K.PAR_MIN_OPT + 1001
    mask = (rng.random(n) > 0.2).astype(dtype)
    theta0 = (rng.normal(size=n) * mask).astype(dtype)
    fixed = (rng.normal(size=n) * (1 - mask)).astype(dtype)
    grad = rng.normal(size=n).astype(dtype)
    none = np.zeros(0, dtype=dtype)
    out = {}
    for nt in (1, BLOCKS):
        for with_weff in (True, False):
            theta, weff = theta0.copy(), theta0 + fixed
            s1, s2 = np.zeros(n, dtype=dtype), np.zeros(n, dtype=dtype)
            f, w = (fixed, weff) if with_weff else (none, none)
            for _ in range(3):
                if optimizer == "adamw":
                    K._update(K.OPT_ADAMW, theta, grad, mask, f, w, s1, s2, 1e-2, 1e-2, 0.9, 0.999, 1e-8, 0.1, 0.5, 0.0, nt)
                else:
                    K._update(K.OPT_SGD, theta, grad, mask, f, w, s1, s2, 1e-2, 1e-2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.9, nt)
            out[nt, with_weff] = (theta, weff, s1, s2)
    for a, b in zip(out[1, True], out[BLOCKS, True]):
        assert np.array_equal(a, b)
    # without an effective-weight copy (empty fixed / weff: biases, LayerNorm parameters)
    # the same update, and weff is not written
    for k in (0, 2, 3):
        assert np.array_equal(out[BLOCKS, True][k], out[BLOCKS, False][k])
    assert np.array_equal(out[BLOCKS, False][1], theta0 + fixed)
    theta, weff, s1, s2 = out[BLOCKS, True]
    frozen = mask == 0
    assert np.all(theta[frozen] == 0) and np.all(s1[frozen] == 0) and np.all(s2[frozen] == 0)
    assert np.array_equal(weff[frozen], fixed[frozen]) and np.all(theta[~frozen] != theta0[~frozen])


def _step(net, X, y, loss, dtype, nt):
    """One ``_forward_backward`` on all rows with ``nt`` blocks (passed explicitly, so the
    block code runs even where numba has one thread); returns every output buffer."""
    n = X.shape[0]
    flat = T._Flat(net, dtype, n)
    Tt, labels = T._kernel_targets(loss, y, net.n_outputs, dtype)
    plan, _ = T._thread_plan()
    with plan:
        total = K._forward_backward(
            np.ascontiguousarray(X, dtype=dtype), Tt, labels, np.arange(n)[::-1].copy(), 0, n,
            K.LOSS_MSE if loss == "mse" else K.LOSS_CE, *flat.kernel_structure(), flat.weff, flat.bias, flat.gw,
            flat.gb, flat.acts, flat.pres, flat.dz, flat.du, flat.rowloss, flat.norm, flat.phi, nt,
            np.ones(len(net.layers), dtype=np.bool_))
    return total, flat.gw, flat.gb, flat.norm[4], flat.norm[5], flat.acts, flat.dz


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_step_in_blocks_is_the_one_block_step(loss, dtype):
    """Row blocks (phase 1, with the small layers' partial gradients) and output-neuron
    blocks (phase 2) compute the one-block step:
    loss, weight / bias / gamma / beta gradients, activations and deltas, for uneven
    splits (61 rows, 3 and 4 blocks; a 4-neuron output layer split 3 ways), bitwise again
    for the same block count.

    Tolerance: BLAS rounds the edge entries of a product according to the block around
    them (1 ulp measured), so another block count agrees to rounding: each entry is a
    sum of at most 300 rounded products, whose rounding error is below 300 eps of the
    sum of their magnitudes; bounded here by 1e-12 (float64) / 1e-4 (float32) times the
    array's largest entry. A wrong row or column offset breaks whole blocks by far more."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(61, 300))
    y = rng.integers(0, 4, size=61) if loss == "ce" else rng.normal(size=(61, 4))
    nets = [
        standard_mlp([300, 128, 96, 4], activation="gelu", seed=6, norm="layer"),
        w_mlp([300, 128, 1, 4], activation="tanh", p_fixed=0.2, sigma_F=1.0, seed=7),  # a one-neuron layer
        # a first layer above ROW_GRAD_MAX (gradient by output-neuron blocks), then small layers
        sigma_asymmetric_mlp([300, 256, 128, 4], activations=["gelu", "tanh", "silu", "relu"], seed=8),
    ]
    assert 300 * 256 > K.ROW_GRAD_MAX >= 300 * 128
    for net in nets:
        assert K.row_blocks(3, 61, np.array(net.sizes)) == 3
        rel = 1e-12 if dtype == np.float64 else 1e-4
        one = _step(net, X, y, loss, dtype, 1)
        for nt in (3, 4):
            blocks = _step(net, X, y, loss, dtype, nt)
            assert blocks[0] == pytest.approx(one[0], rel=rel)
            for a, b in zip(one[1:], blocks[1:]):
                assert np.all(np.abs(a - b) <= rel * np.abs(a).max())
            again = _step(net, X, y, loss, dtype, nt)
            assert again[0] == blocks[0] and all(np.array_equal(a, b) for a, b in zip(again[1:], blocks[1:]))
        assert np.all(np.isfinite(one[1])) and np.any(one[1] != 0)
    # and against float64 reference gradients of the same network (loss_and_gradient is
    # checked against finite differences in test_training.py): the blocks compute the step
    if dtype == np.float64:
        value, grads = T.loss_and_gradient(nets[0], X[::-1], y[::-1], loss)
        total, gw, gb, gg, gbeta = _step(nets[0], X, y, loss, dtype, 3)[:5]
        flat = T._Flat(nets[0], dtype, 61)
        assert total / 61 == pytest.approx(value, rel=1e-12)
        for l, entry in enumerate(grads):
            sl = slice(flat.woff[l], flat.woff[l + 1])
            assert np.allclose((gw[sl] * flat.mask[sl]).reshape(entry["weight"].shape), entry["weight"],
                               rtol=1e-10, atol=1e-14)
            assert np.allclose(gb[flat.boff[l]:flat.boff[l + 1]], entry["bias"], rtol=1e-10, atol=1e-14)
            if "norm.weight" in entry:
                assert np.allclose(gg[flat.boff[l]:flat.boff[l + 1]], entry["norm.weight"], rtol=1e-10, atol=1e-14)
                assert np.allclose(gbeta[flat.boff[l]:flat.boff[l + 1]], entry["norm.bias"], rtol=1e-10,
                                   atol=1e-14)


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
def test_training_bitwise_identical_across_runs_and_close_across_numba_threads(dtype):
    """The same thread count gives bitwise the same weights (DESIGN.md: the same seed and
    thread count give the same weights); 1 against several threads agree to rounding.
    Tolerance: per-step differences are a few ulp (see the step test above), carried
    through 8 AdamW steps whose update m / sqrt(v) is scale-free; bounded by 1e-9
    (float64) / 1e-3 (float32) relative to each layer's largest weight, far below the
    1e-2 steps the optimizer takes."""
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        serial = _train_layers(dtype)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        parallel = _train_layers(dtype)
        again = _train_layers(dtype)
    finally:
        numba.set_num_threads(threads)
    rel = 1e-9 if dtype == "float64" else 1e-3
    for a, b, c in zip(serial, parallel, again):
        assert b.history == c.history
        assert a.history == pytest.approx(b.history, rel=rel)
        for la, lb, lc in zip(a.network.layers, b.network.layers, c.network.layers):
            assert np.array_equal(lb.weight, lc.weight) and np.array_equal(lb.bias, lc.bias)
            for x, y in ((la.weight, lb.weight), (la.bias, lb.bias)):
                assert np.all(np.abs(x - y) <= rel * np.abs(x).max())
            if la.norm is not None:
                assert np.array_equal(lb.norm.gamma(), lc.norm.gamma())
                for x, y in ((la.norm.gamma(), lb.norm.gamma()), (la.norm.beta(), lb.norm.beta())):
                    assert np.all(np.abs(x - y) <= rel * np.abs(x).max())


def test_training_runs_blas_on_one_thread():
    """A training step runs its blocks on the numba threads with BLAS on one thread
    inside (one thread pool: OpenBLAS's threads and numba's spun against each other),
    whatever the process's BLAS setting; outside, the setting is restored."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS, the one numba calls, before the limit)

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        outside = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
        plan, nt = T._thread_plan()
        with plan:
            inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        after = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"}
    assert inside and all(n == 1 for n in inside)
    assert after == outside and nt == numba.get_num_threads()

"""numba kernels behind :mod:`neuronid.numerics.training` (internal).

Everything works on *flat* parameter buffers: all layers' trainable parameters
``theta`` concatenated in one 1-D array, and the same for the mask, the fixed part,
the effective weight ``mask * theta + fixed``, the gradients and the optimizer
state. Layer ``l`` is the contiguous slice ``flat[woff[l]:woff[l + 1]]`` reshaped
to ``(m_l, d_l)``; biases, bias masks, activation codes and parameters use
``boff`` the same way (the output layer's codes are unused). The optimizer step is
then one elementwise loop over the flat buffers.

Work buffers are preallocated once per training run and sized for the largest
minibatch ``B``:

- ``acts``: layer inputs, layer ``l``'s input at ``hoff[l]`` with shape
  ``(b, sizes[l])``; slot ``L`` holds the network output;
- ``pres``: hidden pre-activations, layer ``l`` at ``poff[l]`` (``= B * boff[l]``);
- ``phi``: ``Phi(z)`` of GELU layers' pre-activations in the parameter dtype (``poff``
  layout; empty when no hidden layer is GELU), so the backward pass does not recompute
  ``erf``;
- ``dz``: ``dL/dZ`` of every layer, output included (``poff`` layout over all layers,
  ``B * boff[L]``), kept until the weight gradients are formed;
- ``du``: ``dL/dU`` at the output of a LayerNorm layer (``poff`` layout; empty without
  LayerNorm);
- ``rowloss``: the loss of each row of the batch (float64), summed in row order.

LayerNorm (THEORY N1) after hidden layer ``l`` when ``nkind[l] == NORM_LAYER``: the
``norm`` tuple ``(nkind, neps, gamma, beta, ggamma, gbeta, normed, xhat, rstd, zero)``
carries per-layer kinds and eps, ``gamma``/``beta`` and their gradients (flat, ``boff``
layout), the normalized ``u`` that enters the activation (``normed``, ``poff`` layout),
``xhat = (z - mean) * rstd`` and ``rstd = 1 / sqrt(var + eps)`` per sample (``l * B``),
and a zero vector (the bias of the fused activation loop applied to ``u``).

The matrix products are BLAS calls (``_blas.gemm``, on strided views); a step runs in
two parallel phases on ``nt`` numba threads, row blocks (everything per sample) then
column blocks (weight and bias gradients per output neuron), with BLAS on one thread
inside (see "one training step" below), and no sum split across blocks: the weights
are a deterministic function of the inputs and ``nt``.
(Length: the elementwise kernels, the two phases and the optimizers of one training
step in one place make the module longer than about 600 lines; splitting them would
scatter one concept.)

Compile time: a cold first call compiles the whole call tree once per dtype (about 30 s
of CPU on the 2-core VM of benchmarks/README.md). A function with ``prange`` loops costs
seconds of its own (numba builds a gufunc per loop and its launch wrappers and compiles
them with their callees: with both parallel kernels' loops compiled as plain loops, a
cold float64 compile took 24 s instead of 29 s), and every compiled function adds its
typing, lowering and optimization. The kernels therefore keep two parallel functions and
few levels: the two phases' ``prange`` loops sit in :func:`_forward_backward` (the row
block's body written in the loop), one row kernel per direction holds every activation,
both optimizers share one parallel kernel (:func:`_update`), and ``_blas.gemm`` is an
overload (one compile per dtype and layout, not per literal flag pair).

They work for float32 and float64 alike (numba specializes on the dtype; every
array temporary has the parameter dtype). GELU is computed in the parameter dtype:
float32 training uses the float32 kernels of ``_fast_math`` (``fast_gelu_ndtr32``,
16 AVX-512 lanes, float32 ulp bounds tested there), float64 training the float64
ones (the catalogue's values); other activations compute as the catalogue. They never
validate: the public functions in ``training.py`` pass clean, contiguous arrays.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ._blas import gemm
from ._config import JIT, PRANGE_JIT
from ._fast_math import FAST_JIT, gelu_ndtr_like, normal_pdf_like
from .losses import logsumexp_row
from . import activations as acts
from .activations import (
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
    _act,
    _dact,
)

LOSS_MSE, LOSS_CE = 0, 1
NORM_NONE, NORM_LAYER = 0, 1
OPT_ADAMW, OPT_SGD = 0, 1
#: ``ucodes[l]`` of a hidden layer whose neurons do not all share one activation
MIXED = -2


# --- elementwise layer loops -------------------------------------------------------------------
# A uniform layer runs a loop over the one scalar kernel of its activation, passed as an
# argument (a numba dispatcher; the loop is inlined into each branch below): LLVM then sees
# a straight-line body and vectorizes it (about 10x faster for relu than dispatching on the
# code per element). Mixed layers (sigma-asymmetric) dispatch per neuron.
@njit(inline="always")
def _bias_act_loop(Z, H, bl, act, param):
    b, m = Z.shape
    for s in range(b):
        for i in range(m):
            z = Z[s, i] + bl[i]
            Z[s, i] = z
            H[s, i] = act(param, z)


@njit(inline="always")
def _dact_loop(D, Z, dact, param):
    b, m = Z.shape
    for s in range(b):
        for i in range(m):
            D[s, i] = D[s, i] * dact(param, Z[s, i])


# GELU keeps Phi(z) from the forward pass (``phi`` buffer in the ``poff`` layout, the
# parameter dtype; one tail evaluation gives both, _fast_math.gelu_ndtr_like: the float32
# kernels for float32 training, the float64 ones otherwise) so the backward pass
# needs only the normal density. In float64 the values are bitwise those of
# activations._act / _dact (the same _fast_math functions); in float32 those of the float32
# kernels (tested against mpmath in float32 ulps). The loops vectorize (FAST_JIT).
# One kernel per direction holds every branch: each compiled function adds its own typing,
# lowering and optimization, so fewer levels compile faster.
@njit(**FAST_JIT)
def _bias_act_rows(Z, H, bl, cl, pl, ucode, P):
    """``Z += bias``, ``H = sigma(Z)`` (GELU: also ``P = Phi(Z)``) for a block of rows."""
    p = pl[0]
    if ucode == GELU:
        b, m = Z.shape
        for s in range(b):
            for i in range(m):
                z = Z[s, i] + bl[i]
                Z[s, i] = z
                g, phi = gelu_ndtr_like(z)
                P[s, i] = phi
                H[s, i] = g
    elif ucode == RELU:
        _bias_act_loop(Z, H, bl, acts._relu, p)
    elif ucode == LEAKY_RELU:
        _bias_act_loop(Z, H, bl, acts._leaky_relu, p)
    elif ucode == TANH:
        _bias_act_loop(Z, H, bl, acts._tanh, p)
    elif ucode == SIGMOID:
        _bias_act_loop(Z, H, bl, acts._sigmoid, p)
    elif ucode == SOFTPLUS:
        _bias_act_loop(Z, H, bl, acts._softplus, p)
    elif ucode == ELU:
        _bias_act_loop(Z, H, bl, acts._elu, p)
    elif ucode == SILU:
        _bias_act_loop(Z, H, bl, acts._silu, p)
    elif ucode == HARD_TANH:
        _bias_act_loop(Z, H, bl, acts._hard_tanh, p)
    elif ucode == IDENTITY:
        _bias_act_loop(Z, H, bl, acts._identity, p)
    else:
        b, m = Z.shape
        for s in range(b):
            for i in range(m):
                z = Z[s, i] + bl[i]
                Z[s, i] = z
                H[s, i] = _act(cl[i], pl[i], z)


@njit(**FAST_JIT)
def _dact_rows(D, Z, cl, pl, ucode, P):
    """``D *= sigma'(Z)`` (``dL/dA`` -> ``dL/dZ``) for a block of rows (GELU reads ``Phi(Z)``
    from ``P``)."""
    p = pl[0]
    if ucode == GELU:
        b, m = Z.shape
        for s in range(b):
            for i in range(m):
                z = Z[s, i]
                D[s, i] = D[s, i] * (P[s, i] + z * normal_pdf_like(z))
    elif ucode == RELU:
        _dact_loop(D, Z, acts._drelu, p)
    elif ucode == LEAKY_RELU:
        _dact_loop(D, Z, acts._dleaky_relu, p)
    elif ucode == TANH:
        _dact_loop(D, Z, acts._dtanh, p)
    elif ucode == SIGMOID:
        _dact_loop(D, Z, acts._dsigmoid, p)
    elif ucode == SOFTPLUS:
        _dact_loop(D, Z, acts._dsoftplus, p)
    elif ucode == ELU:
        _dact_loop(D, Z, acts._delu, p)
    elif ucode == SILU:
        _dact_loop(D, Z, acts._dsilu, p)
    elif ucode == HARD_TANH:
        _dact_loop(D, Z, acts._dhard_tanh, p)
    elif ucode == IDENTITY:
        _dact_loop(D, Z, acts._didentity, p)
    else:
        b, m = Z.shape
        for s in range(b):
            for i in range(m):
                D[s, i] = D[s, i] * _dact(cl[i], pl[i], Z[s, i])


@njit(**JIT)
def _layer_norm_forward_rows(Z, U, Xh, rs, gl, bel, eps):
    """``U = gamma * xhat + beta`` with ``xhat = (Z - mean) * rstd`` per row (biased
    variance, as PyTorch); keeps ``xhat`` and ``rstd`` for the backward pass."""
    b, m = Z.shape
    for s in range(b):
        mean = 0.0
        for i in range(m):
            mean += Z[s, i]
        mean /= m
        var = 0.0
        for i in range(m):
            c = Z[s, i] - mean
            var += c * c
        var /= m
        r = 1.0 / math.sqrt(var + eps)
        rs[s] = r
        for i in range(m):
            xh = (Z[s, i] - mean) * r
            Xh[s, i] = xh
            U[s, i] = gl[i] * xh + bel[i]


@njit(**JIT)
def _layer_norm_backward_rows(D, Xh, rs, gl, out):
    """``D`` = ``dL/dU`` in, ``out`` = ``dL/dZ`` (may be ``D`` itself): ``dZ = rstd * (g -
    mean(g) - xhat * mean(g * xhat))`` with ``g = gamma * dL/dU``, per row."""
    b, m = D.shape
    for s in range(b):
        mg = 0.0
        mgx = 0.0
        for i in range(m):
            g = gl[i] * D[s, i]
            mg += g
            mgx += g * Xh[s, i]
        mg /= m
        mgx /= m
        r = rs[s]
        for i in range(m):
            out[s, i] = r * (gl[i] * D[s, i] - mg - Xh[s, i] * mgx)


# --- one training step: row blocks, then column blocks --------------------------------------------
# Everything of a step but the parameter gradients is independent per sample: the forward
# pass, the loss and the backward deltas of a block of rows need no other rows. A step
# therefore runs in two parallel phases on the numba threads, BLAS on one thread inside
# each (the caller limits it; one thread pool, so no pool spins against another):
#
# 1. row blocks: gather, forward, loss per row, output delta and every layer's ``dL/dZ``
#    (``dz``, all layers kept) and, before a LayerNorm's backward, ``dL/dU`` (``du``);
#    Small layers (see ROW_GRAD_MAX) also get their gradients here, one partial product
#    per block, added in block order afterwards;
# 2. column blocks: each thread takes a share of every other layer's output neurons, the
#    rows ``G[i0:i1] = dZ[:, i0:i1]^T A`` of the weight gradient (one BLAS product on the
#    strided column block, no copy) and those neurons' bias / gamma / beta gradients
#    (column sums in row order).
#
# Every sum runs in a fixed order for a given block count (the loss per row, then over
# rows; column sums over rows; partial gradients in block order), so the same thread
# count gives bitwise the same step. A different count changes how BLAS is called: OpenBLAS computes the entries at
# the edge of a product (its last rows when a dimension is not a multiple of its tile)
# with other kernels, whose rounding depends on the block around them (measured: 1 ulp on
# 378 of 38,400 weight-gradient entries, 300 inputs, 3 blocks against 1), so other thread
# counts agree to rounding (tests/numerics/test_training_parallel.py), as DESIGN.md asks:
# "the same seed and thread count give the same weights".
#: minimum multiply-adds of a step's products (``batch * sum(d * m)``) to use several threads
PAR_MIN_STEP = 1 << 18
#: minimum rows of a row block
MIN_BLOCK_ROWS = 8
#: minimum entries of a flat parameter buffer whose optimizer step runs in parallel
PAR_MIN_OPT = 65536


@njit(**JIT)
def _blocks(nt, work, minimum):
    """Number of parallel blocks for ``work`` on ``nt`` numba threads: 1 (serial) below
    ``minimum`` or on one thread, else ``nt``. (``nt`` comes from the caller:
    ``numba.get_num_threads()`` inside a kernel would make it uncacheable.)"""
    if nt <= 1 or work < minimum:
        return 1
    return nt


@njit(**JIT)
def step_work(sizes, b):
    """Multiply-adds of the forward products of a ``b``-row step."""
    work = 0
    for l in range(sizes.shape[0] - 1):
        work += b * sizes[l] * sizes[l + 1]
    return work


@njit(**JIT)
def row_blocks(nt, b, sizes):
    """Row blocks of phase 1: ``nt`` (at least :data:`MIN_BLOCK_ROWS` rows each) above
    :data:`PAR_MIN_STEP`, else 1."""
    nb = _blocks(nt, step_work(sizes, b), PAR_MIN_STEP)
    return max(1, min(nb, b // MIN_BLOCK_ROWS))


@njit(**JIT)
def _rows(buf, off, width, s0, s1):
    """Rows ``s0:s1`` of the ``(b, width)`` block of ``buf`` at ``off``, as a C-contiguous view
    (a contiguous slice reshaped: the loops over it vectorize)."""
    return buf[off + s0 * width:off + s1 * width].reshape(s1 - s0, width)


@njit(**JIT)
def _forward_rows(s0, s1, sizes, woff, boff, hoff, poff, codes, params, ucodes, weff, bias, acts, pres, norm,
                  phi):
    """Forward pass of batch rows ``s0:s1`` (their inputs in ``acts`` slot 0).

    Fills the hidden pre-activations (``pres``), every layer's input and the output
    (``acts``). Bias add and activation are fused in one loop per layer; a layer with
    a LayerNorm adds the bias, normalizes into ``normed``, then applies the activation.
    GELU layers also fill their rows of ``phi`` (``Phi`` at the activation's input).
    """
    nkind, neps, gamma, beta, ggamma, gbeta, normed, xhat, rstd, zero = norm
    B = rstd.shape[0] // max(sizes.shape[0] - 2, 1)
    L = sizes.shape[0] - 1
    for l in range(L):
        d = sizes[l]
        m = sizes[l + 1]
        A = _rows(acts, hoff[l], d, s0, s1)
        W = weff[woff[l]:woff[l + 1]].reshape(m, d)
        H = _rows(acts, hoff[l + 1], m, s0, s1)
        bl = bias[boff[l]:boff[l + 1]]
        if l == L - 1:
            gemm(False, True, A, W, H, 0.0)
            for s in range(s1 - s0):
                for i in range(m):
                    H[s, i] += bl[i]
            continue
        Z = _rows(pres, poff[l], m, s0, s1)
        P = _rows(phi, poff[l], m, s0, s1) if ucodes[l] == GELU else _rows(phi, 0, 0, 0, 0)
        gemm(False, True, A, W, Z, 0.0)
        cl = codes[boff[l]:boff[l + 1]]
        pl = params[boff[l]:boff[l + 1]]
        if nkind[l] == NORM_LAYER:
            for s in range(s1 - s0):
                for i in range(m):
                    Z[s, i] += bl[i]
            U = _rows(normed, poff[l], m, s0, s1)
            _layer_norm_forward_rows(Z, U, _rows(xhat, poff[l], m, s0, s1), rstd[l * B + s0:l * B + s1],
                                     gamma[boff[l]:boff[l + 1]], beta[boff[l]:boff[l + 1]], neps[l])
            _bias_act_rows(U, H, zero[0:m], cl, pl, ucodes[l], P)
        else:
            _bias_act_rows(Z, H, bl, cl, pl, ucodes[l], P)


@njit(**JIT)
def _output_delta_rows(s0, s1, b, loss_code, F, T, labels, start, perm, D, rowloss):
    """Loss of batch rows ``s0:s1`` (``rowloss``, float64) and their rows of ``D = dL/dF`` for
    the mean over the ``b``-row batch.

    ``F`` and ``D`` are those rows; targets are read through ``perm[start + s]`` (no
    gather copy). MSE: ``sum_k (F - T)^2`` per sample; CE: softmax cross-entropy with
    integer labels.
    """
    o = F.shape[1]
    inv = 1.0 / b
    for s in range(s1 - s0):
        r = perm[start + s0 + s]
        if loss_code == LOSS_MSE:
            acc = 0.0
            for k in range(o):
                e = F[s, k] - T[r, k]
                acc += e * e
                D[s, k] = 2.0 * inv * e
            rowloss[s0 + s] = acc
        else:
            lse = logsumexp_row(F, s)
            y = labels[r]
            rowloss[s0 + s] = lse - F[s, y]
            for k in range(o):
                p = math.exp(F[s, k] - lse)
                D[s, k] = inv * (p - 1.0) if k == y else inv * p


@njit(**JIT)
def _backward_rows(s0, s1, sizes, woff, boff, poff, codes, params, ucodes, weff, pres, dz, du, norm, phi):
    """Backward deltas of batch rows ``s0:s1``: from the output's ``dL/dF`` (in ``dz``'s
    output block) every hidden layer's ``dL/dZ`` into ``dz`` and, for a LayerNorm layer,
    ``dL/dU`` (the gradient at the norm's output) into ``du``."""
    nkind, neps, gamma, beta, ggamma, gbeta, normed, xhat, rstd, zero = norm
    B = rstd.shape[0] // max(sizes.shape[0] - 2, 1)
    L = sizes.shape[0] - 1
    for l in range(L - 1, 0, -1):
        d = sizes[l]
        m = sizes[l + 1]
        k = l - 1
        Dz = _rows(dz, poff[l], m, s0, s1)
        W = weff[woff[l]:woff[l + 1]].reshape(m, d)
        layer_norm = nkind[k] == NORM_LAYER
        Da = _rows(du, poff[k], d, s0, s1) if layer_norm else _rows(dz, poff[k], d, s0, s1)
        if m == 1:
            # a one-neuron layer (e.g. E1's fixed output sum): the product is an outer
            # product; one multiplication per entry, as BLAS's (bitwise), without its call
            for s in range(s1 - s0):
                for j in range(d):
                    Da[s, j] = Dz[s, 0] * W[0, j]
        else:
            gemm(False, False, Dz, W, Da, 0.0)
        cl = codes[boff[k]:boff[l]]
        pl = params[boff[k]:boff[l]]
        P = _rows(phi, poff[k], d, s0, s1) if ucodes[k] == GELU else _rows(phi, 0, 0, 0, 0)
        if layer_norm:
            _dact_rows(Da, _rows(normed, poff[k], d, s0, s1), cl, pl, ucodes[k], P)
            _layer_norm_backward_rows(Da, _rows(xhat, poff[k], d, s0, s1), rstd[k * B + s0:k * B + s1],
                                      gamma[boff[k]:boff[l]], _rows(dz, poff[k], d, s0, s1))
        else:
            _dact_rows(Da, _rows(pres, poff[k], d, s0, s1), cl, pl, ucodes[k], P)


# Small layers (at most ROW_GRAD_MAX weights, no LayerNorm: E1's whole network, the paper's
# output layer) get their gradients in the row blocks, as one partial product per block
# summed afterwards in block order: moving a block's rows to the thread that owns the
# layer's neurons cost more than these products (E1 float32, 2 threads: the two phases
# took 39 + 19 us alone, 88 us one after the other).
#: largest weight block (``m * d`` entries) whose gradient is formed in the row blocks
ROW_GRAD_MAX = 1 << 16


@njit(**JIT)
def _small_layers(sizes, nkind):
    """``(small, woff, boff)``: the layers whose gradients are formed in the row blocks, and
    the offsets of their weights / biases in the per-block partial buffers."""
    L = sizes.shape[0] - 1
    small = np.zeros(L, dtype=np.bool_)
    swoff = np.zeros(L + 1, dtype=np.int64)
    sboff = np.zeros(L + 1, dtype=np.int64)
    for l in range(L):
        m = sizes[l + 1]
        small[l] = sizes[l] * m <= ROW_GRAD_MAX and (l == L - 1 or nkind[l] != NORM_LAYER)
        swoff[l + 1] = swoff[l] + (sizes[l] * m if small[l] else 0)
        sboff[l + 1] = sboff[l] + (m if small[l] else 0)
    return small, swoff, sboff


@njit(**JIT)
def _partial_grads(c, s0, s1, sizes, hoff, poff, acts, dz, small, wgrad, pw, pb):
    """Block ``c``'s share of the small layers' gradients: ``pw[c]`` (their weights, packed
    by ``small``'s offsets) ``= dZ_c^T A_c`` and ``pb[c]`` the column sums of ``dZ_c``."""
    layers, swoff, sboff = small
    for l in range(layers.shape[0]):
        if not layers[l]:
            continue
        d = sizes[l]
        m = sizes[l + 1]
        Dz = _rows(dz, poff[l], m, s0, s1)
        if wgrad[l]:
            gemm(True, False, Dz, _rows(acts, hoff[l], d, s0, s1), pw[c, swoff[l]:swoff[l + 1]].reshape(m, d), 0.0)
        _column_sums(Dz, 0, m, pb[c, sboff[l]:sboff[l + 1]])


@njit(**JIT)
def _add_blocks(partials, off, out):
    """``out[j] = sum_c partials[c, off + j]``, the blocks added in block order."""
    for j in range(out.shape[0]):
        out[j] = partials[0, off + j]
    for c in range(1, partials.shape[0]):
        for j in range(out.shape[0]):
            out[j] += partials[c, off + j]


@njit(**JIT)
def _sum_partial_grads(woff, boff, small, wgrad, pw, pb, gw, gb):
    """The small layers' gradients: the blocks' partial sums added in block order."""
    layers, swoff, sboff = small
    for l in range(layers.shape[0]):
        if not layers[l]:
            continue
        if wgrad[l]:
            _add_blocks(pw, swoff[l], gw[woff[l]:woff[l + 1]])
        _add_blocks(pb, sboff[l], gb[boff[l]:boff[l + 1]])


# The column sums accumulate into a fresh local array: LLVM then knows it aliases nothing
# and vectorizes over the columns (summing into a slice of the gradient buffer directly ran
# scalar, 30 us against 3.5 us for E1's 512 x 128 float32 block).
@njit(**JIT)
def _column_sums(D, i0, i1, out):
    """``out[i - i0] = sum_s D[s, i]`` for columns ``i0:i1`` of the C-contiguous ``D``, in
    row order (in ``D``'s dtype)."""
    acc = np.zeros(i1 - i0, dtype=D.dtype)
    for s in range(D.shape[0]):
        row = D[s, i0:i1]
        for i in range(i1 - i0):
            acc[i] += row[i]
    for i in range(i1 - i0):
        out[i] = acc[i]


@njit(**JIT)
def _norm_column_sums(D, Xh, i0, i1, sums, product_sums):
    """For columns ``i0:i1``, in row order and one pass: ``sums`` = the sums of ``D``
    (``dL/dbeta`` from ``dL/dU``) and ``product_sums`` those of ``D * Xh`` (``dL/dgamma``)."""
    acc = np.zeros(i1 - i0, dtype=D.dtype)
    pacc = np.zeros(i1 - i0, dtype=D.dtype)
    for s in range(D.shape[0]):
        row = D[s, i0:i1]
        other = Xh[s, i0:i1]
        for i in range(i1 - i0):
            acc[i] += row[i]
            pacc[i] += row[i] * other[i]
    for i in range(i1 - i0):
        sums[i] = acc[i]
        product_sums[i] = pacc[i]


@njit(**JIT)
def _grads_chunk(t, nc, b, sizes, woff, boff, hoff, poff, acts, dz, du, gw, gb, norm, wgrad, small):
    """Phase 2 of a step, share ``t`` of ``nc``: output neurons ``i0:i1 = t*m//nc :
    (t+1)*m//nc`` of every layer get their weight-gradient rows ``dZ[:, i0:i1]^T A``
    (layers with ``wgrad[l]``; the others' blocks are left as they are), bias gradients
    and, for LayerNorm layers, ``dL/dbeta`` (sums of ``dL/dU``) and ``dL/dgamma`` (sums of
    ``dL/dU * xhat``)."""
    nkind, neps, gamma, beta, ggamma, gbeta, normed, xhat, rstd, zero = norm
    L = sizes.shape[0] - 1
    for l in range(L):
        d = sizes[l]
        m = sizes[l + 1]
        i0 = t * m // nc
        i1 = (t + 1) * m // nc
        if i0 == i1 or small[l]:
            continue
        Dz = _rows(dz, poff[l], m, 0, b)
        if wgrad[l]:
            G = gw[woff[l]:woff[l + 1]].reshape(m, d)
            gemm(True, False, Dz[:, i0:i1], _rows(acts, hoff[l], d, 0, b), G[i0:i1], 0.0)
        _column_sums(Dz, i0, i1, gb[boff[l] + i0:boff[l] + i1])
        if l < L - 1 and nkind[l] == NORM_LAYER:
            _norm_column_sums(_rows(du, poff[l], m, 0, b), _rows(xhat, poff[l], m, 0, b), i0, i1,
                              gbeta[boff[l] + i0:boff[l] + i1], ggamma[boff[l] + i0:boff[l] + i1])


@njit(**PRANGE_JIT)
def _forward_backward(X, T, labels, perm, start, b, loss_code, sizes, woff, boff, hoff, poff, codes, params,
                      ucodes, weff, bias, gw, gb, acts, pres, dz, du, rowloss, norm, phi, nt, wgrad):
    """Loss (summed over the batch) and the gradients of the batch-mean loss.

    ``gw`` receives ``dL/dW_eff`` (the caller masks it) of the layers with ``wgrad[l]``
    (the others' blocks are left as they are: training skips the product for a layer
    without a trainable weight, e.g. E1's fixed output sum), ``gb`` ``dL/db``, and for
    LayerNorm layers ``norm``'s ``ggamma``/``gbeta`` their gradients. The batch is
    rows ``perm[start:start + b]`` of ``X`` (``T`` or ``labels`` for the targets). Runs
    on ``nt`` numba threads in two parallel loops, row blocks then column blocks (see
    above); BLAS must be on one thread.
    """
    small = _small_layers(sizes, norm[0])
    layers, swoff, sboff = small
    nb = row_blocks(nt, b, sizes)
    pw = np.empty((nb, swoff[-1]), dtype=gw.dtype)
    pb = np.empty((nb, sboff[-1]), dtype=gb.dtype)
    d0 = sizes[0]
    L = sizes.shape[0] - 1
    o = sizes[L]
    # phase 1, block c = rows s0:s1: gather, forward, loss, deltas, the small layers' partial
    # gradients (one block runs through the parallel loop too: one compiled step, no serial twin)
    for i in prange(nb):
        c = np.int64(i)  # one type for the block index (prange's may be unsigned)
        s0 = c * b // nb
        s1 = (c + 1) * b // nb
        A0 = _rows(acts, 0, d0, s0, s1)
        for s in range(s1 - s0):
            r = perm[start + s0 + s]
            for j in range(d0):
                A0[s, j] = X[r, j]
        _forward_rows(s0, s1, sizes, woff, boff, hoff, poff, codes, params, ucodes, weff, bias, acts, pres, norm,
                      phi)
        _output_delta_rows(s0, s1, b, loss_code, _rows(acts, hoff[L], o, s0, s1), T, labels, start, perm,
                           _rows(dz, poff[L - 1], o, s0, s1), rowloss)
        _backward_rows(s0, s1, sizes, woff, boff, poff, codes, params, ucodes, weff, pres, dz, du, norm, phi)
        _partial_grads(c, s0, s1, sizes, hoff, poff, acts, dz, small, wgrad, pw, pb)
    total = 0.0
    for s in range(b):
        total += rowloss[s]
    _sum_partial_grads(woff, boff, small, wgrad, pw, pb, gw, gb)
    if np.all(layers):
        return total
    nc = _blocks(nt, step_work(sizes, b), PAR_MIN_STEP)
    for t in prange(nc):
        _grads_chunk(np.int64(t), nc, b, sizes, woff, boff, hoff, poff, acts, dz, du, gw, gb, norm, wgrad, layers)
    return total


# error_model="numpy": the only division's denominator is sqrt(v) / sqrt(bc2) + eps >= eps > 0,
# so the ZeroDivisionError check of the default (Python) error model can never fire; without
# it LLVM vectorizes the loop (measured 4-7x faster at paper size, same IEEE operations).
@njit(error_model="numpy", **JIT)
def _adamw_serial(theta, grad, mask, fixed, weff, m1, m2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt):
    """One AdamW update, entries with ``mask == 0`` untouched. Follows
    ``torch.optim.AdamW`` (single-tensor path): decay first, then
    ``theta -= step_size * m / (sqrt(v) / sqrt(bc2) + eps)``."""
    decay = 1.0 - lr * wd
    has_weff = weff.shape[0] != 0
    for j in range(theta.shape[0]):
        # computed for every entry, stored only where mask == 1 (masked stores, not a
        # branch around the arithmetic, so the loop vectorizes)
        g = grad[j]
        th = theta[j] * decay
        mj = beta1 * m1[j] + (1.0 - beta1) * g
        vj = beta2 * m2[j] + (1.0 - beta2) * g * g
        th = th - step_size * (mj / (math.sqrt(vj) / bc2_sqrt + eps))
        if mask[j] != 0.0:
            m1[j] = mj
            m2[j] = vj
            theta[j] = th
            if has_weff:
                weff[j] = theta[j] + fixed[j]


@njit(**JIT)
def _sgd_serial(theta, grad, mask, fixed, weff, buf, lr, wd, momentum):
    """One SGD update like ``torch.optim.SGD(momentum, dampening=0, nesterov=False)``
    with L2 ``wd * theta`` added to the gradient; entries with ``mask == 0`` untouched."""
    has_weff = weff.shape[0] != 0
    for j in range(theta.shape[0]):
        if mask[j] == 0.0:
            continue
        g = grad[j] + wd * theta[j]
        if momentum != 0.0:
            g = momentum * buf[j] + g
            buf[j] = g
        theta[j] = theta[j] - lr * g
        if has_weff:
            weff[j] = theta[j] + fixed[j]


@njit(**PRANGE_JIT)
def _update(opt_code, theta, grad, mask, fixed, weff, s1, s2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt,
            momentum, nt):
    """One optimizer step of a flat buffer: AdamW (:func:`_adamw_serial`; ``s1``/``s2`` the
    moments) or SGD (:func:`_sgd_serial`; ``s1`` the momentum buffer, the AdamW arguments
    unused). Elementwise, so blocks of the buffer run in parallel above ``PAR_MIN_OPT``
    entries (same result). Where ``weff`` is not empty, the updated entries also get
    ``weff = theta + fixed`` (the effective weights); pass empty ``fixed`` and ``weff`` for
    buffers without them. (Not a boolean flag: the callers' constant ``True`` / ``False``
    made numba compile every optimizer kernel twice per dtype.) Both optimizers share one
    kernel: each parallel loop costs a compiled gufunc and its wrappers.
    """
    nb = _blocks(nt, theta.shape[0], PAR_MIN_OPT)
    if nb <= 1:
        if opt_code == OPT_ADAMW:
            _adamw_serial(theta, grad, mask, fixed, weff, s1, s2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt)
        else:
            _sgd_serial(theta, grad, mask, fixed, weff, s1, lr, wd, momentum)
        return
    n = theta.shape[0]
    for c in prange(nb):
        j0 = c * n // nb
        j1 = (c + 1) * n // nb
        if opt_code == OPT_ADAMW:
            _adamw_serial(theta[j0:j1], grad[j0:j1], mask[j0:j1], fixed[j0:j1], weff[j0:j1], s1[j0:j1], s2[j0:j1],
                          lr, wd, beta1, beta2, eps, step_size, bc2_sqrt)
        else:
            _sgd_serial(theta[j0:j1], grad[j0:j1], mask[j0:j1], fixed[j0:j1], weff[j0:j1], s1[j0:j1], lr, wd,
                        momentum)


@njit(**JIT)
def train_epochs(X, T, labels, perms, batch_size, loss_code, opt_code, sizes, woff, boff, hoff, poff, codes,
                 params, ucodes, theta, mask, fixed, weff, bias, bmask, gw, gb, s1w, s2w, s1b, s2b, acts, pres, dz, du,
                 rowloss, hyper, step0, norm, gmask, s1n, s2n, phi, nt, totals):
    """Minibatch training, one epoch per row of ``perms`` (the epoch's order of the rows
    of ``X``); ``totals[e]`` receives the sum over samples of the loss seen during epoch
    ``e`` (each batch at the parameters before its step). One call for several epochs
    saves the per-call dispatch of some 40 arguments (measured ~10% of an E1 run).

    ``norm`` as in the module docstring; ``gmask`` (1 where ``gamma``/``beta`` are
    trainable) and ``s1n``/``s2n`` (optimizer state of ``gamma`` then ``beta``, each
    ``2 * len(gamma)``) train the LayerNorm parameters like biases (decay ``bias_decay``).

    ``hyper`` (float64) = ``[lr, weight_decay, bias_decay, beta1, beta2, eps,
    momentum]``; ``step0`` is the number of optimizer steps taken before the first epoch;
    ``phi`` the GELU work buffer (``poff`` layout, or empty without GELU layers);
    ``nt`` the numba thread count (``numba.get_num_threads()``) for the parallel kernels
    (AdamW bias correction). Updates ``theta``, ``weff``, ``bias`` and the optimizer
    state (``s1*``: first moment / momentum buffer, ``s2*``: second moment) in place.
    """
    n = perms.shape[1]
    lr = hyper[0]
    wd = hyper[1]
    bd = hyper[2]
    beta1 = hyper[3]
    beta2 = hyper[4]
    eps = hyper[5]
    momentum = hyper[6]
    gamma = norm[2]
    beta = norm[3]
    ggamma = norm[4]
    gbeta = norm[5]
    nn = gamma.shape[0]
    none = bias[:0]  # the biases and LayerNorm parameters have no effective-weight copy
    L = sizes.shape[0] - 1
    wgrad = np.zeros(L, dtype=np.bool_)  # layers with a trainable weight entry
    for l in range(L):
        for j in range(woff[l], woff[l + 1]):
            if mask[j] != 0.0:
                wgrad[l] = True
                break
    step = step0
    for e in range(perms.shape[0]):
        perm = perms[e]
        total = 0.0
        start = n - n  # not the constant 0: see loss_grad (one compile of the step, not two)
        while start < n:
            b = min(batch_size, n - start)
            total += _forward_backward(X, T, labels, perm, start, b, loss_code, sizes, woff, boff, hoff, poff,
                                       codes, params, ucodes, weff, bias, gw, gb, acts, pres, dz, du, rowloss, norm,
                                       phi, nt, wgrad)
            step += 1
            step_size = 0.0
            bc2_sqrt = 0.0
            if opt_code == OPT_ADAMW:
                bc1 = 1.0 - beta1 ** step
                bc2 = 1.0 - beta2 ** step
                step_size = lr / bc1
                bc2_sqrt = math.sqrt(bc2)
            _update(opt_code, theta, gw, mask, fixed, weff, s1w, s2w, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt,
                    momentum, nt)
            _update(opt_code, bias, gb, bmask, none, none, s1b, s2b, lr, bd, beta1, beta2, eps, step_size, bc2_sqrt,
                    momentum, nt)
            _update(opt_code, gamma, ggamma, gmask, none, none, s1n[:nn], s2n[:nn], lr, bd, beta1, beta2, eps,
                    step_size, bc2_sqrt, momentum, nt)
            _update(opt_code, beta, gbeta, gmask, none, none, s1n[nn:], s2n[nn:], lr, bd, beta1, beta2, eps,
                    step_size, bc2_sqrt, momentum, nt)
            start += b
        totals[e] = total


@njit(**JIT)
def loss_grad(X, T, labels, loss_code, sizes, woff, boff, hoff, poff, codes, params, ucodes, weff, bias, gw, gb,
              acts, pres, dz, du, rowloss, norm, phi, nt):
    """Full-batch mean loss and gradients (``gw`` w.r.t. the effective weights); ``nt``
    numba threads for the parallel kernels."""
    n = X.shape[0]
    perm = np.arange(n)
    wgrad = np.ones(sizes.shape[0] - 1, dtype=np.bool_)
    # start as a computed zero, not a constant: numba specializes on constant arguments
    # (``0`` and ``np.int64(0)`` are both typed Literal[int](0)), and the constant
    # compiled the whole step a second time per dtype
    start = n - n
    total = _forward_backward(X, T, labels, perm, start, n, loss_code, sizes, woff, boff, hoff, poff, codes, params,
                              ucodes, weff, bias, gw, gb, acts, pres, dz, du, rowloss, norm, phi, nt, wgrad)
    return total / n

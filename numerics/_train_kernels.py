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
- ``d1``, ``d2``: two ping-pong buffers of ``B * max(sizes)`` for ``dL/dZ`` and
  ``dL/dA``.

LayerNorm (THEORY N1) after hidden layer ``l`` when ``nkind[l] == NORM_LAYER``: the
``norm`` tuple ``(nkind, neps, gamma, beta, ggamma, gbeta, normed, xhat, rstd, zero)``
carries per-layer kinds and eps, ``gamma``/``beta`` and their gradients (flat, ``boff``
layout), the normalized ``u`` that enters the activation (``normed``, ``poff`` layout),
``xhat = (z - mean) * rstd`` and ``rstd = 1 / sqrt(var + eps)`` per sample (``l * B``),
and a zero vector (the bias of the fused activation loop applied to ``u``).

The batched matrix products use ``np.dot`` (BLAS) on contiguous operands; the
elementwise kernels (transcendental activations, LayerNorm, optimizer steps) run
row-parallel on ``nt`` numba threads above a size threshold (see "row-parallel
dispatch"), each entry by the same expression as the serial loop and every reduction
serial, so the result is a deterministic function of the inputs for a given BLAS
thread count, whatever ``nt``.
(Length: each elementwise kernel comes as a serial loop plus a thin ``prange`` wrapper
over row blocks; keeping the pairs next to the forward/backward passes that call them
makes the module longer than about 600 lines but keeps one concept in one place.)

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

from ._config import JIT
from ._fast_math import FAST_JIT, gelu_ndtr_like, normal_pdf_like
from .losses import logsumexp_row
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
# A uniform layer calls _act / _dact with a *literal* code in each branch below: after
# inlining, LLVM folds the catalogue's branch chain away and vectorizes the loop (about
# 10x faster for relu than dispatching on the code per element). Mixed layers
# (sigma-asymmetric) dispatch per neuron.
@njit(inline="always")
def _bias_act_loop(Z, H, bl, code, param):
    b, m = Z.shape
    for s in range(b):
        for i in range(m):
            z = Z[s, i] + bl[i]
            Z[s, i] = z
            H[s, i] = _act(code, param, z)


@njit(inline="always")
def _dact_loop(D, Z, code, param, sums, with_sums):
    b, m = Z.shape
    if with_sums:
        # fused with the column sums (one pass instead of two; the sums read the stored
        # entries in row order, so they are bitwise those of _column_sums)
        for i in range(m):
            sums[i] = 0.0
        for s in range(b):
            for i in range(m):
                D[s, i] = D[s, i] * _dact(code, param, Z[s, i])
                sums[i] += D[s, i]
    else:
        for s in range(b):
            for i in range(m):
                D[s, i] = D[s, i] * _dact(code, param, Z[s, i])


@njit(**FAST_JIT)
def _bias_act_serial(Z, H, bl, cl, pl, ucode):
    """``Z += bias`` and ``H = sigma(Z)`` for one hidden layer (rows = samples)."""
    p = pl[0]
    if ucode == RELU:
        _bias_act_loop(Z, H, bl, RELU, p)
    elif ucode == LEAKY_RELU:
        _bias_act_loop(Z, H, bl, LEAKY_RELU, p)
    elif ucode == GELU:
        _bias_act_loop(Z, H, bl, GELU, p)
    elif ucode == TANH:
        _bias_act_loop(Z, H, bl, TANH, p)
    elif ucode == SIGMOID:
        _bias_act_loop(Z, H, bl, SIGMOID, p)
    elif ucode == SOFTPLUS:
        _bias_act_loop(Z, H, bl, SOFTPLUS, p)
    elif ucode == ELU:
        _bias_act_loop(Z, H, bl, ELU, p)
    elif ucode == SILU:
        _bias_act_loop(Z, H, bl, SILU, p)
    elif ucode == HARD_TANH:
        _bias_act_loop(Z, H, bl, HARD_TANH, p)
    elif ucode == IDENTITY:
        _bias_act_loop(Z, H, bl, IDENTITY, p)
    else:
        b, m = Z.shape
        for s in range(b):
            for i in range(m):
                z = Z[s, i] + bl[i]
                Z[s, i] = z
                H[s, i] = _act(cl[i], pl[i], z)


@njit(**FAST_JIT)
def _dact_serial(D, Z, cl, pl, ucode, sums, with_sums):
    """``D *= sigma'(Z)`` (``dL/dA`` -> ``dL/dZ``), rows = samples; with ``with_sums``
    also ``sums`` = the column sums of the new ``D`` (the bias gradient)."""
    p = pl[0]
    if ucode == RELU:
        _dact_loop(D, Z, RELU, p, sums, with_sums)
    elif ucode == LEAKY_RELU:
        _dact_loop(D, Z, LEAKY_RELU, p, sums, with_sums)
    elif ucode == GELU:
        _dact_loop(D, Z, GELU, p, sums, with_sums)
    elif ucode == TANH:
        _dact_loop(D, Z, TANH, p, sums, with_sums)
    elif ucode == SIGMOID:
        _dact_loop(D, Z, SIGMOID, p, sums, with_sums)
    elif ucode == SOFTPLUS:
        _dact_loop(D, Z, SOFTPLUS, p, sums, with_sums)
    elif ucode == ELU:
        _dact_loop(D, Z, ELU, p, sums, with_sums)
    elif ucode == SILU:
        _dact_loop(D, Z, SILU, p, sums, with_sums)
    elif ucode == HARD_TANH:
        _dact_loop(D, Z, HARD_TANH, p, sums, with_sums)
    elif ucode == IDENTITY:
        _dact_loop(D, Z, IDENTITY, p, sums, with_sums)
    else:
        b, m = Z.shape
        for s in range(b):
            for i in range(m):
                D[s, i] = D[s, i] * _dact(cl[i], pl[i], Z[s, i])
        if with_sums:
            _column_sums(D, sums)


# GELU keeps Phi(z) from the forward pass (``phi`` buffer in the ``poff`` layout, the
# parameter dtype; one tail evaluation gives both, _fast_math.gelu_ndtr_like: the float32
# kernels for float32 training, the float64 ones otherwise) so the backward pass
# needs only the normal density. In float64 the values are bitwise those of
# activations._act / _dact (the same _fast_math functions); in float32 those of the float32
# kernels (tested against mpmath in float32 ulps). The loops vectorize (FAST_JIT).
@njit(**FAST_JIT)
def _bias_gelu_serial(Z, H, bl, P):
    """``Z += bias``, ``H = gelu(Z)`` and ``P = Phi(Z)`` (rows = samples)."""
    b, m = Z.shape
    for s in range(b):
        for i in range(m):
            z = Z[s, i] + bl[i]
            Z[s, i] = z
            g, phi = gelu_ndtr_like(z)
            P[s, i] = phi
            H[s, i] = g


@njit(**FAST_JIT)
def _dgelu_serial(D, Z, P, sums, with_sums):
    """``D *= gelu'(Z)`` with ``Phi(Z)`` read from ``P`` (``with_sums``: and ``sums`` =
    the column sums of the new ``D``, as ``_dact_loop``)."""
    b, m = Z.shape
    if with_sums:
        for i in range(m):
            sums[i] = 0.0
    for s in range(b):
        for i in range(m):
            z = Z[s, i]
            D[s, i] = D[s, i] * (P[s, i] + z * normal_pdf_like(z))
        if with_sums:
            for i in range(m):
                sums[i] += D[s, i]


@njit(**JIT)
def _phi_view(phi, ucode, off, b, m):
    """Layer's ``(b, m)`` block of the ``phi`` buffer for a GELU layer, else an empty array."""
    if ucode == GELU:
        return phi[off:off + b * m].reshape(b, m)
    return phi[0:0].reshape(0, 0)


# --- row-parallel dispatch ---------------------------------------------------------------------
# The batched matrix products go to BLAS (``np.dot``), which is already multi-threaded. What
# is left is elementwise: activations and their derivatives, LayerNorm, the optimizer step.
# A transcendental activation costs tens of ns per entry, so at paper size (128 x 512 per
# layer) these loops dominate an epoch once BLAS runs on 2 threads; they run row-parallel
# (``prange`` over blocks of rows or of the flat parameter buffer). Every entry is computed
# by the same expression in either path and no reduction is split across threads (column
# sums stay serial, in row order), so the result is bitwise identical for any numba thread
# count. Cheap loops (relu, small layers, E1-size parameter buffers) stay serial: a
# parallel region costs a few microseconds to start and far more on a busy machine.
#: minimum entries of a transcendental activation / LayerNorm kernel run in parallel
PAR_MIN_ACT = 4096
#: minimum entries of a flat parameter buffer whose optimizer step runs in parallel
PAR_MIN_OPT = 65536
#: activations whose kernels are cheap enough to stay serial at any size (memory bound)
_CHEAP = (RELU, LEAKY_RELU, IDENTITY, HARD_TANH)


@njit(**JIT)
def _blocks(nt, work, minimum):
    """Number of parallel blocks for ``work`` entries on ``nt`` numba threads: 1 (serial)
    below ``minimum`` or on one thread, else ``nt``. (``nt`` comes from the caller:
    ``numba.get_num_threads()`` inside a kernel would make it uncacheable.)"""
    if nt <= 1 or work < minimum:
        return 1
    return nt


@njit(**JIT)
def _bias_act_rows(Z, H, bl, cl, pl, ucode, P):
    if ucode == GELU:
        _bias_gelu_serial(Z, H, bl, P)
    else:
        _bias_act_serial(Z, H, bl, cl, pl, ucode)


@njit(parallel=True, **JIT)
def _bias_act_parallel(Z, H, bl, cl, pl, ucode, P, nb):
    b = Z.shape[0]
    for c in prange(nb):
        s0 = c * b // nb
        s1 = (c + 1) * b // nb
        _bias_act_rows(Z[s0:s1], H[s0:s1], bl, cl, pl, ucode, P[s0:s1])


@njit(**JIT)
def _bias_act(Z, H, bl, cl, pl, ucode, P, nt):
    """``Z += bias`` and ``H = sigma(Z)`` (GELU: also ``P = Phi(Z)``), row-parallel for
    transcendental activations."""
    nb = 1
    if ucode not in _CHEAP:
        nb = min(_blocks(nt, Z.size, PAR_MIN_ACT), Z.shape[0])
    if nb <= 1:
        _bias_act_rows(Z, H, bl, cl, pl, ucode, P)
    else:
        _bias_act_parallel(Z, H, bl, cl, pl, ucode, P, nb)


@njit(**JIT)
def _dact_rows(D, Z, cl, pl, ucode, P, sums, with_sums):
    if ucode == GELU:
        _dgelu_serial(D, Z, P, sums, with_sums)
    else:
        _dact_serial(D, Z, cl, pl, ucode, sums, with_sums)


@njit(parallel=True, **JIT)
def _dact_parallel(D, Z, cl, pl, ucode, P, nb):
    b = Z.shape[0]
    for c in prange(nb):
        s0 = c * b // nb
        s1 = (c + 1) * b // nb
        _dact_rows(D[s0:s1], Z[s0:s1], cl, pl, ucode, P[s0:s1], pl[0:0], False)


@njit(**JIT)
def _column_sums(D, out):
    """``out[i] = sum_s D[s, i]`` in row order (serial: the same order on any thread count)."""
    b, m = D.shape
    for i in range(m):
        out[i] = 0.0
    for s in range(b):
        for i in range(m):
            out[i] += D[s, i]


@njit(**JIT)
def _dact_bias_grad(D, Z, gbl, cl, pl, ucode, P, nt):
    """``D *= sigma'(Z)`` (``dL/dA`` -> ``dL/dZ``, row-parallel for transcendental
    activations; GELU reads ``Phi(Z)`` from ``P``) and ``gbl = column sums of D``."""
    nb = 1
    if ucode not in _CHEAP:
        nb = min(_blocks(nt, Z.size, PAR_MIN_ACT), Z.shape[0])
    if nb <= 1:
        _dact_rows(D, Z, cl, pl, ucode, P, gbl, True)
    else:
        _dact_parallel(D, Z, cl, pl, ucode, P, nb)
        _column_sums(D, gbl)


@njit(**JIT)
def _layer_norm_forward_rows(Z, U, Xh, rs, gl, bel, eps):
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


@njit(parallel=True, **JIT)
def _layer_norm_forward_parallel(Z, U, Xh, rs, gl, bel, eps, nb):
    b = Z.shape[0]
    for c in prange(nb):
        s0 = c * b // nb
        s1 = (c + 1) * b // nb
        _layer_norm_forward_rows(Z[s0:s1], U[s0:s1], Xh[s0:s1], rs[s0:s1], gl, bel, eps)


@njit(**JIT)
def _layer_norm_forward(Z, U, Xh, rs, gl, bel, eps, nt):
    """``U = gamma * xhat + beta`` with ``xhat = (Z - mean) * rstd`` per row (biased
    variance, as PyTorch); keeps ``xhat`` and ``rstd`` for the backward pass. Rows are
    independent: row-parallel above ``PAR_MIN_ACT`` entries."""
    nb = min(_blocks(nt, Z.size, PAR_MIN_ACT), Z.shape[0])
    if nb <= 1:
        _layer_norm_forward_rows(Z, U, Xh, rs, gl, bel, eps)
    else:
        _layer_norm_forward_parallel(Z, U, Xh, rs, gl, bel, eps, nb)


@njit(**JIT)
def _layer_norm_backward_rows(D, Xh, rs, gl):
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
            D[s, i] = r * (gl[i] * D[s, i] - mg - Xh[s, i] * mgx)


@njit(parallel=True, **JIT)
def _layer_norm_backward_parallel(D, Xh, rs, gl, nb):
    b = D.shape[0]
    for c in prange(nb):
        s0 = c * b // nb
        s1 = (c + 1) * b // nb
        _layer_norm_backward_rows(D[s0:s1], Xh[s0:s1], rs[s0:s1], gl)


@njit(**JIT)
def _layer_norm_backward(D, Xh, rs, gl, ggl, nt):
    """``D``: ``dL/dU`` in, ``dL/dZ`` out (in place). ``ggl`` receives the column sums
    of ``dL/dU * xhat`` (``dL/dgamma``, serial in row order; ``dL/dbeta``, the column
    sums of ``dL/dU``, come from the activation step). ``dZ = rstd * (g - mean(g) -
    xhat * mean(g * xhat))`` with ``g = gamma * dL/dU``, row-parallel."""
    b, m = D.shape
    for i in range(m):
        ggl[i] = 0.0
    for s in range(b):
        for i in range(m):
            ggl[i] += D[s, i] * Xh[s, i]
    nb = min(_blocks(nt, D.size, PAR_MIN_ACT), b)
    if nb <= 1:
        _layer_norm_backward_rows(D, Xh, rs, gl)
    else:
        _layer_norm_backward_parallel(D, Xh, rs, gl, nb)


@njit(**JIT)
def _forward(b, sizes, woff, boff, hoff, poff, codes, params, ucodes, weff, bias, acts, pres, norm, phi, nt):
    """Forward pass of the first ``b`` rows held in ``acts`` slot 0.

    Fills the hidden pre-activations (``pres``), every layer's input and the output
    (``acts``). Bias add and activation are fused in one loop per layer; a layer with
    a LayerNorm adds the bias, normalizes into ``normed``, then applies the activation.
    GELU layers also fill their block of ``phi`` (``Phi`` at the activation's input).
    """
    nkind, neps, gamma, beta, ggamma, gbeta, normed, xhat, rstd, zero = norm
    B = rstd.shape[0] // max(sizes.shape[0] - 2, 1)
    L = sizes.shape[0] - 1
    for l in range(L):
        d = sizes[l]
        m = sizes[l + 1]
        A = acts[hoff[l]:hoff[l] + b * d].reshape(b, d)
        W = weff[woff[l]:woff[l + 1]].reshape(m, d)
        H = acts[hoff[l + 1]:hoff[l + 1] + b * m].reshape(b, m)
        bl = bias[boff[l]:boff[l + 1]]
        if l == L - 1:
            np.dot(A, W.T, H)
            for s in range(b):
                for i in range(m):
                    H[s, i] += bl[i]
        else:
            Z = pres[poff[l]:poff[l] + b * m].reshape(b, m)
            P = _phi_view(phi, ucodes[l], poff[l], b, m)
            np.dot(A, W.T, Z)
            if nkind[l] == NORM_LAYER:
                for s in range(b):
                    for i in range(m):
                        Z[s, i] += bl[i]
                U = normed[poff[l]:poff[l] + b * m].reshape(b, m)
                _layer_norm_forward(Z, U, xhat[poff[l]:poff[l] + b * m].reshape(b, m), rstd[l * B:l * B + b],
                                    gamma[boff[l]:boff[l + 1]], beta[boff[l]:boff[l + 1]], neps[l], nt)
                _bias_act(U, H, zero[0:m], codes[boff[l]:boff[l + 1]], params[boff[l]:boff[l + 1]], ucodes[l], P, nt)
            else:
                _bias_act(Z, H, bl, codes[boff[l]:boff[l + 1]], params[boff[l]:boff[l + 1]], ucodes[l], P, nt)


@njit(**JIT)
def _output_delta(b, loss_code, F, T, labels, start, perm, D):
    """Loss summed over the batch (float64) and ``D = dL/dF`` for the batch mean.

    Targets are read through ``perm[start + s]`` (no gather copy). MSE: ``sum_k
    (F - T)^2`` per sample; CE: softmax cross-entropy with integer labels.
    """
    o = F.shape[1]
    inv = 1.0 / b
    total = 0.0
    if loss_code == LOSS_MSE:
        for s in range(b):
            r = perm[start + s]
            acc = 0.0
            for k in range(o):
                e = F[s, k] - T[r, k]
                acc += e * e
                D[s, k] = 2.0 * inv * e
            total += acc
    else:
        for s in range(b):
            r = perm[start + s]
            lse = logsumexp_row(F, s)
            y = labels[r]
            total += lse - F[s, y]
            for k in range(o):
                p = math.exp(F[s, k] - lse)
                D[s, k] = inv * (p - 1.0) if k == y else inv * p
    return total


@njit(**JIT)
def _forward_backward(X, T, labels, perm, start, b, loss_code, sizes, woff, boff, hoff, poff, codes, params,
                      ucodes, weff, bias, gw, gb, acts, pres, d1, d2, norm, phi, nt, wgrad):
    """Loss (summed over the batch) and the gradients of the batch-mean loss.

    ``gw`` receives ``dL/dW_eff`` (the caller masks it) of the layers with ``wgrad[l]``
    (the others' blocks are left as they are: training skips the product for a layer
    without a trainable weight, e.g. E1's fixed output sum), ``gb`` ``dL/db``, and for
    LayerNorm layers ``norm``'s ``ggamma``/``gbeta`` their gradients. The batch is
    rows ``perm[start:start + b]`` of ``X`` (``T`` or ``labels`` for the targets).
    """
    nkind, neps, gamma, beta, ggamma, gbeta, normed, xhat, rstd, zero = norm
    B = rstd.shape[0] // max(sizes.shape[0] - 2, 1)
    L = sizes.shape[0] - 1
    d0 = sizes[0]
    A0 = acts[0:b * d0].reshape(b, d0)
    for s in range(b):
        r = perm[start + s]
        for j in range(d0):
            A0[s, j] = X[r, j]
    _forward(b, sizes, woff, boff, hoff, poff, codes, params, ucodes, weff, bias, acts, pres, norm, phi, nt)
    o = sizes[L]
    F = acts[hoff[L]:hoff[L] + b * o].reshape(b, o)
    D = d1[0:b * o].reshape(b, o)
    total = _output_delta(b, loss_code, F, T, labels, start, perm, D)
    gbl = gb[boff[L - 1]:boff[L]]
    for k in range(o):
        gbl[k] = 0.0
    for s in range(b):
        for k in range(o):
            gbl[k] += D[s, k]
    cur = d1
    nxt = d2
    for l in range(L - 1, -1, -1):
        d = sizes[l]
        m = sizes[l + 1]
        Dz = cur[0:b * m].reshape(b, m)
        A = acts[hoff[l]:hoff[l] + b * d].reshape(b, d)
        if wgrad[l]:
            np.dot(Dz.T, A, gw[woff[l]:woff[l + 1]].reshape(m, d))
        if l > 0:
            # dL/dA of layer l's input, then through hidden layer l - 1's activation
            # (fused with that layer's bias gradient)
            Da = nxt[0:b * d].reshape(b, d)
            np.dot(Dz, weff[woff[l]:woff[l + 1]].reshape(m, d), Da)
            k = l - 1
            P = _phi_view(phi, ucodes[k], poff[k], b, d)
            if nkind[k] == NORM_LAYER:
                # through the activation at u (column sums = dL/dbeta), then the norm
                _dact_bias_grad(Da, normed[poff[k]:poff[k] + b * d].reshape(b, d), gbeta[boff[k]:boff[l]],
                                codes[boff[k]:boff[l]], params[boff[k]:boff[l]], ucodes[k], P, nt)
                _layer_norm_backward(Da, xhat[poff[k]:poff[k] + b * d].reshape(b, d), rstd[k * B:k * B + b],
                                     gamma[boff[k]:boff[l]], ggamma[boff[k]:boff[l]], nt)
                _column_sums(Da, gb[boff[k]:boff[l]])
            else:
                _dact_bias_grad(Da, pres[poff[k]:poff[k] + b * d].reshape(b, d), gb[boff[k]:boff[l]],
                                codes[boff[k]:boff[l]], params[boff[k]:boff[l]], ucodes[k], P, nt)
            cur, nxt = nxt, cur
    return total


# error_model="numpy": the only division's denominator is sqrt(v) / sqrt(bc2) + eps >= eps > 0,
# so the ZeroDivisionError check of the default (Python) error model can never fire; without
# it LLVM vectorizes the loop (measured 4-7x faster at paper size, same IEEE operations).
@njit(error_model="numpy", **JIT)
def _adamw_serial(theta, grad, mask, fixed, weff, m1, m2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt,
                  has_weff):
    decay = 1.0 - lr * wd
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


@njit(parallel=True, **JIT)
def _adamw_parallel(theta, grad, mask, fixed, weff, m1, m2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt,
                    has_weff, nb):
    n = theta.shape[0]
    for c in prange(nb):
        j0 = c * n // nb
        j1 = (c + 1) * n // nb
        _adamw_serial(theta[j0:j1], grad[j0:j1], mask[j0:j1], fixed[j0:j1], weff[j0:j1], m1[j0:j1], m2[j0:j1],
                      lr, wd, beta1, beta2, eps, step_size, bc2_sqrt, has_weff)


@njit(**JIT)
def _adamw_update(theta, grad, mask, fixed, weff, m1, m2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt,
                  has_weff, nt):
    """One AdamW update of a flat buffer, entries with ``mask == 0`` untouched.

    Follows ``torch.optim.AdamW`` (single-tensor path): decay first, then
    ``theta -= step_size * m / (sqrt(v) / sqrt(bc2) + eps)``. Elementwise, so blocks of
    the buffer run in parallel above ``PAR_MIN_OPT`` entries (same result).
    """
    nb = _blocks(nt, theta.shape[0], PAR_MIN_OPT)
    if nb <= 1:
        _adamw_serial(theta, grad, mask, fixed, weff, m1, m2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt,
                      has_weff)
    else:
        _adamw_parallel(theta, grad, mask, fixed, weff, m1, m2, lr, wd, beta1, beta2, eps, step_size, bc2_sqrt,
                        has_weff, nb)


@njit(**JIT)
def _sgd_serial(theta, grad, mask, fixed, weff, buf, lr, wd, momentum, has_weff):
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


@njit(parallel=True, **JIT)
def _sgd_parallel(theta, grad, mask, fixed, weff, buf, lr, wd, momentum, has_weff, nb):
    n = theta.shape[0]
    for c in prange(nb):
        j0 = c * n // nb
        j1 = (c + 1) * n // nb
        _sgd_serial(theta[j0:j1], grad[j0:j1], mask[j0:j1], fixed[j0:j1], weff[j0:j1], buf[j0:j1], lr, wd,
                    momentum, has_weff)


@njit(**JIT)
def _sgd_update(theta, grad, mask, fixed, weff, buf, lr, wd, momentum, has_weff, nt):
    """One SGD update like ``torch.optim.SGD(momentum, dampening=0, nesterov=False)``
    with L2 ``wd * theta`` added to the gradient; entries with ``mask == 0`` untouched.
    Parallel over blocks above ``PAR_MIN_OPT`` entries (same result)."""
    nb = _blocks(nt, theta.shape[0], PAR_MIN_OPT)
    if nb <= 1:
        _sgd_serial(theta, grad, mask, fixed, weff, buf, lr, wd, momentum, has_weff)
    else:
        _sgd_parallel(theta, grad, mask, fixed, weff, buf, lr, wd, momentum, has_weff, nb)


@njit(**JIT)
def train_epoch(X, T, labels, perm, batch_size, loss_code, opt_code, sizes, woff, boff, hoff, poff, codes,
                params, ucodes, theta, mask, fixed, weff, bias, bmask, gw, gb, s1w, s2w, s1b, s2b, acts, pres, d1, d2,
                hyper, step0, norm, gmask, s1n, s2n, phi, nt):
    """One epoch of minibatch training over the rows ``perm`` of ``X``.

    ``norm`` as in the module docstring; ``gmask`` (1 where ``gamma``/``beta`` are
    trainable) and ``s1n``/``s2n`` (optimizer state of ``gamma`` then ``beta``, each
    ``2 * len(gamma)``) train the LayerNorm parameters like biases (decay ``bias_decay``).

    ``hyper`` (float64) = ``[lr, weight_decay, bias_decay, beta1, beta2, eps,
    momentum]``; ``step0`` is the number of optimizer steps taken before this epoch;
    ``phi`` the GELU work buffer (``poff`` layout, or empty without GELU layers);
    ``nt`` the numba thread count (``numba.get_num_threads()``) for the parallel kernels
    (AdamW bias correction). Updates ``theta``, ``weff``, ``bias`` and the optimizer
    state (``s1*``: first moment / momentum buffer, ``s2*``: second moment) in place.
    Returns the sum over samples of the loss seen during the epoch (each batch at the
    parameters before its step).
    """
    n = perm.shape[0]
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
    L = sizes.shape[0] - 1
    wgrad = np.zeros(L, dtype=np.bool_)  # layers with a trainable weight entry
    for l in range(L):
        for j in range(woff[l], woff[l + 1]):
            if mask[j] != 0.0:
                wgrad[l] = True
                break
    total = 0.0
    step = step0
    start = 0
    while start < n:
        b = min(batch_size, n - start)
        total += _forward_backward(X, T, labels, perm, start, b, loss_code, sizes, woff, boff, hoff, poff,
                                   codes, params, ucodes, weff, bias, gw, gb, acts, pres, d1, d2, norm, phi,
                                   nt, wgrad)
        step += 1
        if opt_code == OPT_ADAMW:
            bc1 = 1.0 - beta1 ** step
            bc2 = 1.0 - beta2 ** step
            step_size = lr / bc1
            bc2_sqrt = math.sqrt(bc2)
            _adamw_update(theta, gw, mask, fixed, weff, s1w, s2w, lr, wd, beta1, beta2, eps, step_size,
                          bc2_sqrt, True, nt)
            _adamw_update(bias, gb, bmask, bias, bias, s1b, s2b, lr, bd, beta1, beta2, eps, step_size,
                          bc2_sqrt, False, nt)
            _adamw_update(gamma, ggamma, gmask, gamma, gamma, s1n[:nn], s2n[:nn], lr, bd, beta1, beta2, eps,
                          step_size, bc2_sqrt, False, nt)
            _adamw_update(beta, gbeta, gmask, beta, beta, s1n[nn:], s2n[nn:], lr, bd, beta1, beta2, eps,
                          step_size, bc2_sqrt, False, nt)
        else:
            _sgd_update(theta, gw, mask, fixed, weff, s1w, lr, wd, momentum, True, nt)
            _sgd_update(bias, gb, bmask, bias, bias, s1b, lr, bd, momentum, False, nt)
            _sgd_update(gamma, ggamma, gmask, gamma, gamma, s1n[:nn], lr, bd, momentum, False, nt)
            _sgd_update(beta, gbeta, gmask, beta, beta, s1n[nn:], lr, bd, momentum, False, nt)
        start += b
    return total


@njit(**JIT)
def loss_grad(X, T, labels, loss_code, sizes, woff, boff, hoff, poff, codes, params, ucodes, weff, bias, gw, gb,
              acts, pres, d1, d2, norm, phi, nt):
    """Full-batch mean loss and gradients (``gw`` w.r.t. the effective weights); ``nt``
    numba threads for the parallel kernels."""
    n = X.shape[0]
    perm = np.arange(n)
    wgrad = np.ones(sizes.shape[0] - 1, dtype=np.bool_)
    total = _forward_backward(X, T, labels, perm, 0, n, loss_code, sizes, woff, boff, hoff, poff, codes, params,
                              ucodes, weff, bias, gw, gb, acts, pres, d1, d2, norm, phi, nt, wgrad)
    return total / n

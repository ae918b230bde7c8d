"""numba kernels of the T4 certificate (internal; see :mod:`.certificate`).

The kernels receive clean, C-contiguous float64 arrays and never validate. One hidden
layer of one row block is a single fused pass over ``(rows, m)``: bias add, the gap
term, ``R = Lip * Q + g``, both activations and ``D = |h_A - h_B|``. The matrix
products (``Z = H W^T`` and ``Q = [D | R] [|dW| | max(|W_A|, |W_B|)]^T``) are BLAS
calls made by the caller.

Gap coefficients per neuron (derivation in :mod:`.certificate`):

    g(z_A, z_B) = min( cap * |dz|,
                       (M / 2) dz^2 + |dz| * sum_k |J_k| 1[c_k strictly between z_A, z_B] )

with ``cap = Lip`` for monotone and ``2 Lip`` for other activations, ``M`` the
curvature bound (``M < 0``: none known, only the ``cap`` term is used) and kinks
``c_k`` with slope jumps ``J_k``.

Buffer layout: ``DR`` is ``(rows, 2m)``: ``D`` in columns ``[0, m)``, ``R`` in
``[m, 2m)``, so the next layer needs one product with ``K = 2m``.
"""

from __future__ import annotations

import math

from numba import njit

from ._config import JIT
from ._fast_math import FAST_JIT
from .activations import LEAKY_RELU, RELU, _act, bias_act_row


@njit(**JIT)
def _gap(za, zb, cap, M, nk, kloc, kjump):
    """Gap coefficient ``g`` for one neuron (see module docstring)."""
    dz = abs(za - zb)
    if dz == 0.0:
        return 0.0
    c = cap * dz
    if M < 0.0:
        return c
    g = 0.5 * M * dz * dz
    for k in range(nk):
        loc = kloc[k]
        if (za < loc and zb > loc) or (za > loc and zb < loc):
            g += kjump[k] * dz
    return g if g < c else c


@njit(**FAST_JIT)
def hidden_uniform(ZA, ZB, bA, bB, Q, has_q, code, param, lip, cap, M, nk, kloc, kjump, DR):
    """One hidden layer, one activation for all neurons.

    In place: ``ZA <- sigma(ZA + bA)``, ``ZB <- sigma(ZB + bB)``; writes ``D`` and
    ``R`` into ``DR``. Returns ``(sum R, max R, sum_x ||R(x)||^2, sum D)``.

    Per row three passes: ``R`` from the pre-activations, the activations (the
    vectorized row kernel of every forward pass), then ``D`` and the sums (a sequential
    reduction, the same order as one fused loop). The first two have no loop-carried
    dependency and vectorize; the values are those of :func:`_gap` and ``_act``.
    """
    n, m = ZA.shape
    sum_r = 0.0
    max_r = 0.0
    sum_sq = 0.0
    sum_d = 0.0
    single_kink = (code == RELU or code == LEAKY_RELU) and nk == 1 and M == 0.0 and kloc[0] == 0.0
    jump = kjump[0] if nk >= 1 else 0.0
    half_M = 0.5 * M
    for s in range(n):
        if single_kink:
            # relu / leaky relu: kink at 0, g = min(cap, |J|) |dz| when the signs differ
            for i in range(m):
                za = ZA[s, i] + bA[i]
                zb = ZB[s, i] + bB[i]
                dz = abs(za - zb)
                cross = (za < 0.0 and zb > 0.0) or (za > 0.0 and zb < 0.0)
                g = jump * dz if cross else 0.0
                c = cap * dz
                g = c if c < g else g
                DR[s, m + i] = (lip * Q[s, i] if has_q else 0.0) + g
        elif nk == 0 and M < 0.0:  # no curvature bound: g = cap |dz|
            for i in range(m):
                dz = abs((ZA[s, i] + bA[i]) - (ZB[s, i] + bB[i]))
                g = 0.0 if dz == 0.0 else cap * dz
                DR[s, m + i] = (lip * Q[s, i] if has_q else 0.0) + g
        elif nk == 0:  # smooth: g = min(cap |dz|, M dz^2 / 2)
            for i in range(m):
                dz = abs((ZA[s, i] + bA[i]) - (ZB[s, i] + bB[i]))
                c = cap * dz
                g = half_M * dz * dz
                g = g if g < c else c
                g = 0.0 if dz == 0.0 else g
                DR[s, m + i] = (lip * Q[s, i] if has_q else 0.0) + g
        else:
            for i in range(m):
                g = _gap(ZA[s, i] + bA[i], ZB[s, i] + bB[i], cap, M, nk, kloc, kjump)
                DR[s, m + i] = (lip * Q[s, i] if has_q else 0.0) + g
        bias_act_row(ZA, s, bA, code, param)
        bias_act_row(ZB, s, bB, code, param)
        row_sq = 0.0
        for i in range(m):
            d = abs(ZA[s, i] - ZB[s, i])
            r = DR[s, m + i]
            DR[s, i] = d
            sum_r += r
            sum_d += d
            if r > max_r:
                max_r = r
            row_sq += r * r
        sum_sq += row_sq
    return sum_r, max_r, sum_sq, sum_d


@njit(**JIT)
def hidden_columns(ZA, ZB, bA, bB, Q, has_q, codes, params, lips, caps, Ms, nks, klocs, kjumps, DR):
    """One hidden layer with one activation per neuron (sigma-asymmetric layers)."""
    n, m = ZA.shape
    sum_r = 0.0
    max_r = 0.0
    sum_sq = 0.0
    sum_d = 0.0
    for s in range(n):
        row_sq = 0.0
        for i in range(m):
            za = ZA[s, i] + bA[i]
            zb = ZB[s, i] + bB[i]
            q = Q[s, i] if has_q else 0.0
            g = _gap(za, zb, caps[i], Ms[i], nks[i], klocs[i], kjumps[i])
            ha = _act(codes[i], params[i], za)
            hb = _act(codes[i], params[i], zb)
            r = lips[i] * q + g
            d = abs(ha - hb)
            ZA[s, i] = ha
            ZB[s, i] = hb
            DR[s, i] = d
            DR[s, m + i] = r
            sum_r += r
            sum_d += d
            if r > max_r:
                max_r = r
            row_sq += r * r
        sum_sq += row_sq
    return sum_r, max_r, sum_sq, sum_d


@njit(**JIT)
def gap_only(ZA, ZB, Q, has_q, lips, caps, Ms, nks, klocs, kjumps, DR):
    """``R`` only, for layers with activations that have no kernel (``sympy:``).

    ``ZA``, ``ZB`` already contain the bias. The caller applies the activations and
    writes ``D``. Returns ``(sum R, max R, sum_x ||R(x)||^2)``.
    """
    n, m = ZA.shape
    sum_r = 0.0
    max_r = 0.0
    sum_sq = 0.0
    for s in range(n):
        row_sq = 0.0
        for i in range(m):
            q = Q[s, i] if has_q else 0.0
            r = lips[i] * q + _gap(ZA[s, i], ZB[s, i], caps[i], Ms[i], nks[i], klocs[i], kjumps[i])
            DR[s, m + i] = r
            sum_r += r
            if r > max_r:
                max_r = r
            row_sq += r * r
        sum_sq += row_sq
    return sum_r, max_r, sum_sq


@njit(**JIT)
def output_stats(R, coord_sum, coord_sumsq, coord_max, norms):
    """Accumulate per-coordinate sums of the output bound ``R^L`` (a row block).

    Writes ``||R^L(x)||_2`` per row into ``norms``; returns ``(sum ||R||^2, sum ||R||)``.
    """
    n, o = R.shape
    sum_sq = 0.0
    sum_norm = 0.0
    for s in range(n):
        row = 0.0
        for k in range(o):
            r = R[s, k]
            coord_sum[k] += r
            coord_sumsq[k] += r * r
            if r > coord_max[k]:
                coord_max[k] = r
            row += r * r
        nrm = math.sqrt(row)
        norms[s] = nrm
        sum_sq += row
        sum_norm += nrm
    return sum_sq, sum_norm

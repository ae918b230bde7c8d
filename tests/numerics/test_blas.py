"""``numerics._blas.gemm``: strided row-major views, both transposes, ``beta``, both
dtypes, against NumPy's product (the same BLAS routine; the tolerance covers a
different order of the inner sums: below K eps of the sum of magnitudes, bounded by
1e-12 / 1e-4 of the result's scale for float64 / float32).

``gemm`` is an overload (called from compiled kernels); the tests call it through a
compiled wrapper. Names contain "kernel", so CI's ``NUMBA_DISABLE_JIT=1`` pass runs them
against the plain-Python meaning too.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from neuronid.numerics._blas import gemm as _gemm


@njit
def gemm(trans_a, trans_b, A, B, C, beta):
    _gemm(trans_a, trans_b, A, B, C, beta)


def _close(got, want, dtype):
    rel = 1e-12 if dtype == np.float64 else 1e-4
    assert got.dtype == dtype
    assert np.all(np.abs(got - want) <= rel * max(np.abs(want).max(), 1.0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_gemm_kernel_on_strided_blocks(trans_a, trans_b, dtype):
    rng = np.random.default_rng(0)
    M, N, K = 13, 7, 300
    # operands as column blocks of wider arrays (row stride > row length), in either layout
    A_full = rng.normal(size=(K, M + 5) if trans_a else (M, K + 5)).astype(dtype)
    B_full = rng.normal(size=(N, K + 3) if trans_b else (K, N + 3)).astype(dtype)
    A = A_full[:, 2:2 + M] if trans_a else A_full[:, 2:2 + K]
    B = B_full[:, 1:1 + K] if trans_b else B_full[:, 1:1 + N]
    C_full = rng.normal(size=(M + 4, N + 6)).astype(dtype)
    before = C_full.copy()
    C = C_full[2:2 + M, 3:3 + N]
    product = (A.T if trans_a else A).astype(np.float64) @ (B.T if trans_b else B).astype(np.float64)
    gemm(trans_a, trans_b, A, B, C, 0.0)
    _close(C, product, dtype)
    # nothing outside the block is written
    outside = np.ones_like(C_full, dtype=bool)
    outside[2:2 + M, 3:3 + N] = False
    assert np.array_equal(C_full[outside], before[outside])
    # beta accumulates
    gemm(trans_a, trans_b, A, B, C, 0.5)
    _close(C, 1.5 * product, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gemm_kernel_empty_inner_dimension_scales_c(dtype):
    A, B = np.zeros((4, 0), dtype=dtype), np.zeros((0, 3), dtype=dtype)
    C = np.full((4, 3), 2.0, dtype=dtype)
    gemm(False, False, A, B, C, 0.5)
    assert np.array_equal(C, np.full((4, 3), 1.0, dtype=dtype))
    gemm(False, False, A, B, C, 0.0)
    assert np.array_equal(C, np.zeros((4, 3), dtype=dtype))

"""Strided matrix products for numba kernels (internal): ``C = op(A) @ op(B) + beta * C``.

``np.dot`` inside numba takes only contiguous operands and always overwrites its output,
so a product of a column block (``D[:, i0:i1].T @ A``, one thread's share of a weight
gradient) would first be copied. :func:`gemm` calls the same BLAS routine ``np.dot``
calls (scipy's ``?gemm`` through numba's ``numba_xxgemm`` helper) with the views' own
leading dimensions, so row and column blocks of row-major arrays go to BLAS as they are.

Operands are 2-D views of float32 or float64 arrays (all of one dtype) whose last axis
is contiguous (row-major rows, any row stride); the caller guarantees the shapes agree
(``op(A)`` is ``M x K``, ``op(B)`` ``K x N``, ``C`` ``M x N``): the kernels that call it
size every view from the same offsets. Not validated: an internal building block.
"""

from __future__ import annotations

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.np.linalg import _BLAS

_KIND = {types.float64: ord("d"), types.float32: ord("s")}
_N, _T = ord("N"), ord("T")


def gemm(trans_a, trans_b, A, B, C, beta):
    """``C = op(A) @ op(B) + beta * C`` with ``op(X) = X.T`` where ``trans_x`` (row-major
    views; ``beta = 0`` overwrites ``C``, as BLAS: its old values are not read).

    This Python body is the plain-Python meaning (what runs from Python and under
    ``NUMBA_DISABLE_JIT=1``); compiled kernels use the overload below. An overload, not an
    ``@njit`` function: numba types an overload's arguments without their literal
    values, so the kernels' constant flags (three transposition pairs) share one
    compiled product per dtype and layout; an ``@njit`` function is compiled once per
    literal pair.
    """
    a = A.T if trans_a else A
    b = B.T if trans_b else B
    C[...] = a @ b if beta == 0 else a @ b + beta * C


@overload(gemm)
def _gemm_impl(trans_a, trans_b, A, B, C, beta):
    dtype = A.dtype
    if dtype not in _KIND or B.dtype != dtype or C.dtype != dtype:
        raise TypingError("gemm: float32 or float64 operands of one dtype")
    xxgemm = _BLAS().numba_xxgemm(dtype)
    kind = _KIND[dtype]
    np_dtype = np.float64 if dtype == types.float64 else np.float32

    def impl(trans_a, trans_b, A, B, C, beta):
        M, N = C.shape
        K = A.shape[0] if trans_a else A.shape[1]
        if M == 0 or N == 0:
            return
        size = A.itemsize
        # leading dimension of a row-major view: its row stride (BLAS wants >= the row length)
        lda = max(A.strides[0] // size, A.shape[1], 1)
        ldb = max(B.strides[0] // size, B.shape[1], 1)
        ldc = max(C.strides[0] // size, C.shape[1], 1)
        if K == 0:  # BLAS's meaning: beta * C, C not read when beta == 0
            for s in range(M):
                for i in range(N):
                    C[s, i] = 0.0 if beta == 0.0 else C[s, i] * beta
            return
        alpha_beta = np.empty(2, dtype=np_dtype)
        alpha_beta[0] = 1.0
        alpha_beta[1] = beta
        # row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: the row-major
        # buffers read column-major are the transposes, so the flags carry over, B first
        r = xxgemm(kind, _T if trans_b else _N, _T if trans_a else _N, N, M, K, alpha_beta[0:1].ctypes,
                   B.ctypes, ldb, A.ctypes, lda, alpha_beta[1:2].ctypes, C.ctypes, ldc)
        if r != 0:
            raise RuntimeError("BLAS gemm could not be called (scipy's cython_blas)")

    return impl


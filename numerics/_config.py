"""Compile flags for every numba kernel, in one place (STYLE.md).

``cache=True`` so a second process starts without recompiling. No ``fastmath``:
checks rely on IEEE semantics.
"""

from __future__ import annotations

JIT = dict(cache=True, nogil=True)

#: Row-parallel elementwise kernels (``prange`` over rows; each element computed by the
#: same code as the serial kernel, so results are bitwise identical).
PARALLEL_JIT = dict(JIT, parallel=True)

#: Kernels whose ``prange`` loops run in parallel and nothing else is rewritten (no array
#: expression, allocation or reduction becomes a parallel loop: each would cost numba a
#: gufunc to compile; the training kernels).
PRANGE_JIT = dict(JIT, parallel=dict(prange=True, comprehension=False, reduction=False, inplace_binop=False,
                                     setitem=False, numpy=False, stencil=False, fusion=False))

#: Elements from which callers switch to the row-parallel kernels: below it starting
#: the threads costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 16

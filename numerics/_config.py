"""Compile flags for every numba kernel, in one place (STYLE.md).

``cache=True`` so a second process starts without recompiling. No ``fastmath``:
checks rely on IEEE semantics.
"""

from __future__ import annotations

JIT = dict(cache=True, nogil=True)

#: Row-parallel elementwise kernels (``prange`` over rows; each element computed by the
#: same code as the serial kernel, so results are bitwise identical).
PARALLEL_JIT = dict(JIT, parallel=True)

#: Elements from which callers switch to the row-parallel kernels: below it starting
#: the threads costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 16

"""Compile flags for every numba kernel, in one place (STYLE.md).

``cache=True`` so a second process starts without recompiling. No ``fastmath``:
checks rely on IEEE semantics.
"""

from __future__ import annotations

JIT = dict(cache=True, nogil=True)

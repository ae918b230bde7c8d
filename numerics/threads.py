"""Thread settings shared by the kernels: BLAS threads and the worker count.

Two kinds of threads meet in this package: OpenBLAS's (every ``np.matmul`` / LAPACK
call) and numba's (``prange`` kernels). Run side by side on the same cores they
spin-wait against each other; measured on the 2-core dev machine, a row-parallel
activation pass right after a 2-thread GEMM took twice its single-thread time. Work
that is split into independent row blocks therefore runs the blocks on
:func:`worker_count` Python threads, each calling single-threaded BLAS and serial
(``nogil``) numba kernels, inside :func:`single_threaded_blas`.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import lru_cache

import numba


def worker_count() -> int:
    """Threads for row-block work: numba's thread count (``NUMBA_NUM_THREADS`` or
    ``numba.set_num_threads``), the project's one thread setting."""
    return max(1, int(numba.get_num_threads()))


@contextmanager
def block_workers(buffers):
    """``with block_workers(buffers) as run: run(count, work)`` calls ``work(i, buffer)``
    for every block ``i < count``, on one thread per buffer (each buffer used by one
    thread at a time; blocks handed out in order as threads free up).

    One buffer: in the calling thread, BLAS as configured. More: a thread pool, kept for
    every ``run`` of the block, with single-threaded BLAS (:func:`single_threaded_blas`).
    ``run`` returns when every block is done and re-raises the first error. A block's
    result must not depend on the thread that computes it (the callers' kernels are
    serial), so the outcome does not depend on the thread count.
    """
    if len(buffers) == 1:
        def run(count, work):
            for i in range(count):
                work(i, buffers[0])

        yield run
        return
    with ThreadPoolExecutor(len(buffers)) as pool, single_threaded_blas():
        def run(count, work):
            queue = iter(range(count))  # shared: next() is atomic under the GIL

            def drain(buffer):
                for i in queue:
                    work(i, buffer)

            list(pool.map(drain, buffers))  # list(): wait for every worker, re-raise the first error

        yield run


@contextmanager
def single_threaded_blas():
    """Run BLAS/LAPACK calls with one thread inside the block (process-wide).

    Used around batched small LAPACK calls (``eigh`` on ``(m, r, r)`` stacks: OpenBLAS
    parallelizes each tiny call, measured 4 s instead of 0.08 s for 512 matrices of
    size 32 on a busy machine) and around row-block work on worker threads. Uses
    ``threadpoolctl``; the library scan runs once per process (:func:`_blas_controller`),
    scanning on every call cost more than the small calls it wraps.
    """
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - threadpoolctl not installed
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield


@lru_cache(maxsize=1)
def _blas_controller():
    """The process's ``threadpoolctl.ThreadpoolController`` (``None`` without threadpoolctl)."""
    try:
        # optional at import time: loaded on first use so the module imports without it
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - a declared dependency; guarded for minimal installs
        return None
    # scipy ships its own BLAS; load it first so the one scan sees both libraries
    import scipy.linalg  # noqa: F401
    return ThreadpoolController()

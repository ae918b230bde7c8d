"""Compile a numba kernel once across processes that start together on an empty cache.

Processes that need the same kernel at the same time (``reproduce --workers N``, Dask
workers on one machine, test workers) would each compile it: for the training kernels
about 35 s per dtype, N times over. :func:`compile_once` compiles a signature while
holding an inter-process file lock; a process that waits for it then finds the
signature in numba's on-disk cache (``cache=True``) and loads it in about a second.

There is one lock per kernel, signature and cache location (:func:`lock_path`), so
processes compiling different kernels, dtypes or copies of the package never wait for
each other. The lock is only taken when this process has not compiled the signature
yet, and is released before the kernel runs, so long runs never wait for each other.
It is advisory and bounded: after :data:`WAIT_SECONDS` (a stuck or stopped holder) or
where no lock file can be opened, the process compiles on its own, as without the lock.

Example
-------
>>> import numpy as np
>>> from numba import njit
>>> @njit
... def total(a):
...     return a.sum()
>>> compile_once(total, (np.ones(3),))
>>> len(total.signatures)
1
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time

from numba.core import config as numba_config

try:  # POSIX; elsewhere every process compiles on its own
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: Longest wait for another process's compile, in seconds (a training kernel's first
#: compile takes about 35 s on an idle 2-core machine); then this process compiles on its own.
WAIT_SECONDS = 300.0
#: Pause between attempts to take the lock, in seconds.
POLL_SECONDS = 0.05


def lock_path(dispatcher, sig) -> str:
    """The lock file of ``dispatcher``'s signature ``sig``, in the temporary folder: one
    per user, kernel (module, name and source file, so two copies of the package do not
    share it), signature and numba cache folder (a process with another cache could
    not load what the holder compiles)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    func = dispatcher.py_func
    key = "|".join((func.__module__, func.__qualname__, func.__code__.co_filename, str(sig),
                    str(numba_config.CACHE_DIR)))
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return os.path.join(tempfile.gettempdir(), f"neuronid-numba-compile-{uid}-{digest}.lock")


def _signature(dispatcher, args) -> tuple | None:
    """The argument types a call with ``args`` compiles for (None without numba's JIT)."""
    typeof = getattr(dispatcher, "typeof_pyval", None)
    if typeof is None:  # NUMBA_DISABLE_JIT: plain Python functions
        return None
    return tuple(typeof(a) for a in args)


def compile_once(dispatcher, args, wait_seconds: float = WAIT_SECONDS) -> None:
    """Make sure ``dispatcher`` is compiled for the types of ``args``, compiling (or
    loading from numba's cache) under the inter-process lock when this process has not
    done so yet. The later call ``dispatcher(*args)`` then compiles nothing."""
    sig = _signature(dispatcher, args)
    if sig is None or sig in dispatcher.overloads:
        return
    fd = _acquire(dispatcher, sig, wait_seconds)
    try:
        dispatcher.compile(sig)
    finally:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def _acquire(dispatcher, sig, wait_seconds: float) -> int | None:
    """The locked file descriptor, or None (no lock available, or waited too long)."""
    if fcntl is None:  # pragma: no cover - Windows
        return None
    try:
        fd = os.open(lock_path(dispatcher, sig), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # also no usable temporary folder (gettempdir raises FileNotFoundError)
        return None
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(POLL_SECONDS)
            except OSError:  # e.g. a file system without locks
                break
    except BaseException:  # interrupted while waiting (Ctrl-C, SIGTERM)
        os.close(fd)
        raise
    os.close(fd)
    return None

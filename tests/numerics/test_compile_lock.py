"""numerics._compile_lock: a signature is compiled under an inter-process lock, once."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import numpy as np
import pytest

from neuronid.numerics import _compile_lock as CL

fcntl = pytest.importorskip("fcntl")
pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="needs numba's JIT")


def _fresh_kernel():
    from numba import njit

    @njit  # no cache: a new kernel each time, so it always compiles
    def kernel(a, k):
        return a.sum() * k

    return kernel


def _fresh_other_kernel():
    from numba import njit

    @njit
    def other_kernel(a, k):
        return a.sum() + k

    return other_kernel


def test_the_later_call_compiles_nothing():
    kernel = _fresh_kernel()
    args = (np.ones((2, 3), dtype=np.float32), 3)
    CL.compile_once(kernel, args)
    assert len(kernel.overloads) == 1
    assert kernel(*args) == 18.0
    assert len(kernel.overloads) == 1  # the call found the compiled signature
    CL.compile_once(kernel, args)  # already compiled: returns at once, compiles nothing
    assert len(kernel.overloads) == 1


@contextlib.contextmanager
def _lock_held(path: str, seconds: float):
    """Another holder of the lock file ``path`` for ``seconds`` or until the block ends,
    whichever is first (a second open file in a thread: flock excludes it as it would
    another process); joined on exit."""
    held = threading.Event()
    release = threading.Event()

    def hold():
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held.set()
            release.wait(seconds)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        yield
    finally:
        release.set()
        holder.join()


def _path(kernel, args):
    return CL.lock_path(kernel, CL._signature(kernel, args))


def test_a_compile_waits_for_the_lock_holder():
    """Another holder of the lock makes compile_once wait until it lets go."""
    kernel = _fresh_kernel()
    args = (np.ones(2), 1)
    with _lock_held(_path(kernel, args), 0.6):
        t0 = time.perf_counter()
        CL.compile_once(kernel, args, wait_seconds=30)
        waited = time.perf_counter() - t0
    assert waited >= 0.5 and len(kernel.overloads) == 1


def test_other_kernels_and_signatures_do_not_wait():
    """One lock per kernel and signature: a holder of one does not delay the others."""
    kernel, other = _fresh_kernel(), _fresh_other_kernel()
    args = (np.ones(2), 1)
    other_sig = (np.ones(2, dtype=np.float32), 1)
    assert _path(kernel, args) != _path(kernel, other_sig) and _path(kernel, args) != _path(other, args)
    with _lock_held(_path(kernel, args), 2.0):
        t0 = time.perf_counter()
        CL.compile_once(kernel, other_sig, wait_seconds=30)  # same kernel, another signature
        CL.compile_once(other, args, wait_seconds=30)  # another kernel (its own lock file)
        waited = time.perf_counter() - t0
    assert waited < 1.5 and len(kernel.overloads) == 1 and len(other.overloads) == 1


def test_a_stuck_holder_is_waited_for_a_bounded_time():
    kernel = _fresh_kernel()
    args = (np.ones(2), 1)
    with _lock_held(_path(kernel, args), 3.0):
        t0 = time.perf_counter()
        CL.compile_once(kernel, args, wait_seconds=0.3)
        waited = time.perf_counter() - t0
        assert len(kernel.overloads) == 1 and waited < 2.5  # compiled on its own after 0.3 s


def test_without_jit_nothing_is_compiled():
    def plain(a):
        return a

    CL.compile_once(plain, (1,))  # a plain function (NUMBA_DISABLE_JIT): nothing to do


def test_training_compiles_its_kernel_under_the_lock(monkeypatch):
    """train() asks compile_once for the exact call it makes: the call compiles nothing more."""
    from neuronid.numerics import _train_kernels as K
    from neuronid.numerics import training as T
    from neuronid.numerics.structures import standard_mlp

    seen = []
    real = CL.compile_once

    def spy(dispatcher, args, **kw):
        real(dispatcher, args, **kw)
        seen.append((dispatcher, len(dispatcher.overloads)))

    monkeypatch.setattr(T, "compile_once", spy)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
    T.train(standard_mlp([3, 4, 2], activation="tanh", seed=0), X, y,
            T.TrainConfig(epochs=2, batch_size=8), progress=False)
    T.loss_and_gradient(standard_mlp([3, 4, 2], activation="tanh", seed=0), X, y, "ce")
    kernels = [d for d, _ in seen]
    assert K.train_epochs in kernels and K.loss_grad in kernels
    for dispatcher, count in seen:
        assert len(dispatcher.overloads) == count  # no second signature compiled by the call

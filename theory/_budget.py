"""Time budgets for SymPy calls that may not terminate in reasonable time.

``solveset``, ``limit`` and ``simplify`` occasionally run for minutes on innocent
looking expressions. Every such call in :mod:`neuronid.theory` goes through
:func:`within_budget`, which gives up after a few seconds; the caller then falls
back to its stated numeric method (or reports "not proved"). The limit counts
the process's CPU time (``ITIMER_PROF``), so a busy machine does not turn a
symbolic answer into a numeric one; it only applies in the main thread of a POSIX
process (in other threads the call simply runs to completion).
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable, TypeVar

T = TypeVar("T")

#: Default CPU seconds granted to one SymPy call.
DEFAULT_SECONDS = 4.0


class BudgetExceeded(BaseException):
    """Raised inside a SymPy call whose time budget ran out.

    A ``BaseException`` so that SymPy's internal ``except Exception`` blocks do not
    swallow it (which would leave the call running without a budget).
    """


_active = threading.local()


def _on_alarm(signum: int, frame: Any) -> None:  # pragma: no cover - timing dependent
    raise BudgetExceeded()


def within_budget(fn: Callable[[], T], seconds: float = DEFAULT_SECONDS) -> T:
    """Call ``fn()``; raise :class:`BudgetExceeded` if it takes more than ``seconds``.

    Nested calls share the outer budget (the inner one is not armed).

    Examples
    --------
    >>> within_budget(lambda: 1 + 1)
    2
    """
    armed = (
        hasattr(signal, "setitimer") and hasattr(signal, "SIGPROF")
        and threading.current_thread() is threading.main_thread()
        and not getattr(_active, "on", False)
    )
    if not armed:
        return fn()
    previous = signal.signal(signal.SIGPROF, _on_alarm)
    _active.on = True
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        _active.on = False


def try_within_budget(fn: Callable[[], T], seconds: float = DEFAULT_SECONDS, default: Any = None):
    """Like :func:`within_budget`, but return ``default`` on timeout or SymPy failure.

    Examples
    --------
    >>> try_within_budget(lambda: 1 / 0, default="failed")
    'failed'
    """
    try:
        return within_budget(fn, seconds)
    except BudgetExceeded:
        return default
    except Exception:  # SymPy raises many unrelated types when it cannot decide
        return default


# ------------------------------------------------------------------ isolated budgets
#: CPU seconds and bytes of memory granted to the whole symbolic analysis of one
#: user expression (``sympy:...``): generous for ordinary expressions (``z*tanh(softplus(z))``
#: takes about 12 s of CPU time, most others a few seconds), small enough that a
#: hostile one ends quickly. The environment variable ``NEURONID_SYMBOLIC_SECONDS``
#: (a number > 0) replaces the time budget.
ANALYSIS_SECONDS = 20.0
ANALYSIS_MEMORY = 2 << 30


def analysis_seconds() -> float:
    """The CPU-time budget of one isolated symbolic computation (see
    :data:`ANALYSIS_SECONDS`)."""
    import math
    import os

    text = os.environ.get("NEURONID_SYMBOLIC_SECONDS")
    try:
        value = float(text) if text else ANALYSIS_SECONDS
    except ValueError:
        return ANALYSIS_SECONDS
    return value if math.isfinite(value) and value > 0 else ANALYSIS_SECONDS


class BudgetExhausted(Exception):
    """An isolated computation ran out of its time or memory budget (``reason`` says
    which); the caller reports the property as undetermined."""


_in_child = False


def _address_space() -> int:
    """Current virtual memory size of this process in bytes (0 when unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            import os as _os  # local: only on the isolated path

            return int(fh.read().split()[0]) * _os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


#: builtins a child's result may contain besides exception types
_SAFE_BUILTINS = frozenset({"set", "frozenset", "complex", "slice", "range", "tuple", "list", "dict",
                            "int", "float", "str", "bytes", "bool", "object"})


def _describe_exception(exc: BaseException) -> tuple[str, str, str]:
    """An exception as plain strings (module, class name, message) for the pipe: some
    installed packages (tblib, via dask) pickle exceptions through helper functions,
    which :func:`_load_child_result` rightly refuses."""
    return type(exc).__module__, type(exc).__qualname__, str(exc)


def _rebuild_exception(described) -> BaseException:
    """The exception :func:`_describe_exception` described, with its class when that
    is an allowed exception type (SymPy, mpmath, neuronid, builtins), else a
    ``RuntimeError`` naming it."""
    import importlib

    module, name, message = described
    cls = None
    if module.split(".")[0] in ("sympy", "mpmath", "neuronid", "builtins") and "." not in name:
        cls = getattr(importlib.import_module(module), name, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        try:
            return cls(message)
        except Exception:  # a constructor with other arguments
            pass
    return RuntimeError(f"{name}: {message}")


def _load_child_result(data: bytes):
    """Decode the ``(kind, value)`` pair that :func:`run_isolated`'s forked child wrote
    into its private pipe. These bytes come from our own child, never from a user
    file; still, only classes are rebuilt (no functions), and only SymPy, mpmath and
    neuronid types, exception types and plain containers, so that nothing else could
    be constructed even if the child computed something unexpected."""
    import io
    import pickle

    class _ResultUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            obj = super().find_class(module, name)
            if isinstance(obj, type):
                if module == "builtins" and (name in _SAFE_BUILTINS or issubclass(obj, BaseException)):
                    return obj
                if module.split(".")[0] in ("sympy", "mpmath", "neuronid"):
                    return obj
            raise pickle.UnpicklingError(f"the isolated computation returned a {module}.{name}, which is not allowed")

    return _ResultUnpickler(io.BytesIO(data)).load()


def run_isolated(fn: Callable[[], T], *, seconds: float | None = None,
                 memory: int = ANALYSIS_MEMORY, what: str = "the computation") -> T:
    """Call ``fn()`` in a forked child process limited to ``seconds`` of CPU time and
    ``memory`` bytes of extra address space; return its (pickled) result. ``seconds``
    defaults to :func:`analysis_seconds`.

    Unlike :func:`within_budget` this also stops work that never returns to the
    interpreter (a huge integer power, an mpmath exponent with billions of bits) and
    runaway memory, because the kernel enforces the limits and the parent kills the
    child after a wall-clock grace period. An exception raised by ``fn`` is raised
    again here; running out of budget raises :class:`BudgetExhausted` with the
    reason. Where ``fork`` is unavailable (or inside a child already) ``fn`` runs
    in this process under :func:`within_budget`.

    Examples
    --------
    >>> run_isolated(lambda: 6 * 7, seconds=5)
    42
    """
    import os
    import pickle
    import resource
    import select
    import time

    seconds = analysis_seconds() if seconds is None else float(seconds)
    def in_process():
        try:
            return within_budget(fn, seconds)
        except BudgetExceeded:
            raise BudgetExhausted(f"{what} took more than {seconds:g} s of CPU time") from None

    if _in_child or not hasattr(os, "fork"):
        return in_process()
    try:
        read_fd, write_fd = os.pipe()
    except OSError:  # out of file descriptors: the in-process budget still applies
        return in_process()
    try:
        pid = os.fork()
    except OSError:  # fork refused (memory, process limit): the in-process budget still applies
        os.close(read_fd)
        os.close(write_fd)
        return in_process()
    if pid == 0:  # child: never returns
        status = 0
        try:
            os.close(read_fd)
            globals()["_in_child"] = True
            limit = _address_space() + int(memory)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            cpu = int(resource.getrusage(resource.RUSAGE_SELF).ru_utime + seconds) + 1
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
            try:
                payload = ("ok", fn())
            except MemoryError:
                payload = ("memory", None)
            except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
                payload = ("error", _describe_exception(exc))
            try:
                data = pickle.dumps(payload)
            except Exception as exc:  # an unpicklable result or exception
                data = pickle.dumps(("error", ("builtins", "RuntimeError", f"{type(exc).__name__}: {exc}")))
            with os.fdopen(write_fd, "wb") as fh:
                fh.write(data)
        except MemoryError:
            status = 3
        except BaseException:  # noqa: BLE001
            status = 4
        finally:
            os._exit(status)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + 2 * seconds + 10  # wall clock: a busy machine gets slack
    killed = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                os.kill(pid, 9)
                killed = True
                break
            ready, _, _ = select.select([read_fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    except BaseException:
        os.kill(pid, 9)
        raise
    finally:
        os.close(read_fd)
        _, wait_status = os.waitpid(pid, 0)
    budget = f"{seconds:g} s of CPU time and {memory / 2**30:g} GiB of memory"
    if killed:
        raise BudgetExhausted(f"{what} exceeded its budget ({budget}): stopped after {2 * seconds + 10:g} s")
    data = b"".join(chunks)
    if not data:
        sig = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
        why = ("CPU time" if sig in (signal.SIGXCPU, signal.SIGKILL) else "memory" if
               (os.WIFEXITED(wait_status) and os.WEXITSTATUS(wait_status) == 3) else f"a crash (status {wait_status})")
        raise BudgetExhausted(f"{what} exceeded its budget ({budget}): ran out of {why}")
    kind, value = _load_child_result(data)
    if kind == "ok":
        return value
    if kind == "memory":
        raise BudgetExhausted(f"{what} exceeded its budget ({budget}): ran out of memory")
    value = _rebuild_exception(value)
    if isinstance(value, BudgetExceeded):
        raise BudgetExhausted(f"{what} exceeded its budget ({budget}): ran out of CPU time")
    raise value

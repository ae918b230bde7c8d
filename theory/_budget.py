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

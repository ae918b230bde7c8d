"""Command-line interface: ``neuronid <command> ...``.

Each command lives in its own ``neuronid._cmd_*`` module that provides
``register(subparsers)``; the module adds its parser and sets ``func`` to a callable
``run(args) -> int``. Exit status (DESIGN.md): 0 success whatever the verdicts,
2 bad input or usage (one line on stderr, no traceback), 1 internal error. An
``OSError`` (a file that cannot be read or written) and a ``MemoryError`` are
bad input too: exit 2 with one line naming the path. Warnings are held back and
printed after a success only, so that an error is always the single stderr line.

The environment is checked first, before anything imports numba: numba reads
``NUMBA_NUM_THREADS`` at import and raises there for 0 or a negative count (every
command, ``--help`` included, would end in a traceback), so this module and
:mod:`neuronid.errors` import neither numba nor numpy.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
import traceback
import warnings

from neuronid.errors import InvalidInputError

#: Command modules, in the order they appear in ``neuronid --help``.
COMMAND_MODULES = (
    "neuronid._cmd_check",
    "neuronid._cmd_train",
    "neuronid._cmd_lmc",
    "neuronid._cmd_costs",
    "neuronid._cmd_counterexample",
    "neuronid._cmd_theory",
    "neuronid._cmd_reproduce",
    "neuronid._cmd_import",
    "neuronid._cmd_selftest",
)


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit status 2."""

    def error(self, message: str) -> None:  # pragma: no cover - exercised via CLI tests
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="neuronid",
        description=(
            "Check the theory of linear mode connectivity via neuron identifiability "
            "(THEORY.md IDs D1-D7, P1-P6, T1-T4, E1-E3) on trained networks and data."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:  # a missing command module is a packaging bug: let it raise
        importlib.import_module(name).register(sub)
    return parser


def _available_cpus() -> int:
    """CPUs this process may run on: numba's own default thread count (its rule:
    the affinity mask, else ``os.cpu_count()``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def numba_threads_error() -> str | None:
    """What is wrong with ``NUMBA_NUM_THREADS`` in the environment (``None``: unset or
    an integer from 1 to the CPUs available).

    numba raises at import for 0 or a negative value, prints a multi-line warning and
    ignores a non-integer, accepts any larger value but crashes (segfault, measured
    with 100000 on numba 0.68) when its pool starts that many threads; more threads
    than CPUs never speeds up the CPU-bound kernels (and training's weights depend on
the count, to rounding).
    """
    text = os.environ.get("NUMBA_NUM_THREADS")
    if text is None:
        return None
    cpus = _available_cpus()
    try:
        value = int(text)  # numba's own parser
    except ValueError:
        value = 0
    if 1 <= value <= cpus:
        return None
    return (f"NUMBA_NUM_THREADS={text!r} in the environment: expected an integer from 1 to {cpus} "
            f"(the CPUs this process may run on); unset it to use all {cpus}")


def main(argv: list[str] | None = None) -> int:
    problem = numba_threads_error()  # before build_parser: the command modules import numba
    if problem is not None:
        sys.stderr.write(f"neuronid: error: {problem}\n")
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    previous = signal.signal(signal.SIGTERM, _terminated) if _main_thread() else None
    try:
        with warnings.catch_warnings(record=True) as caught:  # the usual filters still decide what is kept
            status = _run(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if status == 0:  # warnings only after a success: an error is the one line on stderr
        for text in dict.fromkeys(f"warning: {w.category.__name__}: {w.message}" for w in caught):
            sys.stderr.write(text + "\n")
    return status


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised as an exception so that temporary files are removed and worker
    processes stopped on the way out (the default action would kill at once)."""


def _terminated(signum, frame):
    raise Terminated()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _run(args) -> int:
    try:
        return int(args.func(args) or 0)
    except InvalidInputError as exc:
        sys.stderr.write(f"neuronid {args.command}: error: {_one_line(exc)}\n")
        return 2
    except MemoryError:
        sys.stderr.write(f"neuronid {args.command}: error: not enough memory for these inputs and options; "
                         "choose smaller sizes\n")
        return 2
    except BrokenPipeError:  # output piped into `head` and closed: not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        where = exc.filename if exc.filename is not None else "file"
        sys.stderr.write(f"neuronid {args.command}: error: {where}: {exc.strerror or _one_line(exc)}\n")
        return 2
    except Terminated:
        sys.stderr.write("neuronid: terminated\n")
        return 143
    except KeyboardInterrupt:
        sys.stderr.write("neuronid: interrupted\n")
        return 130
    except Exception as exc:  # internal error: say so, keep the trace for a bug report
        sys.stderr.write(
            f"neuronid {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in neuronid; the traceback follows.\n"
        )
        traceback.print_exc()
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

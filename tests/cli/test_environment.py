"""The environment the CLI starts in: ``NUMBA_NUM_THREADS`` is checked before anything
imports numba (numba raises at import for 0 or a negative count, and prints a
multi-line warning with a traceback for a non-integer), so a bad value is one line on
stderr and exit status 2 for every command, ``--help`` included."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import numba  # noqa: F401 - loaded here under the test run's own setting, before any test changes it
import pytest

from neuronid.cli import main

CPUS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)

#: value of NUMBA_NUM_THREADS -> why it is refused
BAD_THREADS = {
    "0": "numba raises ValueError at import",
    "-1": "numba raises ValueError at import",
    "abc": "numba warns with a traceback and silently uses its default",
    "": "numba warns with a traceback and silently uses its default",
    "2.5": "not an integer",
    str(CPUS + 1): "more threads than CPUs this process may run on (100000 segfaults numba's thread pool)",
    "100000": "segfaults numba's thread pool on the first parallel kernel",
}


def _entry_points():
    script = Path(sysconfig.get_path("scripts")) / "neuronid"
    return [[sys.executable, "-m", "neuronid"], [str(script)]]


@pytest.mark.parametrize("entry", _entry_points(), ids=["python -m neuronid", "neuronid"])
@pytest.mark.parametrize("value", ["0", "abc", str(CPUS + 1)])
def test_bad_numba_threads_is_one_line_exit_2_even_for_help(entry, value):
    env = dict(os.environ, NUMBA_NUM_THREADS=value)
    proc = subprocess.run([*entry, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "NUMBA_NUM_THREADS" in lines[0] and repr(value) in lines[0] and f"from 1 to {CPUS}" in lines[0]


@pytest.mark.parametrize("value", list(BAD_THREADS), ids=[f"{v!r}" for v in BAD_THREADS])
def test_bad_numba_threads_table(value, monkeypatch, capsys):
    """In process (numba already imported here): the check still refuses, for every
    command, before parsing."""
    monkeypatch.setenv("NUMBA_NUM_THREADS", value)
    assert main(["results", "T4"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("neuronid: error: NUMBA_NUM_THREADS=") and repr(value) in err


@pytest.mark.parametrize("value", ["1", str(CPUS), f" {CPUS} "])
def test_good_numba_threads_runs(value, monkeypatch, capsys):
    monkeypatch.setenv("NUMBA_NUM_THREADS", value)
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0


def test_the_cli_module_imports_no_numba():
    """The check must run before numba's import: ``neuronid.cli`` and
    ``neuronid.__main__``'s imports load neither numba nor numpy."""
    code = ("import sys, neuronid, neuronid.cli, neuronid.errors; "
            "print(sorted(m for m in ('numba', 'numpy', 'sympy') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"

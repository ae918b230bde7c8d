"""Shared pytest configuration: hypothesis profiles (STYLE.md), the worker count of
``-n auto`` (pytest-xdist, the README's test command), and this folder on
``sys.path`` so tests import the shared reference implementations
(``from _reference import reference_path_outputs``; ``--import-mode=importlib`` does
not add test folders to ``sys.path`` itself).

``HYPOTHESIS_PROFILE`` selects the profile: ``ci`` (default; derandomized, bounded,
used by ``.ci/run``), ``thorough`` (long local runs), ``debug`` (verbose).

The on-disk cache of SymPy-derived values (``theory._derived_cache``) points to a
fresh folder per test session, shared by its xdist workers and CLI subprocesses (which
inherit it): the tests derive every value themselves, once per session as in one
process, and never read or fill a user's cache.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Verbosity, settings

from neuronid.cli import _available_cpus

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: the environment variable that hands the session's cache folder to pytest-xdist's workers
_SESSION_CACHE_VAR = "NEURONID_TEST_SESSION_CACHE"
if "PYTEST_XDIST_WORKER" in os.environ and os.environ.get(_SESSION_CACHE_VAR):
    # a worker: the controller made the folder before starting it (workers inherit its
    # environment) and removes it at the end
    _CACHE = os.environ[_SESSION_CACHE_VAR]
else:
    _CACHE = tempfile.mkdtemp(prefix="neuronid-test-cache-")
    os.environ[_SESSION_CACHE_VAR] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)
os.environ["NEURONID_CACHE_DIR"] = _CACHE

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=30,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("debug", max_examples=10, deadline=None, verbosity=Verbosity.verbose)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


#: most workers ``-n auto`` starts: every worker compiles the numba kernels its tests
#: use (on an empty cache), so workers beyond the cores, or many more than the suite's
#: few kernel-heavy files, cost more compile time than they save
MAX_AUTO_WORKERS = 4


#: the CPUs this process may run on (the CLI's rule for NUMBA_NUM_THREADS; a module name
#: so the tests can replace it)
_available_cores = _available_cpus


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one worker per available core, at most :data:`MAX_AUTO_WORKERS`.
    ``PYTEST_XDIST_AUTO_NUM_WORKERS`` (pytest-xdist's own variable) sets another count,
    from 1 to the cores available; empty means unset (as in pytest-xdist). ``-n N``
    gives any count explicitly."""
    cores = _available_cores()
    env = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if env:
        if not re.fullmatch(r"[0-9]{1,6}", env) or not 1 <= int(env) <= cores:
            raise pytest.UsageError(
                f"PYTEST_XDIST_AUTO_NUM_WORKERS: expected an integer from 1 to {cores} (the cores available), "
                f"found {env!r}")
        return int(env)
    return max(1, min(cores, MAX_AUTO_WORKERS))

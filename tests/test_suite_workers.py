"""The worker count of the README's test command (``-n auto``, tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def conftest(request):
    """The tests' conftest module as pytest loaded it (importing it again would rerun it)."""
    path = Path(__file__).with_name("conftest.py")
    for plugin in request.config.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "") == path:
            return plugin
    raise AssertionError("tests/conftest.py is not loaded")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1.5", "\u00b2", "999999", "0x2"])
def test_a_bad_worker_count_is_one_usage_error(conftest, monkeypatch, value):
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", value)
    with pytest.raises(pytest.UsageError, match="expected an integer from 1 to"):
        conftest.pytest_xdist_auto_num_workers(None)


def test_worker_counts(conftest, monkeypatch):
    monkeypatch.setattr(conftest, "_available_cores", lambda: 16)
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    assert conftest.pytest_xdist_auto_num_workers(None) == conftest.MAX_AUTO_WORKERS
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "")  # empty: unset, as in pytest-xdist
    assert conftest.pytest_xdist_auto_num_workers(None) == conftest.MAX_AUTO_WORKERS
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", " 7 ")
    assert conftest.pytest_xdist_auto_num_workers(None) == 7
    monkeypatch.setattr(conftest, "_available_cores", lambda: 1)
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS")
    assert conftest.pytest_xdist_auto_num_workers(None) == 1


def test_the_derived_cache_is_the_sessions_own_folder(conftest):
    """Every process of a test session (xdist workers, CLI subprocesses) derives into the
    one fresh folder the controller made: never a user's cache, shared by the workers."""
    import os
    import tempfile

    folder = Path(conftest._CACHE)
    assert os.environ["NEURONID_CACHE_DIR"] == str(folder) == os.environ[conftest._SESSION_CACHE_VAR]
    assert folder.is_dir() and folder.parent == Path(tempfile.gettempdir())
    assert folder.name.startswith("neuronid-test-cache-")

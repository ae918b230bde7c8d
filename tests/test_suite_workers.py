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

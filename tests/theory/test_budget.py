"""The SymPy time budget stops runaway calls, even ones that swallow exceptions."""

from __future__ import annotations

import time

from neuronid.theory._budget import try_within_budget


def _spin():
    while True:
        pass


def _swallow():
    while True:
        try:
            while True:
                pass
        except Exception:  # what SymPy does internally in places
            pass


def test_budget_stops_runaway_calls():
    for fn in (_spin, _swallow):
        start = time.perf_counter()
        assert try_within_budget(fn, 0.3, default="gave up") == "gave up"
        assert time.perf_counter() - start < 5


def test_budget_passes_results_and_failures():
    assert try_within_budget(lambda: 41 + 1) == 42
    assert try_within_budget(lambda: 1 / 0, default=None) is None

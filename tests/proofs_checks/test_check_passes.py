"""A full check records one forward pass per network per data set (issue 10): the
support data, the evaluation data and the matching data share their passes when they
are the same array, and every consumer (supports, costs, correspondence, alignment,
P5, T2) reads them."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from neuronid.errors import InvalidOptionError
from neuronid.numerics.network import Network
from neuronid.numerics.structures import standard_mlp, w_mlp
from neuronid.proofs_checks.checkers._common import _column_max_abs
from neuronid.proofs_checks.report import full_check


def _count_recorded_passes(monkeypatch):
    calls = collections.Counter()
    forward = Network.forward

    def counting(self, X, *, record=False, **kw):
        if record:
            calls[(id(self), id(X))] += 1
        return forward(self, X, record=record, **kw)

    monkeypatch.setattr(Network, "forward", counting)
    return calls


@pytest.mark.parametrize("separate", ["none", "support", "support+align"])
def test_full_check_records_one_pass_per_network_per_data_set(monkeypatch, separate):
    A = w_mlp([5, 7, 6, 3], activation="gelu", n_fixed=2, seed=0)
    B = w_mlp([5, 7, 6, 3], activation="gelu", n_fixed=2, seed=1)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 5)), np.arange(120) % 3
    options = {}
    if "support" in separate:
        options["X_support"] = rng.normal(size=(90, 5))
    if "align" in separate:
        options["X_align"] = rng.normal(size=(70, 5))
    calls = _count_recorded_passes(monkeypatch)
    report = full_check(A, B, X, y, loss="ce", **options)
    assert report.checks
    # P1 re-evaluates a few points of its own (at most 200); every other recorded pass is
    # on one of the data sets, once per network
    big = {k: v for k, v in calls.items() if k[1] in {id(report.context.X), id(report.context.Xs),
                                                       id(report.context.X_align)}}
    assert all(v == 1 for v in big.values()), calls
    assert len(big) == 2 * (1 + len(options))


def test_column_max_abs_equals_the_array_expression():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2500, 7)), rng.normal(size=(2500, 7))
    np.testing.assert_array_equal(_column_max_abs(a, b, block=300), np.max(np.abs(a - b), axis=0))
    np.testing.assert_array_equal(_column_max_abs(a), np.max(np.abs(a), axis=0))
    a[1700, 3] = np.nan
    assert np.isnan(_column_max_abs(a, b)[3]) and np.isnan(np.max(np.abs(a - b), axis=0)[3])


def test_ids_as_one_string_are_result_ids_not_characters():
    """``ids="P2"`` used to be split into characters ("no checker for P, 2")."""
    A, B = standard_mlp([4, 6, 3], seed=0), standard_mlp([4, 6, 3], seed=1)
    X = np.random.default_rng(0).normal(size=(40, 4))
    y = np.arange(40) % 3
    for ids, expected in (("P2", ["P2"]), ("p2, T4", ["P2", "T4"]), (["T4"], ["T4"])):
        report = full_check(A, B, X, y, loss="ce", ids=ids)
        assert list(dict.fromkeys(c.id for c in report.checks)) == expected
    for empty in ("", ",", [], ()):  # an empty selection is an error, as on the CLI (--results "")
        with pytest.raises(InvalidOptionError, match="no result ID given"):
            full_check(A, B, X, y, loss="ce", ids=empty)

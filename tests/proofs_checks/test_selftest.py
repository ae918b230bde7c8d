"""The mutation self-test (``neuronid selftest``) at 100 %: part of the test suite and so of CI."""

from __future__ import annotations

import json

import pytest

from neuronid.cli import main
from neuronid.proofs_checks.checkers import CHECKED_RESULTS, MUTATION_POINTS
from neuronid.proofs_checks.selftest import CASES, Case, Mutation, run_selftest


def test_selftest_scores_100_percent():
    out = run_selftest()
    failed = [r for r in out["rows"] if not r["ok"]]
    assert failed == [] and out["passed"] and out["score"] == 1.0
    assert {r["result"] for r in out["rows"]} == set(CHECKED_RESULTS)
    for rid in CHECKED_RESULTS:  # every result: a holds case and >= 2 planted defects
        rows = [r for r in out["rows"] if r["result"] == rid]
        assert sum(r["mutation"] is None for r in rows) >= 1
        assert sum(r["mutation"] is not None for r in rows) >= 2


def test_issue_mutations_are_present():
    names = {(c.result, m.name) for c in CASES for m in c.mutations}
    for item in [("P1", "closed-form cost x 1.05"), ("P2", "K perturbed 1 %"), ("P4", "K perturbed 1 %"),
                 ("P3", "K + 10 max|K| (Delta_in unchanged)"), ("P5", "every realization failing"),
                 ("P6", "phi measured with relu^1.5"), ("T1", "bound x 0.05"), ("T2", "loss bump at t = 1/2"),
                 ("T3", "two neurons swapped in the correspondence"), ("T4", "elementwise bound x 0.5")]:
        assert item in names
    assert all(p in MUTATION_POINTS for c in CASES for m in c.mutations for p in m.mutations)


def test_a_checker_without_power_fails_the_selftest():
    """A planted defect the checker cannot see (T2 reads the loss curve, not the T4
    bound) is reported as undetected, and the self-test fails."""
    base = next(c for c in CASES if c.result == "T2")
    blind = Case("T2", base.description, base.build,
                 (Mutation("T4 bound halved (not used by T2)", {"T4.bound": lambda b: 0.5 * b}),))
    out = run_selftest(["T2"], cases=(blind,))
    assert not out["passed"] and out["score"] == 0.0
    assert out["rows"][1]["verdicts"] == ["holds"] and out["rows"][1]["ok"] is False


def test_selftest_cli(tmp_path, capsys):
    path = tmp_path / "selftest.json"
    assert main(["selftest", "--results", "t2,P4", "--json", str(path)]) == 0
    text = capsys.readouterr().out
    assert "mutation score 7/7 = 100 %" in text and "PASSED" in text
    d = json.loads(path.read_text())
    assert d["score"] == 1.0 and {r["result"] for r in d["rows"]} == {"T2", "P4"}


BAD = [
    (["selftest", "--results", "P9"], "no self-test for 'P9'"),
    (["selftest", "--results", ","], "give comma-separated result IDs"),
    (["selftest", "--json", "/nonexistent-folder/x.json"], "does not exist"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_selftest_bad_input(argv, message, capsys):
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert message in cap.err and cap.err.count("\n") == 1 and "Traceback" not in cap.err

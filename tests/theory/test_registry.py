"""Registry: every THEORY.md ID, hypotheses as predicates, evaluation verdicts."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

from neuronid.theory import RESULT_IDS, SYMBOLS, UnknownResultError, all_results, evaluate_predicate, get_result

def _theory_md() -> Path:
    """THEORY.md: ``$NEURONID_THEORY_MD``, else ``shared/THEORY.md`` beside the checkout
    (CI lays out ``../shared``) or beside one of its parent folders (git worktrees)."""
    if os.environ.get("NEURONID_THEORY_MD"):
        return Path(os.environ["NEURONID_THEORY_MD"])
    repo = Path(__file__).resolve().parents[2]
    for folder in repo.parents:
        candidate = folder / "shared" / "THEORY.md"
        if candidate.is_file():
            return candidate
    return repo.parent / "shared" / "THEORY.md"


def test_ids_in_order():
    assert [r.id for r in all_results()] == list(RESULT_IDS)
    assert RESULT_IDS == ("D1", "D2", "D3", "D4", "D5", "D6", "D7", "P1", "P2", "P3", "P4", "P5", "P6",
                          "T1", "T2", "T3", "T4", "E1", "E2", "E3", "N2")


def test_ids_match_theory_md():
    """Fails (never skips) without THEORY.md: the registry must follow the spec."""
    theory = _theory_md()
    assert theory.is_file(), (f"THEORY.md not found at {theory} (expected ../shared/THEORY.md beside the checkout; "
                              "set NEURONID_THEORY_MD to its path)")
    ids = re.findall(r"\*\*([DPTEN]\d)\s", theory.read_text())
    # N1 (the network model with norms) and N3 (REPAIR) are built into numerics, not registry items
    assert sorted(set(ids) - {"N1", "N3"}) == sorted(RESULT_IDS)


@pytest.mark.parametrize("result", all_results(), ids=lambda r: r.id)
def test_result_shape(result):
    kind = {"D": "definition", "P": "proposition", "T": "theorem", "E": "experiment", "N": "proposition"}[result.id[0]]
    assert result.kind == kind
    assert len(result.statement) > 80 and result.title
    assert result.hypotheses and result.obligations
    for h in result.hypotheses:
        assert isinstance(h.predicate, sp.Basic) and h.name.startswith("H")
        assert h.predicate.free_symbols <= set(SYMBOLS.values())
    d = result.to_dict(run_obligations=False)
    assert {"id", "kind", "statement", "hypotheses", "obligations"} <= set(d)


def test_t3_evaluation():
    r = get_result("T3")
    out = r.evaluate({"gamma": 0.3, "eps": 0.1, "excess_A": 0.0, "excess_B": 0.05,
                      "support_mismatch": 0.0, "function_set_mismatch": 1e-9, "tol": 1e-6,
                      "perm_A_equals_perm_B": True})
    assert [v.status for v in out["hypotheses"]] == ["holds", "holds", "holds"]
    assert out["all_hold"] is True and out["conclusion"].status == "holds"
    h3 = get_result("T3").evaluate({"gamma": 0.1, "eps": 0.3})["hypotheses"][2]
    assert h3.status == "fails" and h3.values == {"gamma": 0.1, "eps": 0.3}


def test_undetermined_missing_and_nan():
    v = evaluate_predicate("x", SYMBOLS["gamma"] > SYMBOLS["eps"], {"gamma": 1.0})
    assert v.status == "undetermined" and v.missing == ("eps",)
    v = evaluate_predicate("x", SYMBOLS["gamma"] > SYMBOLS["eps"], {"gamma": math.nan, "eps": 0.1})
    assert v.status == "undetermined" and "not a number" in v.reason
    # a false conjunct decides the And even with a missing part
    pred = (SYMBOLS["p"] > 0) & (SYMBOLS["p"] < 1) & (SYMBOLS["delta"] > 0)
    assert evaluate_predicate("x", pred, {"p": 2.0}).status == "fails"


def test_infinite_values_and_booleans():
    t4 = get_result("T4")
    verdicts = t4.evaluate({"Lip": math.inf, "same_structure": True, "gap_term_available": False})
    assert [v.status for v in verdicts["hypotheses"]] == ["holds", "fails", "fails"]
    assert verdicts["all_hold"] is False
    assert t4.evaluate({"Lip": 1.0})["hypotheses"][1].status == "holds"


def test_implication_conclusion():
    e2 = get_result("E2")
    assert e2.evaluate({"sigma_F": 0})["conclusion"].status == "holds"
    assert e2.evaluate({"sigma_F": 1, "median_delta": -0.1})["conclusion"].status == "fails"
    assert e2.evaluate({"sigma_F": 1})["conclusion"].status == "undetermined"


def test_unknown_id():
    with pytest.raises(UnknownResultError, match="valid: D1, D2"):
        get_result("X9")
    assert get_result(" t4 ").id == "T4"


def test_obligation_verify_is_cached_and_reports():
    ob = get_result("T4").obligations[0]
    first, second = ob.verify(), ob.verify()
    assert first is second and first.verified
    assert "W_t" in ob.description or "W_A" in ob.description


def test_truth_values_none_and_nan_are_undetermined_not_false_or_true():
    """A boolean hypothesis given as None (not determined) or NaN stays undetermined: it
    was read as false (a failed hypothesis) and NaN as true (a passed one)."""
    p5 = get_result("P5")
    for value, status in ((None, "undetermined"), (math.nan, "undetermined"), ("yes", "undetermined"),
                          (2, "undetermined"), (True, "holds"), (False, "fails"), (1, "holds"), (0, "fails"),
                          (np.True_, "holds"), (np.False_, "fails")):
        out = p5.evaluate({"nondecreasing": value, "realization_set_convex": True})
        assert out["hypotheses"][0].status == status, (value, out["hypotheses"][0])

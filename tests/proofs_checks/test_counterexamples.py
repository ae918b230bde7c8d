"""Counterexamples: every required case is found, saved, and reproduced by
``neuronid check`` on the saved files; bad IDs and hypothesis names exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuronid import UnknownResultError
from neuronid.cli import main
from neuronid.numerics.io import load_data, load_network
from neuronid.proofs_checks.counterexamples import COUNTEREXAMPLES, gelu_partner, search_counterexample
from neuronid.numerics.activations import apply_activation

REQUIRED = [("T2", "H2"), ("T2", "H3"), ("T3", "H3"), ("P5", "H1"), ("P6", "H_balanced")]


def test_gelu_partner_is_another_preimage():
    for z in (-3.0, -2.0, -1.0, -0.5, -0.2):
        u = gelu_partner(z)
        assert abs(u - z) > 1e-3
        assert abs(apply_activation("gelu", np.array([u]))[0] - apply_activation("gelu", np.array([z]))[0]) < 1e-15


@pytest.mark.parametrize("rid, drop", REQUIRED)
def test_required_counterexamples_reproduce_through_check(tmp_path, capsys, rid, drop):
    out = tmp_path / f"{rid}_{drop}"
    assert main(["counterexample", rid, "--drop", drop, "--out", str(out), "--seed", "0"]) == 0
    witness = json.loads((out / "witness.json").read_text())
    assert witness["id"] == rid and witness["dropped"].startswith(drop)
    numbers = witness["numbers"]
    assert numbers["max_output_difference_A_B"] < 1e-12  # A and B compute the same function...
    assert numbers["B_mid"] > 1e-3  # ...and the straight path between them has a barrier
    # the saved files reproduce the failure through the full check
    report_json = tmp_path / "report.json"
    code = main(["check", str(out / "A.safetensors"), str(out / "B.safetensors"), "--data", str(out / "data.npz"),
                 "--loss", "mse", "--quiet", "--json", str(report_json)])
    assert code == 0
    report = json.loads(report_json.read_text())
    target = witness["check"]["result"]
    mine = [r for r in report["results"] if r["id"] == target]
    assert mine and any(r["conclusion"]["status"] == "fails" for r in mine)
    assert all(r["verdict"] == "hypotheses not met" for r in mine if r["conclusion"]["status"] == "fails")
    assert report["violations"] == []
    assert report["paths"]["unaligned"]["B_mid"] == pytest.approx(numbers["B_mid"], rel=1e-9)
    # the files are ordinary network / data files
    assert load_network(out / "A.safetensors").sizes == load_network(out / "B.safetensors").sizes
    assert load_data(out / "data.npz").y is not None


def test_search_is_deterministic_in_its_seed():
    a = search_counterexample("T2", "H3", seed=3, check=False)
    b = search_counterexample("T2", "H3", seed=3, check=False)
    assert a.search["found"] == b.search["found"]
    assert np.array_equal(a.X, b.X)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["counterexample", "Q9", "--drop", "H1"], "unknown result"),
        (["counterexample", "T4", "--drop", "H1"], "no counterexample search for T4; available: N2 --drop"),
        (["counterexample", "T2", "--drop", "H9"], "cannot drop 'H9'; valid: H2_nondecreasing, H3_identity_correspondence"),
    ],
)
def test_bad_ids_and_hypotheses_exit_2(capsys, argv, fragment):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment.lower() in err.lower(), err
    assert len(err.strip().splitlines()) == 1


def test_every_case_names_a_registry_hypothesis_or_balance():
    from neuronid.theory.registry import get_result

    for rid, name in COUNTEREXAMPLES:
        names = [h.name for h in get_result(rid).hypotheses]
        assert name in names or name == "H_balanced"
    with pytest.raises(UnknownResultError):
        search_counterexample("T2", "nonsense")

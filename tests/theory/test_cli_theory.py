"""``neuronid symmetries`` and ``neuronid results``: output, JSON, bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from neuronid.cli import main
from neuronid.theory import CATALOGUE


def test_symmetries_json(tmp_path, capsys):
    path = tmp_path / "tanh.json"
    assert main(["symmetries", "tanh", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "odd" in out and "4*sqrt(3)/9" in out
    d = json.loads(path.read_text())
    assert {"activation", "monotone", "lipschitz", "curvature", "symmetries"} <= set(d)
    assert d["activation"] == "tanh" and d["lipschitz"] == 1.0
    odd = [s for s in d["symmetries"] if s["name"] == "odd"][0]
    assert odd["proved"] is True and odd["transformation"] == "(c, w, b) -> (-c, -w, -b)"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


@pytest.mark.parametrize("name", CATALOGUE)
def test_symmetries_whole_catalogue(name, capsys):
    assert main(["symmetries", name]) == 0
    assert "permutation" in capsys.readouterr().out


def test_symmetries_user_expression_nonfinite_json(tmp_path, capsys):
    path = tmp_path / "sq.json"
    assert main(["symmetries", "sympy:z^2", "--json", str(path)]) == 0
    d = json.loads(path.read_text())
    assert d["activation"] == "sympy:z**2"
    assert d["lipschitz"] is None and d["lipschitz_reason"] == "unbounded"
    assert d["decreasing_intervals"][0]["lo"] is None and d["decreasing_intervals"][0]["lo_reason"] == "-inf"
    assert {s["name"] for s in d["symmetries"] if s["proved"]} == {"positive_homogeneity", "even", "permutation"}


def test_relu_curvature_null_with_reason(tmp_path, capsys):
    path = tmp_path / "relu.json"
    assert main(["symmetries", "relu", "--json", str(path)]) == 0
    d = json.loads(path.read_text())
    assert d["curvature"] is None and "piecewise linear" in d["curvature_reason"]
    assert d["kinks"] == [{"location": 0.0, "left_slope": 0.0, "right_slope": 1.0}]


def test_results_json(tmp_path, capsys):
    path = tmp_path / "t4.json"
    assert main(["results", "T4", "--json", str(path)]) == 0
    assert "path_identity" in capsys.readouterr().out
    d = json.loads(path.read_text())
    (r,) = d["results"]
    assert {"id", "kind", "statement", "hypotheses", "obligations"} <= set(r)
    assert r["id"] == "T4" and all(o["verified"] for o in r["obligations"])
    assert all({"name", "predicate"} <= set(h) for h in r["hypotheses"])


BAD = [
    (["symmetries", "sympy:log(z)"], "argument of log"),
    (["symmetries", "sympy:x*z"], "unknown name"),
    (["symmetries", "sympy:z+"], "does not parse"),
    (["symmetries", "foo"], "unknown activation"),
    (["results", "Z9"], "unknown result ID"),
    (["results", "--json", "/nonexistent-folder/x.json"], "does not exist"),
]


@pytest.mark.parametrize("argv, message", BAD)
def test_bad_input_exit_2(argv, message, capsys):
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert message in cap.err and cap.err.count("\n") == 1 and "Traceback" not in cap.err
    assert cap.out == ""


def test_python_m_results():
    proc = subprocess.run([sys.executable, "-m", "neuronid", "results"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    n_obl, n_ok = last.split(" items, ")[1].split(" obligations, ")
    assert last.startswith("21 items") and n_ok.split()[0] == n_obl  # D1-D7, P1-P6, T1-T4, E1-E3, N2
    for rid in ("D1", "D7", "P1", "P6", "T1", "T4", "E3", "N2"):
        assert f"\n{rid} " in "\n" + proc.stdout

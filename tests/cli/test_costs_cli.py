"""``neuronid costs`` end to end on files written by ``neuronid train`` (all four
structure kinds), the JSON keys, plots, and the bad-input table (exit 2, one line)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuronid.cli import main
from neuronid.numerics.io import save_data

TRAIN = ["--epochs", "2", "--hidden", "10,8", "--n", "200", "--quiet", "--batch-size", "64"]
KINDS = ("standard", "w-mlp", "syre", "sigma-asym")
KEYS = ("layer", "rank", "explained_variance", "coherence", "K", "delta_in", "delta_out", "delta_sum", "gamma",
        "delta_min", "slack", "anisotropy", "t1_bound")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("costs_cli")
    data = str(d / "data.npz")
    for kind in KINDS:
        extra = ["--save-data", data] if kind == "standard" else []
        assert main(["train", "--out", str(d / f"{kind}.safetensors"), *TRAIN, "--structure", kind,
                     "--seed", "1", *extra]) == 0
    assert main(["train", "--out", str(d / "standard2.npz"), *TRAIN, "--seed", "2"]) == 0
    return d


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", KINDS)
def test_costs_all_structures(workdir, capsys, kind):
    out_json = workdir / f"{kind}.json"
    code, out, err = run_cli(["costs", workdir / f"{kind}.safetensors", "--data", workdir / "data.npz",
                              "--json", out_json, "--quiet"], capsys)
    assert code == 0, err
    assert "gamma" in out and "layer 0 K:" in out
    # the paper's swap cost Delta_in and Delta_out are separate columns; their sum is labelled as the sum
    assert "med.Delta_in" in out and "med.Delta_out" in out and "med.sum(in+out)" in out
    assert "med.Delta " not in out
    obj = json.loads(out_json.read_text())
    for L in obj["layers"]:
        for key in ("delta_in", "delta_out", "delta_sum"):
            M = np.array([[np.nan if v is None else v for v in row] for row in L[key]], dtype=float)
            off = M[~np.eye(M.shape[0], dtype=bool)]
            off = off[np.isfinite(off)]
            if off.size:  # the table's medians are these matrices' off-diagonal medians
                assert f"{float(np.median(off)):.4g}" in out
    assert [L["layer"] for L in obj["layers"]] == [0, 1]
    for L in obj["layers"]:
        for key in KEYS:
            assert key in L, key
        m = L["neurons"]
        assert np.array(L["K"], dtype=float).shape == (m, m)
        for key in ("K", "delta_sum", "delta_in", "delta_out"):
            if any(v is None for row in L[key] for v in row):
                assert f"{key}_reason" in L
        if L["gamma"] is None:
            assert "gamma_reason" in L
    if kind == "standard":
        for L in obj["layers"]:
            assert np.max(np.abs(np.array(L["delta_in"]))) <= 1e-12 * np.max(np.array(L["K"]))
            assert np.max(np.abs(np.array(L["delta_out"]))) == 0.0


def test_costs_layer_tau_and_plots(workdir, capsys):
    plots = workdir / "plots"
    code, out, err = run_cli(["costs", workdir / "w-mlp.safetensors", "--data", workdir / "data.npz", "--layer",
                              "1", "--tau", "1", "--plots", plots, "--json", workdir / "w1.json", "--quiet"], capsys)
    assert code == 0, err
    obj = json.loads((workdir / "w1.json").read_text())
    assert [L["layer"] for L in obj["layers"]] == [1] and obj["tau"] == 1.0
    assert obj["layers"][0]["explained_variance"] == pytest.approx(1.0)
    names = sorted(p.name for p in plots.iterdir())
    assert "layer1_delta_sum.png" in names and "layer1_anisotropy.png" in names
    assert len(obj["plots"]) == len(names)


def test_costs_two_networks_correspondence(workdir, capsys):
    out_json = workdir / "two.json"
    code, out, err = run_cli(["costs", workdir / "standard.safetensors", workdir / "standard2.npz", "--data",
                              workdir / "data.npz", "--json", out_json, "--no-delta-out", "--quiet"], capsys)
    assert code == 0, err
    obj = json.loads(out_json.read_text())
    assert len(obj["layers"]) == len(obj["layers_b"]) == 2
    for c in obj["correspondence"]:
        assert sorted(c["perm"]) == list(range(c["neurons"]))
        assert 0 <= c["fixed_points"] <= c["neurons"] and len(c["mismatch"]) == c["neurons"]
    assert "correspondence" in out
    # a network against itself: identity correspondence, zero mismatch
    code, out, err = run_cli(["costs", workdir / "syre.safetensors", workdir / "syre.safetensors", "--data",
                              workdir / "data.npz", "--layer", "0", "--json", out_json, "--quiet"], capsys)
    assert code == 0
    c = json.loads(out_json.read_text())["correspondence"][0]
    assert c["fixed_points"] == c["neurons"] and max(c["mismatch"]) == 0.0


def _write(path, X):
    save_data(path, X)
    return path


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--layer", "5"], "--layer 5 is out of range"),
        (["--layer", "-1"], "out of range"),
        (["--tau", "0"], "--tau must lie in (0, 1]"),
        (["--tau", "1.5"], "--tau must lie in (0, 1]"),
        (["--delta", "1"], "--delta must lie in (0, 1)"),
        (["--data", "{missing}"], "no such file"),
        (["--data", "{nan}"], "NaN"),
        (["--data", "{narrow}"], "expects"),
        (["B={other}"], "different sizes"),
        (["NET={missing}"], "no such file"),
    ],
)
def test_bad_input(workdir, capsys, args, fragment):
    nan = workdir / "nan.npz"
    if not nan.exists():
        np.savez(nan, X=np.full((4, 512), np.nan))
        _write(workdir / "narrow.npz", np.ones((4, 3)))
        assert main(["train", "--out", str(workdir / "other.safetensors"), *TRAIN[:2], "--hidden", "7",
                     *TRAIN[4:], "--seed", "3"]) == 0
    subst = {"{missing}": str(workdir / "missing.npz"), "{nan}": str(nan), "{narrow}": str(workdir / "narrow.npz"),
             "{other}": str(workdir / "other.safetensors")}
    net, extra, data = str(workdir / "standard.safetensors"), [], str(workdir / "data.npz")
    b = []
    it = iter(args)
    for a in it:
        if a.startswith("NET="):
            net = subst.get(a[4:], a[4:])
        elif a.startswith("B="):
            b = [subst.get(a[2:], a[2:])]
        elif a == "--data":
            data = subst.get(next(it))
        else:
            extra.append(a)
    code, out, err = run_cli(["costs", net, *b, "--data", data, "--quiet", *extra], capsys)
    assert code == 2, (out, err)
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1

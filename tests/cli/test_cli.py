"""CLI end to end: train -> lmc -> check on written files, and the bad-input table
(one line on stderr, exit status 2, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from neuronid.cli import main
from neuronid.numerics.io import load_network, network_tensors, save_data, save_network
from neuronid.numerics.structures import standard_mlp, w_mlp

TRAIN = ["--epochs", "3", "--hidden", "16", "--n", "256", "--quiet", "--batch-size", "64"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """Two trained standard MLPs, two W-MLPs and the data they were trained on."""
    d = tmp_path_factory.mktemp("cli")
    data = str(d / "data.npz")
    for name, extra in (
        ("a", ["--seed", "1", "--save-data", data]),
        ("b", ["--seed", "2"]),
        ("wa", ["--seed", "1", "--structure", "w-mlp", "--n-fixed", "4", "--sigma-f", "1"]),
        ("wb", ["--seed", "2", "--structure", "w-mlp", "--n-fixed", "4", "--sigma-f", "1"]),
    ):
        assert main(["train", "--out", str(d / f"{name}.safetensors"), *TRAIN, *extra]) == 0
    return d


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("check", "train", "lmc", "data"):
        assert command in out


def test_train_writes_loadable_networks(workdir):
    a = load_network(workdir / "a.safetensors")
    assert a.sizes == [64, 16, 10]
    wa = load_network(workdir / "wa.safetensors")
    assert np.all((1 - wa.layers[0].mask).sum(axis=1) == 4)
    wb = load_network(workdir / "wb.safetensors")
    assert wa.structure_differences(wb) == []  # shared --structure-seed


def test_train_notes_whole_real_targets_as_regression(tmp_path, capsys):
    """Labels stored as floats train a one-output regression: said on stderr after the
    result (outside tester: it happened without a word); integer labels and real-valued
    targets get no note."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    labels = (X[:, 0] > 0).astype(np.int64)
    for name, y, noted in (("floaty", labels.astype(float), True), ("ints", labels, False),
                           ("real", X[:, :1] * 0.5, False)):
        save_data(tmp_path / f"{name}.npz", X, y)
        code, out, err = run_cli(["train", "--data", tmp_path / f"{name}.npz", "--hidden", "4", "--epochs", "1",
                                  "--quiet", "--out", tmp_path / f"{name}.safetensors"], capsys)
        assert code == 0 and out.startswith("wrote"), err
        assert ("trained a regression" in err) is noted, (name, err)


def test_lmc_json_has_the_documented_keys(workdir, capsys):
    out_json = workdir / "lmc.json"
    code, out, err = run_cli(
        ["lmc", workdir / "a.safetensors", workdir / "b.safetensors", "--data", workdir / "data.npz",
         "--align", "all", "--steps", "11", "--json", out_json], capsys)
    assert code == 0, err
    result = json.loads(out_json.read_text())
    assert len(result["steps"]) == 11
    for block in ("unaligned", "activation", "weight"):
        for key in ("loss", "error", "B_lerp", "B_peak", "B_mid", "B_mean", "B_lerp_error"):
            assert key in result[block], (block, key)
        assert len(result[block]["loss"]) == 11
        assert result[block]["B_peak"] <= result[block]["B_lerp"] + 1e-12
    assert "B_lerp" in out


def test_lmc_of_a_network_with_itself_is_zero(workdir, capsys):
    out_json = workdir / "self.json"
    code, _, err = run_cli(["lmc", workdir / "a.safetensors", workdir / "a.safetensors", "--data",
                            workdir / "data.npz", "--json", out_json], capsys)
    assert code == 0, err
    result = json.loads(out_json.read_text())["unaligned"]
    assert result["B_lerp"] == 0.0 and result["B_peak"] == 0.0 and result["B_mid"] == 0.0


def test_check_on_files(workdir, capsys, tmp_path):
    # old outputs that are hard links to a user's files: replaced, never written through
    notes = tmp_path.parent / f"{tmp_path.name}-notes"
    notes.mkdir()
    for name in ("report.md", "report.json", "barriers.png"):
        (notes / name).write_text("a user's notes\n")
        os.link(notes / name, tmp_path / name)
    code, out, err = run_cli(["check", workdir / "wa.safetensors", workdir / "wb.safetensors",
                              "--data", workdir / "data.npz", "--out", tmp_path], capsys)
    assert code == 0, err
    for name in ("report.md", "report.json", "barriers.png"):
        assert (notes / name).read_text() == "a user's notes\n", name
        assert not os.path.samefile(notes / name, tmp_path / name)
    report = json.loads((tmp_path / "report.json").read_text())
    for key in ("results", "paths", "layers"):
        assert key in report
    assert {"B_lerp", "B_peak", "B_mid", "certificate"} <= set(report["paths"]["unaligned"])
    for entry in report["results"]:
        assert {"id", "verdict", "hypotheses", "quantities"} <= set(entry)
        for h in entry["hypotheses"].values():
            assert {"holds", "values"} <= set(h)
    assert not report["violations"]
    assert (tmp_path / "report.md").exists() and (tmp_path / "barriers.png").exists()
    assert "unaligned" in out and "verdicts:" in out


def test_data_command(tmp_path, capsys):
    code, out, _ = run_cli(["data", "parity", "--out", tmp_path / "p.npz", "--n", "100"], capsys)
    assert code == 0 and "X (100," in out


@pytest.fixture(scope="module")
def bad_files(workdir):
    d = workdir / "bad"
    d.mkdir()
    (d / "text.npz").write_text("not a zip")
    blob = (workdir / "a.safetensors").read_bytes()
    (d / "trunc.safetensors").write_bytes(blob[:100])
    np.savez(d / "nometa.npz", **network_tensors(standard_mlp([64, 16, 10])))
    save_network(standard_mlp([64, 17, 10], seed=3), d / "wider.safetensors")
    save_data(d / "dim.npz", np.zeros((5, 7)), np.zeros(5, dtype=int))
    save_data(d / "labels.npz", np.zeros((5, 64)), np.array([0, 1, 2, 3, 25]))
    save_data(d / "nolabels.npz", np.zeros((5, 64)))
    with open(d / "noX.npz", "wb") as fh:
        np.savez(fh, y=np.zeros(3))
    with open(d / "nan.npz", "wb") as fh:
        np.savez(fh, X=np.full((2, 64), np.nan), y=np.zeros(2, dtype=int))
    obj = np.empty(1, dtype=object)
    obj[0] = {"x": 1}
    with open(d / "pickle.npz", "wb") as fh:
        np.savez(fh, X=obj)
    return d


BAD = [
    (["lmc", "{w}/missing.safetensors", "{w}/b.safetensors", "--data", "{w}/data.npz"], "no such file"),
    (["lmc", "{b}/text.npz", "{w}/b.safetensors", "--data", "{w}/data.npz"], "not a valid .npz"),
    (["lmc", "{b}/trunc.safetensors", "{w}/b.safetensors", "--data", "{w}/data.npz"], "not a readable safetensors"),
    (["lmc", "{b}/nometa.npz", "{w}/b.safetensors", "--data", "{w}/data.npz"], "metadata missing"),
    (["lmc", "{w}/a.safetensors", "{b}/wider.safetensors", "--data", "{w}/data.npz"], "sizes differ"),
    (["lmc", "{w}/a.safetensors", "{w}/wa.safetensors", "--data", "{w}/data.npz"], "masks differ"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{b}/dim.npz"], "has 7 features but the network expects 64"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{b}/labels.npz"], "must lie in [0, 9]"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{b}/nolabels.npz"], "needs targets 'y'"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{b}/noX.npz"], "no array 'X'"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{b}/nan.npz"], "NaN or Inf"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{b}/pickle.npz"], "never unpickles"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{w}/data.npz", "--steps", "1"], "at least 2"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{w}/data.npz", "--activations", "swishy"], "unknown activation 'swishy'"),
    (["lmc", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{w}/data.npz", "--align", "bogus"], "invalid choice"),
    (["check", "{w}/a.safetensors"], "two network files"),
    (["check", "{w}/a.safetensors", "{w}/b.safetensors"], "needs --data"),
    (["check", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{w}/data.npz", "--results", "P9,T2"], "unknown result ID(s) P9; valid: P1"),
    (["check", "{w}/a.safetensors", "{w}/b.safetensors", "--data", "{w}/data.npz", "--tau", "0"], "--tau must lie in (0, 1]"),
    (["train", "--out", "{b}/x.safetensors", "--data", "{b}/nolabels.npz", "--quiet"], "needs targets 'y'"),
    (["train", "--out", "{b}/x.safetensors", "--epochs", "0"], "expected an integer >= 1"),
    (["train", "--out", "{b}/x.safetensors", "--hidden", "0"], "positive integers"),
    (["train", "--out", "{b}/x.safetensors", "--activation", "nope", "--n", "64", "--quiet"], "unknown activation 'nope'"),
    (["train", "--out", "{b}/x.safetensors", "--lr", "-1", "--n", "64", "--quiet"], "lr"),
    (["train", "--out", "{b}/nofolder/x.safetensors", "--epochs", "1", "--n", "64", "--hidden", "4", "--quiet"], "does not exist"),
    (["train", "--out", "{b}/x.pt", "--epochs", "1", "--n", "64", "--hidden", "4", "--quiet"], "unknown network file type"),
]


@pytest.mark.parametrize("argv, fragment", BAD, ids=[" ".join(a[:1] + [f]) for a, f in BAD])
def test_bad_input_exits_2_with_one_line(workdir, bad_files, capsys, argv, fragment):
    args = [a.format(w=workdir, b=bad_files) for a in argv]
    try:
        code = main(args)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert fragment in err, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2  # argparse prints usage + one error line


def test_structure_mismatch_can_be_allowed(workdir, capsys):
    code, out, err = run_cli(["lmc", workdir / "a.safetensors", workdir / "wa.safetensors", "--data",
                              workdir / "data.npz", "--allow-structure-mismatch"], capsys)
    assert code == 0, err


def test_python_m_neuronid_subprocess(workdir):
    proc = subprocess.run(
        [sys.executable, "-m", "neuronid", "lmc", str(workdir / "missing.npz"), str(workdir / "b.safetensors"),
         "--data", str(workdir / "data.npz")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "no such file" in proc.stderr and "Traceback" not in proc.stderr

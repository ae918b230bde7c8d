"""CLI with normalization layers (THEORY N1): train --norm, lmc --reset-bn, and check end
to end on a LayerNorm + GELU W-MLP pair (the paper's E3 model at reduced width)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuronid.cli import main
from neuronid.numerics.io import load_network, save_network
from neuronid.numerics.network import Layer, Network, Norm
from neuronid.numerics.structures import w_mlp

# reduced width of the paper's E3 model: 32 -> 64 -> 64 -> 10, Linear -> LayerNorm -> GELU
TRAIN = ["--structure", "w-mlp", "--hidden", "64,64", "--activation", "gelu", "--norm", "layer", "--n-fixed", "8",
         "--dataset", "subspace", "--ambient", "32", "--n", "300", "--epochs", "3", "--batch-size", "64", "--quiet"]


@pytest.fixture(scope="module")
def layer_norm_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("norm_cli")
    assert main(["train", "--out", str(d / "a.safetensors"), "--seed", "1", "--save-data", str(d / "data.npz"), *TRAIN]) == 0
    assert main(["train", "--out", str(d / "b.npz"), "--seed", "2", *TRAIN]) == 0
    return d


def run_cli(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_train_norm_layer_writes_format_2(layer_norm_pair):
    a = load_network(layer_norm_pair / "a.safetensors")
    assert a.sizes == [32, 64, 64, 10]
    assert [n.kind for n in a.norms] == ["layer", "layer"]
    assert not np.array_equal(a.norms[0].weight, np.ones(64))  # gamma was trained
    assert np.all((1 - a.layers[0].mask).sum(axis=1) == 8)


def test_check_runs_end_to_end_on_layer_norm_pair(layer_norm_pair, capsys, tmp_path):
    d = layer_norm_pair
    code, out, err = run_cli(["check", d / "a.safetensors", d / "b.npz", "--data", d / "data.npz",
                              "--out", tmp_path, "--quiet"], capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert "T4 certificate: unsupported: normalization layer" in out
    assert "unsupported: normalization layer" in (tmp_path / "report.md").read_text()
    report = json.loads((tmp_path / "report.json").read_text())
    assert not report["violations"]
    by_id = {}
    for entry in report["results"]:
        by_id.setdefault(entry["id"], []).append(entry)
    assert set(by_id) == {"P1", "P2", "P3", "P4", "P5", "P6", "T1", "T2", "T3", "T4"}
    for entry in by_id["T4"]:
        assert entry["verdict"] == "not applicable"
        assert "unsupported: normalization layer" in entry["notes"][0]
    for path in ("unaligned", "activation", "weight"):
        assert report["paths"][path]["certificate_status"] == "unsupported: normalization layer"
        assert report["paths"][path]["B_lerp"] is not None  # barriers are still measured
    # every other result is evaluated (P6 is not applicable to a normalized layer by design)
    for rid in ("P1", "P2", "P3", "P4", "P5", "T1", "T2", "T3"):
        for entry in by_id[rid]:
            assert entry["verdict"] in ("holds", "fails", "hypotheses not met"), (rid, entry["verdict"])
    assert "layer norm" in by_id["P6"][0]["notes"][0]
    # P1 on a normalized layer checks the pre-activation (identity) closed form against cvxpy
    assert by_id["P1"][0]["verdict"] == "holds"


@pytest.fixture(scope="module")
def batch_norm_pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("bn_cli")
    rng = np.random.default_rng(0)
    for name, seed in (("a", 1), ("b", 2)):
        base = w_mlp([6, 12, 8, 3], n_fixed=1, activation="relu", norm="batch", seed=seed, structure_seed=0)
        layers = []
        for layer in base.layers:
            norm = None
            if layer.norm is not None:
                m = layer.norm.size
                norm = Norm("batch", 1e-5, rng.uniform(0.5, 1.5, m), rng.normal(0, 0.2, m), rng.normal(0, 0.3, m),
                            rng.uniform(0.2, 1.0, m))
            layers.append(Layer(layer.weight, layer.bias, layer.mask, layer.fixed, layer.activation, norm))
        save_network(Network(layers), d / f"{name}.safetensors")
    save_network(w_mlp([6, 12, 8, 3], n_fixed=1, norm="layer", seed=3, structure_seed=0), d / "ln.safetensors")
    X = rng.normal(size=(120, 6))
    np.savez(d / "data.npz", X=X, y=rng.integers(0, 3, size=120))
    return d


def test_lmc_reset_bn(batch_norm_pair, capsys, tmp_path):
    d = batch_norm_pair
    base = ["lmc", d / "a.safetensors", d / "b.safetensors", "--data", d / "data.npz", "--align", "all"]
    code, out, err = run_cli([*base, "--json", tmp_path / "plain.json"], capsys)
    assert code == 0, err
    code, out, err = run_cli([*base, "--reset-bn", "--json", tmp_path / "reset.json"], capsys)
    assert code == 0, err
    plain = json.loads((tmp_path / "plain.json").read_text())
    reset = json.loads((tmp_path / "reset.json").read_text())
    assert "reset_bn" in reset and "reset_bn" not in plain
    assert reset["unaligned"]["loss"][10] != pytest.approx(plain["unaligned"]["loss"][10], rel=1e-6)
    assert {"unaligned", "activation", "weight"} <= set(reset)


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["train", "--out", "{d}/x.npz", "--norm", "batch", "--quiet"], "training with BatchNorm is not supported"),
        (["train", "--out", "{d}/x.npz", "--norm", "group", "--quiet"], "invalid choice: 'group'"),
        (["train", "--out", "{d}/x.npz", "--norm", "layer", "--norm-eps", "-1", "--quiet"], "norm_eps must be a finite number >= 0"),
        (["lmc", "{L}/a.safetensors", "{L}/b.npz", "--data", "{L}/data.npz", "--reset-bn"], "has a BatchNorm layer"),
        (["lmc", "{d}/ln.safetensors", "{d}/a.safetensors", "--data", "{d}/data.npz"], "normalizations differ"),
    ],
)
def test_bad_norm_input_exits_2_with_one_line(layer_norm_pair, batch_norm_pair, capsys, argv, fragment):
    argv = [a.format(d=batch_norm_pair, L=layer_norm_pair) for a in argv]
    with pytest.raises(SystemExit) if "invalid choice" in fragment else _no_raise():
        code = main(argv)
        assert code == 2
    err = capsys.readouterr().err
    assert fragment in err, err
    assert "Traceback" not in err
    if "invalid choice" not in fragment:
        assert len(err.strip().splitlines()) == 1, err


class _no_raise:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_bad_norm_file_exits_2_naming_file_tensor_layer(batch_norm_pair, capsys, tmp_path):
    from neuronid.numerics.io import network_metadata, network_tensors

    net = load_network(batch_norm_pair / "ln.safetensors")
    tensors = network_tensors(net)
    tensors["layers.1.norm.weight"] = np.ones(9)
    bad = tmp_path / "bad.npz"
    np.savez(bad, metadata=np.array(json.dumps(network_metadata(net))), **tensors)
    code = main(["lmc", str(bad), str(batch_norm_pair / "ln.safetensors"), "--data", str(batch_norm_pair / "data.npz")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for fragment in ("bad.npz", "'layers.1.norm.weight'", "must have shape (8,)", "found (9,)"):
        assert fragment in err, err

"""A PyTorch user's round trip through the CLI: ``neuronid import`` (one command per
model), ``neuronid lmc`` on the imported pair against a path computed independently in
PyTorch (float64, every float tensor of the state dict interpolated, norm parameters
and BatchNorm statistics included), ``to_torch`` logits, ``export``, bad input."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from neuronid.cli import main  # noqa: E402
from neuronid.numerics.io import load_network, save_data  # noqa: E402
from neuronid.numerics.torch_convert import to_torch  # noqa: E402

#: path losses in float64 on both sides agree to ~1e-15; the acceptance tolerance is 1e-6
RTOL = 1e-6
D_IN, N_OUT = 6, 3


def _authors():
    path = Path(__file__).parents[1] / "numerics" / "_authors_mlp.py"
    spec = importlib.util.spec_from_file_location("_authors_mlp", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MASK_PARAMS = {"default": {"mask_constant": 1.0, "mask_type": "random_subsets", "do_normal_mask": True,
                           "num_fixed": 2},
               "linear_mask_params_2": {"mask_constant": 0.5, "num_fixed": 2}}


def make_model(kind: str, seed: int):
    torch.manual_seed(seed)
    if kind == "relu":
        return nn.Sequential(nn.Linear(D_IN, 10), nn.ReLU(), nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, N_OUT))
    if kind == "gelu":
        return nn.Sequential(nn.Linear(D_IN, 10), nn.GELU(), nn.Linear(10, N_OUT))
    if kind == "gelu-ln":
        return nn.Sequential(nn.Linear(D_IN, 10), nn.LayerNorm(10), nn.GELU(), nn.Dropout(0.1),
                             nn.Linear(10, 8), nn.LayerNorm(8), nn.GELU(), nn.Linear(8, N_OUT))
    if kind == "relu-bn":
        return nn.Sequential(nn.Linear(D_IN, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, N_OUT))
    mod = _authors()
    cls = {"paper-w": mod.WMLP, "paper-noise": mod.NoiseMLP}[kind]
    return cls(D_IN, 8, N_OUT, 3, MASK_PARAMS, norm="layer", activation="gelu", mask_seed=11)


#: kind -> extra import flags (state dicts do not store activations; the paper
#: layout reads the run's config)
FLAGS = {"relu": ["--activation", "relu"], "gelu": ["--activation", "gelu"], "gelu-ln": ["--activation", "gelu"],
         "relu-bn": ["--activation", "relu"], "paper-w": ["--layout", "paper", "--config", "CONFIG"],
         "paper-noise": ["--layout", "paper", "--config", "CONFIG"]}


def trained(kind, seed, X, y):
    """Train a few Adam steps in torch (so parameters and BN statistics are not the init)."""
    model = make_model(kind, seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y)
    model.train()
    for _ in range(25):
        opt.zero_grad()
        nn.functional.cross_entropy(model(Xt), yt).backward()
        opt.step()
    return model.eval()


def torch_path(model_a, model_b, X, y, steps):
    """The linear path computed in PyTorch alone: lerp of every float state-dict entry
    (as the authors' ``lerp_sd``), loaded into a float64 copy, mean cross-entropy."""
    sa, sb = model_a.state_dict(), model_b.state_dict()
    ref = copy.deepcopy(model_a).double().eval()
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y)
    losses = []
    for t in steps:
        sd = {k: ((1 - t) * v.double() + t * sb[k].double()) if v.is_floating_point() else v for k, v in sa.items()}
        ref.load_state_dict(sd)
        with torch.no_grad():
            losses.append(float(nn.functional.cross_entropy(ref(Xt), yt)))
    return np.array(losses)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("import_cli")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(160, D_IN))
    y = rng.integers(0, N_OUT, size=160)
    save_data(d / "data.npz", X, y)
    save_data(d / "train.npz", rng.normal(size=(160, D_IN)), rng.integers(0, N_OUT, size=160))
    import yaml

    (d / "config.yaml").write_text(yaml.safe_dump({"model": {"norm": "layer", "activation": "gelu", "symmetry": 1,
                                                             "num_layers": 3, "mask_params": MASK_PARAMS}}))
    return d, X, y


def run_cli(args, capsys):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("kind", list(FLAGS))
def test_round_trip(kind, data, capsys):
    d, X, y = data
    models, nets = [], []
    for seed, fmt in ((0, ".pt"), (1, ".safetensors")):
        model = trained(kind, seed, X, y)
        src = d / f"{kind}_{seed}{fmt}"
        if fmt == ".pt":
            torch.save(model.state_dict(), src)
        else:
            from safetensors.torch import save_file

            save_file(model.state_dict(), str(src))
        dst = d / f"{kind}_{seed}.safetensors.npz"
        flags = [str(d / "config.yaml") if f == "CONFIG" else f for f in FLAGS[kind]]
        code, out, err = run_cli(["import", src, "--out", dst, *flags], capsys)  # one command each
        assert code == 0, err
        assert "self-check: outputs equal torch's" in out
        models.append(model)
        nets.append(dst)
        # to_torch(load_network(p)) reproduces the torch logits
        back = to_torch(load_network(dst))
        with torch.no_grad():
            ours = back(torch.as_tensor(X)).numpy()
            theirs = copy.deepcopy(model).double()(torch.as_tensor(X)).numpy()
        assert np.max(np.abs(ours - theirs)) <= RTOL * np.max(np.abs(theirs))
    # lmc on the imported pair = the path computed in PyTorch
    out_json = d / f"{kind}_lmc.json"
    code, out, err = run_cli(["lmc", *nets, "--data", d / "data.npz", "--steps", "11", "--json", out_json], capsys)
    assert code == 0, err
    obj = json.loads(out_json.read_text())
    ours = np.array(obj["unaligned"]["loss"])
    theirs = torch_path(*models, X, y, obj["steps"])
    assert np.max(np.abs(ours - theirs) / np.abs(theirs)) <= RTOL
    assert np.ptp(theirs) > 1e-3  # the path is not flat: the comparison can fail


def test_export_round_trip(data, capsys, tmp_path):
    d, X, y = data
    model = trained("gelu-ln", 0, X, y)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    assert run_cli(["import", tmp_path / "m.pt", "--out", tmp_path / "m.npz", "--activation", "gelu",
                    "--json", tmp_path / "i.json"], capsys)[0] == 0
    info = json.loads((tmp_path / "i.json").read_text())
    assert info["sizes"] == [D_IN, 10, 8, N_OUT] and info["activations"] == ["gelu", "gelu"]
    assert info["norms"][0] == {"kind": "layer", "eps": 1e-5, "affine": True}
    assert info["self_check"]["max_relative_difference"] <= 1e-12
    assert info["modules"][0] == "0: Linear(6, 10)" and info["modules"][3] == "4: Linear(10, 8)"
    reference = copy.deepcopy(model).double()(torch.as_tensor(X)).detach().numpy()
    for out_name in ("e.safetensors", "e.pt"):
        code, out, err = run_cli(["export", tmp_path / "m.npz", "--out", tmp_path / out_name,
                                  "--json", tmp_path / "e.json"], capsys)
        assert code == 0, err
        assert "(1) LayerNorm((10,), eps=1e-05, elementwise_affine=True)" in out
        assert "(2) GELU(approximate='none')" in out
        # the state dict loads into the printed nn.Sequential (dropout gone, indices renumbered)
        seq = nn.Sequential(nn.Linear(D_IN, 10), nn.LayerNorm(10), nn.GELU(), nn.Linear(10, 8), nn.LayerNorm(8),
                            nn.GELU(), nn.Linear(8, N_OUT)).double().eval()
        if out_name.endswith(".pt"):
            sd = torch.load(tmp_path / out_name, weights_only=True)
            assert "neuronid.modules" in sd._metadata[""]
        else:
            from safetensors import safe_open
            from safetensors.torch import load_file

            sd = load_file(str(tmp_path / out_name))
            with safe_open(str(tmp_path / out_name), framework="numpy") as fh:
                assert json.loads(fh.metadata()["neuronid.modules"])[1]["type"] == "LayerNorm"
        seq.load_state_dict(sd)
        with torch.no_grad():
            got = seq(torch.as_tensor(X)).numpy()
        assert np.max(np.abs(got - reference)) <= RTOL * np.max(np.abs(reference))
        # re-import needs no --activation: the module list in the metadata names them
        assert run_cli(["import", tmp_path / out_name, "--out", tmp_path / "again.npz"], capsys)[0] == 0


def test_export_without_torch_writes_safetensors(data, capsys, tmp_path, monkeypatch):
    from neuronid.numerics.structures import standard_mlp
    from neuronid.numerics.io import save_network
    import sys

    save_network(standard_mlp([4, 5, 2], seed=0), tmp_path / "n.npz")
    monkeypatch.setitem(sys.modules, "torch", None)
    assert run_cli(["export", tmp_path / "n.npz", "--out", tmp_path / "n.safetensors"], capsys)[0] == 0
    code, out, err = run_cli(["export", tmp_path / "n.npz", "--out", tmp_path / "n.pt"], capsys)
    assert code == 2 and "needs PyTorch" in err


def test_lmc_and_check_align_data(data, capsys, tmp_path):
    d, X, y = data
    nets = []
    for seed in (0, 1):
        model = trained("gelu-ln", seed, X, y)
        torch.save(model.state_dict(), tmp_path / f"m{seed}.pt")
        assert run_cli(["import", tmp_path / f"m{seed}.pt", "--out", tmp_path / f"m{seed}.npz", "--activation",
                        "gelu"], capsys)[0] == 0
        nets.append(tmp_path / f"m{seed}.npz")
    code, out, err = run_cli(["lmc", *nets, "--data", d / "data.npz", "--align", "all", "--repair"], capsys)
    assert code == 0 and "note: matching and evaluation share data" in err
    for name in ("unaligned+repair", "activation+repair", "weight+repair"):
        assert name in out
    code, out, err = run_cli(["lmc", *nets, "--data", d / "data.npz", "--align-data", d / "train.npz", "--align",
                              "activation", "--json", tmp_path / "l.json"], capsys)
    assert code == 0 and "note:" not in err
    obj = json.loads((tmp_path / "l.json").read_text())
    assert obj["align_data"].endswith("train.npz")
    code, out, err = run_cli(["check", *nets, "--data", d / "data.npz", "--align-data", d / "train.npz", "--repair",
                              "--results", "T4", "--quiet", "--json", tmp_path / "c.json"], capsys)
    assert code == 0, err
    rep = json.loads((tmp_path / "c.json").read_text())
    assert {"unaligned+repair", "activation+repair", "weight+repair"} <= set(rep["paths"])
    assert rep["paths"]["activation+repair"]["certificate_status"] == "not applicable"
    assert rep["n_align_samples"] == 160 and rep["repair"] is True


def _sd_file(tmp_path, sd, name="bad.safetensors"):
    from safetensors.numpy import save_file

    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}, str(tmp_path / name))
    return tmp_path / name


GOOD = {"0.weight": np.ones((5, 4)), "0.bias": np.zeros(5), "2.weight": np.ones((3, 5)), "2.bias": np.zeros(3)}


@pytest.mark.parametrize("make, flags, fragment", [
    (lambda p: _sd_file(p, {**GOOD, "0.gain": np.ones(5)}), ["--activation", "relu"], "unknown key '0.gain'"),
    (lambda p: _sd_file(p, GOOD), [], "give --activation NAME"),
    (lambda p: _sd_file(p, {**GOOD, "0.bias": np.ones(7)}), ["--activation", "relu"], "must have shape (5,)"),
    (lambda p: _sd_file(p, {k: v for k, v in GOOD.items() if k != "2.weight"}), ["--activation", "relu"], "'2.weight'"),
    (lambda p: _sd_file(p, GOOD), ["--layout", "paper"], "unknown key"),
    (lambda p: _sd_file(p, GOOD), ["--activation", "relu", "--mask-constant", "x"], "comma-separated numbers"),
    (lambda p: (torch.save({"0.weight": torch.ones(5, 4), "step": 7}, p / "m.pt"), p / "m.pt")[1],
     ["--activation", "relu"], "'step' is a int, not a tensor"),
    (lambda p: (torch.save(nn.Sequential(nn.Linear(4, 5)), p / "m.pt"), p / "m.pt")[1], ["--activation", "relu"],
     "refused the file (it pickles torch.nn.modules.container.Sequential)"),
    (lambda p: p / "missing.pt", [], "no such file"),
    (lambda p: _sd_file(p, GOOD), ["--activation", "relu", "--out-suffix", ".txt"], "network files are"),
])
def test_import_bad_input(tmp_path, capsys, make, flags, fragment):
    src = make(tmp_path)
    out = tmp_path / "out.npz"
    if "--out-suffix" in flags:
        i = flags.index("--out-suffix")
        out = tmp_path / f"out{flags[i + 1]}"
        flags = flags[:i] + flags[i + 2:]
    code, _, err = run_cli(["import", src, "--out", out, *flags], capsys)
    assert code == 2
    assert fragment in err and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_import_self_check_failure_exits_2_naming_the_layer(tmp_path, capsys, monkeypatch):
    """A conversion bug (simulated: the W-asymmetric fixed part dropped) is caught by the
    self-check: exit 2, one line naming the first module that differs."""
    from neuronid.numerics import torch_convert as tc

    model = make_model("paper-w", 0).eval()
    torch.save(model.state_dict(), tmp_path / "w.pt")
    original = tc._Linear.effective

    def buggy(self):
        mask, fixed = original(self)
        return mask, None if self.kind == "w-asym" else fixed

    monkeypatch.setattr(tc._Linear, "effective", buggy)
    code, _, err = run_cli(["import", tmp_path / "w.pt", "--out", tmp_path / "w.npz", "--layout", "paper",
                            "--activation", "gelu", "--mask-constant", "1,1,0.5"], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "self-check failed at lins.0 (Linear)" in err
    assert not (tmp_path / "w.npz").exists()


def test_public_api():
    import neuronid as nid
    from neuronid.numerics import torch_convert

    assert nid.from_torch is torch_convert.from_torch and nid.to_torch is torch_convert.to_torch
    net = nid.from_torch(make_model("gelu", 0).eval())
    assert net.activations == ["gelu"]

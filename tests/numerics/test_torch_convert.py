"""PyTorch converters (numerics.torch_convert): every module type and layout, trained
in torch inside the test; to_torch reproduces the logits; bad state dicts; torch-free
parsing of .safetensors / .npz."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
nn = torch.nn

from neuronid.errors import FileFormatError, InvalidNetworkError, InvalidOptionError, UnsafeFileError  # noqa: E402
from neuronid.numerics import torch_convert as tc  # noqa: E402
from neuronid.numerics.torch_convert import ConversionCheckError, from_torch, read_state_dict, to_torch  # noqa: E402

#: float64 on both sides: agreement is ~1e-15; 1e-6 relative is the import tolerance
RTOL = 1e-6


def authors_module():
    """The paper authors' MLP classes (tests/numerics/_authors_mlp.py, MIT)."""
    path = Path(__file__).with_name("_authors_mlp.py")
    spec = importlib.util.spec_from_file_location("_authors_mlp", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def train_few_steps(model, d_in, n_out, *, steps=30, seed=0):
    """Train ``model`` a few Adam steps on random data so its parameters (and BatchNorm
    statistics) are not the initialization; returns it in eval mode."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(128, d_in, generator=g)
    y = torch.randint(0, n_out, (128,), generator=g)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    return model.eval()


def sequential(kind: str, seed: int = 0):
    torch.manual_seed(seed)
    act = {"relu": nn.ReLU, "gelu": nn.GELU}
    if kind in ("relu", "gelu"):
        mods = [nn.Linear(6, 9), act[kind](), nn.Linear(9, 7), act[kind](), nn.Linear(7, 3)]
    elif kind in ("relu-ln", "gelu-ln"):
        a = act[kind.split("-")[0]]
        mods = [nn.Linear(6, 9), nn.LayerNorm(9), a(), nn.Dropout(0.1), nn.Linear(9, 7), nn.LayerNorm(7), a(),
                nn.Linear(7, 3)]
    elif kind == "bn":
        mods = [nn.Flatten(), nn.Linear(6, 9), nn.BatchNorm1d(9), nn.ReLU(), nn.Linear(9, 3)]
    else:
        raise ValueError(kind)
    return train_few_steps(nn.Sequential(*mods), 6, 3, seed=seed)


def paper_model(kind: str, seed: int = 0, norm="layer"):
    mod = authors_module()
    mp = {"default": {"mask_constant": 1.0, "mask_type": "random_subsets", "do_normal_mask": True, "num_fixed": 2},
          "linear_mask_params_2": {"mask_constant": 0.5, "num_fixed": 2}}
    torch.manual_seed(seed)
    if kind == "w-asym":
        model = mod.WMLP(6, 8, 3, 3, mp, norm=norm, activation="gelu", mask_seed=7)
    elif kind == "noise":
        model = mod.NoiseMLP(6, 8, 3, 3, mp, norm=norm, activation="gelu", mask_seed=7)
    else:
        model = mod.MLP(6, 8, 3, 3, norm=norm, activation="relu")
    return train_few_steps(model, 6, 3, seed=seed), mp


def torch_logits(model, X):
    import copy

    m = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        return m(torch.as_tensor(X, dtype=torch.float64)).numpy()


def assert_close(a, b, rtol=RTOL):
    scale = max(float(np.max(np.abs(b))), 1e-300)
    assert float(np.max(np.abs(a - b))) <= rtol * scale


X = np.random.default_rng(3).normal(size=(40, 6))


@pytest.mark.parametrize("kind", ["relu", "gelu", "relu-ln", "gelu-ln", "bn"])
def test_sequential_module_and_state_dict(kind, tmp_path):
    model = sequential(kind)
    report = {}
    net = from_torch(model, report=report)
    assert report["self_check"]["max_relative_difference"] <= 1e-12
    assert_close(net.forward(X), torch_logits(model, X))
    # the same from the state dict (activations named), from .pt and .safetensors files
    acts = net.activations
    from safetensors.torch import save_file

    torch.save(model.state_dict(), tmp_path / "m.pt")
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    for src in (model.state_dict(), tmp_path / "m.pt", tmp_path / "m.safetensors"):
        other = from_torch(src, activation=acts[0])
        assert_close(other.forward(X), torch_logits(model, X))
    # back to torch: to_torch reproduces the logits
    back = to_torch(net)
    with torch.no_grad():
        assert_close(back(torch.as_tensor(X)).numpy(), torch_logits(model, X))
    if kind == "bn":
        assert net.norms[0].kind == "batch" and not np.allclose(net.norms[0].running_mean, 0)


@pytest.mark.parametrize("kind", ["w-asym", "noise", "standard"])
@pytest.mark.parametrize("norm", ["layer", "batch", None])
def test_paper_layout(kind, norm, tmp_path):
    model, mp = paper_model(kind, norm=norm)
    report = {}
    net = from_torch(model, layout="paper", report=report)  # a live module: options read from it
    assert report["self_check"]["max_relative_difference"] <= 1e-12
    assert_close(net.forward(X), torch_logits(model, X))
    # the state dict with the run's config, as the authors' trainer saves it
    cfg = {"model": {"symmetry": {"standard": 0, "w-asym": 1, "noise": 3}[kind], "norm": norm,
                     "activation": model.activation, "mask_params": mp, "num_layers": 3}}
    ckpt = {"epoch": 3, "model_state_dict": model.state_dict(), "trainable": ["lins.0.weight"]}
    torch.save(ckpt, tmp_path / "ckpt.pt")
    other = from_torch(tmp_path / "ckpt.pt", layout="paper", config=cfg, report=report)
    assert_close(other.forward(X), torch_logits(model, X))
    if kind == "w-asym":
        lin = model.lins[2]
        assert report["mask_constants"]["lins.2"] == 0.5
        expected = (lin.weight * lin.mask + (1 - lin.mask) * 0.5 * lin.normal_mask).detach().double().numpy()
        assert np.allclose(other.layers[2].effective_weight(), expected, rtol=1e-12, atol=0)
        assert np.array_equal(other.layers[2].mask, lin.mask.numpy())
    if kind == "noise":
        lin = model.lins[0]
        expected = (lin.weight.double() + 1.0 * lin.noise.double()).detach().numpy()
        assert np.allclose(other.layers[0].effective_weight(), expected, rtol=1e-12, atol=0)
    # the wrong mask constant is caught by the self-check (the reference uses the same
    # constant, so the check is on the conversion, not on the user's choice)
    if kind != "standard":
        wrong = from_torch(model.state_dict(), layout="paper", config=cfg, mask_constant=2.0, check=False)
        assert not np.allclose(wrong.forward(X), net.forward(X))


def test_paper_yaml_config(tmp_path):
    model, mp = paper_model("w-asym")
    import yaml

    cfg = {"defaults": ["config"], "model": {"_target_": "src.models.mlp.create_mlp", "num_layers": 3, "norm": "layer",
                                             "elementwise_affine": True, "activation": "gelu", "symmetry": 1,
                                             "mask_params": mp}}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    net = from_torch(model.state_dict(), layout="paper", config=tmp_path / "run.yaml")
    assert_close(net.forward(X), torch_logits(model, X))
    # flags override the config: per-layer constants
    net2 = from_torch(model.state_dict(), layout="paper", config=tmp_path / "run.yaml", mask_constant=[1.0, 1.0, 0.5])
    assert_close(net2.forward(X), torch_logits(model, X))


def test_layernorm_without_affine_needs_norm_flag():
    model, _ = paper_model("w-asym")
    mod = authors_module()
    torch.manual_seed(0)
    m = mod.WMLP(6, 8, 3, 3, {"default": {"mask_constant": 1.0, "num_fixed": 2}}, norm="layer",
                 elementwise_affine=False, mask_seed=1).eval()
    sd = m.state_dict()
    assert not any(k.startswith("norms.") for k in sd)
    with pytest.raises(InvalidOptionError, match="--norm none .* --norm layer"):
        from_torch(sd, layout="paper", activation="gelu", mask_constant=1.0)
    net = from_torch(sd, layout="paper", activation="gelu", mask_constant=1.0, norm="layer")
    assert_close(net.forward(X), torch_logits(m, X))
    assert not net.norms[0].affine
    # and from the live module (norm read from it)
    assert_close(from_torch(m, layout="paper").forward(X), torch_logits(m, X))


def test_masked_sequential_buffers():
    """Masked linear modules in an nn.Sequential: mask + fixed and mask + normal_mask."""
    rng = np.random.default_rng(0)
    W1, W2 = rng.normal(size=(5, 4)), rng.normal(size=(2, 5))
    mask = (rng.random((5, 4)) > 0.3).astype(np.float64)
    fixed = (1 - mask) * rng.normal(size=(5, 4))
    sd = {"0.weight": W1, "0.bias": rng.normal(size=5), "0.mask": mask, "0.fixed": fixed,
          "2.weight": W2, "2.bias": rng.normal(size=2)}
    net = from_torch(sd, activation="tanh")
    assert np.allclose(net.layers[0].effective_weight(), W1 * mask + fixed, rtol=0, atol=1e-15)
    nm = rng.normal(size=(5, 4))
    sd2 = {**{k: v for k, v in sd.items() if k != "0.fixed"}, "0.normal_mask": nm}
    with pytest.raises(InvalidOptionError, match="--mask-constant"):
        from_torch(sd2, activation="tanh")
    net2 = from_torch(sd2, activation="tanh", mask_constant=0.7)
    assert np.allclose(net2.layers[0].effective_weight(), W1 * mask + (1 - mask) * 0.7 * nm, rtol=0, atol=1e-15)


@pytest.mark.parametrize("prefix", ["net.", "module.net."])
def test_prefixed_sequential(prefix):
    """``self.net = nn.Sequential(...)`` (and DataParallel's ``module.``): keys with a prefix."""
    model = sequential("gelu-ln")
    sd = {prefix + k: v for k, v in model.state_dict().items()}
    report = {}
    net = from_torch(sd, activation="gelu", report=report)
    assert report["self_check"]["max_relative_difference"] <= 1e-12
    assert_close(net.forward(X), torch_logits(model, X))
    assert report["modules"][0].startswith(prefix + "0: Linear")


def test_to_torch_roundtrip_of_neuronid_networks():
    from neuronid.numerics.structures import standard_mlp, w_mlp

    for net in (standard_mlp([6, 9, 3], activation="elu:0.5", seed=0),
                w_mlp([6, 9, 7, 3], activation="gelu", n_fixed=2, seed=1)):
        mod = to_torch(net)
        with torch.no_grad():
            assert_close(mod(torch.as_tensor(X)).numpy(), net.forward(X))
        again = from_torch(mod)
        assert_close(again.forward(X), net.forward(X))


def test_self_check_names_first_differing_layer():
    model = sequential("gelu-ln")
    parsed = tc.parse_state_dict(model.state_dict(), activation="gelu")
    net = tc.build_network(parsed)
    net.layers[1].bias[0] += 1e-3  # a conversion bug in the second Linear
    with pytest.raises(ConversionCheckError, match=r"at 4 \(Linear\)"):
        tc.self_check(net, model, parsed)
    net = tc.build_network(parsed)
    net.norms[0].weight[2] *= 1.5  # ... or in the first LayerNorm
    with pytest.raises(ConversionCheckError, match=r"at 1 \(layer norm\)"):
        tc.self_check(net, model, parsed)
    # a wrong activation shows up at the next Linear's input
    parsed_relu = tc.parse_state_dict(model.state_dict(), activation="relu")
    with pytest.raises(ConversionCheckError, match=r"activation after 0 \(relu\)"):
        tc.self_check(tc.build_network(parsed_relu), model, parsed_relu)


def _sd():
    rng = np.random.default_rng(0)
    return {"0.weight": rng.normal(size=(5, 4)), "0.bias": rng.normal(size=5),
            "2.weight": rng.normal(size=(3, 5)), "2.bias": rng.normal(size=3)}


def _with(**changes):
    sd = _sd()
    for key, value in changes.items():
        key = key.replace("__", ".").replace("_bias", "bias")
        if value is None:
            sd.pop(key, None)
        else:
            sd[key] = value
    return sd


BAD = [
    # (state dict / source, options, error type, message fragment)
    (lambda: {**_sd(), "0.scale_x": np.ones(5)}, {}, InvalidNetworkError, "unknown key '0.scale_x'"),
    (lambda: {**_sd(), "head.weight": np.ones((3, 5))}, {}, InvalidNetworkError, "unknown key 'head.weight'"),
    (lambda: {**_sd(), "net.4.weight": np.ones((3, 5))}, {}, InvalidNetworkError, "must share one prefix"),
    (lambda: {**_sd(), "lins.0.weight": np.ones((3, 5))}, {}, InvalidNetworkError, "--layout paper"),
    (lambda: _sd(), {"layout": "paper"}, InvalidNetworkError, "unknown key '0.weight' for layout 'paper'"),
    (lambda: {k: v for k, v in _sd().items() if k != "2.weight"}, {}, InvalidNetworkError, "'2.weight'"),
    (lambda: {**_sd(), "0.bias": np.ones(4)}, {}, InvalidNetworkError, "'0.bias' must have shape (5,)"),
    (lambda: {**_sd(), "2.weight": np.ones((3, 6))}, {}, InvalidNetworkError, "has 6 inputs but 0.weight has 5"),
    (lambda: {**_sd(), "0.weight": np.ones((5, 4, 1))}, {}, InvalidNetworkError, "must be 2-D"),
    (lambda: {**_sd(), "0.bias": "hello"}, {}, InvalidNetworkError, "not a tensor"),
    (lambda: {**_sd(), "0.bias": 3}, {}, InvalidNetworkError, "not a tensor"),
    (lambda: {**_sd(), "0.weight": np.ones((5, 4), dtype=np.int64)}, {}, InvalidNetworkError, "floating-point"),
    (lambda: {**_sd(), "0.mask": np.full((5, 4), 0.5), "0.fixed": np.zeros((5, 4))}, {}, InvalidNetworkError, "0/1"),
    (lambda: {**_sd(), "0.mask": np.ones((5, 4))}, {}, InvalidNetworkError, "neither 'fixed' nor 'normal_mask'"),
    (lambda: {**_sd(), "0.fixed": np.ones((5, 4))}, {}, InvalidNetworkError, "no '0.mask'"),
    (lambda: {**_sd(), "0.noise": np.ones((5, 3))}, {"mask_constant": 1}, InvalidNetworkError, "'0.noise' must have shape (5, 4)"),
    (lambda: {**_sd(), "1.running_mean": np.zeros(5)}, {}, InvalidNetworkError, "'1.running_var' is missing"),
    (lambda: {**_sd(), "1.running_mean": np.zeros(5), "1.running_var": -np.ones(5)}, {}, InvalidNetworkError, "negative"),
    (lambda: {**_sd(), "1.weight": np.ones(4), "1.bias": np.zeros(4)}, {}, InvalidNetworkError, "has 4 features"),
    (lambda: _sd(), {"activation": None}, InvalidOptionError, "give --activation"),
    (lambda: _sd(), {"activation": "swishy"}, Exception, "unknown activation"),
    (lambda: _sd(), {"activation": ["relu", "relu"]}, InvalidOptionError, "--activation: expected one"),
    (lambda: _sd(), {"norm": "batch"}, InvalidNetworkError, "no running_mean"),
    (lambda: {}, {}, InvalidNetworkError, "non-empty"),
    (lambda: {"lins.0.weight": np.ones((3, 4)), "lins.0.bias": np.zeros(3), "lins.0.scale": np.ones(3)},
     {"layout": "paper"}, InvalidNetworkError, "layer_linear"),
    (lambda: {"lins.0.weight": np.ones((3, 4)), "lins.0.normal_mask": np.ones((3, 4)), "lins.0.mask": np.ones((3, 4))},
     {"layout": "paper"}, InvalidOptionError, "lins.0.normal_mask needs the mask constant"),
    (lambda: {"lins.0.weight": np.ones((3, 4)), "lins.2.weight": np.ones((2, 3))}, {"layout": "paper"},
     InvalidNetworkError, "'lins.1.*' is missing"),
    (lambda: {"lins.0.weight": np.ones((3, 4)), "lins.1.weight": np.ones((2, 3)), "activations.0.C": np.ones((3, 3))},
     {"layout": "paper"}, InvalidNetworkError, "symmetry 2"),
    (lambda: _sd(), {"layout": "resnet"}, InvalidOptionError, "layout must be one of"),
]


@pytest.mark.parametrize("make, options, error, fragment", BAD)
def test_bad_state_dicts(make, options, error, fragment):
    options = {"activation": "relu", **options}
    with pytest.raises(error) as info:
        from_torch(make(), check=False, **options)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_key_lists_keys_found():
    with pytest.raises(InvalidNetworkError) as info:
        from_torch({**_sd(), "0.foo": np.ones(5)}, activation="relu")
    msg = str(info.value)
    assert "expected" in msg and "keys found: 0.bias, 0.foo, 0.weight" in msg


def test_bad_files(tmp_path):
    torch.save({"model": nn.Linear(2, 2)}, tmp_path / "module.pt")  # an nn.Module inside: pickled class
    with pytest.raises(UnsafeFileError, match="weights_only=True.*refused"):
        read_state_dict(tmp_path / "module.pt")
    torch.save({"0.weight": torch.ones(2, 2), "epoch": 3}, tmp_path / "mixed.pt")
    with pytest.raises(InvalidNetworkError, match="'epoch' is a int, not a tensor"):
        read_state_dict(tmp_path / "mixed.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(FileFormatError, match="not a readable PyTorch file"):
        read_state_dict(tmp_path / "junk.pt")
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00")
    with pytest.raises(FileFormatError, match="safetensors"):
        read_state_dict(tmp_path / "junk.safetensors")
    np.savez(tmp_path / "obj.npz", w=np.array([{"a": 1}], dtype=object))
    with pytest.raises(UnsafeFileError):
        read_state_dict(tmp_path / "obj.npz")
    with pytest.raises(FileFormatError, match="no such file"):
        read_state_dict(tmp_path / "missing.pt")
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(FileFormatError, match="unknown state dict file type"):
        read_state_dict(tmp_path / "model.txt")


def test_state_dict_parsing_without_torch(tmp_path, monkeypatch):
    """.safetensors and .npz need no torch: import works (self-check skipped, said so)."""
    from safetensors.numpy import save_file

    sd = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in _sd().items()}
    save_file(sd, str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "m.npz", **sd)
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    for src in ("m.safetensors", "m.npz"):
        report = {}
        net = from_torch(tmp_path / src, activation="relu", report=report)
        assert net.sizes == [4, 5, 3]
        assert report["self_check"] is None and "not installed" in report["self_check_reason"]
    (tmp_path / "m.pt").write_bytes(b"x")
    with pytest.raises(FileFormatError, match="needs PyTorch"):
        read_state_dict(tmp_path / "m.pt")
    with pytest.raises(ImportError):
        to_torch(net)


def test_doctests():
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module("neuronid.numerics.torch_convert"), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_sympy_activation_skips_self_check_and_to_torch_refuses():
    report = {}
    net = from_torch(_sd(), activation="sympy:z*tanh(z)", report=report)
    assert report["self_check"] is None and "no torch module" in report["self_check_reason"]
    with pytest.raises(InvalidNetworkError, match="no torch module"):
        to_torch(net)


_ACTS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "silu": nn.SiLU,
         "elu:0.5": lambda: nn.ELU(alpha=0.5), "leaky_relu:0.2": lambda: nn.LeakyReLU(0.2)}


@st.composite
def _sequentials(draw):
    widths = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    d_in, d_out = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    act = draw(st.sampled_from(sorted(_ACTS)))
    norm = draw(st.sampled_from(["none", "layer", "batch"]))
    seed = draw(st.integers(0, 10_000))
    torch.manual_seed(seed)
    mods, prev = [], d_in
    for m in widths:
        mods.append(nn.Linear(prev, m))
        if norm == "layer":
            mods.append(nn.LayerNorm(m))
        elif norm == "batch":
            bn = nn.BatchNorm1d(m)
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.2, 3.0)
            mods.append(bn)
        mods.append(_ACTS[act]())
        prev = m
    mods.append(nn.Linear(prev, d_out))
    model = nn.Sequential(*mods).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model, d_in


@given(case=_sequentials())
def test_property_sequential_round_trip(case):
    """Any nn.Sequential of Linear / norm / activation modules: from_torch reproduces it
    (the self-check passes) and to_torch gives it back."""
    model, d_in = case
    Xr = np.random.default_rng(0).normal(size=(16, d_in))
    net = from_torch(model)
    assert_close(net.forward(Xr), torch_logits(model, Xr))
    with torch.no_grad():
        assert_close(to_torch(net)(torch.as_tensor(Xr)).numpy(), torch_logits(model, Xr))


# ---------------------------------------------------------------------------- outside tester's findings
def _yaml(tmp_path, model: dict, name="run.yaml"):
    import yaml

    (tmp_path / name).write_text(yaml.safe_dump({"model": model}))
    return tmp_path / name


def _paper_w_sd():
    model, mp = paper_model("w-asym")
    return model.state_dict()


@pytest.mark.parametrize("bad, fragment", [
    ("abc", "'model.mask_params.default.mask_constant' must be a finite number, found 'abc' (str)"),
    (None, "'model.mask_params.default.mask_constant' must be a finite number, found None (NoneType)"),
    ([1, 2], "'model.mask_params.default.mask_constant' must be a finite number, found [1, 2] (list)"),
    (True, "found True (bool)"),
])
def test_bad_mask_constant_in_config(tmp_path, bad, fragment):
    path = _yaml(tmp_path, {"activation": "gelu", "norm": "layer", "mask_params": {"default": {"mask_constant": bad}}})
    with pytest.raises(FileFormatError) as info:
        from_torch(_paper_w_sd(), layout="paper", config=path, check=False)
    assert str(info.value).startswith(str(path)) and fragment in str(info.value)


@pytest.mark.parametrize("model, error, fragment", [
    ({"activation": "gelu", "norm": "layer", "mask_params": {"default": {"mask_constant": 1.0},
                                                             "linear_mask_params_7": {"mask_constant": 0.5}}},
     InvalidOptionError, "model.mask_params.linear_mask_params_7 names linear layer 7, but the state dict has 3"),
    ({"activation": "gelu", "norm": "layer", "elementwise_affine": "maybe"}, FileFormatError,
     "'model.elementwise_affine' must be true or false, found 'maybe'"),
    ({"activation": "gelu", "mask_params": {"defaults": {"mask_constant": 1.0}}}, FileFormatError,
     "unknown key 'model.mask_params.defaults'"),
    ({"activation": "gelu", "mask_params": {"linear_mask_params_0": 3}}, FileFormatError,
     "'model.mask_params.linear_mask_params_0' must be a mapping, found int"),
])
def test_config_entries_that_would_do_nothing(tmp_path, model, error, fragment):
    path = _yaml(tmp_path, model)
    with pytest.raises(error, match=re.escape(fragment)):
        from_torch(_paper_w_sd(), layout="paper", config=path, check=False)


def test_mask_constant_without_masks_refused():
    with pytest.raises(InvalidOptionError, match="--mask-constant given, but no linear layer has"):
        from_torch(_sd(), activation="relu", mask_constant=1.0, check=False)


def test_gap_between_linears_needs_explicit_norm():
    """Linear, LayerNorm(affine=False), ReLU, Linear and Linear, ReLU, Dropout, Linear
    have the same state dict: refused without --norm, each imported right with it."""
    torch.manual_seed(0)
    ln = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6, elementwise_affine=False), nn.ReLU(), nn.Linear(6, 2)).eval()
    drop = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.1), nn.Linear(6, 2)).eval()
    drop.load_state_dict(ln.state_dict())
    assert list(ln.state_dict()) == list(drop.state_dict()) == ["0.weight", "0.bias", "3.weight", "3.bias"]
    for model in (ln, drop):
        with pytest.raises(InvalidOptionError) as info:
            from_torch(model.state_dict(), activation="relu")
        msg = str(info.value)
        assert "modules 1..2 between Linear '0' and Linear '3' have no tensors" in msg
        assert "--norm none (dropout) or --norm layer" in msg and "\n" not in msg
    X = np.random.default_rng(1).normal(size=(9, 4))
    assert_close(from_torch(ln.state_dict(), activation="relu", norm="layer").forward(X), torch_logits(ln, X))
    assert_close(from_torch(drop.state_dict(), activation="relu", norm="none").forward(X), torch_logits(drop, X))
    # live modules: the module list is known, no flag needed
    assert_close(from_torch(drop).forward(X), torch_logits(drop, X))
    # norm tensors elsewhere show the norm kind: a wider gap is dropout, no flag needed
    torch.manual_seed(2)
    mixed = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.ReLU(), nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(5, 2)).eval()
    assert_close(from_torch(mixed.state_dict(), activation="relu").forward(X), torch_logits(mixed, X))
    # the one-activation gap (the doctest's 0 -> 2) needs nothing
    assert from_torch(_sd(), activation="relu", check=False).sizes == [4, 5, 3]


def test_exported_parameter_free_layernorm_reimports_without_flags(tmp_path):
    """export's metadata names the modules, so the gap is explained (and the LayerNorm kept)."""
    from safetensors.numpy import save_file

    torch.manual_seed(0)
    ln = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6, elementwise_affine=False), nn.ReLU(), nn.Linear(6, 2)).eval()
    net = from_torch(ln.state_dict(), activation="relu", norm="layer")
    meta = {tc.MODULES_KEY: json.dumps(tc.torch_modules(net))}
    save_file({k: np.ascontiguousarray(v) for k, v in tc.torch_state_dict(net).items()}, str(tmp_path / "e.safetensors"),
              metadata=meta)
    again = from_torch(tmp_path / "e.safetensors")
    X = np.random.default_rng(1).normal(size=(9, 4))
    assert_close(again.forward(X), torch_logits(ln, X))
    report: dict = {}
    from_torch(tmp_path / "e.safetensors", activation="gelu", report=report, check=False)
    assert report["notes"] == ["--activation gelu overrides the file's metadata (relu, as exported); the imported "
                               "network uses the flag"]


def test_checkpoint_with_several_state_dicts(tmp_path):
    torch.manual_seed(0)
    a, b = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)), nn.Sequential(nn.Linear(4, 5), nn.ReLU(),
                                                                                     nn.Linear(5, 3))
    torch.save({"model": a.state_dict(), "ema": b.state_dict(), "epoch": 3}, tmp_path / "ck.pt")
    with pytest.raises(InvalidOptionError, match=r"holds 2 state dicts \(model, ema\); choose one with --key NAME"):
        from_torch(tmp_path / "ck.pt", activation="relu")
    X = np.random.default_rng(0).normal(size=(7, 4))
    assert_close(from_torch(tmp_path / "ck.pt", activation="relu", key="ema").forward(X), torch_logits(b, X))
    assert_close(from_torch(tmp_path / "ck.pt", activation="relu", key="model").forward(X), torch_logits(a, X))
    with pytest.raises(InvalidOptionError, match="--key 'emma': no state dict under that key; candidates: model, ema"):
        from_torch(tmp_path / "ck.pt", activation="relu", key="emma")
    # one state dict plus an optimizer state: the state dict is taken
    opt = torch.optim.SGD(a.parameters(), lr=0.1)
    torch.save({"model_state_dict": a.state_dict(), "optimizer_state_dict": opt.state_dict()}, tmp_path / "one.pt")
    assert_close(from_torch(tmp_path / "one.pt", activation="relu").forward(X), torch_logits(a, X))
    # and in-memory checkpoints
    with pytest.raises(InvalidOptionError, match="holds 2 state dicts"):
        from_torch({"model": a.state_dict(), "ema": b.state_dict()}, activation="relu")
    assert_close(from_torch({"model": a.state_dict(), "ema": b.state_dict()}, activation="relu", key="ema")
                 .forward(X), torch_logits(b, X))


def test_refused_pickles_name_the_global_and_never_cut_words(tmp_path, recwarn):
    import pickle
    import warnings

    with open(tmp_path / "raw.pt", "wb") as fh:
        pickle.dump({"a": 1}, fh, protocol=4)
    warnings.simplefilter("always")
    with pytest.raises(FileFormatError) as info:
        read_state_dict(tmp_path / "raw.pt")
    assert not [w for w in recwarn if "pickle protocol" in str(w.message)]
    assert "torch: unsupported pickle opcode 149, a plain pickle?)" in str(info.value)
    torch.save({"m": nn.Linear(2, 2)}, tmp_path / "mod.pt")
    with pytest.raises(UnsafeFileError, match=r"it pickles torch\.nn\.modules\.linear\.Linear\)"):
        read_state_dict(tmp_path / "mod.pt")
    assert tc._clip("x" * 10 + " " + "word " * 40) .endswith("word ...")
    assert tc._clip("First sentence. Second one.") == "First sentence"


def test_batchnorm_in_train_mode_warns():
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    model.train()
    with pytest.warns(UserWarning, match=r"module '1': BatchNorm1d is in training mode; the import "
                                                       r"uses its running statistics, as in eval mode"):
        from_torch(model)


def test_conv_and_mask_messages():
    with pytest.raises(InvalidNetworkError, match=re.escape(
            "module '0': Conv1d is not supported (only Linear, LayerNorm, BatchNorm1d, activations, Dropout")):
        from_torch(nn.Sequential(nn.Conv1d(1, 2, 3), nn.ReLU(), nn.Linear(2, 2)))
    sd = {**_sd(), "0.mask": np.full((5, 4), 0.2619047619), "0.fixed": np.zeros((5, 4))}
    with pytest.raises(InvalidNetworkError, match=r"must hold 0/1 \(1 = trainable\), found 0\.261905 at \(0, 0\)"):
        from_torch(sd, activation="relu", check=False)


@pytest.mark.parametrize("mods, fragment", [
    (lambda: [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.ReLU()],
     "module '3': the module list ends with an activation after its last Linear"),
    (lambda: [nn.ReLU(), nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)], "module '0': ReLU comes before the first Linear"),
    (lambda: [nn.Linear(3, 4), nn.ReLU(), nn.Tanh(), nn.Linear(4, 2)],
     "module '2': Tanh comes right after the activation '1'"),
], ids=["trailing", "leading", "two in a row"])
def test_an_activation_out_of_place_names_the_module(mods, fragment):
    """Before, these said "--activation: expected one activation or 1 (one per layer), found 2"
    (no option was given, and no module was named)."""
    with pytest.raises(InvalidNetworkError, match=re.escape(fragment)):
        from_torch(nn.Sequential(*mods()))
    ok = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 2)).eval()
    assert from_torch(ok).sizes == [3, 4, 2]


@pytest.mark.parametrize("net, dtype, fragment", [
    (None, None, "to_torch: expected a neuronid Network, found NoneType"),
    ("net.safetensors", None, "to_torch: expected a neuronid Network, found str (load a network file"),
    ("ok", "int32", "to_torch: dtype must be torch.float32 or torch.float64, found torch.int32"),
])
def test_to_torch_refuses_what_it_cannot_convert(net, dtype, fragment):
    """Before, a raw AttributeError (None, a path) or torch's RuntimeError (an int dtype)."""
    net = from_torch(_sd(), activation="relu", check=False) if net == "ok" else net
    with pytest.raises(InvalidOptionError, match=re.escape(fragment)):
        to_torch(net, dtype=getattr(torch, dtype) if dtype else None)


def test_to_torch_is_float64_unless_told():
    net = from_torch(_sd(), activation="relu", check=False)
    assert next(to_torch(net).parameters()).dtype == torch.float64
    assert next(to_torch(net, dtype=torch.float32).parameters()).dtype == torch.float32

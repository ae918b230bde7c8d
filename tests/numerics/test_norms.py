"""Normalization layers (THEORY N1): the model, files, training, paths, alignment,
supports/costs. Torch comparisons run when torch is installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuronid.errors import FileFormatError, InvalidNetworkError, InvalidOptionError
from neuronid.numerics.io import load_network, network_metadata, network_tensors, save_network
from neuronid.numerics.losses import check_targets, loss_value
from neuronid.numerics.network import Layer, Network, Norm
from neuronid.numerics.structures import standard_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, loss_and_gradient, train


def _randomize_norms(net: Network, seed: int) -> Network:
    """Non-trivial gamma, beta (and batch statistics) so every parameter matters."""
    rng = np.random.default_rng(seed)
    layers = []
    for layer in net.layers:
        norm = layer.norm
        if norm is not None:
            m = norm.size
            stats = {}
            if norm.kind == "batch":
                stats = dict(running_mean=rng.normal(size=m), running_var=rng.uniform(0.2, 2.0, size=m))
            affine = {} if not norm.affine else dict(weight=rng.uniform(0.5, 1.5, size=m), bias=rng.normal(0, 0.3, size=m))
            norm = Norm(norm.kind, norm.eps, size=m, **affine, **stats)
        layers.append(Layer(layer.weight, layer.bias, layer.mask, layer.fixed, layer.activation, norm))
    return Network(layers)


def _net(norm="layer", seed=0, sizes=(4, 6, 5, 3), activation="gelu", **kw):
    kw.setdefault("structure_seed", 0)
    return _randomize_norms(w_mlp(list(sizes), n_fixed=1, activation=activation, norm=norm, seed=seed, **kw), seed + 100)


# --- model --------------------------------------------------------------------------------------
def _torch_reference(net: Network, X: np.ndarray) -> np.ndarray:
    torch = pytest.importorskip("torch")
    h = torch.tensor(X, dtype=torch.float64)
    for layer in net.layers:
        h = h @ torch.tensor(layer.effective_weight()).T + torch.tensor(layer.bias)
        norm = layer.norm
        if norm is not None and norm.kind == "layer":
            mod = torch.nn.LayerNorm(norm.size, eps=norm.eps, elementwise_affine=norm.affine).double()
            if norm.affine:
                mod.weight.data, mod.bias.data = torch.tensor(norm.weight), torch.tensor(norm.bias)
            h = mod(h)
        elif norm is not None:
            mod = torch.nn.BatchNorm1d(norm.size, eps=norm.eps).double().eval()
            mod.weight.data, mod.bias.data = torch.tensor(norm.weight), torch.tensor(norm.bias)
            mod.running_mean.data, mod.running_var.data = torch.tensor(norm.running_mean), torch.tensor(norm.running_var)
            h = mod(h)
        if not layer.is_output:
            assert layer.activation in ("gelu", "relu", "tanh")
            h = {"gelu": torch.nn.functional.gelu, "relu": torch.relu, "tanh": torch.tanh}[layer.activation](h)
    return h.detach().numpy()


@pytest.mark.parametrize("norm", ["layer", "batch", ["layer", None]])
def test_forward_matches_torch(norm):
    net = _net(norm)
    X = np.random.default_rng(1).normal(size=(20, 4))
    np.testing.assert_allclose(net(X), _torch_reference(net, X), rtol=1e-12, atol=1e-13)


def test_layer_norm_without_affine_matches_torch():
    base = w_mlp([4, 6, 3], n_fixed=1, activation="tanh", seed=2)
    layers = [layer.copy() for layer in base.layers]
    layers[0] = Layer(layers[0].weight, layers[0].bias, layers[0].mask, layers[0].fixed, "tanh",
                      Norm("layer", 1e-3, size=6))
    net = Network(layers)
    assert not net.norms[0].affine and net.n_trainable() == base.n_trainable()
    X = np.random.default_rng(3).normal(size=(9, 4))
    np.testing.assert_allclose(net(X), _torch_reference(net, X), rtol=1e-12, atol=1e-13)


def test_trace_records_linear_part_and_normalized():
    net = _net("layer")
    X = np.random.default_rng(4).normal(size=(7, 4))
    trace = net.forward(X, record=True)
    for l, layer in enumerate(net.layers):
        z = trace.inputs[l] @ layer.effective_weight().T + layer.bias
        np.testing.assert_allclose(trace.pre[l], z, rtol=1e-13, atol=1e-14)
        if layer.norm is None:
            assert trace.normed[l] is trace.pre[l]
        else:
            u = trace.normed[l]
            xhat = (u - layer.norm.bias) / layer.norm.weight
            np.testing.assert_allclose(xhat.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_array_equal(trace.output, net(X))


@pytest.mark.parametrize(
    "args, kwargs, fragment",
    [
        (("group",), {"size": 3}, "kind must be one of"),
        (("layer", -1.0), {"size": 3}, "eps must be a finite number >= 0"),
        (("layer", float("nan")), {"size": 3}, "eps must be a finite number >= 0"),
        (("layer", "x"), {"size": 3}, "eps must be a finite number >= 0, found 'x'"),
        (("layer", 1e-5, np.ones(3)), {}, "both weight and bias"),
        (("layer", 1e-5, np.ones(3), np.zeros(4)), {}, "bias must have shape (3,)"),
        (("layer", 1e-5, np.ones((3, 1)), np.zeros(3)), {}, "weight must have shape"),
        (("layer", 1e-5, np.array([1.0, np.nan]), np.zeros(2)), {}, "weight contains NaN or Inf (first at index 1)"),
        (("layer", 1e-5, None, None, np.zeros(3)), {}, "no running statistics"),
        (("batch", 1e-5, None, None, np.zeros(3), -np.ones(3)), {}, "running_var must be >= 0"),
        (("batch", 0.0, None, None, np.zeros(3), np.zeros(3)), {}, "division by zero"),
        (("layer",), {}, "size is unknown"),
    ],
)
def test_bad_norms(args, kwargs, fragment):
    with pytest.raises(InvalidNetworkError, match=None) as info:
        Norm(*args, **kwargs)
    assert fragment in str(info.value)


def test_norm_placement_errors():
    with pytest.raises(InvalidNetworkError, match="output layer has no normalization"):
        Layer(np.ones((2, 3)), norm=Norm("layer", size=2))
    with pytest.raises(InvalidNetworkError, match="norm has size 4 but the layer has 2 neurons"):
        Layer(np.ones((2, 3)), activation="relu", norm=Norm("layer", size=4))
    with pytest.raises(InvalidNetworkError, match="norm must be a Norm"):
        Layer(np.ones((2, 3)), activation="relu", norm="layer")


def test_structures_norm_option():
    plain = w_mlp([4, 6, 3], n_fixed=1, seed=5)
    normed = w_mlp([4, 6, 3], n_fixed=1, seed=5, norm="layer", norm_eps=1e-3)
    assert np.array_equal(plain.layers[0].weight, normed.layers[0].weight)  # norms draw no random numbers
    assert normed.norms[0].eps == 1e-3 and np.all(normed.norms[0].weight == 1) and normed.norms[0].affine
    assert standard_mlp([4, 6, 3], norm="none").norms == [None]
    assert standard_mlp([4, 6, 3], norm="batch").norms[0].kind == "batch"
    for bad, fragment in [("group", "norm must be one of none, layer, batch"), (["layer"] * 3, "expected 1 per-layer")]:
        with pytest.raises(InvalidOptionError, match=fragment):
            standard_mlp([4, 6, 3], norm=bad)
    with pytest.raises(InvalidOptionError, match="norm_eps"):
        standard_mlp([4, 6, 3], norm="layer", norm_eps=-1.0)
    a, b = _net("layer", seed=1), _net("batch", seed=1)
    assert any("normalizations differ" in d for d in a.structure_differences(b))
    assert not a.structure_differences(_net("layer", seed=2))


# --- files --------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
@pytest.mark.parametrize("norm", ["layer", "batch", [None, "layer"]])
def test_file_round_trip(tmp_path, suffix, norm):
    net = _net(norm)
    path = tmp_path / f"net{suffix}"
    save_network(net, path)
    back = load_network(path)
    X = np.random.default_rng(6).normal(size=(5, 4))
    assert np.array_equal(back(X), net(X))
    for a, b in zip(net.norms, back.norms):
        assert (a is None and b is None) or (a.same_structure(b) and all(
            np.array_equal(x, y) for x, y in zip(a.arrays().values(), b.arrays().values())))
    assert network_metadata(net)["format"] == "neuronid.mlp/2"


def test_files_without_norms_stay_format_1(tmp_path):
    net = w_mlp([4, 6, 3], n_fixed=1, seed=0)
    assert network_metadata(net) == {"format": "neuronid.mlp/1", "activations": ["relu"]}
    assert not any(".norm." in key for key in network_tensors(net))


def test_layer_norm_without_affine_round_trip(tmp_path):
    base = standard_mlp([3, 4, 2], seed=0)
    net = Network([Layer(base.layers[0].weight, base.layers[0].bias, activation="relu", norm=Norm("layer", 0.1, size=4)),
                   base.layers[1]])
    save_network(net, tmp_path / "n.safetensors")
    back = load_network(tmp_path / "n.safetensors")
    assert back.norms[0].describe() == {"kind": "layer", "eps": 0.1, "affine": False}
    assert not any(".norm." in key for key in network_tensors(net))


def _write(tmp_path, tensors, meta):
    path = tmp_path / "bad.npz"
    np.savez(path, metadata=np.array(json.dumps(meta)), **tensors)
    return path


@pytest.mark.parametrize(
    "edit, exc, fragments",
    [
        (lambda t, m: m.update(format="neuronid.mlp/1"), FileFormatError, ["'norms' needs format 'neuronid.mlp/2'"]),
        (lambda t, m: m.update(format="neuronid.mlp/3"), FileFormatError, ["format 'neuronid.mlp/3' is not supported"]),
        (lambda t, m: m.update(norms="layer"), FileFormatError, ["'norms' must be a list"]),
        (lambda t, m: m.update(norms=[{"kind": "layer", "eps": 1e-5, "affine": True}]), InvalidNetworkError,
         ["need 2 entries in metadata 'norms'", "found 1"]),
        (lambda t, m: m["norms"].__setitem__(0, {"kind": "group", "eps": 1e-5}), FileFormatError,
         ["layer 0", "'kind' must be 'layer' or 'batch'"]),
        (lambda t, m: m["norms"].__setitem__(0, {"kind": "layer", "eps": -1}), FileFormatError,
         ["layer 0", "'eps' must be a finite number >= 0"]),
        (lambda t, m: m["norms"].__setitem__(0, {"kind": "layer", "eps": 1e-5, "affine": "yes"}), FileFormatError,
         ["'affine' must be true or false"]),
        (lambda t, m: m["norms"].__setitem__(0, {"kind": "layer", "eps": 1e-5, "momentum": 0.1}), FileFormatError,
         ["unknown keys ['momentum']"]),
        (lambda t, m: m["norms"].__setitem__(0, [1]), FileFormatError, ["must be null or an object"]),
        (lambda t, m: t.pop("layers.1.norm.bias"), InvalidNetworkError,
         ["bad.npz", "layer 1", "needs tensors ['layers.1.norm.bias', 'layers.1.norm.weight']",
          "found ['layers.1.norm.weight']"]),
        (lambda t, m: t.update({"layers.0.norm.weight": np.ones(7)}), InvalidNetworkError,
         ["'layers.0.norm.weight' must have shape (6,)", "found (7,)"]),
        (lambda t, m: t.update({"layers.0.norm.bias": np.array([1, 2, 3, 4, 5, 6])}), InvalidNetworkError,
         ["'layers.0.norm.bias' has dtype int64", "float32 or float64"]),
        (lambda t, m: t.update({"layers.0.norm.weight": np.full(6, np.inf)}), InvalidNetworkError,
         ["layer 0 norm", "weight contains NaN or Inf"]),
        (lambda t, m: t.update({"layers.2.norm.weight": np.ones(3)}), InvalidNetworkError,
         ["layer 2 (output)", "output layer has no normalization"]),
        (lambda t, m: t.update({"layers.0.norm.running_var": np.ones(6)}), InvalidNetworkError,
         ["found ['layers.0.norm.bias', 'layers.0.norm.running_var', 'layers.0.norm.weight']"]),
        (lambda t, m: m["norms"].__setitem__(0, None), InvalidNetworkError,
         ["layer 0", "metadata declares no norm for this layer"]),
        (lambda t, m: t.update({"layers.0.norm.scale": np.ones(6)}), InvalidNetworkError,
         ["unexpected tensor 'layers.0.norm.scale'"]),
    ],
)
def test_bad_norm_files(tmp_path, edit, exc, fragments):
    net = _net("layer")
    tensors = network_tensors(net)
    meta = network_metadata(net)
    edit(tensors, meta)
    path = _write(tmp_path, tensors, meta)
    with pytest.raises(exc) as info:
        load_network(path)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_bad_batch_norm_file(tmp_path):
    net = _net("batch")
    tensors = network_tensors(net)
    tensors["layers.1.norm.running_var"] = -np.ones(5)
    with pytest.raises(InvalidNetworkError, match=r"layer 1 norm: running_var must be >= 0"):
        load_network(_write(tmp_path, tensors, network_metadata(net)))


# --- training -----------------------------------------------------------------------------------
def _fd_norm_gradient(net: Network, X, y, loss: str, h: float = 1e-6):
    """Central differences of the mean loss w.r.t. every weight, bias, gamma and beta."""
    yv = check_targets(loss, y, net.n_outputs, X.shape[0])
    grads = []
    for layer in net.layers:
        entry = {}
        arrays = {"weight": layer.weight, "bias": layer.bias}
        if layer.norm is not None and layer.norm.affine:
            arrays.update({"norm.weight": layer.norm.weight, "norm.bias": layer.norm.bias})
        for name, arr in arrays.items():
            g = np.zeros_like(arr)
            for idx in np.ndindex(arr.shape):
                if name == "weight" and layer.mask[idx] == 0:
                    continue
                old = arr[idx]
                arr[idx] = old + h
                up = loss_value(loss, net(X), yv)
                arr[idx] = old - h
                down = loss_value(loss, net(X), yv)
                arr[idx] = old
                g[idx] = (up - down) / (2 * h)
            entry[name] = g
        grads.append(entry)
    return loss_value(loss, net(X), yv), grads


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("activation", ["gelu", "tanh", "softplus"])
def test_layer_norm_gradient_matches_finite_differences(activation, loss):
    net = _net([ "layer", None] if activation == "tanh" else "layer", activation=activation, seed=3)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(11, 4))
    y = rng.integers(0, 3, size=11) if loss == "ce" else rng.normal(size=(11, 3))
    value, grads = loss_and_gradient(net, X, y, loss)
    ref_value, ref = _fd_norm_gradient(net, X, y, loss)
    assert value == pytest.approx(ref_value, rel=1e-12)
    # tolerance as in test_training: central differences (h = 1e-6) have rounding error ~2e-10
    for l, (g, r) in enumerate(zip(grads, ref)):
        assert set(g) == set(r), l
        for name in r:
            np.testing.assert_allclose(g[name], r[name], rtol=1e-6, atol=1e-8, err_msg=f"layer {l} {name}")


def test_layer_norm_gradient_matches_torch():
    torch = pytest.importorskip("torch")
    net = _net("layer", seed=4, sizes=(5, 8, 7, 3))
    rng = np.random.default_rng(8)
    X = rng.normal(size=(16, 5))
    y = rng.integers(0, 3, size=16)
    value, grads = loss_and_gradient(net, X, y, "ce")
    Ws = [torch.tensor(layer.effective_weight(), requires_grad=True) for layer in net.layers]
    bs = [torch.tensor(layer.bias, requires_grad=True) for layer in net.layers]
    gs = [torch.tensor(n.weight, requires_grad=True) for n in net.norms]
    betas = [torch.tensor(n.bias, requires_grad=True) for n in net.norms]
    h = torch.tensor(X)
    for l in range(len(Ws)):
        h = h @ Ws[l].T + bs[l]
        if l < len(gs):
            h = torch.nn.functional.gelu(torch.nn.functional.layer_norm(h, (h.shape[1],), gs[l], betas[l], 1e-5))
    ref = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    ref.backward()
    assert value == pytest.approx(ref.item(), rel=1e-12)
    for l, layer in enumerate(net.layers):
        np.testing.assert_allclose(grads[l]["weight"], Ws[l].grad.numpy() * layer.mask, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(grads[l]["bias"], bs[l].grad.numpy(), rtol=1e-6, atol=1e-12)
        if l < len(gs):
            np.testing.assert_allclose(grads[l]["norm.weight"], gs[l].grad.numpy(), rtol=1e-6, atol=1e-12)
            np.testing.assert_allclose(grads[l]["norm.bias"], betas[l].grad.numpy(), rtol=1e-6, atol=1e-12)


def test_layer_norm_adamw_matches_torch():
    """Three full-batch AdamW steps with gamma, beta trained like biases (decay bias_decay)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    net = _net("layer", seed=5, sizes=(3, 6, 2), activation="tanh")
    rng = np.random.default_rng(9)
    X = rng.normal(size=(8, 3))
    y = rng.integers(0, 2, size=8)
    cfg = TrainConfig(loss="ce", lr=0.05, epochs=3, batch_size=8, weight_decay=0.1, bias_decay=0.02)
    res = train(net, X, y, cfg, progress=False)
    L0, L1 = net.layers
    theta = [torch.tensor(layer.weight, requires_grad=True) for layer in net.layers]
    bias = [torch.tensor(layer.bias, requires_grad=True) for layer in net.layers]
    gamma = torch.tensor(L0.norm.weight, requires_grad=True)
    beta = torch.tensor(L0.norm.bias, requires_grad=True)
    mask, fixed = [torch.tensor(layer.mask) for layer in net.layers], [torch.tensor(layer.fixed) for layer in net.layers]
    opt = torch.optim.AdamW(
        [{"params": theta, "weight_decay": 0.1}, {"params": bias + [gamma, beta], "weight_decay": 0.02}],
        lr=0.05, betas=cfg.betas, eps=cfg.eps,
    )
    for _ in range(3):
        opt.zero_grad()
        h = torch.tensor(X) @ (mask[0] * theta[0] + fixed[0]).T + bias[0]
        h = torch.tanh(torch.nn.functional.layer_norm(h, (6,), gamma, beta, 1e-5))
        h = h @ (mask[1] * theta[1] + fixed[1]).T + bias[1]
        torch.nn.functional.cross_entropy(h, torch.tensor(y)).backward()
        opt.step()
    out = res.network.layers
    np.testing.assert_allclose(out[0].norm.weight, gamma.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[0].norm.bias, beta.detach().numpy(), rtol=0, atol=1e-12)
    for l in range(2):
        np.testing.assert_allclose(out[l].weight, theta[l].detach().numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(out[l].bias, bias[l].detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_layer_norm_training_reduces_loss_and_keeps_structure(dtype):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(128, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    net = w_mlp([4, 12, 2], n_fixed=1, activation="gelu", norm="layer", seed=6)
    res = train(net, X, y, TrainConfig(epochs=20, lr=1e-2, batch_size=32, dtype=dtype), progress=False)
    assert res.history[-1] < 0.5 * res.history[0]
    out = res.network
    assert out.norms[0].kind == "layer" and not np.array_equal(out.norms[0].weight, net.norms[0].weight)
    assert np.all(out.layers[0].weight[net.layers[0].mask == 0] == 0.0)
    assert np.array_equal(net.norms[0].weight, np.ones(12))  # the input network is untouched


def test_layer_norm_without_affine_trains_weights_only():
    base = standard_mlp([3, 5, 2], activation="tanh", seed=0)
    net = Network([Layer(base.layers[0].weight, base.layers[0].bias, activation="tanh", norm=Norm("layer", 1e-5, size=5)),
                   base.layers[1]])
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, size=32)
    _, grads = loss_and_gradient(net, X, y, "ce")
    assert "norm.weight" not in grads[0]
    res = train(net, X, y, TrainConfig(epochs=3, lr=1e-2, batch_size=8), progress=False)
    assert res.network.norms[0].weight is None and not res.network.norms[0].affine


def test_batch_norm_training_refused():
    net = w_mlp([4, 6, 3], n_fixed=1, norm="batch", seed=0)
    X, y = np.zeros((4, 4)), np.zeros(4, dtype=int)
    for call in (lambda: train(net, X, y, progress=False), lambda: loss_and_gradient(net, X, y, "ce")):
        with pytest.raises(InvalidOptionError, match="layer 0: training with BatchNorm is not supported"):
            call()


# --- paths --------------------------------------------------------------------------------------
from neuronid.errors import StructureMismatchError  # noqa: E402
from neuronid.numerics.alignment import aligned_path, permute_network, weight_matching_objective  # noqa: E402
from neuronid.numerics.losses import loss_per_sample  # noqa: E402
from neuronid.numerics.paths import (  # noqa: E402
    interpolate,
    interpolate_norms,
    interpolated_network,
    linear_path,
    reset_batch_norms,
)


def _lerp_all(A: Network, B: Network, t: float) -> Network:
    """Reference path point: every stored parameter interpolated, written out directly."""
    layers = []
    for la, lb in zip(A.layers, B.layers):
        norm = None
        if la.norm is not None:
            arrays = {k: (1 - t) * v + t * lb.norm.arrays()[k] for k, v in la.norm.arrays().items()}
            norm = Norm(la.norm.kind, la.norm.eps, size=la.norm.size, **arrays)
        W = (1 - t) * la.effective_weight() + t * lb.effective_weight()
        layers.append(Layer(W, (1 - t) * la.bias + t * lb.bias, activation=la.activation, norm=norm))
    return Network(layers)


@pytest.mark.parametrize("norm", ["layer", "batch", [None, "layer"]])
def test_path_interpolates_norm_parameters(norm):
    A, B = _net(norm, seed=1), _net(norm, seed=2)
    rng = np.random.default_rng(12)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    path = linear_path(A, B, X, y, loss="ce", steps=5)
    for t, value in zip(path.steps, path.loss):
        ref = _lerp_all(A, B, float(t))
        F = _torch_reference(ref, X) if norm != [None, "layer"] else ref(X)
        assert value == pytest.approx(float(np.mean(loss_per_sample("ce", F, y))), rel=1e-10)
        Ws, bs = interpolate(A, B, float(t))
        via_forward = A.forward(X, weights=Ws, biases=bs, norms=interpolate_norms(A, B, float(t)))
        np.testing.assert_allclose(via_forward, ref(X), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(interpolated_network(A, B, float(t))(X), ref(X), rtol=1e-12, atol=1e-13)


def test_path_refuses_mismatched_norms():
    A, B = _net("layer", seed=1), _net("batch", seed=1)
    X, y = np.zeros((3, 4)), np.zeros(3, dtype=int)
    for allow in (False, True):
        with pytest.raises(StructureMismatchError, match="normalizations differ"):
            linear_path(A, B, X, y, loss="ce", allow_structure_mismatch=allow)


def _torch_reset_stats(net: Network, X: np.ndarray) -> list:
    """Git Re-Basin's reset_bn_stats: momentum=None, reset running stats, one forward pass
    in training mode over all of X as one batch; returns (running_mean, running_var)."""
    torch = pytest.importorskip("torch")
    h = torch.tensor(X)
    out = []
    for layer in net.layers:
        h = h @ torch.tensor(layer.effective_weight()).T + torch.tensor(layer.bias)
        if layer.norm is not None:
            bn = torch.nn.BatchNorm1d(layer.norm.size, eps=layer.norm.eps, momentum=None).double()
            bn.weight.data, bn.bias.data = torch.tensor(layer.norm.weight), torch.tensor(layer.norm.bias)
            bn.reset_running_stats()
            bn.train()
            h = bn(h)
            out.append((bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()))
        if not layer.is_output:
            h = torch.nn.functional.gelu(h)
    return out


def test_reset_bn_matches_torch_and_changes_the_path():
    A, B = _net("batch", seed=3), _net("batch", seed=4)
    rng = np.random.default_rng(13)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, size=60)
    R = rng.normal(size=(80, 4))
    mid = interpolated_network(A, B, 0.5)
    ref = _torch_reset_stats(mid, R)
    ours = reset_batch_norms(mid, R)
    for (mean, var), norm in zip(ref, ours):
        np.testing.assert_allclose(norm.running_mean, mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(norm.running_var, var, rtol=1e-10, atol=1e-12)
    reset_mid = interpolated_network(A, B, 0.5, reset_data=R)
    plain = linear_path(A, B, X, y, loss="ce", steps=3)
    reset = linear_path(A, B, X, y, loss="ce", steps=3, reset_bn=True, reset_data=R)
    assert reset.loss[1] == pytest.approx(float(np.mean(loss_per_sample("ce", reset_mid(X), y))), rel=1e-12)
    assert reset.loss[1] != pytest.approx(plain.loss[1], rel=1e-6)
    # the endpoints are recomputed too: t = 0 is A with reset statistics
    A_reset = interpolated_network(A, A, 0.0, reset_data=R)
    assert reset.loss[0] == pytest.approx(float(np.mean(loss_per_sample("ce", A_reset(X), y))), rel=1e-12)
    # default reset data = the evaluation data; no effect without batch norm
    assert linear_path(A, B, X, y, loss="ce", steps=3, reset_bn=True).loss[1] == pytest.approx(
        float(np.mean(loss_per_sample("ce", interpolated_network(A, B, 0.5, reset_data=X)(X), y))), rel=1e-12)
    L1, L2 = _net("layer", seed=3), _net("layer", seed=4)
    assert np.array_equal(linear_path(L1, L2, X, y, loss="ce", steps=3, reset_bn=True).loss,
                          linear_path(L1, L2, X, y, loss="ce", steps=3).loss)
    with pytest.raises(InvalidOptionError, match="reset_data is only used with reset_bn=True"):
        linear_path(A, B, X, y, loss="ce", reset_data=R)
    with pytest.raises(InvalidOptionError, match="reset_bn must be True or False"):
        linear_path(A, B, X, y, loss="ce", reset_bn="yes")


# --- alignment ----------------------------------------------------------------------------------
@pytest.mark.parametrize("norm", ["layer", "batch"])
@pytest.mark.parametrize("method", ["activation", "weight"])
@pytest.mark.parametrize("reset_bn", [False, True])
def test_permuted_copy_aligns_to_zero_barrier(norm, method, reset_bn):
    """Acceptance (issue 9): B = a neuron permutation of A gives aligned barrier 0 (1e-9)."""
    A = _net(norm, seed=5, sizes=(6, 16, 12, 4))
    rng = np.random.default_rng(14)
    true = [rng.permutation(16), rng.permutation(12)]
    B = permute_network(A, true)
    X, y = rng.normal(size=(300, 6)), rng.integers(0, 4, size=300)
    unaligned = linear_path(A, B, X, y, loss="ce", allow_structure_mismatch=True)
    assert np.ptp(unaligned.loss) > 1e-3  # the test can fail: without alignment the path is not flat
    path, al = aligned_path(A, B, X, y, method=method, loss="ce", allow_structure_mismatch=True, reset_bn=reset_bn)
    assert [p.tolist() for p in al.perms] == [np.argsort(p).tolist() for p in true]
    assert al.max_output_difference <= al.tolerance
    for key in ("B_lerp", "B_peak", "B_mid", "B_mean"):
        assert abs(getattr(path, key)) <= 1e-9, key
    assert np.ptp(path.loss) <= 1e-9


def test_permute_network_moves_norm_parameters():
    A = _net("batch", seed=6)
    perm = [np.array([5, 3, 1, 0, 2, 4]), np.array([4, 2, 0, 1, 3])]
    P = permute_network(A, perm)
    for l, p in enumerate(perm):
        for key, value in A.norms[l].arrays().items():
            np.testing.assert_array_equal(P.norms[l].arrays()[key], value[p])
    X = np.random.default_rng(15).normal(size=(10, 4))
    np.testing.assert_allclose(P(X), A(X), rtol=0, atol=1e-12)


def test_weight_matching_objective_includes_gamma_beta():
    A = _net("layer", seed=7)
    plain = Network([Layer(la.weight, la.bias, la.mask, la.fixed, la.activation) for la in A.layers])
    ident = [np.arange(6), np.arange(5)]
    extra = sum(float(n.weight @ n.weight + n.bias @ n.bias) for n in A.norms)
    assert weight_matching_objective(A, A, ident) == pytest.approx(weight_matching_objective(plain, plain, ident) + extra)


def test_alignment_refuses_mismatched_norms():
    A, B = _net("layer", seed=1), _net(["layer", None], seed=1)
    X, y = np.zeros((3, 4)), np.zeros(3, dtype=int)
    with pytest.raises(StructureMismatchError, match="normalizations differ"):
        aligned_path(A, B, X, y, loss="ce", allow_structure_mismatch=True)


# --- supports, costs, correspondence ------------------------------------------------------------
from neuronid.numerics.correspondence import correspondence  # noqa: E402
from neuronid.numerics.costs import cost_matrix, layer_costs  # noqa: E402
from neuronid.numerics.supports import compute_support  # noqa: E402


def test_costs_of_a_normalized_layer_are_the_identity_closed_form():
    """THEORY N1: neuron i's function is its pre-activation z_i; the cost matrix equals that of
    the same linear map with the identity activation, on the inputs the linear map receives."""
    A = _net("layer", seed=8, sizes=(5, 7, 6, 3), activation="gelu")
    X = np.random.default_rng(16).normal(size=(80, 5))
    trace = A.forward(X, record=True)
    for l in range(2):
        lc = layer_costs(A, layer=l, trace=trace, tau=1.0)
        la = A.layers[l]
        # same support: the inputs layer l's linear map receives in A
        sup = compute_support(trace.inputs[l], 1.0)
        ref = cost_matrix(Layer(la.weight, la.bias, la.mask, la.fixed, "identity"), sup)
        np.testing.assert_array_equal(np.isfinite(lc.K), np.isfinite(ref.K))
        fin = np.isfinite(ref.K)
        np.testing.assert_allclose(lc.K[fin], ref.K[fin], rtol=1e-12, atol=1e-12)
        assert lc.eff.names == ("identity",) * la.shape[0]
        assert "layer norm after the linear map" in lc.costs.semantics
        np.testing.assert_array_equal(lc.support.xbar, sup.xbar)


def test_correspondence_uses_pre_activations_of_normalized_layers():
    A = _net("layer", seed=9)
    perm = [np.array([2, 0, 1, 5, 3, 4]), np.array([4, 3, 2, 1, 0])]
    B = permute_network(A, perm)
    X = np.random.default_rng(17).normal(size=(50, 4))
    for l in range(2):
        c = correspondence(A, B, X, l)
        assert c.perm.tolist() == np.argsort(perm[l]).tolist()
        assert float(np.max(c.mismatch)) < 1e-12
        assert any("pre-activations" in note for note in c.notes)
    # the matching is on z, not on the outputs: a network whose norm differs only in beta
    # has the same z, hence zero mismatch, although its outputs differ
    shifted = Network([Layer(x.weight, x.bias, x.mask, x.fixed, x.activation,
                             None if x.norm is None else Norm("layer", x.norm.eps, x.norm.weight, x.norm.bias + 1.0))
                       for x in A.layers])
    assert np.max(np.abs(shifted(X) - A(X))) > 1e-3
    assert float(np.max(correspondence(A, shifted, X, 0).mismatch)) < 1e-12


# --- certificate --------------------------------------------------------------------------------
def test_certificate_unsupported_for_normalization_layers():
    from neuronid.numerics.certificate import UNSUPPORTED_NORM, certificate, certified_barriers

    A, B = _net("layer", seed=1), _net("layer", seed=2)
    X, y = np.random.default_rng(18).normal(size=(30, 4)), np.arange(30) % 3
    cert = certificate(A, B, X)
    assert cert.status == UNSUPPORTED_NORM == "unsupported: normalization layer" and not cert.ok
    assert "layer 0: layer norm" in cert.reason and cert.rho == np.inf
    out = certified_barriers(A, B, X, y, loss="ce")
    assert out.status == UNSUPPORTED_NORM and out.bound["B_lerp"] == np.inf
    assert out.measured["B_lerp"] == linear_path(A, B, X, y, loss="ce").B_lerp  # the path is still measured


# --- property: permutations with norms ----------------------------------------------------------
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(
    widths=st.lists(st.integers(2, 7), min_size=1, max_size=3),
    kind=st.sampled_from(["layer", "batch"]),
    activation=st.sampled_from(["gelu", "tanh", "relu"]),
    seed=st.integers(0, 2**16),
)
def test_random_permutations_preserve_function_and_weight_matching_recovers_them(widths, kind, activation, seed):
    A = _net(kind, seed=seed, sizes=[3, *widths, 2], activation=activation)
    rng = np.random.default_rng(seed)
    perms = [rng.permutation(w) for w in widths]
    B = permute_network(A, perms)
    X, y = rng.normal(size=(25, 3)), rng.integers(0, 2, size=25)
    scale = max(1.0, float(np.max(np.abs(A(X)))))
    assert float(np.max(np.abs(A(X) - B(X)))) <= 1e-12 * scale
    path, al = aligned_path(A, B, X, y, method="weight", loss="ce", allow_structure_mismatch=True, steps=5)
    assert abs(path.B_lerp) <= 1e-9 and np.ptp(path.loss) <= 1e-9


def test_explicit_activations_keep_the_files_norms(tmp_path):
    net = _net("layer", seed=10)
    save_network(net, tmp_path / "n.safetensors")
    back = load_network(tmp_path / "n.safetensors", activations=["tanh", "tanh"])
    assert back.activations == ["tanh", "tanh"] and [n.kind for n in back.norms] == ["layer", "layer"]


@pytest.mark.parametrize("name", ["neuronid.numerics.network", "neuronid.numerics.io", "neuronid.numerics.paths",
                                  "neuronid.numerics.alignment", "neuronid.numerics.structures",
                                  "neuronid.proofs_checks.normalization_checks", "neuronid.theory.normalization"])
def test_doctests_of_the_touched_modules(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0

"""Tests of numerics.training: gradients against finite differences, optimizer steps
against slow numpy references (and torch when installed), structure preservation,
determinism, convergence and the boundary errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from neuronid.numerics.activations import EXTERNAL
from neuronid.numerics.losses import check_targets, loss_value
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.structures import sigma_asymmetric_mlp, standard_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, TrainResult, loss_and_gradient, train
from neuronid.errors import InvalidDataError, InvalidOptionError

ACTIVATIONS = ["relu", "tanh", "gelu", "sigmoid", "leaky_relu:0.1", "elu:0.5", "softplus", "silu", "hard_tanh",
               "identity"]
KINK = 1e-4  # no pre-activation closer than this to a kink: 0 (relu, leaky_relu, elu), +-1 (hard_tanh)


# --- helpers ------------------------------------------------------------------------------------
def _away_from_kinks(net: Network, X: np.ndarray) -> np.ndarray:
    """Drop rows with a hidden pre-activation within KINK of a kink: finite differences
    of size h = 1e-6 then never cross one."""
    trace = net.forward(X, record=True)
    keep = np.ones(X.shape[0], dtype=bool)
    for z in trace.pre[:-1]:
        for kink in (0.0, 1.0, -1.0):
            keep &= np.all(np.abs(z - kink) > KINK, axis=1)
    return X[keep]


def _data(net: Network, loss: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = _away_from_kinks(net, rng.normal(size=(n, net.n_inputs)))
    if loss == "ce":
        y = rng.integers(0, net.n_outputs, size=X.shape[0])
    else:
        y = rng.normal(size=(X.shape[0], net.n_outputs))
    return X, y


def _fd_gradient(net: Network, X, y, loss: str, h: float = 1e-6):
    """Central differences of the mean loss w.r.t. every trainable theta entry and bias."""
    yv = check_targets(loss, y, net.n_outputs, X.shape[0])
    Ws = [layer.effective_weight() for layer in net.layers]
    bs = [layer.bias.copy() for layer in net.layers]

    def f():
        return loss_value(loss, net.forward(X, weights=Ws, biases=bs), yv)

    grads = []
    for l, layer in enumerate(net.layers):
        gw = np.zeros_like(Ws[l])
        for idx in zip(*np.nonzero(layer.mask)):  # d W_eff / d theta = 1 where mask == 1
            old = Ws[l][idx]
            Ws[l][idx] = old + h
            up = f()
            Ws[l][idx] = old - h
            down = f()
            Ws[l][idx] = old
            gw[idx] = (up - down) / (2 * h)
        gb = np.zeros_like(bs[l])
        for i in range(gb.size):
            old = bs[l][i]
            bs[l][i] = old + h
            up = f()
            bs[l][i] = old - h
            down = f()
            bs[l][i] = old
            gb[i] = (up - down) / (2 * h)
        grads.append(dict(weight=gw, bias=gb))
    return f(), grads


def _assert_gradient_matches(net, X, y, loss):
    value, grads = loss_and_gradient(net, X, y, loss)
    ref_value, ref = _fd_gradient(net, X, y, loss)
    assert value == pytest.approx(ref_value, rel=1e-12, abs=1e-14)
    # Tolerance: central differences with h = 1e-6 in float64 have truncation error
    # O(h^2 * |L'''|) ~ 1e-12 and rounding error ~ eps * |L| / h ~ 2e-10 for |L| = O(1);
    # atol 1e-8 / rtol 1e-6 leaves a margin of ~50x over the rounding error while any
    # real bug (a missing factor, a wrong derivative) shows up at O(|g|).
    for l, (g, r) in enumerate(zip(grads, ref)):
        np.testing.assert_allclose(g["weight"], r["weight"], rtol=1e-6, atol=1e-8, err_msg=f"layer {l} weight")
        np.testing.assert_allclose(g["bias"], r["bias"], rtol=1e-6, atol=1e-8, err_msg=f"layer {l} bias")
        mask = net.layers[l].mask
        assert np.all(g["weight"][mask == 0] == 0.0)


# --- gradients ----------------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_gradient_matches_finite_differences(activation, loss):
    net = standard_mlp([3, 5, 4, 3], activation=activation, seed=1)
    X, y = _data(net, loss, 12, seed=2)
    assert X.shape[0] >= 6
    _assert_gradient_matches(net, X, y, loss)


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_gradient_w_mlp_and_sigma_asymmetric(loss):
    wnet = w_mlp([4, 6, 5, 3], activation="gelu", n_fixed=2, sigma_F=1.0, seed=3)
    X, y = _data(wnet, loss, 12, seed=4)
    _assert_gradient_matches(wnet, X, y, loss)
    snet = sigma_asymmetric_mlp(
        [3, 6, 3], activations=["relu", "tanh", "elu:0.5", "silu", "softplus", "leaky_relu:0.2"], seed=5
    )
    assert snet.layers[0].is_sigma_asymmetric
    X, y = _data(snet, loss, 12, seed=6)
    _assert_gradient_matches(snet, X, y, loss)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    activation=st.sampled_from(ACTIVATIONS),
    kind=st.sampled_from(["standard", "w-mlp"]),
    loss=st.sampled_from(["mse", "ce"]),
    seed=st.integers(0, 2**16),
)
def test_gradient_random_architectures(sizes, activation, kind, loss, seed):
    if loss == "ce":
        sizes[-1] = max(sizes[-1], 2)
    if kind == "standard":
        net = standard_mlp(sizes, activation=activation, seed=seed)
    else:
        net = w_mlp(sizes, activation=activation, p_fixed=0.3, sigma_F=1.0, seed=seed)
    X, y = _data(net, loss, 8, seed=seed + 1)
    assume(X.shape[0] >= 2)
    _assert_gradient_matches(net, X, y, loss)


# --- optimizer steps against numpy references ---------------------------------------------------
def _ref_train(net, X, y, cfg: TrainConfig):
    """Slow, obviously correct reference: the same epochs / minibatch order, gradients
    from loss_and_gradient (checked above against finite differences), the optimizer
    written out in numpy exactly as in torch.optim.AdamW / SGD."""
    layers = [layer.copy() for layer in net.layers]
    theta = [layer.weight.copy() for layer in layers]
    bias = [layer.bias.copy() for layer in layers]
    masks = [layer.mask for layer in layers]
    m1 = [np.zeros_like(t) for t in theta] + [np.zeros_like(b) for b in bias]
    m2 = [np.zeros_like(t) for t in theta] + [np.zeros_like(b) for b in bias]
    rng = np.random.default_rng(cfg.seed)
    n = X.shape[0]
    step = 0
    b1, b2 = cfg.betas
    for _ in range(cfg.epochs):
        perm = rng.permutation(n)
        for start in range(0, n, cfg.batch_size):
            idx = perm[start:start + cfg.batch_size]
            cur = Network(
                [Layer(t, b, lay.mask, lay.fixed, lay.activation) for t, b, lay in zip(theta, bias, layers)]
            )
            _, grads = loss_and_gradient(cur, X[idx], y[idx], cfg.loss)
            step += 1
            params = theta + bias
            gs = [g["weight"] for g in grads] + [g["bias"] for g in grads]
            decays = [cfg.weight_decay * mk for mk in masks] + [cfg.bias_decay + 0 * b for b in bias]
            for k, (p, g, dec) in enumerate(zip(params, gs, decays)):
                if cfg.optimizer == "adamw":
                    p *= 1.0 - cfg.lr * dec
                    m1[k] = b1 * m1[k] + (1 - b1) * g
                    m2[k] = b2 * m2[k] + (1 - b2) * g * g
                    denom = np.sqrt(m2[k]) / np.sqrt(1 - b2**step) + cfg.eps
                    p -= cfg.lr / (1 - b1**step) * m1[k] / denom
                else:
                    g = g + dec * p
                    m1[k] = cfg.momentum * m1[k] + g
                    p -= cfg.lr * m1[k]
    return theta, bias


@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_steps_match_numpy_reference(optimizer, loss):
    net = w_mlp([3, 6, 3], activation="tanh", n_fixed=1, sigma_F=0.5, seed=7)
    rng = np.random.default_rng(8)
    X = rng.normal(size=(10, 3))
    y = rng.integers(0, 3, size=10) if loss == "ce" else rng.normal(size=(10, 3))
    cfg = TrainConfig(
        loss=loss, optimizer=optimizer, lr=0.05, epochs=2, batch_size=4, weight_decay=0.1, bias_decay=0.05,
        momentum=0.8, betas=(0.8, 0.95), seed=3,
    )  # 2 epochs of batches 4, 4, 2: step counting, a short last batch and bias decay all enter
    res = train(net, X, y, cfg, progress=False)
    assert res.steps == 6 and len(res.history) == 2
    theta, bias = _ref_train(net, X, y, cfg)
    for l, layer in enumerate(res.network.layers):
        np.testing.assert_allclose(layer.weight, theta[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(layer.bias, bias[l], rtol=1e-12, atol=1e-14)


def test_single_step_matches_reference_one_batch():
    net = standard_mlp([2, 4, 1], activation="softplus", seed=9)
    X = np.random.default_rng(10).normal(size=(6, 2))
    y = X[:, :1] ** 2
    for optimizer in ("adamw", "sgd"):
        cfg = TrainConfig(loss="mse", optimizer=optimizer, lr=0.1, epochs=1, batch_size=6)
        theta, bias = _ref_train(net, X, y, cfg)
        res = train(net, X, y, cfg, progress=False)
        for l, layer in enumerate(res.network.layers):
            np.testing.assert_allclose(layer.weight, theta[l], rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(layer.bias, bias[l], rtol=1e-13, atol=1e-15)
        assert res.history[0] == pytest.approx(loss_and_gradient(net, X, y, "mse")[0], rel=1e-13)


def test_adamw_step_matches_torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    net = w_mlp([3, 5, 2], activation="tanh", n_fixed=1, sigma_F=1.0, seed=11)
    rng = np.random.default_rng(12)
    X = rng.normal(size=(8, 3))
    y = rng.integers(0, 2, size=8)
    cfg = TrainConfig(loss="ce", lr=0.05, epochs=3, batch_size=8, weight_decay=0.1, bias_decay=0.02)
    res = train(net, X, y, cfg, progress=False)

    thetas = [torch.tensor(layer.weight, dtype=torch.float64, requires_grad=True) for layer in net.layers]
    biases = [torch.tensor(layer.bias, dtype=torch.float64, requires_grad=True) for layer in net.layers]
    masks = [torch.tensor(layer.mask, dtype=torch.float64) for layer in net.layers]
    fixeds = [torch.tensor(layer.fixed, dtype=torch.float64) for layer in net.layers]
    opt = torch.optim.AdamW(
        [{"params": thetas, "weight_decay": cfg.weight_decay}, {"params": biases, "weight_decay": cfg.bias_decay}],
        lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
    )
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(cfg.epochs):  # one full batch per epoch: the order does not matter
        opt.zero_grad()
        h = Xt
        for l in range(len(thetas)):
            h = h @ (masks[l] * thetas[l] + fixeds[l]).T + biases[l]
            if l < len(thetas) - 1:
                h = torch.tanh(h)
        torch.nn.functional.cross_entropy(h, yt).backward()
        opt.step()
        # torch decays masked entries too (their gradient is 0, but decay is not);
        # with theta = 0 there they stay 0, as in neuronid
    for l, layer in enumerate(res.network.layers):
        np.testing.assert_allclose(layer.weight, thetas[l].detach().numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.bias, biases[l].detach().numpy(), rtol=0, atol=1e-12)


# --- structure ----------------------------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["adamw", "sgd"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_masked_entries_frozen(optimizer, dtype):
    net = w_mlp([4, 8, 3], activation="relu", n_fixed=2, sigma_F=1.0, seed=13)
    rng = np.random.default_rng(14)
    X = rng.normal(size=(40, 4))
    y = rng.integers(0, 3, size=40)
    cfg = TrainConfig(optimizer=optimizer, lr=0.05, epochs=5, batch_size=8, weight_decay=0.5, dtype=dtype)
    res = train(net, X, y, cfg, progress=False)
    for before, after in zip(net.layers, res.network.layers):
        assert np.array_equal(after.mask, before.mask)
        assert np.array_equal(after.fixed, before.fixed)
        assert np.all(after.weight[before.mask == 0] == 0.0)
        assert not np.allclose(after.weight[before.mask == 1], before.weight[before.mask == 1])


def test_decay_only_where_trainable_and_bias_decay_configurable():
    # The output layer is frozen at 0 (mask 0, fixed 0, bias 0, frozen) and targets are 0,
    # so every gradient vanishes: AdamW moves only through decoupled decay. Trainable hidden
    # weights shrink by (1 - lr*wd) per step, biases by (1 - lr*bias_decay), masked entries
    # stay 0 and fixed parts stay put.
    base = w_mlp([3, 5, 2], activation="tanh", n_fixed=1, sigma_F=1.0, seed=15)
    hid = base.layers[0]
    hidden = Layer(hid.weight, np.linspace(-1, 1, 5), hid.mask, hid.fixed, "tanh")
    out = Layer(np.ones((2, 5)), np.zeros(2), np.zeros((2, 5)), np.zeros((2, 5)))
    net = Network([hidden, out])
    X = np.random.default_rng(16).normal(size=(12, 3))
    y = np.zeros((12, 2))
    lr, wd = 0.1, 0.2
    for bias_decay in (0.0, 0.3):
        cfg = TrainConfig(loss="mse", lr=lr, epochs=3, batch_size=4, weight_decay=wd, bias_decay=bias_decay,
                          frozen_biases=(-1,))
        res = train(net, X, y, cfg, progress=False)
        steps = res.steps
        assert steps == 9
        w = hid.weight.copy()
        b = hidden.bias.copy()
        for _ in range(steps):
            w *= 1.0 - lr * wd
            b *= 1.0 - lr * bias_decay
        got = res.network.layers[0]
        np.testing.assert_allclose(got.weight, w, rtol=1e-14, atol=0)
        assert np.all(got.weight[hid.mask == 0] == 0.0)
        assert np.array_equal(got.fixed, hid.fixed)
        if bias_decay == 0.0:
            assert np.array_equal(got.bias, hidden.bias)
        else:
            np.testing.assert_allclose(got.bias, b, rtol=1e-14)
        assert np.array_equal(res.network.layers[1].bias, np.zeros(2))


def test_frozen_biases_not_trained():
    net = standard_mlp([2, 4, 2], activation="tanh", seed=17)
    X = np.random.default_rng(18).normal(size=(20, 2))
    y = (X[:, 0] > 0).astype(int)
    res = train(net, X, y, TrainConfig(lr=0.05, epochs=2, batch_size=5, frozen_biases=(1,)), progress=False)
    assert np.array_equal(res.network.layers[1].bias, net.layers[1].bias)
    assert not np.array_equal(res.network.layers[0].bias, net.layers[0].bias)


# --- determinism --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_bitwise_identical(dtype):
    net = w_mlp([5, 16, 3], activation="gelu", p_fixed=0.2, sigma_F=1.0, seed=19)
    rng = np.random.default_rng(20)
    X = rng.normal(size=(100, 5))
    y = rng.integers(0, 3, size=100)
    cfg = TrainConfig(lr=1e-2, epochs=4, batch_size=16, dtype=dtype, seed=5)
    a = train(net, X, y, cfg, progress=False)
    b = train(net, X, y, cfg, progress=False)
    c = train(net, X, y, TrainConfig(lr=1e-2, epochs=4, batch_size=16, dtype=dtype, seed=6), progress=False)
    assert a.history == b.history
    for la, lb, lc in zip(a.network.layers, b.network.layers, c.network.layers):
        assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
        assert not np.array_equal(la.weight, lc.weight)


def test_input_network_untouched():
    net = standard_mlp([2, 3, 2], activation="relu", seed=21)
    before = [(layer.weight.copy(), layer.bias.copy()) for layer in net.layers]
    X = np.random.default_rng(22).normal(size=(10, 2))
    res = train(net, X, np.arange(10) % 2, TrainConfig(lr=0.1, epochs=2), progress=False)
    assert isinstance(res, TrainResult) and res.network is not net
    for (w, b), layer in zip(before, net.layers):
        assert np.array_equal(w, layer.weight) and np.array_equal(b, layer.bias)


# --- convergence --------------------------------------------------------------------------------
def _blobs(n=200, seed=23):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=n)
    X = rng.normal(size=(n, 2)) * 0.5 + np.where(y[:, None] == 1, 2.0, -2.0)
    return X, y


@pytest.mark.parametrize("optimizer,lr", [("adamw", 1e-2), ("sgd", 5e-2)])
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_training_reduces_loss(loss, optimizer, lr):
    X, y = _blobs()
    net = standard_mlp([2, 16, 2], activation="relu", seed=24)
    cfg = TrainConfig(loss=loss, optimizer=optimizer, lr=lr, epochs=15, batch_size=32)
    res = train(net, X, y, cfg, progress=False)
    assert res.history[-1] < 0.3 * res.history[0]
    pred = res.network.forward(X).argmax(axis=1)
    assert np.mean(pred == y) > 0.97


def test_float32_close_to_float64():
    X, y = _blobs(seed=25)
    net = standard_mlp([2, 16, 2], activation="tanh", seed=26)
    cfg = dict(loss="ce", lr=1e-2, epochs=5, batch_size=32)
    r64 = train(net, X, y, TrainConfig(**cfg), progress=False)
    r32 = train(net, X, y, TrainConfig(dtype="float32", **cfg), progress=False)
    for a, b in zip(r64.network.layers, r32.network.layers):
        assert b.weight.dtype == np.float64 and b.bias.dtype == np.float64
        np.testing.assert_allclose(b.weight, a.weight, atol=1e-4)
        np.testing.assert_allclose(b.bias, a.bias, atol=1e-4)
    np.testing.assert_allclose(r32.history, r64.history, rtol=1e-4)


def test_progress_bar_writes_to_stderr(capsys):
    net = standard_mlp([2, 3, 2], activation="relu", seed=27)
    X = np.random.default_rng(28).normal(size=(10, 2))
    train(net, X, np.arange(10) % 2, TrainConfig(epochs=2), progress="my run")
    captured = capsys.readouterr()
    assert "my run" in captured.err and captured.out == ""
    train(net, X, np.arange(10) % 2, TrainConfig(epochs=2), progress=False)
    assert capsys.readouterr().err == ""


# --- boundary errors ----------------------------------------------------------------------------
def _sympy_net():
    net = standard_mlp([2, 3, 2], activation="relu", seed=29)
    layer = net.layers[0]
    # what Layer(activation="sympy:z**3") stores: code EXTERNAL for that neuron
    layer.codes = layer.codes.copy()
    layer.codes[1] = EXTERNAL
    layer.names = ("relu", "sympy:z**3", "relu")
    return net


_NET = standard_mlp([2, 3, 2], activation="relu", seed=30)
_X = np.random.default_rng(31).normal(size=(6, 2))
_Y = np.array([0, 1, 0, 1, 1, 0])

BAD = [
    # (description, call kwargs, exception, message fragments)
    ("loss", dict(config=TrainConfig(loss="hinge")), InvalidOptionError, ["TrainConfig.loss", "'hinge'", "mse, ce"]),
    ("optimizer", dict(config=TrainConfig(optimizer="adam")), InvalidOptionError,
     ["optimizer", "'adam'", "adamw, sgd"]),
    ("dtype", dict(config=TrainConfig(dtype="float16")), InvalidOptionError, ["dtype", "float16", "float32"]),
    ("lr zero", dict(config=TrainConfig(lr=0.0)), InvalidOptionError, ["TrainConfig.lr", "> 0", "0.0"]),
    ("lr nan", dict(config=TrainConfig(lr=float("nan"))), InvalidOptionError, ["TrainConfig.lr", "nan"]),
    ("epochs", dict(config=TrainConfig(epochs=-1)), InvalidOptionError, ["TrainConfig.epochs", "[0, 1000000]", "-1"]),
    ("epochs huge", dict(config=TrainConfig(epochs=10**12)), InvalidOptionError,
     ["TrainConfig.epochs", "[0, 1000000]", "1000000000000"]),
    ("epochs float", dict(config=TrainConfig(epochs=2.5)), InvalidOptionError, ["TrainConfig.epochs", "2.5"]),
    ("batch", dict(config=TrainConfig(batch_size=0)), InvalidOptionError, ["TrainConfig.batch_size", ">= 1"]),
    ("wd", dict(config=TrainConfig(weight_decay=-0.1)), InvalidOptionError, ["TrainConfig.weight_decay", "-0.1"]),
    ("bias decay", dict(config=TrainConfig(bias_decay=float("inf"))), InvalidOptionError, ["TrainConfig.bias_decay"]),
    ("momentum", dict(config=TrainConfig(momentum=1.0)), InvalidOptionError, ["TrainConfig.momentum", "[0, 1)"]),
    ("betas", dict(config=TrainConfig(betas=(0.9,))), InvalidOptionError, ["TrainConfig.betas", "(0.9,)"]),
    ("betas range", dict(config=TrainConfig(betas=(0.9, 1.5))), InvalidOptionError, ["TrainConfig.betas", "1.5"]),
    ("eps", dict(config=TrainConfig(eps=0.0)), InvalidOptionError, ["TrainConfig.eps", "> 0"]),
    ("seed", dict(config=TrainConfig(seed=-3)), InvalidOptionError, ["TrainConfig.seed", "-3"]),
    ("frozen", dict(config=TrainConfig(frozen_biases=(5,))), InvalidOptionError, ["frozen_biases", "5", "-2 .. 1"]),
    ("config type", dict(config={"lr": 0.1}), InvalidOptionError, ["TrainConfig", "dict"]),
    ("progress", dict(progress=3), InvalidOptionError, ["progress", "3"]),
    ("X shape", dict(X=np.ones((6, 3))), InvalidDataError, ["X", "2 input features", "found 3"]),
    ("X nan", dict(X=np.full((6, 2), np.nan)), InvalidDataError, ["X", "NaN"]),
    ("y rows", dict(y=np.array([0, 1])), InvalidDataError, ["y", "2 rows", "X has 6"]),
    ("y label range", dict(y=np.array([0, 1, 2, 0, 1, 0])), InvalidDataError, ["labels", "[0, 1]"]),
    ("ce needs labels", dict(y=np.ones((6, 2))), InvalidDataError, ["cross-entropy", "integer labels"]),
    ("mse shape", dict(y=np.ones((6, 3)), config=TrainConfig(loss="mse")), InvalidDataError,
     ["(n, 2)", "(6, 3)"]),
    ("sympy activation", dict(net="sympy"), InvalidOptionError, ["layer 0, neuron 1", "sympy:z**3", "catalogue"]),
    ("not a network", dict(net="nope"), InvalidOptionError, ["Network", "str"]),
    ("divergence", dict(config=TrainConfig(loss="mse", optimizer="sgd", lr=1e6, momentum=0.0, epochs=50)),
     InvalidOptionError, ["diverged", "learning rate (--lr / TrainConfig.lr"]),
]


@pytest.mark.parametrize("what,kwargs,exc,fragments", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs(what, kwargs, exc, fragments):
    args = dict(net=_NET, X=_X, y=_Y, config=TrainConfig(epochs=1))
    args.update(kwargs)
    if args["net"] == "sympy":
        args["net"] = _sympy_net()
    elif args["net"] == "nope":
        args["net"] = "a network"
    with pytest.raises(exc) as info:
        train(args["net"], args["X"], args["y"], args["config"], progress=args.get("progress", False))
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    assert isinstance(info.value, ValueError)


def test_loss_and_gradient_rejects_bad_loss_and_sympy():
    with pytest.raises(InvalidOptionError, match="unknown loss 'l1'"):
        loss_and_gradient(_NET, _X, _Y, "l1")
    with pytest.raises(InvalidOptionError, match="catalogue activation"):
        loss_and_gradient(_sympy_net(), _X, _Y, "ce")


def test_epochs_in_chunks_are_the_epochs_one_by_one(monkeypatch):
    """Several epochs per kernel call (EPOCH_CHUNK_SECONDS) draw the same permutations in
    the same order: weights, history and checkpoints are bitwise those of one call per
    epoch, whatever the chunk lengths (one epoch, many, bounded by EPOCH_CHUNK_ROWS)."""
    from neuronid.numerics import training as T

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    net = standard_mlp([3, 6, 2], activation="tanh", seed=0)
    cfg = TrainConfig(epochs=9, batch_size=16, lr=1e-2, seed=4)
    runs = []
    for seconds, rows in ((0.0, 1 << 22), (1e9, 1 << 22), (1e9, 40 * 4)):
        monkeypatch.setattr(T, "EPOCH_CHUNK_SECONDS", seconds)
        monkeypatch.setattr(T, "EPOCH_CHUNK_ROWS", rows)
        runs.append(train(net, X, y, cfg, progress=False, checkpoints=[0, 2, 7]))
    first = runs[0]
    for other in runs[1:]:
        assert other.history == first.history and other.steps == first.steps == 9 * 3
        assert sorted(other.checkpoints) == [0, 2, 7]
        for e in (0, 2, 7):
            for la, lb in zip(first.checkpoints[e].layers, other.checkpoints[e].layers):
                assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
        for la, lb in zip(first.network.layers, other.network.layers):
            assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)

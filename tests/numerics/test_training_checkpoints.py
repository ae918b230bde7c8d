"""``train(..., checkpoints=...)``: copies of the network at chosen epochs that do not
perturb training (bitwise) and equal training for that many epochs (bitwise)."""

from __future__ import annotations

import numpy as np
import pytest

from neuronid.errors import InvalidOptionError
from neuronid.numerics.network import Network
from neuronid.numerics.structures import standard_mlp, w_mlp
from neuronid.numerics.training import TrainConfig, train


def _params(net: Network) -> list[np.ndarray]:
    out = []
    for layer in net.layers:
        out += [layer.weight, layer.bias, layer.mask, layer.fixed]
        if layer.norm is not None and layer.norm.affine:
            out += [layer.norm.gamma(), layer.norm.beta()]
    return out


def _bitwise_equal(A: Network, B: Network) -> bool:
    pa, pb = _params(A), _params(B)
    return len(pa) == len(pb) and all(a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
                                      for a, b in zip(pa, pb))


def _problem(kind: str):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(96, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    if kind == "standard":
        net = standard_mlp([5, 12, 9, 3], activation="gelu", seed=1)
    elif kind == "w-mlp-norm":
        net = w_mlp([5, 12, 9, 3], activation="gelu", n_fixed=2, sigma_F=1.0, seed=1, structure_seed=7, norm="layer")
    else:
        net = w_mlp([5, 12, 9, 3], activation="tanh", n_fixed=2, sigma_F=1.0, seed=1, structure_seed=7)
    return net, X, y


@pytest.mark.parametrize("kind", ["standard", "w-mlp", "w-mlp-norm"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_checkpoints_do_not_change_training_and_equal_shorter_runs(kind, dtype):
    net, X, y = _problem(kind)
    cfg = TrainConfig(epochs=6, lr=1e-2, batch_size=20, dtype=dtype, seed=11)
    plain = train(net, X, y, cfg, progress=False)
    with_ck = train(net, X, y, cfg, progress=False, checkpoints=[0, 2, 5, 6])
    assert plain.checkpoints == {}
    assert sorted(with_ck.checkpoints) == [0, 2, 5, 6]
    assert _bitwise_equal(plain.network, with_ck.network)
    assert plain.history == with_ck.history
    assert _bitwise_equal(with_ck.checkpoints[6], plain.network)
    for e in (0, 2, 5):
        short = train(net, X, y, TrainConfig(**{**cfg.__dict__, "epochs": e}), progress=False)
        assert _bitwise_equal(with_ck.checkpoints[e], short.network), e
    # the copies are independent arrays, and training moved the network between checkpoints
    assert not _bitwise_equal(with_ck.checkpoints[2], with_ck.checkpoints[5])
    with_ck.checkpoints[2].layers[0].weight[0, 0] += 1.0
    assert _bitwise_equal(with_ck.checkpoints[6], plain.network)


def test_checkpoints_accept_any_iterable_and_duplicates():
    net, X, y = _problem("standard")
    res = train(net, X, y, TrainConfig(epochs=3, lr=1e-2, batch_size=32), progress=False, checkpoints=range(0, 4, 3))
    assert sorted(res.checkpoints) == [0, 3]
    res = train(net, X, y, TrainConfig(epochs=3, lr=1e-2, batch_size=32), progress=False, checkpoints=(1, 1, 1))
    assert sorted(res.checkpoints) == [1]


@pytest.mark.parametrize("checkpoints, fragment", [
    ([4], "in [0, 3]"),
    ([-1], "in [0, 3]"),
    ([1.5], "found 1.5"),
    ([True], "found True"),
    ("12", "a list of epochs"),
    (3, "a list of epochs"),
])
def test_bad_checkpoints(checkpoints, fragment):
    net, X, y = _problem("standard")
    with pytest.raises(InvalidOptionError) as err:
        train(net, X, y, TrainConfig(epochs=3), progress=False, checkpoints=checkpoints)
    msg = str(err.value)
    assert "checkpoints" in msg and fragment in msg and "\n" not in msg

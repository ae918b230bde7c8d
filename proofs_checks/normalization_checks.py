"""Numeric checks of THEORY N2 (LayerNorm's scale symmetry) and its counterexample.

:func:`scale_layer` applies ``(W, b) -> (c W, c b)`` to one layer that a LayerNorm
follows; :func:`check_n2` measures the straight path between the network and its
rescaled copy and evaluates N2's hypotheses and conclusion (registry ``N2``): with
``eps = 0`` the path is flat up to rounding (``tol`` below); with ``eps > 0`` the
deviation is the *eps effect*, reported as ``eps_effect = max |rho - 1|`` over the
path grid and the samples, ``rho = s sqrt(V + eps) / sqrt(s^2 V + eps)`` (``V`` the
per-sample variance of the layer's pre-activations, ``s = (1-t) + t c``; THEORY N2 and
:func:`neuronid.theory.normalization.eps_factor`).

:func:`n2_counterexample` drops ``H2_eps_zero``: a small LayerNorm network with a large
``eps`` whose rescaled copy computes another function, with a positive barrier on the
path; :mod:`.counterexamples` saves it (``neuronid counterexample N2 --drop H2``).

>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> net = standard_mlp([3, 6, 2], activation="gelu", norm="layer", norm_eps=0.0, seed=0)
>>> X = np.random.default_rng(0).normal(size=(40, 3)); y = np.zeros((40, 2))
>>> out = check_n2(net, X, y, loss="mse", c=5.0)
>>> out["verdict"], out["numbers"]["max_barrier"] <= out["numbers"]["tol"]
('holds', True)
"""

from __future__ import annotations

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.losses import check_loss
from neuronid.numerics.network import Layer, Network, Norm
from neuronid.numerics.paths import linear_path
from neuronid.theory.registry import get_result

__all__ = ["scale_layer", "check_n2", "n2_counterexample", "N2_TOL"]

#: relative flatness tolerance of the eps = 0 path: LayerNorm of s z and of z agree to a
#: few ulps per entry (measured ~1e-15 on O(1) losses); 1e-12 leaves ~1000x margin while
#: the smallest eps effect of PyTorch's default eps = 1e-5 at c = 10 is ~1e-9.
N2_TOL = 1e-12


def _check_layer(net: Network, layer: int) -> int:
    n_hidden = len(net.layers) - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= int(layer) < n_hidden:
        raise InvalidOptionError(f"layer {layer!r} is out of range: hidden layers are 0..{n_hidden - 1}")
    layer = int(layer)
    norm = net.layers[layer].norm
    if norm is None or norm.kind != "layer":
        raise InvalidOptionError(f"layer {layer}: N2 is about a layer followed by a LayerNorm, found {norm!r}")
    return layer


def scale_layer(net: Network, layer: int, c: float) -> Network:
    """The copy of ``net`` whose layer ``layer`` has effective weight ``c W`` and bias ``c b``
    (weight and fixed part both scaled; the mask, the norm and every other layer unchanged)."""
    layer = _check_layer(net, layer)
    if not (isinstance(c, (int, float)) and np.isfinite(c) and c > 0):
        raise InvalidOptionError(f"the scale c must be a finite number > 0, found {c!r}")
    layers = [la.copy() for la in net.layers]
    la = net.layers[layer]
    layers[layer] = Layer(c * la.weight, c * la.bias, la.mask, c * la.fixed, la.activation, la.norm,
                          where=f"layer {layer}")
    return Network(layers)


def _eps_effect(net: Network, X: np.ndarray, layer: int, c: float, steps: np.ndarray) -> float:
    """``max |rho - 1|`` over the grid and the samples (0 when ``eps = 0``)."""
    z = net.forward(X, record=True).pre[layer]
    V = np.var(z, axis=1)  # biased, as LayerNorm
    eps = net.layers[layer].norm.eps
    s = (1.0 - steps) + steps * c
    rho = s[:, None] * np.sqrt(V[None, :] + eps) / np.sqrt(s[:, None] ** 2 * V[None, :] + eps)
    return float(np.max(np.abs(rho - 1.0)))


def check_n2(net: Network, X, y, *, loss: str, layer: int = 0, c: float = 2.0, steps: int = 21) -> dict:
    """N2 on ``net``: the path from ``net`` to :func:`scale_layer` ``(net, layer, c)``.

    Returns ``{"id": "N2", "verdict", "hypotheses", "conclusion", "numbers"}`` with
    ``numbers``: ``c``, ``eps``, ``max_output_difference_A_B`` (the symmetry: 0 up to
    rounding when ``eps = 0``), ``max_barrier`` (``max_t |L(t) - L(0)| / max(|L(0)|,
    1)``), ``B_lerp``, ``B_mid``, ``B_peak``, ``eps_effect`` and ``tol``. Verdicts:
    ``holds`` / ``fails`` when both hypotheses hold (``fails`` would contradict the
    proof: a bug), ``hypotheses not met`` otherwise (the numbers then show the eps
    effect).
    """
    check_loss(loss)
    layer = _check_layer(net, layer)
    B = scale_layer(net, layer, c)
    X = np.asarray(X, dtype=np.float64)
    path = linear_path(net, B, X, y, loss=loss, steps=steps, allow_structure_mismatch=True)
    L = path.loss
    eps = net.layers[layer].norm.eps
    numbers = {
        "layer": layer, "c": float(c), "eps": eps,
        "max_output_difference_A_B": float(np.max(np.abs(net(X) - B(X)))),
        "max_barrier": float(np.max(np.abs(L - L[0])) / max(abs(float(L[0])), 1.0)),
        "B_lerp": path.B_lerp, "B_mid": path.B_mid, "B_peak": path.B_peak,
        "eps_effect": _eps_effect(net, X, layer, float(c), path.steps),
        "tol": N2_TOL, "loss": [float(v) for v in L], "steps": [float(t) for t in path.steps],
    }
    out = get_result("N2").evaluate({"scale_c": float(c), "norm_eps": eps, "max_barrier": numbers["max_barrier"],
                                     "tol": N2_TOL})
    hypotheses = {v.name: v.status for v in out["hypotheses"]}
    conclusion = out["conclusion"].status
    verdict = conclusion if out["all_hold"] else "hypotheses not met"
    return {"id": "N2", "verdict": verdict, "hypotheses": hypotheses, "conclusion": conclusion,
            "numbers": numbers}


def _small_layer_norm_net(seed: int, eps: float, width: int) -> Network:
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(width, 2))
    b = rng.normal(size=width)
    norm = Norm("layer", eps, np.ones(width), np.zeros(width))
    return Network([Layer(W, b, activation="identity", norm=norm, where="layer 0"),
                    Layer(rng.normal(size=(1, width)), where="layer 1")])


def n2_counterexample(seed: int = 0, *, margin: float = 1e-3, max_examples: int = 200):
    """N2 with ``H2_eps_zero`` dropped: ``hypothesis.find`` over (width, seed, c, eps) for a
    one-hidden-layer LayerNorm network (identity activation, 2 inputs, MSE to zero targets)
    whose rescaled copy has a path barrier ``B_lerp > margin``; shrunk to the simplest.

    Returns ``(A, B, X, y, numbers, search)``.
    """
    from hypothesis import find, settings  # optional heavy import: only the counterexample search uses it
    from hypothesis import strategies as st

    X = np.random.default_rng(seed).normal(size=(16, 2))
    y = np.zeros((16, 1))

    def fails(params):
        width, s, c, eps = params
        net = _small_layer_norm_net(s, eps, width)
        return linear_path(net, scale_layer(net, 0, c), X, y, loss="mse", steps=21).B_lerp > margin

    strategy = st.tuples(st.integers(2, 4), st.integers(0, 50), st.sampled_from([0.1, 0.2, 5.0, 10.0]),
                         st.sampled_from([0.5, 1.0, 2.0, 10.0]))
    params = find(strategy, fails, settings=settings(max_examples=max_examples, database=None, deadline=None),
                  random=__import__("random").Random(seed))
    width, s, c, eps = params
    A = _small_layer_norm_net(s, eps, width)
    B = scale_layer(A, 0, c)
    result = check_n2(A, X, y, loss="mse", c=c)
    search = {"method": "hypothesis.find over (width, seed, c, eps), shrunk", "seed": seed, "found": list(params),
              "margin": margin}
    return A, B, X, y, result, search

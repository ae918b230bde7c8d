"""Constructors for the four structure kinds of THEORY.md section 0.

- :func:`standard_mlp`: ``mask = 1``, ``fixed = 0``.
- :func:`w_mlp`: W-asymmetric MLP (Lim et al. 2024): per row, some entries are fixed
  (mask 0) at ``sigma_F * n`` with ``n ~ N(0, 1)``; the number of fixed entries per row
  is either exact (``n_fixed``, as in the paper) or Bernoulli (``p_fixed``).
- :func:`syre_mlp`: ``mask = 1``, ``fixed = kappa * n`` (a fixed random offset).
- :func:`sigma_asymmetric_mlp`: every hidden neuron gets its own activation.

Trainable weights are initialized like PyTorch's ``nn.Linear`` (uniform in
``+-1/sqrt(fan_in)``, bias too) unless ``init_std`` is given: a number (normal with that
standard deviation, bias 0, as in E1) or ``"fan_in"`` (normal with standard deviation
``1/sqrt(fan_in)``, bias uniform in ``+-1/sqrt(fan_in)``: the paper authors'
``SparseLinear`` / ``NoiseLinear`` initialization).
Everything is deterministic in ``seed``. Every constructor takes ``norm`` (``None`` /
``"none"``, ``"layer"``, ``"batch"``, or one per hidden layer) and ``norm_eps``: a
normalization after each hidden layer's linear map (THEORY N1), initialized as PyTorch
does (``gamma = 1, beta = 0``; batch norm: running mean 0, running variance 1); it draws
no random numbers, so the weights equal those of the same call without ``norm``.

>>> net = w_mlp([8, 16, 3], activation="relu", n_fixed=2, sigma_F=1.0, seed=0)
>>> [int((1 - layer.mask).sum(axis=1)[0]) for layer in net.layers]
[2, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from neuronid.errors import InvalidOptionError

from ._validation import check_number
from .network import NORM_KINDS, Layer, Network, Norm


def _check_sizes(sizes) -> list[int]:
    try:
        sizes = [int(s) for s in sizes]
    except (TypeError, ValueError):
        raise InvalidOptionError(f"sizes must be a list of positive integers, found {sizes!r}") from None
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise InvalidOptionError(
            f"sizes must list at least an input and an output size, all >= 1, found {sizes}"
        )
    return sizes


def _per_layer(value, n_layers: int, what: str) -> list:
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != n_layers:
            raise InvalidOptionError(f"{what}: expected {n_layers} per-layer values, found {len(value)}")
        return list(value)
    return [value] * n_layers


#: ``init_std`` value of the paper authors' masked / noise layers: N(0, 1/fan_in), bias uniform
FAN_IN = "fan_in"


def _init_weights(rng, m, d, init_std):
    bound = 1.0 / np.sqrt(d)
    if init_std is None:
        return rng.uniform(-bound, bound, size=(m, d)), rng.uniform(-bound, bound, size=m)
    if isinstance(init_std, str):
        if init_std != FAN_IN:
            raise InvalidOptionError(f"init_std must be a number > 0, None or {FAN_IN!r}; found {init_std!r}")
        return rng.normal(0.0, bound, size=(m, d)), rng.uniform(-bound, bound, size=m)
    return rng.normal(0.0, init_std, size=(m, d)), np.zeros(m)


def _norm_kinds(norm, n_hidden: int) -> list:
    """One norm kind (or ``None``) per hidden layer from the ``norm`` option."""
    kinds = _per_layer(norm, n_hidden, "norm")
    out = []
    for kind in kinds:
        if kind is None or kind == "none":
            out.append(None)
        elif kind in NORM_KINDS:
            out.append(kind)
        else:
            raise InvalidOptionError(f"norm must be one of none, {', '.join(NORM_KINDS)}; found {kind!r}")
    return out


def _build(sizes, activations, rng, init_std, masks=None, fixeds=None, norm=None, norm_eps=1e-5) -> Network:
    layers = []
    n_layers = len(sizes) - 1
    kinds = _norm_kinds(norm, n_layers - 1)
    norm_eps = check_number(norm_eps, what="norm_eps", low=0.0)
    for l in range(n_layers):
        m, d = sizes[l + 1], sizes[l]
        W, b = _init_weights(rng, m, d, init_std)
        act = activations[l] if l < n_layers - 1 else None
        kind = kinds[l] if l < n_layers - 1 else None
        layers.append(
            Layer(
                W, b,
                mask=None if masks is None else masks[l],
                fixed=None if fixeds is None else fixeds[l],
                activation=act,
                norm=None if kind is None else Norm(kind, norm_eps, np.ones(m), np.zeros(m)),
                where=f"layer {l}",
            )
        )
    return Network(layers)


def standard_mlp(sizes, *, activation="relu", seed=0, init_std=None, norm=None, norm_eps=1e-5) -> Network:
    """Standard MLP with ``sizes = [d_in, m_1, ..., d_out]``."""
    sizes = _check_sizes(sizes)
    acts = _per_layer(activation, len(sizes) - 2, "activation")
    return _build(sizes, acts, np.random.default_rng(seed), init_std, norm=norm, norm_eps=norm_eps)


def w_mlp(
    sizes,
    *,
    activation="relu",
    n_fixed=None,
    p_fixed=None,
    sigma_F=1.0,
    seed=0,
    structure_seed=None,
    init_std=None,
    norm=None,
    norm_eps=1e-5,
) -> Network:
    """W-asymmetric MLP.

    Parameters
    ----------
    n_fixed : int or per-layer list: exact number of fixed entries per row.
    p_fixed : float or per-layer list: each entry fixed independently with this probability.
    sigma_F : scale of the fixed Gaussian part (0: fixed entries are zero), one number
        or one per layer (the paper's ``mask_constant`` per layer, e.g. 1, 1, 0.5, 0.25).
    structure_seed : seed of masks and fixed values (default ``seed``); two runs of one
        structure share it and differ in ``seed``.
    """
    sizes = _check_sizes(sizes)
    n_layers = len(sizes) - 1
    if (n_fixed is None) == (p_fixed is None):
        raise InvalidOptionError("w_mlp: give exactly one of n_fixed (exact count per row) or p_fixed (Bernoulli)")
    sigmas = _per_layer(sigma_F, n_layers, "w_mlp: sigma_F")
    per_layer = isinstance(sigma_F, Sequence) and not isinstance(sigma_F, str)
    sigmas = [check_number(s, what="w_mlp: sigma_F" + (f" for layer {l}" if per_layer else ""), low=0.0)
              for l, s in enumerate(sigmas)]
    srng = np.random.default_rng(seed if structure_seed is None else structure_seed)
    masks, fixeds = [], []
    counts = _per_layer(n_fixed, n_layers, "n_fixed") if n_fixed is not None else None
    probs = _per_layer(p_fixed, n_layers, "p_fixed") if p_fixed is not None else None
    for l in range(n_layers):
        m, d = sizes[l + 1], sizes[l]
        if counts is not None:
            k = int(counts[l])
            if not 0 <= k <= d:
                raise InvalidOptionError(f"w_mlp: n_fixed for layer {l} must lie in [0, {d}], found {k}")
            mask = np.ones((m, d))
            for i in range(m):
                mask[i, srng.choice(d, size=k, replace=False)] = 0.0
        else:
            p = float(probs[l])
            if not 0.0 <= p <= 1.0:
                raise InvalidOptionError(f"w_mlp: p_fixed for layer {l} must lie in [0, 1], found {p}")
            mask = (srng.random((m, d)) >= p).astype(np.float64)
        masks.append(mask)
        fixeds.append((1.0 - mask) * float(sigmas[l]) * srng.standard_normal((m, d)))
    acts = _per_layer(activation, n_layers - 1, "activation")
    return _build(sizes, acts, np.random.default_rng(seed), init_std, masks, fixeds, norm, norm_eps)


def syre_mlp(
    sizes, *, activation="relu", kappa=1.0, seed=0, structure_seed=None, init_std=None, norm=None, norm_eps=1e-5
) -> Network:
    """syre-asymmetric MLP: all entries trainable, fixed offset ``kappa * n``."""
    sizes = _check_sizes(sizes)
    kappa = check_number(kappa, what="syre_mlp: kappa", low=0.0)
    srng = np.random.default_rng(seed if structure_seed is None else structure_seed)
    n_layers = len(sizes) - 1
    fixeds = [kappa * srng.standard_normal((sizes[l + 1], sizes[l])) for l in range(n_layers)]
    acts = _per_layer(activation, n_layers - 1, "activation")
    return _build(sizes, acts, np.random.default_rng(seed), init_std, fixeds=fixeds, norm=norm, norm_eps=norm_eps)


def sigma_asymmetric_mlp(
    sizes, *, activations=None, seed=0, structure_seed=None, init_std=None, norm=None, norm_eps=1e-5
) -> Network:
    """sigma-asymmetric MLP: one activation per hidden neuron.

    ``activations``: ``None`` (default) gives neuron ``i`` of each hidden layer
    ``leaky_relu:alpha_i`` with distinct slopes ``alpha_i`` spread over [0.05, 0.5] in
    random order (all non-decreasing, so P5/T2 apply); a list of names is a pool drawn
    from at random per neuron; a list of per-layer lists gives the names explicitly.
    """
    sizes = _check_sizes(sizes)
    srng = np.random.default_rng(seed if structure_seed is None else structure_seed)
    hidden = sizes[1:-1]
    if activations is None:
        acts = [
            [f"leaky_relu:{a:.6g}" for a in srng.permutation(np.linspace(0.05, 0.5, m))] for m in hidden
        ]
    elif activations and all(isinstance(a, (list, tuple)) for a in activations):
        acts = [list(a) for a in activations]
        if len(acts) != len(hidden):
            raise InvalidOptionError(f"sigma_asymmetric_mlp: expected {len(hidden)} per-layer lists, found {len(acts)}")
    else:
        pool = list(activations)
        if not pool:
            raise InvalidOptionError("sigma_asymmetric_mlp: empty activation pool")
        acts = [[pool[j] for j in srng.integers(0, len(pool), size=m)] for m in hidden]
    return _build(sizes, acts, np.random.default_rng(seed), init_std, norm=norm, norm_eps=norm_eps)


#: structure kind name -> constructor (used by the CLI)
STRUCTURES = {
    "standard": standard_mlp,
    "w-mlp": w_mlp,
    "syre": syre_mlp,
    "sigma-asym": sigma_asymmetric_mlp,
}

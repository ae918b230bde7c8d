"""REPAIR of interpolated networks (THEORY.md N3; Jordan et al., 2023).

Averaging two networks' weights shrinks the spread of each hidden neuron's
pre-activation ("variance collapse"); REPAIR rescales and shifts every hidden neuron
of the path point ``t`` so that its pre-activation has the statistics one expects
from the endpoints:

.. math::

    \\mu_i^* = (1-t)\\,\\mu_i^A + t\\,\\mu_i^B, \\qquad
    \\sigma_i^* = (1-t)\\,\\sigma_i^A + t\\,\\sigma_i^B,

where ``mu, sigma`` are the mean and (population) standard deviation over the data of
the quantity that enters the activation: the normalized ``u = Norm(z)`` when the
layer has a norm, else ``z``. Layer by layer from the input, with ``m, s`` the
statistics of the network corrected so far, the correction ``u' = r u + c`` with
``r = sigma*/s`` and ``c = mu* - r m`` is *folded* into the layer's affine
parameters (no extra module): without a norm ``W' = r W`` (effective weight: trainable
and fixed parts alike) and ``b' = r b + c``; with a norm ``gamma' = r gamma``,
``beta' = r beta + c`` (a LayerNorm without affine parameters gains them). The next
layer's statistics are measured on the corrected network. A neuron with ``s = 0``
(constant on the data) keeps ``r = 1`` and only moves its mean.

Statistics use the *matching* data (``--align-data``), never the evaluation data,
when both are given. With ``A == B`` nothing changes, exactly (``r = 1``, ``c = 0``).

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> A, B = standard_mlp([4, 16, 3], seed=0), standard_mlp([4, 16, 3], seed=1)
>>> X = np.random.default_rng(0).normal(size=(200, 4))
>>> R = repaired_network(A, B, 0.5, X)
>>> target = interpolate_statistics(neuron_statistics(A, X), neuron_statistics(B, X), 0.5)
>>> mean, std = neuron_statistics(R, X)[0]
>>> bool(np.allclose(mean, target[0][0]) and np.allclose(std, target[0][1]))
True
"""

from __future__ import annotations

import numpy as np

from neuronid.errors import InvalidOptionError

from .activations import apply_layer
from .losses import _error_count, check_loss, check_targets, loss_per_sample
from ._validation import check_inputs
from .network import Layer, Network, Norm
from .paths import PathResult, _check_t, check_pair, interpolated_network, path_grid

__all__ = ["interpolate_statistics", "neuron_statistics", "repair", "repaired_network", "repaired_path"]


def _pre_activation(layer: Layer, h: np.ndarray) -> np.ndarray:
    """What enters the layer's activation: ``Norm(z)`` or ``z``, ``z = h W^T + b``."""
    z = h @ layer.effective_weight().T
    z += layer.bias
    norm = getattr(layer, "norm", None)
    return z if norm is None else norm.apply(z)


def neuron_statistics(net: Network, X) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per hidden layer ``(mean, std)`` over the rows of ``X`` of each neuron's
    pre-activation (``u`` with a norm, else ``z``); population std (ddof 0)."""
    return _neuron_statistics(net, check_inputs(X, net.n_inputs))


def _neuron_statistics(net: Network, h: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`neuron_statistics` of validated inputs ``h``."""
    out = []
    for layer in net.layers[:-1]:
        u = _pre_activation(layer, h)
        out.append((u.mean(axis=0), u.std(axis=0)))
        h = apply_layer(u, layer.names, layer.codes, layer.params)
    return out


def interpolate_statistics(stats_A, stats_B, t: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(1-t) A + t B`` per layer, computed as ``A + t (B - A)`` (exact when A == B)."""
    t = _check_t(t)
    if len(stats_A) != len(stats_B):
        raise InvalidOptionError(f"statistics for {len(stats_A)} and {len(stats_B)} hidden layers")
    return [(mA + t * (mB - mA), sA + t * (sB - sA)) for (mA, sA), (mB, sB) in zip(stats_A, stats_B)]


def repair(net: Network, targets, X) -> Network:
    """The network whose hidden pre-activations have the ``targets`` ``[(mean, std)]``
    on ``X`` (per layer, in order), corrections folded into affine parameters."""
    return _repair(net, targets, check_inputs(X, net.n_inputs))


def _repair(net: Network, targets, h: np.ndarray) -> Network:
    """:func:`repair` on validated inputs ``h``."""
    if len(targets) != len(net.layers) - 1:
        raise InvalidOptionError(f"REPAIR targets for {len(targets)} hidden layers, the network has {len(net.layers) - 1}")
    layers = []
    for l, (layer, (mu, sigma)) in enumerate(zip(net.layers[:-1], targets)):
        m_out = layer.shape[0]
        mu, sigma = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
        if mu.shape != (m_out,) or sigma.shape != (m_out,):
            raise InvalidOptionError(f"layer {l}: REPAIR targets must have shape ({m_out},), found {mu.shape}, {sigma.shape}")
        u = _pre_activation(layer, h)
        mean, std = u.mean(axis=0), u.std(axis=0)
        r = np.divide(sigma, std, out=np.ones(m_out), where=std > 0.0)
        c = mu - r * mean
        norm = getattr(layer, "norm", None)
        if norm is None:
            new = Layer(layer.weight * r[:, None], r * layer.bias + c, layer.mask, layer.fixed * r[:, None],
                        layer.activation, where=f"layer {l}")
        else:
            gamma, beta = norm.gamma(), norm.beta()
            new_norm = Norm(norm.kind, norm.eps, r * gamma, r * beta + c, norm.running_mean, norm.running_var,
                            size=norm.size, where=f"layer {l} norm")
            new = Layer(layer.weight, layer.bias, layer.mask, layer.fixed, layer.activation, norm=new_norm,
                        where=f"layer {l}")
        layers.append(new)
        h = apply_layer(r * u + c, new.names, new.codes, new.params)
    layers.append(net.layers[-1].copy())
    return Network(layers)


def repaired_network(A: Network, B: Network, t: float, X, *, stats=None, allow_structure_mismatch: bool = False
                     ) -> Network:
    """The path point ``t`` (:func:`~neuronid.numerics.paths.interpolated_network`)
    REPAIRed with the statistics of ``A`` and ``B`` on ``X`` (``stats``: precomputed
    ``(neuron_statistics(A, X), neuron_statistics(B, X))``)."""
    t = _check_t(t)
    X = check_inputs(X, A.n_inputs)
    return _repaired_network(A, B, t, X, stats, allow_structure_mismatch)


def _repaired_network(A: Network, B: Network, t: float, X: np.ndarray, stats, allow_structure_mismatch: bool
                      ) -> Network:
    """:func:`repaired_network` on a checked ``t`` and validated ``X``."""
    if stats is None:
        stats = (_neuron_statistics(A, X), _neuron_statistics(B, X))
    point = interpolated_network(A, B, t, allow_structure_mismatch=allow_structure_mismatch)
    return _repair(point, interpolate_statistics(stats[0], stats[1], t), X)


def repaired_path(A: Network, B: Network, X, y, *, X_align, loss: str, steps=21,
                  allow_structure_mismatch: bool = False) -> PathResult:
    """Loss and error along the REPAIRed path: at each ``t`` the interpolated network
    corrected on ``X_align`` (:func:`repaired_network`), evaluated on ``(X, y)``.

    The endpoints are A and B themselves (REPAIR with an endpoint's own statistics
    changes nothing), so the barriers compare with the plain path's.
    """
    check_loss(loss)
    diffs = check_pair(A, B, allow_structure_mismatch=allow_structure_mismatch)
    grid = path_grid(steps)
    X = check_inputs(X, A.n_inputs)
    X_align = check_inputs(X_align, A.n_inputs, name="X_align")
    y = check_targets(loss, y, A.n_outputs, X.shape[0])
    classify = y.dtype.kind == "i"
    stats = (_neuron_statistics(A, X_align), _neuron_statistics(B, X_align))
    losses = np.empty(grid.size)
    errors = np.empty(grid.size) if classify else None
    for k, t in enumerate(grid):
        net = _repaired_network(A, B, float(t), X_align, stats, True)
        F = net._forward(X)
        losses[k] = float(np.mean(loss_per_sample(loss, F, y)))
        if classify:
            errors[k] = _error_count(F, y) / X.shape[0]
    return PathResult.from_curves(grid, losses, errors, loss_function=loss, n_samples=int(X.shape[0]),
                                  structure_differences=diffs)

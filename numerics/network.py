"""The network model: an MLP whose layers carry weights, bias, mask, fixed part,
an optional normalization and activations (THEORY.md section 0, N1).

Effective weight of layer ``l``: ``mask * weight + fixed`` (entries of ``weight``
where ``mask == 0`` are ignored and kept at 0). The last layer is linear. One
:class:`Network` covers standard MLPs, W-MLPs, syre-MLPs and sigma-asymmetric MLPs;
``numerics.structures`` builds them.

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> net = standard_mlp([3, 4, 2], activation="relu", seed=0)
>>> trace = net.forward(np.ones((5, 3)), record=True)
>>> trace.output.shape, len(trace.inputs), trace.pre[0].shape
((5, 2), 2, (5, 4))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronid.errors import InvalidNetworkError

from ._validation import check_array, check_inputs, check_number, ensure_finite
from .activations import apply_layer, layer_activations

__all__ = ["NORM_KINDS", "Norm", "Layer", "Trace", "Network", "check_inputs"]

NORM_KINDS = ("layer", "batch")


class Norm:
    """A normalization applied after a hidden layer's linear map, before its activation
    (THEORY N1).

    ``kind == "layer"`` (LayerNorm, as PyTorch): per sample, over the layer's ``m``
    neurons, ``u = gamma * (z - mean(z)) / sqrt(var(z) + eps) + beta`` with the biased
    variance. ``kind == "batch"`` (BatchNorm1d in evaluation mode): per neuron,
    ``u = gamma * (z - mu) / sqrt(v + eps) + beta`` with the stored running statistics.

    Parameters
    ----------
    kind : ``"layer"`` or ``"batch"``.
    eps : the variance floor (>= 0; PyTorch's default is 1e-5).
    weight, bias : ``gamma``, ``beta`` of shape ``(m,)``; ``None`` for a LayerNorm without
        elementwise affine (then ``gamma = 1, beta = 0`` and neither is trainable). A batch
        norm always carries them (``None`` means ones / zeros).
    running_mean, running_var : batch norm only, shape ``(m,)`` (``var >= 0``).
    size : ``m``, needed when every array is ``None``.

    >>> Norm("layer", 0.0, size=3).apply(np.array([[1.0, 2.0, 3.0]])).round(4).tolist()
    [[-1.2247, 0.0, 1.2247]]
    >>> Norm("batch", 0.0, running_mean=np.zeros(2), running_var=np.full(2, 4.0)).apply(np.ones((1, 2))).tolist()
    [[0.5, 0.5]]
    """

    __slots__ = ("kind", "eps", "weight", "bias", "running_mean", "running_var", "size")

    def __init__(
        self,
        kind,
        eps=1e-5,
        weight=None,
        bias=None,
        running_mean=None,
        running_var=None,
        *,
        size=None,
        where="norm",
    ):
        if kind not in NORM_KINDS:
            raise InvalidNetworkError(f"{where}: norm kind must be one of {list(NORM_KINDS)}, found {kind!r}")
        eps = check_number(eps, what=f"{where}: eps", low=0.0, error=InvalidNetworkError)
        arrays = {"weight": weight, "bias": bias, "running_mean": running_mean, "running_var": running_var}
        if kind == "layer" and (running_mean is not None or running_var is not None):
            raise InvalidNetworkError(f"{where}: a layer norm has no running statistics (found running_mean/var)")
        if kind == "layer" and (weight is None) != (bias is None):
            raise InvalidNetworkError(
                f"{where}: a layer norm has both weight and bias (elementwise affine) or neither, "
                f"found only {'weight' if bias is None else 'bias'}"
            )
        m = size
        for what, value in arrays.items():
            if value is None:
                continue
            arr = check_array(value, what=what, where=where, finite=False, copy=True, error=InvalidNetworkError)
            if arr.ndim != 1 or (m is not None and arr.shape[0] != m) or arr.shape[0] == 0:
                expected = f"({m},)" if m is not None else "(m,) with m > 0"
                raise InvalidNetworkError(f"{where}: {what} must have shape {expected}, found {arr.shape}")
            m = arr.shape[0]
            arrays[what] = ensure_finite(arr, what, where=where, error=InvalidNetworkError)
        if m is None:
            raise InvalidNetworkError(f"{where}: the norm's size is unknown (no arrays and no size)")
        if kind == "batch":
            arrays["weight"] = np.ones(m) if arrays["weight"] is None else arrays["weight"]
            arrays["bias"] = np.zeros(m) if arrays["bias"] is None else arrays["bias"]
            arrays["running_mean"] = np.zeros(m) if arrays["running_mean"] is None else arrays["running_mean"]
            arrays["running_var"] = np.ones(m) if arrays["running_var"] is None else arrays["running_var"]
            if np.any(arrays["running_var"] < 0.0):
                bad = int(np.argmin(arrays["running_var"]))
                raise InvalidNetworkError(
                    f"{where}: running_var must be >= 0, found {arrays['running_var'][bad]!r} at index {bad}"
                )
            if eps == 0.0 and np.any(arrays["running_var"] == 0.0):
                bad = int(np.argmin(arrays["running_var"]))
                raise InvalidNetworkError(
                    f"{where}: running_var is 0 at index {bad} with eps = 0 (division by zero)"
                )
        self.kind = kind
        self.eps = eps
        self.size = int(m)
        self.weight = arrays["weight"]
        self.bias = arrays["bias"]
        self.running_mean = arrays["running_mean"]
        self.running_var = arrays["running_var"]

    @property
    def affine(self) -> bool:
        """Whether ``gamma, beta`` are parameters (always for batch norm)."""
        return self.weight is not None

    def gamma(self) -> np.ndarray:
        return np.ones(self.size) if self.weight is None else self.weight

    def beta(self) -> np.ndarray:
        return np.zeros(self.size) if self.bias is None else self.bias

    def copy(self) -> "Norm":
        return Norm(
            self.kind, self.eps, self.weight, self.bias, self.running_mean, self.running_var, size=self.size
        )

    def describe(self) -> dict:
        """The file-format metadata entry (DESIGN.md, ``neuronid.mlp/2``)."""
        if self.kind == "layer":
            return {"kind": "layer", "eps": self.eps, "affine": self.affine}
        return {"kind": "batch", "eps": self.eps}

    def arrays(self) -> dict:
        """The stored arrays by tensor suffix (``weight``, ``bias``, ``running_mean``, ...)."""
        out = {}
        for what in ("weight", "bias", "running_mean", "running_var"):
            value = getattr(self, what)
            if value is not None:
                out[what] = value
        return out

    def same_structure(self, other: "Norm | None") -> bool:
        return other is not None and self.kind == other.kind and self.eps == other.eps and (
            self.affine == other.affine
        ) and self.size == other.size

    def apply(self, z: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
        """``u = Norm(z)`` for pre-activations ``z`` of shape ``(n, m)``."""
        if self.kind == "layer":
            mean = z.mean(axis=1, keepdims=True)
            centered = z - mean
            var = np.mean(centered * centered, axis=1, keepdims=True)
            u = centered / np.sqrt(var + self.eps)
        else:
            u = (z - self.running_mean) / np.sqrt(self.running_var + self.eps)
        if self.weight is not None:
            u *= self.weight
            u += self.bias
        if out is not None:
            out[...] = u
            return out
        return u

    def __repr__(self) -> str:
        extra = f", affine={self.affine}" if self.kind == "layer" else ""
        return f"Norm({self.kind!r}, eps={self.eps:g}, size={self.size}{extra})"


class Layer:
    """One affine layer plus (for hidden layers) its activations.

    Parameters
    ----------
    weight : (m, d) trainable parameters ``theta``.
    bias : (m,) bias (zeros if omitted).
    mask : (m, d) 0/1 trainable-entry mask (ones if omitted).
    fixed : (m, d) fixed part (zeros if omitted).
    activation : ``None`` for the linear output layer, a name, or one name per neuron.
    norm : a :class:`Norm` applied after the linear map, before the activation (hidden
        layers only; THEORY N1).
    """

    __slots__ = ("weight", "bias", "mask", "fixed", "activation", "names", "codes", "params", "norm")

    def __init__(self, weight, bias=None, mask=None, fixed=None, activation=None, norm=None, *, where="layer"):
        weight = check_array(weight, what="weight", where=where, finite=False, copy=True, error=InvalidNetworkError)
        if weight.ndim != 2:
            raise InvalidNetworkError(f"{where}: weight must be 2-D (m, d), found shape {weight.shape}")
        m, d = weight.shape
        if m == 0 or d == 0:
            raise InvalidNetworkError(f"{where}: weight has an empty dimension, shape {weight.shape}")

        def _part(value, shape, fill, what):
            if value is None:
                return np.full(shape, fill, dtype=np.float64)
            return check_array(value, what=what, where=where, shape=shape, finite=False, copy=True,
                               error=InvalidNetworkError)

        self.bias = _part(bias, (m,), 0.0, "bias")
        self.mask = _part(mask, (m, d), 1.0, "mask")
        self.fixed = _part(fixed, (m, d), 0.0, "fixed")
        for what, arr in (("weight", weight), ("bias", self.bias), ("fixed", self.fixed)):
            ensure_finite(arr, what, where=where, error=InvalidNetworkError)
        if not np.all((self.mask == 0.0) | (self.mask == 1.0)):
            bad = np.argwhere((self.mask != 0.0) & (self.mask != 1.0))[0]
            raise InvalidNetworkError(
                f"{where}: mask entries must be 0 or 1, found {self.mask[tuple(bad)]!r} at index "
                f"{tuple(int(i) for i in bad)}"
            )
        # masked parameters are ignored; store them as 0 so equal networks compare equal
        self.weight = weight * self.mask
        self.activation = activation
        if activation is None:
            self.names, self.codes, self.params = None, None, None
        else:
            self.names, self.codes, self.params = layer_activations(activation, m, where=where)
            if isinstance(activation, str):
                self.activation = self.names[0]
            else:
                self.activation = list(self.names)
        if norm is not None:
            if not isinstance(norm, Norm):
                raise InvalidNetworkError(f"{where}: norm must be a Norm or None, found {type(norm).__name__}")
            if activation is None:
                raise InvalidNetworkError(f"{where}: the output layer has no normalization")
            if norm.size != m:
                raise InvalidNetworkError(f"{where}: norm has size {norm.size} but the layer has {m} neurons")
            norm = norm.copy()
        self.norm = norm

    @property
    def shape(self) -> tuple[int, int]:
        return self.weight.shape

    @property
    def is_output(self) -> bool:
        return self.activation is None

    @property
    def is_sigma_asymmetric(self) -> bool:
        return self.names is not None and len(set(self.names)) > 1

    def effective_weight(self) -> np.ndarray:
        """``mask * weight + fixed`` (THEORY.md section 0)."""
        return self.mask * self.weight + self.fixed

    def copy(self) -> "Layer":
        return Layer(self.weight, self.bias, self.mask, self.fixed, self.activation, self.norm)


@dataclass
class Trace:
    """A forward pass: ``inputs[l]`` is what layer ``l`` received (``inputs[0] = X``),
    ``pre[l]`` its pre-activations ``z`` (the linear part), ``normed[l]`` the normalized
    ``u = Norm(z)`` that enters the activation (``z`` itself when the layer has no norm,
    and for the output layer), ``output`` the network output."""

    output: np.ndarray
    inputs: list = field(default_factory=list)
    pre: list = field(default_factory=list)
    normed: list = field(default_factory=list)


class Network:
    """An MLP ``x -> h^1 -> ... -> f(x)`` (hidden layers with activations, linear output)."""

    def __init__(self, layers):
        layers = list(layers)
        if not layers:
            raise InvalidNetworkError("a network needs at least one layer")
        for l, layer in enumerate(layers):
            last = l == len(layers) - 1
            if last and not layer.is_output:
                raise InvalidNetworkError(f"layer {l} (output): the output layer has no activation")
            if not last and layer.is_output:
                raise InvalidNetworkError(f"layer {l}: hidden layers need an activation")
            if l > 0 and layer.shape[1] != layers[l - 1].shape[0]:
                raise InvalidNetworkError(
                    f"layer {l}: weight has {layer.shape[1]} inputs but layer {l - 1} has "
                    f"{layers[l - 1].shape[0]} neurons"
                )
        self.layers = layers

    # --- structure -------------------------------------------------------------------
    @property
    def sizes(self) -> list[int]:
        """``[d_in, m_1, ..., m_L]``."""
        return [self.layers[0].shape[1]] + [layer.shape[0] for layer in self.layers]

    @property
    def n_inputs(self) -> int:
        return self.layers[0].shape[1]

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].shape[0]

    @property
    def activations(self) -> list:
        """One entry per hidden layer: a name, or a list of names (sigma-asymmetric)."""
        return [layer.activation for layer in self.layers[:-1]]

    @property
    def norms(self) -> list:
        """One entry per hidden layer: its :class:`Norm` or ``None`` (THEORY N1)."""
        return [layer.norm for layer in self.layers[:-1]]

    @property
    def has_norms(self) -> bool:
        return any(norm is not None for norm in self.norms)

    def structure_differences(self, other: "Network", *, tol: float = 0.0) -> list[str]:
        """What differs in structure (sizes, masks, fixed parts, activations); empty if equal."""
        diffs = []
        if self.sizes != other.sizes:
            return [f"sizes differ: {self.sizes} vs {other.sizes}"]
        for l, (a, b) in enumerate(zip(self.layers, other.layers)):
            if not np.array_equal(a.mask, b.mask):
                diffs.append(f"layer {l}: masks differ in {int(np.sum(a.mask != b.mask))} entries")
            if np.max(np.abs(a.fixed - b.fixed), initial=0.0) > tol:
                diffs.append(
                    f"layer {l}: fixed parts differ (max |difference| "
                    f"{float(np.max(np.abs(a.fixed - b.fixed))):.3g})"
                )
            if a.names != b.names:
                diffs.append(f"layer {l}: activations differ ({_describe(a)} vs {_describe(b)})")
            if (a.norm is None) != (b.norm is None) or (a.norm is not None and not a.norm.same_structure(b.norm)):
                diffs.append(f"layer {l}: normalizations differ ({a.norm!r} vs {b.norm!r})")
        return diffs

    # --- parameters -----------------------------------------------------------------
    def effective_weights(self) -> list[np.ndarray]:
        return [layer.effective_weight() for layer in self.layers]

    def biases(self) -> list[np.ndarray]:
        return [layer.bias for layer in self.layers]

    def norm_cost(self) -> float:
        """``sum_l ||mask * theta||^2``: what weight decay penalizes (biases excluded)."""
        return float(sum(np.sum((layer.mask * layer.weight) ** 2) for layer in self.layers))

    def n_trainable(self) -> int:
        """Trainable weights and biases plus normalization ``gamma, beta``."""
        count = sum(layer.mask.sum() + layer.bias.size for layer in self.layers)
        count += sum(2 * norm.size for norm in self.norms if norm is not None and norm.affine)
        return int(count)

    def copy(self) -> "Network":
        return Network([layer.copy() for layer in self.layers])

    # --- evaluation -----------------------------------------------------------------
    def forward(self, X, *, record: bool = False, weights=None, biases=None, norms=None, dtype=np.float64):
        """Evaluate on rows of ``X``; with ``record`` keep every layer's inputs,
        pre-activations ``z`` and normalized ``u``. ``weights``/``biases``/``norms``
        override the effective parameters (used by linear paths; ``norms`` has one
        :class:`Norm` or ``None`` per hidden layer). Validates ``X`` (:func:`check_inputs`);
        callers inside the numerics that validated already call :meth:`_forward`."""
        return self._forward(check_inputs(X, self.n_inputs), record=record, weights=weights, biases=biases,
                             norms=norms, dtype=dtype)

    def _forward(self, X: np.ndarray, *, record: bool = False, weights=None, biases=None, norms=None,
                 dtype=np.float64):
        """:meth:`forward` without validation: ``X`` is what :func:`check_inputs` returns."""
        if X.dtype != dtype:
            X = X.astype(dtype)
        Ws = self.effective_weights() if weights is None else weights
        bs = self.biases() if biases is None else biases
        ns = self.norms if norms is None else norms
        trace = Trace(output=None)
        h = X
        for l, layer in enumerate(self.layers):
            W = Ws[l] if Ws[l].dtype == dtype else Ws[l].astype(dtype)
            z = h @ W.T
            z += bs[l].astype(dtype, copy=False)
            norm = ns[l] if l < len(ns) else None
            u = z if norm is None else norm.apply(z).astype(dtype, copy=False)
            if record:
                trace.inputs.append(h)
                trace.pre.append(z)
                trace.normed.append(u)
            if layer.is_output:
                h = u
            else:
                h = apply_layer(u, layer.names, layer.codes, layer.params, out=None if record else u)
        trace.output = h
        return trace if record else h

    def __call__(self, X):
        return self.forward(X)

    def __repr__(self) -> str:
        acts = ", ".join(_describe(layer) for layer in self.layers[:-1])
        norms = "" if not self.has_norms else f", norms={self.norms!r}"
        return f"Network(sizes={self.sizes}, activations=[{acts}]{norms})"


def _describe(layer: Layer) -> str:
    if layer.names is None:
        return "linear"
    if len(set(layer.names)) == 1:
        return layer.names[0]
    return f"per-neuron({len(set(layer.names))} kinds)"

"""Cross-run neuron correspondence (THEORY.md D4).

For two runs A and B of one structure, match the neurons of hidden layer ``L`` by
the functions they compute on the data: a linear assignment on the squared L2
distance ``||h_i^A - h_j^B||^2`` between neuron outputs (default) or on the Pearson
correlation (maximized). Reports the permutation (``perm[i]`` = B's neuron matched to
A's neuron ``i``), its number of fixed points (how many neurons are already in
identity correspondence, the situation of T2/T3), and per neuron the relative L2
mismatch ``||h_i^A - h_{perm(i)}^B|| / max(||h_i^A||, ||h_{perm(i)}^B||)``
(:func:`relative_mismatch`).

With a normalization after the layer's linear map (THEORY N1) a neuron's function is
its pre-activation ``z_i`` (``trace.pre``), not its output: LayerNorm mixes all of a
layer's neurons, so only the linear part belongs to one neuron.

The scale is the larger of the two norms, not ``||h_i^A||`` alone: the mismatch is
symmetric, lies in ``[0, 2]`` (triangle inequality), is 0 exactly when the functions
agree on the data, and stays meaningful for dead neurons: a neuron that is zero on
the data in one run and alive in the other has mismatch 1 (a finite, honest "entirely
different"), two dead neurons have mismatch 0. Dividing by ``||h_i^A||`` alone turned a
dead A neuron into a mismatch of ``inf`` or, with a small floor, ``1e11``.

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> from neuronid.numerics.alignment import permute_network
>>> A = standard_mlp([3, 5, 2], activation="tanh", seed=0)
>>> B = permute_network(A, [np.array([1, 0, 2, 3, 4])])
>>> X = np.random.default_rng(0).normal(size=(50, 3))
>>> c = correspondence(A, B, X, 0)
>>> c.perm.tolist(), c.fixed_points, float(c.mismatch.max()) < 1e-12
([1, 0, 2, 3, 4], 3, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronid.errors import InvalidOptionError, StructureMismatchError

from ._validation import check_inputs
from .alignment import similarity_matrix
from .network import Network

__all__ = ["Correspondence", "correspondence", "relative_mismatch", "METRICS"]

METRICS = ("l2", "correlation")


@dataclass
class Correspondence:
    """D4 correspondence of one hidden layer between runs A and B."""

    layer: int
    perm: np.ndarray
    fixed_points: int
    mismatch: np.ndarray
    metric: str
    objective: float
    structure_differences: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def to_json(self) -> dict:
        out = {
            "layer": self.layer,
            "perm": self.perm,
            "fixed_points": self.fixed_points,
            "neurons": int(self.perm.size),
            "metric": self.metric,
            "objective": self.objective,
            "mismatch": self.mismatch,
            "median_mismatch": float(np.median(self.mismatch)) if self.mismatch.size else float("nan"),
            "structure_differences": list(self.structure_differences),
            "notes": list(self.notes),
        }
        return out


def relative_mismatch(HA, HB) -> np.ndarray:
    """Per column ``||HA[:, i] - HB[:, i]|| / max(||HA[:, i]||, ||HB[:, i]||)``, 0 where
    both columns are zero: a symmetric relative L2 distance of two neuron functions in
    ``[0, 2]`` (identity correspondence of T2/T3 means it is 0 up to rounding)."""
    diff = np.linalg.norm(HA - HB, axis=0)
    scale = np.maximum(np.linalg.norm(HA, axis=0), np.linalg.norm(HB, axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), 0.0)


def correspondence(A: Network, B: Network, X, layer: int, *, metric: str = "l2", traces=None) -> Correspondence:
    """Match hidden layer ``layer`` of B to A by neuron functions on ``X`` (D4).

    Parameters
    ----------
    A, B : networks with equal sizes (masks and fixed parts may differ: reported).
    X : (n, d_in) data.
    layer : hidden layer index (0 = first weight matrix).
    metric : ``"l2"`` (minimize summed squared distances) or ``"correlation"``
        (maximize summed Pearson correlation).
    traces : optional ``(trace_A, trace_B)``, recorded forward passes of A and B on
        ``X`` to reuse (one pass per network serves every layer; ``X`` is then not
        read again).
    """
    from scipy.optimize import linear_sum_assignment

    if metric not in METRICS:
        raise InvalidOptionError(f"metric must be one of {', '.join(METRICS)}, found {metric!r}")
    if A.sizes != B.sizes:
        raise StructureMismatchError(f"correspondence needs networks of equal sizes: {A.sizes} vs {B.sizes}")
    n_hidden = len(A.layers) - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= int(layer) < n_hidden:
        raise InvalidOptionError(f"layer {layer!r} is out of range: hidden layers are 0..{n_hidden - 1}")
    layer = int(layer)
    if traces is None:
        X = check_inputs(X, A.n_inputs)
        tA, tB = A._forward(X, record=True), B._forward(X, record=True)
    else:
        tA, tB = traces
    normed = A.layers[layer].norm is not None or B.layers[layer].norm is not None
    HA = tA.pre[layer] if normed else tA.inputs[layer + 1]
    HB = tB.pre[layer] if normed else tB.inputs[layer + 1]
    if metric == "l2":
        na = np.sum(HA * HA, axis=0)
        nb = np.sum(HB * HB, axis=0)
        C = np.maximum(na[:, None] + nb[None, :] - 2.0 * HA.T @ HB, 0.0)
        rows, cols = linear_sum_assignment(C)
        objective = float(np.sum(C[rows, cols]))
    else:
        C = similarity_matrix(HA, HB, "correlation")
        rows, cols = linear_sum_assignment(C, maximize=True)
        objective = float(np.sum(C[rows, cols]))
    perm = np.empty(HA.shape[1], dtype=np.int64)
    perm[rows] = cols
    mismatch = relative_mismatch(HA, HB[:, perm])
    norm = np.linalg.norm(HA, axis=0)
    notes = []
    if normed:
        notes.append("normalized layer: neuron functions are the pre-activations z (THEORY N1)")
    zero = int(np.sum(norm == 0))
    if zero:
        notes.append(f"{zero} neurons of A are zero on the data (dead): mismatch 0 if the partner is zero too, "
                     "1 otherwise (relative to the larger norm)")
    return Correspondence(
        layer=layer, perm=perm, fixed_points=int(np.sum(perm == np.arange(perm.size))), mismatch=mismatch,
        metric=metric, objective=objective, structure_differences=A.structure_differences(B), notes=notes,
    )

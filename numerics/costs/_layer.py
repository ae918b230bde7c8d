"""Everything of D1-D3 and the T1 bound for one layer (:func:`layer_costs`) or every
hidden layer (:func:`network_costs`), sharing supports and shape matrices.

Part of :mod:`neuronid.numerics.costs`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neuronid.errors import InvalidDataError, InvalidOptionError

from ..network import Network
from ..supports import Support, anisotropy, compute_support, mask_shape_eigenvalues, t1_bound
from ._cross import CostMatrix, cost_matrix, slack
from ._margins import Margin, assignment_margin, transposition_margin
from ._quadratic import EffectiveLayer, effective_layer, layer_shapes, orthonormal_columns
from ._swaps import SwapCosts, incoming_swap_costs, outgoing_swap_costs

# ============================================================== one layer, everything
@dataclass
class LayerCosts:
    """Everything of D1-D3 (and the T1 bound) for one hidden layer."""

    layer: int
    support: Support
    next_support: Support
    eff: EffectiveLayer
    costs: CostMatrix
    slack: np.ndarray
    delta_in: np.ndarray
    delta_out: np.ndarray
    delta_out_info: SwapCosts | None
    margin: Margin
    delta_min: float
    delta_min_pair: tuple | None
    anisotropy: np.ndarray
    t1: dict
    notes: list = field(default_factory=list)

    @property
    def K(self) -> np.ndarray:
        return self.costs.K

    @property
    def delta(self) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return self.delta_in + self.delta_out

    @property
    def gamma(self) -> float:
        return self.margin.gamma

    def summary(self) -> dict:
        """A few scalars for tables.

        Medians over the finite off-diagonal entries: ``median_delta_in`` (the paper's
        swap cost ``Delta_in``), ``median_delta_out`` and ``median_delta_sum`` (of
        ``Delta = Delta_in + Delta_out``; ``median_delta`` is the same sum, kept for
        existing readers). ``negative_delta_fraction`` is over the sum.
        """
        K = self.K
        off = ~np.eye(K.shape[0], dtype=bool)
        D = self.delta[off] if K.shape[0] > 1 else np.zeros(0)
        fin = D[np.isfinite(D)]

        def _median(M):
            vals = M[off] if K.shape[0] > 1 else np.zeros(0)
            vals = vals[np.isfinite(vals)]
            return float(np.median(vals)) if vals.size else float("nan")
        return {
            "layer": self.layer,
            "neurons": int(K.shape[0]),
            "rank": self.support.rank,
            "explained_variance": self.support.explained_variance,
            "coherence": self.support.coherence,
            "p": self.eff.p,
            "max_anisotropy": float(np.max(self.anisotropy)) if self.anisotropy.size else 0.0,
            "t1_bound": self.t1["bound"],
            "gamma": self.gamma,
            "delta_min": self.delta_min,
            "unrealizable_fraction": float(np.mean(~np.isfinite(K[off]))) if K.shape[0] > 1 else 0.0,
            "negative_delta_fraction": float(np.mean(fin < 0)) if fin.size else float("nan"),
            "median_delta_in": _median(self.delta_in),
            "median_delta_out": _median(self.delta_out),
            "median_delta_sum": float(np.median(fin)) if fin.size else float("nan"),
            "median_delta": float(np.median(fin)) if fin.size else float("nan"),
            "mean_slack": float(np.mean(self.slack)),
        }

    def to_json(self) -> dict:
        """JSON-ready dict (``neuronid.numerics.io.to_jsonable`` turns ``inf`` into
        ``null`` with ``<key>_reason`` entries; the specific reasons are set here)."""
        K = self.K
        out = {
            "layer": self.layer,
            "neurons": int(K.shape[0]),
            "rank": self.support.rank,
            "explained_variance": self.support.explained_variance,
            "coherence": self.support.coherence,
            "tau": self.support.tau,
            "support": self.support.to_json(),
            "next_support": self.next_support.to_json(),
            "activations": sorted(set(self.eff.names)),
            "semantics": self.costs.semantics,
            "K_exact": bool(np.all(self.costs.exact)),
        }
        if not np.all(np.isfinite(K)):
            out["K_reason"] = "null entries: " + self.costs.reason_summary()
            out["K_nonfinite_entries"] = self.costs.nonfinite_entries()
        out["K"] = K
        out["null_dims"] = self.costs.null_dim
        out["cost_counts"] = self.costs.counts
        # the paper's swap cost is Delta_in; the sum Delta_in + Delta_out is labelled as the sum
        for key, mat, info in (("delta_in", self.delta_in, None), ("delta_out", self.delta_out, self.delta_out_info),
                               ("delta_sum", self.delta, None)):
            if not np.all(np.isfinite(mat)):
                n_inf, n_nan = int(np.sum(np.isinf(mat))), int(np.sum(np.isnan(mat)))
                out[f"{key}_reason"] = (f"null entries: {n_inf} unrealizable swaps (+inf: a needed cost is "
                                        f"unrealizable), {n_nan} not computed (nan)")
            out[key] = mat
        if self.delta_out_info is not None:
            out["delta_out_counts"] = self.delta_out_info.counts
            out["delta_out_notes"] = self.delta_out_info.notes
        out["gamma"] = self.margin.gamma
        if not np.isfinite(self.margin.gamma):
            out["gamma_reason"] = self.margin.reason or "non-finite"
        out["gamma_permutation"] = None if self.margin.permutation is None else self.margin.permutation
        out["gamma_method"] = self.margin.method
        out["delta_min"] = self.delta_min
        if not np.isfinite(self.delta_min):
            out["delta_min_reason"] = ("every transposition is unrealizable" if self.delta_min == np.inf
                                       else "no pair computed")
        out["delta_min_pair"] = None if self.delta_min_pair is None else list(self.delta_min_pair)
        out["slack"] = self.slack
        out["norm_cost"] = self.eff.norm_cost
        out["p"] = self.eff.p
        out["anisotropy"] = self.anisotropy
        out["t1_bound"] = self.t1["bound"]
        out["t1"] = dict(self.t1)
        out["notes"] = list(self.notes) + list(self.support.notes)
        return out


def _check_layer_index(net: Network, layer) -> int:
    n_hidden = len(net.layers) - 1
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise InvalidOptionError(f"layer must be an integer, found {layer!r}")
    idx = int(layer)
    if n_hidden == 0:
        raise InvalidOptionError("the network has no hidden layer (only a linear output layer): no neurons to compare")
    if not 0 <= idx < n_hidden:
        raise InvalidOptionError(
            f"layer {idx} is out of range: hidden layers are 0..{n_hidden - 1} (layer {n_hidden} is the linear "
            "output layer, whose neurons are not interchangeable)"
        )
    return idx


def _check_delta(delta) -> float:
    try:
        delta = float(delta)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"delta must be a number in (0, 1), found {delta!r}") from None
    if not 0.0 < delta < 1.0:
        raise InvalidOptionError(f"delta (T1 failure probability) must lie in (0, 1), found {delta}")
    return delta


def layer_costs(net: Network, X=None, layer: int = 0, *, trace=None, tau: float = 0.9, delta: float = 0.05,
                compute_delta_out: bool = True, eig_rtol: float | None = None, range_rtol: float = 1e-8,
                rank_rtol: float | None = None, max_direct: int = 20000, max_solver_pairs: int = 2000,
                solver=None, progress: bool = False, shared: dict | None = None) -> LayerCosts:
    """Supports, cost matrix, swap costs, margins and the T1 bound of hidden layer
    ``layer`` (indexed from 0) on data ``X`` (D1-D3, P1, T1).

    Parameters
    ----------
    net : the network.
    X : (n, d_in) data (ignored when ``trace`` is given).
    layer : hidden layer index (0 = first weight matrix); its support is
        ``trace.inputs[layer]``, ``Delta_out`` uses ``trace.inputs[layer + 1]``.
    trace : a recorded forward pass (``net.forward(X, record=True)``) to reuse.
    tau : explained-variance threshold of both supports (D1).
    delta : failure probability of the T1 bound.
    compute_delta_out : skip ``Delta_out`` (zeros) when False.
    max_direct, max_solver_pairs, solver : budgets and solver (see
        :func:`outgoing_swap_costs`, :func:`cost_matrix`).
    progress : tqdm progress bars on stderr.
    shared : optional dict, the same for consecutive layers of one network on one
        trace (:func:`network_costs` passes one): layer ``l``'s next support and the
        next layer's shape matrices are layer ``l + 1``'s support and shape matrices,
        computed once and kept here.

    Returns
    -------
    LayerCosts
    """
    idx = _check_layer_index(net, layer)
    delta = _check_delta(delta)
    if trace is None:
        if X is None:
            raise InvalidDataError("layer_costs: give the data X (or a recorded trace)")
        trace = net.forward(X, record=True)
    lay = net.layers[idx]
    pts = trace.inputs[idx]
    support = _support_of(shared, trace, idx, tau, rank_rtol)
    next_support = _support_of(shared, trace, idx + 1, tau, rank_rtol)
    eff = effective_layer(lay, support, shapes=_shapes_of(shared, net, idx, support))
    cm = cost_matrix(lay, support, points=pts, eff=eff, eig_rtol=eig_rtol, range_rtol=range_rtol,
                     max_solver_pairs=max_solver_pairs, solver=solver, progress=progress)
    K = cm.K
    d_in = incoming_swap_costs(K)
    notes = []
    if compute_delta_out:
        next_shapes = _shapes_of(shared, net, idx + 1, next_support) if next_support.rank < next_support.dim \
            else None  # a full-rank next support uses the coordinate formula: no shape matrices
        out = outgoing_swap_costs(net.layers[idx + 1], next_support, eig_rtol=eig_rtol, range_rtol=range_rtol,
                                  max_direct=max_direct, progress=progress, shapes=next_shapes)
        d_out = out.D
    else:
        out = None
        d_out = np.zeros_like(d_in)
        notes.append("Delta_out not computed (compute_delta_out=False): reported as 0")
    margin = assignment_margin(K)
    with np.errstate(invalid="ignore"):
        dmin, pair, note = transposition_margin(d_in + d_out)
    if note:
        notes.append(f"delta_min: {note}")
    aniso = anisotropy(None, eff.p, eigenvalues=eff.eigenvalues)  # S itself is not needed
    counts = eff.trainable
    model = "exact_count" if np.all(counts == counts[0]) else "bernoulli"
    d = support.dim
    t1 = {
        "delta": delta,
        "p": eff.p,
        "coherence": support.coherence,
        "rank": support.rank,
        "bernoulli": t1_bound(eff.p, support.coherence, support.rank, delta, model="bernoulli"),
        "exact_count": t1_bound(eff.p, support.coherence, support.rank, delta, model="exact_count", dim=d),
        "mask_model": model,
    }
    t1["bound"] = t1[model]
    t1["violations"] = int(np.sum(aniso > t1["bound"]))
    sl = slack(eff, K)
    tol = 1e-8 * np.maximum(eff.norm_cost, 1e-300) + 1e-12
    if np.any(sl < -tol):
        notes.append(f"{int(np.sum(sl < -tol))} neurons have negative slack beyond rounding: check tolerances")
    return LayerCosts(layer=idx, support=support, next_support=next_support, eff=eff, costs=cm, slack=sl,
                      delta_in=d_in, delta_out=d_out, delta_out_info=out, margin=margin, delta_min=dmin,
                      delta_min_pair=pair, anisotropy=aniso, t1=t1, notes=notes)


def _support_of(shared, trace, idx: int, tau, rank_rtol) -> Support:
    """The support of ``trace.inputs[idx]`` (D1), from ``shared`` when an earlier layer
    computed it on the same trace and threshold."""
    pts = trace.inputs[idx]
    key = ("support", idx, tau, rank_rtol)
    hit = None if shared is None else shared.get(key)
    if hit is not None and hit[0] is pts:
        return hit[1]
    support = compute_support(pts, tau, rank_rtol=rank_rtol, name=f"inputs of layer {idx}")
    if shared is not None:
        shared[key] = (pts, support)
    return support


def _shapes_of(shared, net: Network, idx: int, support: Support):
    """``(S, eigenvalues)`` of layer ``idx`` on ``support``, from ``shared`` when an
    earlier layer computed them on the same support object; ``S`` is ``None`` (not
    formed: :func:`~..supports.mask_shape_eigenvalues` gives the eigenvalues) when the
    support basis is orthonormal."""
    key = ("shapes", idx)
    hit = None if shared is None else shared.get(key)
    if hit is not None and hit[0] is support and hit[1] is net.layers[idx]:
        return hit[2]
    layer = net.layers[idx]
    if orthonormal_columns(support.U):
        # eigenvalues by the complement formula, no (m, r, r) stack: S is recomputed
        # on access (EffectiveLayer.S); costs and Delta_out do not need it
        shapes = (None, mask_shape_eigenvalues(layer.mask, support.U))
    else:  # pragma: no cover - compute_support always returns an orthonormal basis
        shapes = layer_shapes(layer, support)
    if shared is not None:
        shared[key] = (support, net.layers[idx], shapes)
    return shapes


def network_costs(net: Network, X=None, layers=None, *, trace=None, **options) -> list[LayerCosts]:
    """:func:`layer_costs` for several hidden layers (default: all), one forward pass
    (or ``trace``, a recorded pass to reuse). Consecutive layers share their common
    support and shape matrices (layer ``l``'s next support is layer ``l + 1``'s); each
    layer's shape matrices are released once its costs are done
    (:meth:`~._quadratic.EffectiveLayer.release_shapes`: ``eff.S`` is then recomputed
    on access), so the result holds no ``m x r x r`` arrays.

    >>> import numpy as np
    >>> from neuronid.numerics.structures import syre_mlp
    >>> net = syre_mlp([3, 5, 4, 2], activation="tanh", seed=0)
    >>> res = network_costs(net, np.random.default_rng(0).normal(size=(60, 3)), tau=1.0)
    >>> [lc.layer for lc in res], [lc.K.shape for lc in res]
    ([0, 1], [(5, 5), (4, 4)])
    """
    if trace is None:
        if X is None:
            raise InvalidDataError("network_costs: give the data X (or a recorded trace)")
        trace = net.forward(X, record=True)
    if layers is None:
        layers = range(len(net.layers) - 1)
    elif isinstance(layers, (int, np.integer)):
        layers = [layers]
    shared = options.pop("shared", None)
    shared = {} if shared is None else shared
    out = []
    for l in layers:
        lc = layer_costs(net, layer=l, trace=trace, shared=shared, **options)
        # layer l's shape matrices are no longer needed (its next layer's stay shared):
        # drop them, they are the bulk of a LayerCosts (S is recomputed on access)
        shared.pop(("shapes", lc.layer), None)
        lc.eff.release_shapes()
        out.append(lc)
    return out

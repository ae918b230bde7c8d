"""Aligning network B to network A by neuron permutations (THEORY.md D6).

Permutation convention: one integer array per hidden layer, ``perm[i]`` = the index of
B's neuron matched to A's neuron ``i``. The permuted network ``B'`` has neuron ``i``
= B's neuron ``perm[i]``: row ``i`` of layer ``l`` (weight, bias, mask, fixed part,
activation) is B's row ``perm_l[i]``, and the columns of layer ``l + 1`` are permuted
the same way, so ``B'`` computes B's function exactly (up to summation-order
rounding).

Two matchings:

- **activation matching** (Git Re-Basin, REPAIR): per hidden layer, a linear
  assignment that *maximizes* the similarity of A's and B's neuron outputs on the
  data: Pearson correlation (default), dot product, or absolute correlation. B is
  evaluated as is; its hidden outputs do not depend on the permutations of earlier
  layers because permutations are applied consistently through the network, so each
  layer is matched independently. A neuron that is constant on the data (standard
  deviation at most ``1e-12`` times its largest absolute output, e.g. a dead ReLU)
  has correlation 0 with every neuron, and ReLUs active on the same few samples can
  have correlation 1 with each other: the assignment leaves such neurons tied. Ties
  are broken by weight similarity (cosine of the incoming effective weights and bias,
  B's columns aligned by the previous layer's matching) within each class of A's
  neurons that correlation cannot tell apart: the correlation objective is unchanged,
  and planted permutations of trained networks (many dead ReLUs) are recovered
  (correlation and absolute correlation; ``dot`` has no such ties). THEORY.md D6 notes that the paper's code
  maximizes ``1 - |corr|``, which selects the least-correlated pairing; we maximize
  the correlation itself.
- **weight matching** (Ainsworth et al.): coordinate descent over hidden layers
  maximizing ``sum_l <W_A^l, P_l W_B^l P_{l-1}^T> + <b_A^l, P_l b_B^l>`` over
  *effective* weights (biases included as in Git Re-Basin), each layer step a linear
  assignment; the first restart starts from the identity, the others from random
  permutations; each sweep visits the layers in a random order; the best objective
  wins. Deterministic in ``seed``. A layer with an (affine) normalization adds
  ``<gamma_A^l, P_l gamma_B^l> + <beta_A^l, P_l beta_B^l>`` to its term (Git Re-Basin's
  permutation specs list norm weights with their layer's permutation); BatchNorm's
  running statistics are permuted but not part of the objective.

Normalization layers (THEORY N1): ``gamma, beta`` (and ``mu, v``) are permuted with the
rows of their layer. LayerNorm's mean and variance are symmetric in the neurons, so the
permuted network computes the same function; the function check below verifies it.
Activation matching compares the hidden layers' post-activation outputs, as without
norms.

Sigma-asymmetric layers (one activation per neuron): matches are restricted to
neurons with identical activation names (the assignment is solved per activation
group), so the permuted B has A's activation in every neuron and the interpolation
between A and ``B'`` never mixes two activations in one neuron. If A and B do not
have the same number of neurons of each activation in a layer, alignment is refused
(:class:`StructureMismatchError`).

Masks and fixed parts move with their neurons, so for W-MLPs and syre-MLPs ``B'``
no longer has A's structure; aligned paths interpolate A and ``B'`` in
effective-weight space (D6), i.e. :func:`linear_path` with
``allow_structure_mismatch=True``.

Function check (D6: every time). :func:`align` evaluates B and ``B'`` on the data and
raises :class:`FunctionNotPreservedError` if the largest output difference exceeds
``rtol`` (default ``1e-9``) times the output scale ``max_x max_k sum_j |W^L_kj h_j(x)|
+ |b^L_k|`` (the magnitude of the terms summed in the output layer, which is what
summation-order rounding is relative to). Exact permutations differ by ~1e-16 of it.

Size (about 750 lines): kept whole; weight matching, activation matching, the
permutations and the aligned path share the neuron groups of ``_groups`` and the
result type :class:`Alignment`, and each part alone would be a few hundred lines of
the same concept (D6).

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> A = standard_mlp([4, 6, 5, 2], activation="tanh", seed=0)
>>> rng = np.random.default_rng(1)
>>> true = [rng.permutation(6), rng.permutation(5)]
>>> B = permute_network(A, true)        # B's neuron true[i] ... is A's neuron i
>>> X = rng.normal(size=(200, 4))
>>> al = align(A, B, X, method="activation")
>>> [p.tolist() for p in al.perms] == [np.argsort(p).tolist() for p in true]
True
>>> al.max_output_difference <= al.tolerance
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse.csgraph import connected_components

from neuronid.errors import InvalidOptionError, NeuronidError, StructureMismatchError

from .losses import check_loss, check_targets
from ._validation import check_inputs, check_number
from .network import Layer, Network, Norm
from .paths import PathResult, check_pair, linear_path, path_grid

__all__ = [
    "SIMILARITIES",
    "METHODS",
    "Alignment",
    "FunctionNotPreservedError",
    "activation_matching",
    "weight_matching",
    "weight_matching_objective",
    "similarity_matrix",
    "permute_network",
    "check_function_preserved",
    "output_scale",
    "align",
    "aligned_path",
]

SIMILARITIES = ("correlation", "dot", "abs_correlation")
METHODS = ("activation", "weight")

#: relative threshold below which a neuron's output counts as constant on the data
_CONSTANT_RTOL = 1e-12


class FunctionNotPreservedError(NeuronidError, RuntimeError):
    """A permutation changed the network's function beyond rounding (an internal error)."""


# --------------------------------------------------------------------------- validation
def _check_similarity(similarity: str) -> str:
    if similarity not in SIMILARITIES:
        raise InvalidOptionError(f"unknown similarity {similarity!r}; valid: {', '.join(SIMILARITIES)}")
    return similarity


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise InvalidOptionError(f"unknown alignment method {method!r}; valid: {', '.join(METHODS)}")
    return method


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral) or int(value) < minimum:
        raise InvalidOptionError(f"{name} must be an integer >= {minimum}, found {value!r}")
    return int(value)


def _groups(A: Network, B: Network) -> list:
    """Per hidden layer, a list of (A indices, B indices) with one activation each.

    Raises StructureMismatchError when sizes differ or a layer's activation counts do.
    """
    if A.sizes != B.sizes:
        raise StructureMismatchError(f"cannot align networks of different sizes: {A.sizes} vs {B.sizes}")
    for l, (na, nb) in enumerate(zip(A.norms, B.norms)):
        if (na is None) != (nb is None) or (na is not None and not na.same_structure(nb)):
            raise StructureMismatchError(
                f"layer {l}: cannot align networks whose normalizations differ ({na!r} vs {nb!r})"
            )
    out = []
    for l, (la, lb) in enumerate(zip(A.layers[:-1], B.layers[:-1])):
        names_a, names_b = np.array(la.names, dtype=object), np.array(lb.names, dtype=object)
        if len(set(la.names)) == 1 and la.names == lb.names:
            idx = np.arange(len(la.names))
            out.append([(idx, idx)])
            continue
        groups = []
        for name in sorted(set(la.names) | set(lb.names)):
            ia, ib = np.flatnonzero(names_a == name), np.flatnonzero(names_b == name)
            if ia.size != ib.size:
                raise StructureMismatchError(
                    f"layer {l}: A has {ia.size} neurons with activation {name!r}, B has {ib.size}; "
                    "neurons can only be matched to neurons with the same activation"
                )
            groups.append((ia, ib))
        out.append(groups)
    return out


def _assign(S: np.ndarray, groups) -> np.ndarray:
    """Maximize ``sum_i S[i, perm[i]]`` within activation groups."""
    perm = np.empty(S.shape[0], dtype=np.int64)
    for ia, ib in groups:
        rows, cols = linear_sum_assignment(S[np.ix_(ia, ib)], maximize=True)
        perm[ia[rows]] = ib[cols]
    return perm


def _check_perms(B: Network, perms) -> list[np.ndarray]:
    hidden = [layer.shape[0] for layer in B.layers[:-1]]
    perms = list(perms)
    if len(perms) != len(hidden):
        raise InvalidOptionError(
            f"expected {len(hidden)} permutations (one per hidden layer), found {len(perms)}"
        )
    out = []
    for l, (p, m) in enumerate(zip(perms, hidden)):
        arr = np.asarray(p)
        if arr.ndim != 1 or arr.size != m or arr.dtype.kind not in "iu" or not np.array_equal(np.sort(arr), np.arange(m)):
            raise InvalidOptionError(
                f"permutation for layer {l} must be a permutation of 0..{m - 1} (integer array of length {m}), "
                f"found {arr.dtype} array of shape {arr.shape}"
            )
        out.append(arr.astype(np.int64))
    return out


# --------------------------------------------------------------------------- permutations
def permute_network(B: Network, perms) -> Network:
    """The network whose hidden neuron ``i`` of layer ``l`` is B's neuron ``perms[l][i]``.

    Rows of layer ``l`` (weight, bias, mask, fixed part, per-neuron activations,
    normalization parameters and statistics) and columns of layer ``l + 1`` are
    permuted; the function is unchanged.

    >>> import numpy as np
    >>> from neuronid.numerics.structures import w_mlp
    >>> B = w_mlp([3, 4, 2], n_fixed=1, seed=0)
    >>> P = permute_network(B, [np.array([2, 0, 3, 1])])
    >>> X = np.random.default_rng(0).normal(size=(5, 3))
    >>> bool(np.allclose(P(X), B(X), rtol=0, atol=1e-12))
    True
    """
    perms = _check_perms(B, perms)
    layers = []
    prev = None
    for l, layer in enumerate(B.layers):
        rows = perms[l] if l < len(perms) else np.arange(layer.shape[0])
        cols = prev if prev is not None else np.arange(layer.shape[1])
        act = layer.activation
        if isinstance(act, (list, tuple)):
            act = [act[j] for j in rows]
        norm = layer.norm
        if norm is not None:
            norm = Norm(norm.kind, norm.eps, size=norm.size, **{k: v[rows] for k, v in norm.arrays().items()})
        layers.append(
            Layer(
                layer.weight[np.ix_(rows, cols)],
                layer.bias[rows],
                mask=layer.mask[np.ix_(rows, cols)],
                fixed=layer.fixed[np.ix_(rows, cols)],
                activation=act,
                norm=norm,
                where=f"layer {l}",
            )
        )
        prev = rows
    return Network(layers)


def check_function_preserved(B: Network, B_perm: Network, X) -> float:
    """Largest absolute output difference between ``B`` and ``B_perm`` on ``X``.

    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> B = standard_mlp([3, 4, 2], seed=0)
    >>> check_function_preserved(B, permute_network(B, [np.arange(4)]), np.ones((2, 3)))
    0.0
    """
    X = check_inputs(X, B.n_inputs)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(B._forward(X) - B_perm._forward(X))
    return float(np.max(diff)) if not np.any(np.isnan(diff)) else float("nan")


def output_scale(B: Network, X) -> float:
    """``max_x max_k sum_j |W^L_kj h_j(x)| + |b^L_k|``: the magnitude of the terms the
    output layer sums (what summation-order rounding is relative to)."""
    X = check_inputs(X, B.n_inputs)
    return _output_scale(B, B._forward(X, record=True))


def _output_scale(B: Network, trace) -> float:
    last = B.layers[-1]
    mag = np.abs(trace.inputs[-1]) @ np.abs(last.effective_weight()).T + np.abs(last.bias)
    return float(np.max(mag))


# --------------------------------------------------------------------------- activation matching
def similarity_matrix(HA, HB, similarity: str = "correlation") -> np.ndarray:
    """``S[i, j]`` = similarity of column ``i`` of ``HA`` and column ``j`` of ``HB``.

    ``correlation``: Pearson correlation (0 where either neuron is constant);
    ``abs_correlation``: its absolute value; ``dot``: ``HA[:, i] . HB[:, j] / n``.

    >>> import numpy as np
    >>> H = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 2.0]])
    >>> similarity_matrix(H, H).round(3).tolist()
    [[1.0, 0.5], [0.5, 1.0]]
    """
    _check_similarity(similarity)
    HA = np.asarray(HA, dtype=np.float64)
    HB = np.asarray(HB, dtype=np.float64)
    n = HA.shape[0]
    if similarity == "dot":
        return HA.T @ HB / n

    def _standardize(H):
        C = H - H.mean(axis=0)
        std = np.sqrt(np.mean(C * C, axis=0))
        constant = _constant_columns(H, std)
        std[constant] = 1.0
        C /= std
        C[:, constant] = 0.0
        return C

    S = _standardize(HA).T @ _standardize(HB) / n
    np.clip(S, -1.0, 1.0, out=S)
    return np.abs(S) if similarity == "abs_correlation" else S


def _constant_columns(H, std=None) -> np.ndarray:
    """Columns of ``H`` constant on the data: standard deviation at most
    ``_CONSTANT_RTOL`` times the largest absolute value (0 for an all-zero column)."""
    if std is None:
        C = H - H.mean(axis=0)
        std = np.sqrt(np.mean(C * C, axis=0))
    return std <= _CONSTANT_RTOL * np.max(np.abs(H), axis=0)


def _cosine_rows(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``C[i, j]`` = cosine of rows ``A[i]`` and ``B[j]`` (0 where a row is zero)."""
    na = np.linalg.norm(A, axis=1)
    nb = np.linalg.norm(B, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        C = (A @ B.T) / np.outer(na, nb)
    return np.where(np.isfinite(C), C, 0.0)


#: Two of A's neurons are indistinguishable by correlation when their correlation is
#: at least 1 - _TIE_RTOL (rounding of a correlation of O(n) products is ~1e-15).
_TIE_RTOL = 1e-12


def _tie_classes(HA, similarity: str) -> list[np.ndarray]:
    """Classes (size >= 2) of A's neurons that every correlation-based assignment
    treats alike: the constant neurons (correlation 0 with everything), and neurons
    whose outputs are affinely identical on the data (correlation >= 1 - _TIE_RTOL, in
    absolute value for ``abs_correlation``), e.g. ReLUs active on the same one sample."""
    const = _constant_columns(HA)
    out = []
    if np.sum(const) >= 2:
        out.append(np.flatnonzero(const))
    live = np.flatnonzero(~const)
    if live.size >= 2:
        C = similarity_matrix(HA[:, live], HA[:, live], "correlation")
        if similarity == "abs_correlation":
            C = np.abs(C)
        n_comp, labels = connected_components(C >= 1.0 - _TIE_RTOL, directed=False)
        for k in range(n_comp):
            members = live[labels == k]
            if members.size >= 2:
                out.append(members)
    return out


def _break_ties(perm, groups, classes, rows_a, rows_b) -> np.ndarray:
    """Re-assign, within each tie class of A's neurons (and activation group), their
    partners in ``perm`` by maximal cosine similarity of weight rows (``rows_a``,
    ``rows_b``: incoming effective weights and bias, B's columns in A's input order).
    A's neurons of one class have the same similarity to every B neuron (to
    rounding), so the assignment's objective is unchanged: this only breaks ties."""
    perm = perm.copy()
    for ia, _ in groups:
        in_group = np.zeros(perm.size, dtype=bool)
        in_group[ia] = True
        for cls in classes:
            i = cls[in_group[cls]]
            if i.size < 2:
                continue
            j = perm[i]
            r, c = linear_sum_assignment(_cosine_rows(rows_a[i], rows_b[j]), maximize=True)
            perm[i[r]] = j[c]
    return perm


def _hidden_outputs(net: Network, X, trace=None) -> list[np.ndarray]:
    """Hidden layers' outputs on ``X`` (from ``trace``, a recorded pass on ``X``, if given)."""
    if trace is None:
        trace = net.forward(X, record=True)
    return trace.inputs[1:]


def activation_matching(A: Network, B: Network, X, *, similarity: str = "correlation") -> list[np.ndarray]:
    """Per hidden layer, the permutation of B's neurons maximizing the summed
    similarity of neuron outputs to A's on ``X`` (see module docstring).

    Returns one int64 array per hidden layer, ``perm[i]`` = B's neuron matched to A's
    neuron ``i``.
    """
    return _activation_matching(A, B, X, similarity)[0]


def _activation_matching(A, B, X, similarity, traces=None):
    """Permutations and per-layer similarity matrices (``traces``: optional recorded
    passes of A and B on ``X`` to reuse)."""
    _check_similarity(similarity)
    groups = _groups(A, B)
    if traces is None:
        X = check_inputs(X, A.n_inputs, name="X_align")
        traces = (None, None)
    perms, matrices = [], []
    WA, WB = A.effective_weights(), B.effective_weights()
    bA, bB = A.biases(), B.biases()
    hidden_A, hidden_B = _hidden_outputs(A, X, traces[0]), _hidden_outputs(B, X, traces[1])
    for l, (HA, HB, g) in enumerate(zip(hidden_A, hidden_B, groups)):
        S = similarity_matrix(HA, HB, similarity)
        perm = _assign(S, g)
        if similarity != "dot":
            # tie-break among constant neurons by their weights (B's inputs in A's order)
            Wb = WB[l] if l == 0 else WB[l][:, perms[l - 1]]
            perm = _break_ties(perm, g, _tie_classes(HA, similarity),
                               np.column_stack([WA[l], bA[l]]), np.column_stack([Wb, bB[l]]))
        perms.append(perm)
        matrices.append(S)
    return perms, matrices


def _matched_scores(matrices, perms) -> list[float]:
    return [float(np.mean(S[np.arange(len(p)), p])) for S, p in zip(matrices, perms)]


# --------------------------------------------------------------------------- weight matching
def _weights(net: Network):
    """Effective weights and, per layer, the row vectors permuted with its neurons: an
    ``(m, k)`` array with the bias and, for an affine norm, ``gamma`` and ``beta``."""
    rows = []
    for layer in net.layers:
        cols = [layer.bias]
        if layer.norm is not None and layer.norm.affine:
            cols += [layer.norm.weight, layer.norm.bias]
        rows.append(np.column_stack(cols))
    return net.effective_weights(), rows


def _layer_terms(WA, bA, WB, bB, perms) -> list[float]:
    """``<W_A^l, P_l W_B^l P_{l-1}^T> + <b_A^l, P_l b_B^l>`` (+ the norm's ``gamma, beta``)
    for every layer (output included)."""
    L = len(WA)
    out = []
    prev = np.arange(WA[0].shape[1])
    for l in range(L):
        rows = perms[l] if l < L - 1 else np.arange(WA[l].shape[0])
        out.append(float(np.sum(WA[l] * WB[l][np.ix_(rows, prev)]) + np.sum(bA[l] * bB[l][rows])))
        prev = rows
    return out


def weight_matching_objective(A: Network, B: Network, perms) -> float:
    """The weight-matching objective ``sum_l <W_A^l, P_l W_B^l P_{l-1}^T> + <b_A^l, P_l b_B^l>``
    (+ ``<gamma_A^l, P_l gamma_B^l> + <beta_A^l, P_l beta_B^l>`` for affine norms)."""
    perms = _check_perms(B, perms)
    WA, bA = _weights(A)
    WB, bB = _weights(B)
    return float(sum(_layer_terms(WA, bA, WB, bB, perms)))


def _layer_similarity(WA, bA, WB, bB, perms, l, memo=None):
    """``S[i, j]``: the objective's terms that depend on matching A's ``i`` to B's ``j`` in layer ``l``.

    ``memo`` (a dict kept across calls of one matching) holds, per layer and side, the
    last incoming term ``W_A^l P_{l-1} W_B^l^T + b_A b_B^T`` and outgoing term
    ``W_A^{l+1}^T P_{l+1} W_B^{l+1}`` with the neighbour permutation they were computed
    for: a sweep often leaves a neighbour unchanged (always the input and output sides),
    and the products dominate a run. The same products in the same order: same values.
    """
    L = len(WA)

    def term(side, perm, compute):
        if memo is None:
            return compute()
        key = None if perm is None else perm.tobytes()
        hit = memo.get((l, side))
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        memo[(l, side)] = (key, value)
        return value

    prev = None if l == 0 else perms[l - 1]
    nxt = None if l + 1 == L - 1 else perms[l + 1]

    def incoming():
        Wb = WB[l] if prev is None else WB[l][:, prev]
        return WA[l] @ Wb.T + bA[l] @ bB[l].T

    def outgoing():
        Wn = WB[l + 1] if nxt is None else WB[l + 1][nxt, :]
        return WA[l + 1].T @ Wn

    S = term("in", prev, incoming) + term("out", nxt, outgoing)
    return S


def _weight_matching_run(WA, bA, WB, bB, groups, perms, rng, max_iter, memo=None):
    n_hidden = len(perms)
    sweeps = 0
    converged = False
    for sweeps in range(1, max_iter + 1):
        progress = False
        for l in rng.permutation(n_hidden):
            S = _layer_similarity(WA, bA, WB, bB, perms, l, memo)
            new = _assign(S, groups[l])
            idx = np.arange(S.shape[0])
            old_value, new_value = S[idx, perms[l]].sum(), S[idx, new].sum()
            if new_value > old_value + 1e-12 * max(1.0, abs(old_value)):
                perms[l] = new
                progress = True
        if not progress:
            converged = True
            break
    return perms, sweeps, converged


def weight_matching(
    A: Network, B: Network, *, restarts: int = 5, max_iter: int = 100, seed: int = 0, details: dict | None = None
) -> list[np.ndarray]:
    """Ainsworth et al. weight matching on effective weights (see module docstring).

    Parameters
    ----------
    restarts : int >= 1
        Coordinate-descent runs; the first from the identity, the rest from random
        permutations (within activation groups).
    max_iter : int >= 1
        Maximal sweeps over the layers per run (a run stops when a sweep changes nothing).
    seed : int
        Seeds the random starts and layer orders.
    details : dict, optional
        Filled with ``objective`` (best), ``objectives`` (per restart), ``sweeps`` and
        ``converged`` (per restart).

    Returns
    -------
    list of int64 arrays, one per hidden layer.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> A = standard_mlp([5, 8, 2], seed=0)
    >>> B = permute_network(A, [np.array([3, 1, 0, 2, 7, 6, 5, 4])])
    >>> weight_matching(A, B)[0].tolist()
    [2, 1, 3, 0, 7, 6, 5, 4]
    """
    restarts = _check_int(restarts, "restarts", 1)
    max_iter = _check_int(max_iter, "max_iter", 1)
    seed = _check_int(seed, "seed", 0)
    groups = _groups(A, B)
    WA, bA = _weights(A)
    WB, bB = _weights(B)
    rng = np.random.default_rng(seed)
    best, best_value = None, -np.inf
    record = {"objectives": [], "sweeps": [], "converged": []}
    memo: dict = {}  # similarity terms, shared by the restarts (see _layer_similarity)
    for r in range(restarts):
        if r == 0:
            start = [np.arange(layer.shape[0], dtype=np.int64) for layer in A.layers[:-1]]
        else:
            start = []
            for g in groups:
                p = np.empty(sum(ia.size for ia, _ in g), dtype=np.int64)
                for ia, ib in g:
                    p[ia] = rng.permutation(ib)
                start.append(p)
        perms, sweeps, converged = _weight_matching_run(WA, bA, WB, bB, groups, start, rng, max_iter, memo)
        value = float(sum(_layer_terms(WA, bA, WB, bB, perms)))
        record["objectives"].append(value)
        record["sweeps"].append(int(sweeps))
        record["converged"].append(bool(converged))
        if value > best_value:
            best, best_value = [p.copy() for p in perms], value
    record["objective"] = best_value
    if details is not None:
        details.update(record)
    return best


# --------------------------------------------------------------------------- results
@dataclass
class Alignment:
    """B aligned to A: permutations, scores, and the function check.

    Attributes
    ----------
    perms : one int64 array per hidden layer, ``perm[i]`` = B's neuron matched to A's ``i``.
    method : ``"activation"`` or ``"weight"``.
    similarity : the activation similarity (``None`` for weight matching).
    objective : weight matching: the objective; activation matching: the sum over
        layers of the mean matched similarity.
    identity_objective : the same score for the identity permutations (no alignment).
    layer_scores : per hidden layer the mean matched similarity (activation), or per
        layer (output included) the objective's term (weight).
    max_output_difference : ``max |f_B(x) - f_B'(x)|`` on the check data.
    tolerance : ``rtol * output_scale``; the check passed (``<=``) or :func:`align` raised.
    network : the permuted B (``B'``).
    details : method-specific extras (restart objectives, sweeps, ...).
    """

    perms: list
    method: str
    similarity: str | None
    objective: float
    identity_objective: float
    layer_scores: list
    max_output_difference: float
    tolerance: float
    network: Network
    details: dict = field(default_factory=dict)

    @property
    def fixed_points(self) -> list[int]:
        """Per hidden layer, how many of A's neurons are matched to B's neuron of the same index."""
        return [int(np.sum(p == np.arange(len(p)))) for p in self.perms]

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "similarity": self.similarity,
            "permutations": [[int(i) for i in p] for p in self.perms],
            "fixed_points": self.fixed_points,
            "objective": float(self.objective),
            "identity_objective": float(self.identity_objective),
            "layer_scores": [float(s) for s in self.layer_scores],
            "max_output_difference": float(self.max_output_difference),
            "tolerance": float(self.tolerance),
        }


def align(
    A: Network,
    B: Network,
    X,
    *,
    method: str = "activation",
    similarity: str = "correlation",
    X_align=None,
    restarts: int = 5,
    max_iter: int = 100,
    seed: int = 0,
    rtol: float = 1e-9,
    trace_B=None,
    align_traces=None,
) -> Alignment:
    """Align B to A and check that the permuted B computes B's function on ``X``.

    Parameters
    ----------
    X : (n, d) array
        Data for the function check (and for activation matching unless ``X_align``).
    method : {"activation", "weight"}
    similarity : {"correlation", "dot", "abs_correlation"}
        Activation matching only.
    X_align : (n', d) array, optional
        Data for activation matching (default ``X``), e.g. training data when ``X`` is
        held out.
    restarts, max_iter, seed : weight matching only (see :func:`weight_matching`).
    rtol : float
        Relative tolerance of the function check (see module docstring).
    trace_B : optional recorded forward pass of B on ``X`` to reuse.
    align_traces : optional ``(trace_A, trace_B)``, recorded passes of A and B on the
        activation-matching data (``X_align``, else ``X``) to reuse. A caller that
        already holds these passes (``neuronid check``) saves recomputing them.

    Raises
    ------
    InvalidOptionError, StructureMismatchError, InvalidDataError
        Bad input.
    FunctionNotPreservedError
        The permuted network's outputs differ from B's beyond ``rtol * output_scale``.
    """
    _check_method(method)
    _check_similarity(similarity)
    rtol = check_number(rtol, what="rtol", low=0.0)
    _groups(A, B)
    X = check_inputs(X, A.n_inputs)
    identity = [np.arange(layer.shape[0], dtype=np.int64) for layer in A.layers[:-1]]
    details: dict = {}
    if method == "activation":
        Xa = X if X_align is None else check_inputs(X_align, A.n_inputs, name="X_align")
        perms, matrices = _activation_matching(A, B, Xa, similarity, align_traces)
        scores = _matched_scores(matrices, perms)
        objective = float(sum(scores))
        identity_objective = float(sum(_matched_scores(matrices, identity)))
        sim = similarity
    else:
        perms = weight_matching(A, B, restarts=restarts, max_iter=max_iter, seed=seed, details=details)
        WA, bA = _weights(A)
        WB, bB = _weights(B)
        scores = _layer_terms(WA, bA, WB, bB, perms)
        objective = float(sum(scores))
        identity_objective = float(sum(_layer_terms(WA, bA, WB, bB, identity)))
        sim = None
    B_perm = permute_network(B, perms)
    trace = B._forward(X, record=True) if trace_B is None else trace_B
    with np.errstate(invalid="ignore", over="ignore"):
        gap = np.abs(trace.output - B_perm._forward(X))
    diff = float("nan") if np.any(np.isnan(gap)) else float(np.max(gap))
    tol = rtol * _output_scale(B, trace)
    if not diff <= tol:
        raise FunctionNotPreservedError(
            f"{method} alignment: the permuted B differs from B by {diff:.3g} on the data "
            f"(tolerance {tol:.3g} = {rtol:g} x output scale); permutations must preserve the function"
        )
    return Alignment(
        perms=perms,
        method=method,
        similarity=sim,
        objective=objective,
        identity_objective=identity_objective,
        layer_scores=scores,
        max_output_difference=diff,
        tolerance=tol,
        network=B_perm,
        details=details,
    )


def aligned_path(
    A: Network,
    B: Network,
    X,
    y,
    *,
    method: str = "activation",
    loss: str,
    steps=21,
    similarity: str = "correlation",
    X_align=None,
    restarts: int = 5,
    max_iter: int = 100,
    seed: int = 0,
    allow_structure_mismatch: bool = False,
    rtol: float = 1e-9,
    reset_bn: bool = False,
    reset_data=None,
) -> tuple[PathResult, Alignment]:
    """Align B to A (:func:`align`), then the linear path from A to the permuted B.

    The path interpolates effective weights (D6): the permuted B carries its masks and
    fixed parts along with its neurons, so it is compared with
    ``allow_structure_mismatch=True`` semantics (sizes and every neuron's activation
    still agree by construction). ``allow_structure_mismatch`` concerns the *given* A
    and B: without it they must share the structure (as in :func:`linear_path`); with
    it masks and fixed parts may differ and per-neuron activations may come in another
    order, as long as every layer has the same number of neurons of each activation
    (e.g. B an exact neuron permutation of a sigma-asymmetric A).

    ``reset_bn``/``reset_data``: recompute BatchNorm statistics along the path (see
    :func:`linear_path`).

    Returns ``(PathResult, Alignment)``.

    Examples
    --------
    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> A = standard_mlp([3, 8, 2], seed=0)
    >>> B = permute_network(A, [np.random.default_rng(0).permutation(8)])
    >>> X = np.random.default_rng(1).normal(size=(100, 3)); y = np.arange(100) % 2
    >>> path, al = aligned_path(A, B, X, y, method="weight", loss="ce")
    >>> abs(path.B_lerp) < 1e-9
    True
    """
    check_loss(loss)
    _check_method(method)
    _check_similarity(similarity)
    if allow_structure_mismatch:
        _groups(A, B)  # sizes and per-layer activation counts; alignment fixes the order
    else:
        check_pair(A, B)
    path_grid(steps)
    X = check_inputs(X, A.n_inputs)
    check_targets(loss, y, A.n_outputs, X.shape[0])
    al = align(
        A, B, X, method=method, similarity=similarity, X_align=X_align,
        restarts=restarts, max_iter=max_iter, seed=seed, rtol=rtol,
    )
    path = linear_path(
        A, al.network, X, y, loss=loss, steps=steps, allow_structure_mismatch=True,
        reset_bn=reset_bn, reset_data=reset_data,
    )
    return path, al

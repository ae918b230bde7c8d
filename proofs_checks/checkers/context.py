"""The :class:`CheckContext`: networks, data and every shared measurement of a check.

One context serves all checkers of a pair: it records one forward pass per network
per data set (supports, costs, correspondence, alignment and paths all read it) and
computes each expensive quantity (layer costs, paths, certificates) once, lazily.

Mutation hook (for ``neuronid selftest`` and for users extending the registry): a
checker must flag a planted defect of the computation it relies on. ``CheckContext``
takes ``mutations={point: function}``; at each point of :data:`MUTATION_POINTS` the
checker passes the measured quantity through ``ctx.mutate(point, value)``, which
returns ``function(value)`` (the identity when the point is not mutated). No code is
edited and nothing is monkeypatched: a mutation is data given to the context.
"""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext
from functools import cached_property, wraps

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.correspondence import correspondence, relative_mismatch
from neuronid.numerics.costs import network_costs
from neuronid.numerics.losses import check_loss, check_targets
from neuronid.numerics.network import Network, Trace, check_inputs
from neuronid.numerics.repair import repaired_path

from ..pairs import REPAIR_SUFFIX, measure_paths
from ._common import FUNCTION_TOL, _column_max_abs, _neuron_names

#: Where a checker passes a measured quantity through :meth:`CheckContext.mutate`
#: (point -> what the function receives and must return).
MUTATION_POINTS = {
    "K": "P2, P3, P4: a layer's cost matrix K (m x m array; Delta_in is derived from it)",
    "Delta_in": "P3, P4: a layer's incoming swap costs Delta_in on their own (m x m array; K unchanged)",
    "anisotropy": "P3, P4, T1: the anisotropies ||S_i - p I|| of a layer's neurons (length-m array)",
    "support": "T1, T3: a layer's support (numerics.supports.Support: U, rank, coherence, ...)",
    "coherence": "T1: a layer's support coherence nu = max_k ||U^T e_k||^2 (float)",
    "P1.closed_form": "P1: the closed-form cost of one (i, j) pair (float)",
    "P1.solver_cost": "P1: the cvxpy realization cost of one (i, j) pair (float)",
    "P4.centers": "P4: the centers V = U^T f of a layer's neurons (m x r array)",
    "P5.realization": "P5: one min-norm realization (numerics.realization.Realization)",
    "P5.midpoint": "P5: the function computed at the midpoint of two realizations (array)",
    "P6.activation": "P6: the activation used to measure phi(t): the function receives the callable "
                     "z -> sigma(z) and returns the callable to use instead",
    "P6.rescaled": "P6: the rescaled network (c/alpha, alpha w, alpha b) (Network)",
    "P6.norm_cost": "P6: the orbit's norm costs measured on the scale grid (array; compared with the "
                    "closed form c2/s^2 + s^2 ||(w, b)||^2)",
    "T1.bound": "T1: the matrix-Bernstein bound at delta (float)",
    "T1.anisotropy": "T1: the Monte Carlo anisotropies ||U^T diag(m) U - p I|| (array)",
    "T2.loss": "T2: the loss curve L(t) on the unaligned path's grid (array)",
    "T3.permutation": "T3: the matched correspondence permutation of a layer (int array)",
    "T4.bound": "T4: the elementwise bound t(1-t) R^L(x) on the grid (T x n x o array)",
    "T4.outputs": "T4: the path outputs f_t(x) on the grid (T x n x o array)",
}


#: The shared measurements timed as stages of a check (``report.json`` ``timings``):
#: stage name -> :class:`CheckContext` attribute, in the order a full check computes them.
STAGES = {"forward passes": "traces", "supports and costs": "costs",
          "neuron correspondence": "correspondences", "paths and certificates": "paths",
          "repaired paths": "repaired_paths"}


def _stage(name: str):
    """Mark a lazily computed measurement as the check stage ``name``: whenever it is
    computed (by a checker, by the report or ahead of the checkers), the context's
    ``stage_timer`` (``None``: not timed) times and announces it."""
    def mark(compute):
        @wraps(compute)
        def timed(self):
            with nullcontext() if self.stage_timer is None else self.stage_timer(name):
                return compute(self)
        return timed
    return mark


# ----------------------------------------------------------------------------- context
class CheckContext:
    """Networks, data and every shared measurement, computed lazily once.

    Parameters
    ----------
    A, B : the two networks (B may be A itself).
    X, y : data; supports (D1) and costs use ``X`` (or ``X_support``), paths use
        ``X, y``.
    loss : ``"ce"`` or ``"mse"``.
    tau : explained-variance threshold of the supports (D1).
    steps : grid points of the paths (D5).
    align : alignment methods for aligned paths (D6).
    X_support : optional separate data for supports, costs and activation matching
        (the default check uses training data there and test data for paths).
    X_align : optional data for activation matching and REPAIR statistics (default
        ``X_support``, else ``X``).
    repair : also measure the REPAIRed twin of every path (THEORY N3), in
        :attr:`repaired_paths` (not in :attr:`paths`: T4 bounds linear paths only).
    max_support_points : supports use at most this many rows (seeded subset) so
        cost matrices stay cheap on large data sets.
    mutations : optional ``{point: function}`` planting defects for mutation tests
        (points: :data:`MUTATION_POINTS`); ``None`` in normal use.

    ``stage_timer`` (attribute, default ``None``): a callable ``timer(stage)`` returning
    a context manager (``report.StageTimer``) that times each of :data:`STAGES` when
    it is computed.
    """

    def __init__(self, A: Network, B: Network, X, y, *, loss: str, tau: float = 0.9, steps: int = 21,
                 align=("activation", "weight"), X_support=None, max_support_points: int = 4096,
                 names=("A", "B"), seed: int = 0, progress: bool = False, X_align=None, repair: bool = False,
                 mutations=None):
        self.mutations = _check_mutations(mutations)
        self.stage_timer = None
        self.A, self.B = A, B
        self.loss = check_loss(loss)
        self.X = check_inputs(X, A.n_inputs)
        self.y = check_targets(loss, y, A.n_outputs, self.X.shape[0])
        Xs = self.X if X_support is None else check_inputs(X_support, A.n_inputs, name="X_support")
        # rows of X that make up Xs (when Xs is a subset of X): its recorded passes are
        # then rows of the evaluation passes (see :attr:`traces`)
        self._support_rows = None
        if Xs.shape[0] > max_support_points:
            idx = np.sort(np.random.default_rng(seed).choice(Xs.shape[0], max_support_points, replace=False))
            Xs = Xs[idx]
            if X_support is None:
                self._support_rows = idx
        self.Xs = Xs
        if X_align is not None:
            self.X_align = check_inputs(X_align, A.n_inputs, name="X_align")
        else:
            self.X_align = self.X if X_support is None else Xs
        self.repair = bool(repair)
        self.tau, self.steps, self.align = tau, steps, tuple(align)
        self.names = tuple(names)
        self.seed = seed
        self.progress = progress
        self.sizes_equal = A.sizes == B.sizes
        self.structure_differences = A.structure_differences(B)
        self.n_hidden = len(A.layers) - 1

    def mutate(self, point: str, value):
        """``value`` passed through the mutation planted at ``point`` (identity if none)."""
        fn = self.mutations.get(point)
        return value if fn is None else fn(value)

    def layer_K(self, run: int, l: int):
        """``(K, Delta_in)`` of a layer as the checkers see them: the measured matrices,
        or, with a ``"K"`` mutation, the mutated K and the ``Delta_in`` derived from it."""
        lc = self.costs[run][l]
        K, D = lc.K, lc.delta_in
        if "K" in self.mutations:
            K = np.array(self.mutate("K", lc.K.copy()), dtype=np.float64)
            d = np.diag(K)
            with np.errstate(invalid="ignore"):
                D = K + K.T - d[:, None] - d[None, :]
            np.fill_diagonal(D, 0.0)
        if "Delta_in" in self.mutations:
            D = np.array(self.mutate("Delta_in", D.copy()), dtype=np.float64)
        return K, D

    def layer_anisotropy(self, run: int, l: int) -> np.ndarray:
        """The anisotropies ``||S_i - p I||`` of a layer's neurons as the checkers see
        them (mutation point ``"anisotropy"``)."""
        aniso = self.costs[run][l].anisotropy
        if "anisotropy" not in self.mutations:
            return aniso
        return np.array(self.mutate("anisotropy", aniso.copy()), dtype=np.float64)

    def layer_support(self, run: int, l: int):
        """A layer's support as the checkers see it (mutation points ``"support"``, then
        ``"coherence"``)."""
        sup = self.costs[run][l].support
        if "support" in self.mutations:
            sup = self.mutate("support", dataclasses.replace(sup, U=sup.U.copy()))
        if "coherence" in self.mutations:
            sup = dataclasses.replace(sup, coherence=float(self.mutate("coherence", sup.coherence)))
        return sup

    # --- traces and costs ---------------------------------------------------------
    @cached_property
    @_stage("forward passes")
    def traces(self):
        """Recorded forward passes of A and B on the support data ``Xs``.

        Memory (issue 10): :attr:`paths` drops these passes while it holds the
        evaluation passes when ``Xs`` is a subset of the rows of ``X``; read again,
        they are those rows of the evaluation passes (no new forward pass) if these
        are held, else recorded anew."""
        rows = self._support_rows
        if rows is not None and "eval_traces" in self.__dict__:
            tA, tB = self.eval_traces
            sA = _trace_rows(tA, rows, self.Xs)
            return [sA, sA if tB is tA else _trace_rows(tB, rows, self.Xs)]
        return self._record(self.Xs)

    def _record(self, X) -> list:
        """``[trace_A, trace_B]`` on ``X``; one pass when B is A."""
        tA = self.A.forward(X, record=True)
        return [tA, tA if self.B is self.A else self.B.forward(X, record=True)]

    @cached_property
    def eval_traces(self):
        """Recorded forward passes of A and B on the evaluation data ``X`` (one per
        network, shared by alignment and paths; the support passes when ``Xs is X``).

        Memory (issue 10): :attr:`paths` releases them once measured (what P5 and T2
        read from them is kept in :attr:`pair_functions`); read again, they are
        recorded anew."""
        if self.Xs is self.X:
            return self.traces
        return self._record(self.X)

    @property
    def align_traces(self):
        """Recorded passes of A and B on the matching data ``X_align`` (shared with
        the support or evaluation passes when it is the same array)."""
        if self.X_align is self.Xs:
            return self.traces
        if self.X_align is self.X:
            return self.eval_traces
        if "_align_traces" not in self.__dict__:
            self.__dict__["_align_traces"] = self._record(self.X_align)
        return self.__dict__["_align_traces"]

    @cached_property
    @_stage("supports and costs")
    def costs(self) -> list[list]:
        """``costs[run][layer]``: :class:`~neuronid.numerics.costs.LayerCosts`."""
        out = []
        shared = {}  # A and B share the support of their common input Xs (one SVD)
        for net, trace in zip((self.A, self.B), self.traces):
            # one pass per network; consecutive layers share supports and shape matrices
            out.append(network_costs(net, trace=trace, tau=self.tau, progress=self.progress, shared=shared))
        return out

    @cached_property
    @_stage("neuron correspondence")
    def correspondences(self) -> list:
        if not self.sizes_equal:
            return []
        return [correspondence(self.A, self.B, self.Xs, l, traces=self.traces) for l in range(self.n_hidden)]

    # --- paths ----------------------------------------------------------------------
    @cached_property
    @_stage("paths and certificates")
    def paths(self) -> dict:
        """``{"unaligned": MeasuredPath, "activation": ..., "weight": ...}``
        (:func:`~neuronid.proofs_checks.pairs.measure_paths` with ``certify=True``: each
        entry's ``certified`` is a :class:`~neuronid.numerics.certificate.CertifiedPath`,
        aligned ones carry their ``alignment``); empty when the sizes differ."""
        if not self.sizes_equal:
            return {}
        # peak memory (issue 10): the support passes are rows of the evaluation passes
        # (when Xs is a subset of X): drop them while the evaluation passes are held,
        # and take them back as those rows afterwards (no forward pass)
        dropped = self._support_rows is not None and self.X_align is not self.Xs \
            and self.__dict__.pop("traces", None) is not None
        hook = (lambda name, v: self.mutate(f"T4.{name}", v)) if self.mutations else None
        out = measure_paths(self.A, self.B, self.X, self.y, loss=self.loss, align=self.align, steps=self.steps,
                            X_align=self.X_align, similarity="correlation", seed=self.seed,
                            allow_structure_mismatch=True, certify=True, hook=hook,
                            trace_B=self.eval_traces[1], align_traces=self.align_traces)
        self.pair_functions  # what P5 and T2 need from the evaluation passes
        if dropped:
            self.traces  # the rows of the evaluation passes
        self.__dict__.pop("eval_traces", None)  # then release the evaluation passes
        self.__dict__.pop("_align_traces", None)
        return out

    @cached_property
    def pair_functions(self) -> dict:
        """What P5's pair test and T2 measure on the evaluation passes, kept so that
        those passes can be released after the paths: ``{"t2": (max relative hidden
        neuron mismatch, output mismatch), "p5": [per hidden layer of A: the inputs
        of P5's pair midpoint test (:func:`_p5_pair_inputs`)]}``; ``{}`` when the
        sizes differ."""
        if not self.sizes_equal:
            return {}
        tA, tB = self.eval_traces
        return {"t2": _neuron_mismatch(tA, tB, self.A, self.B),
                "p5": [_p5_pair_inputs(tA, tB, self.A, self.B, l) for l in range(self.n_hidden)]}

    @cached_property
    @_stage("repaired paths")
    def repaired_paths(self) -> dict:
        """``{"unaligned+repair": PathResult, ...}`` when ``repair`` (else empty): each
        path REPAIRed with statistics on ``X_align`` (THEORY N3)."""
        if not (self.repair and self.sizes_equal):
            return {}
        out = {}
        for name, entry in self.paths.items():
            B = self.B if entry.alignment is None else entry.alignment.network
            out[name + REPAIR_SUFFIX] = repaired_path(self.A, B, self.X, self.y, X_align=self.X_align,
                                                      loss=self.loss, steps=self.steps, allow_structure_mismatch=True)
        return out

    def scope(self, run: int, layer: int) -> str:
        return f"{self.names[run]} layer {layer}"


# ----------------------------------------------------------------------------- helpers
def _trace_rows(trace: Trace, rows: np.ndarray, X: np.ndarray) -> Trace:
    """The recorded pass on ``X = X_full[rows]`` as rows of the pass on ``X_full``
    (a forward pass acts row by row; ``normed[l]`` stays the same array as
    ``pre[l]`` where it was)."""
    pre = [z[rows] for z in trace.pre]
    normed = [pre[l] if u is trace.pre[l] else u[rows] for l, u in enumerate(trace.normed)]
    inputs = [X] + [h[rows] for h in trace.inputs[1:]]
    return Trace(output=trace.output[rows], inputs=inputs, pre=pre, normed=normed)


def _neuron_mismatch(tA: Trace, tB: Trace, A: Network, B: Network) -> tuple[float, float]:
    """Max relative L2 mismatch of hidden neuron functions under the identity
    correspondence (:func:`~neuronid.numerics.correspondence.relative_mismatch`:
    relative to the larger norm, 0 for two dead neurons), and of the output
    pre-activations (T2's H3 and H4)."""
    worst = 0.0
    # with normalization layers (THEORY N1) the neuron functions are the pre-activations
    # z; the outputs h are compared too, so equal z and h make every path point equal
    pairs = [(tA.inputs[l], tB.inputs[l]) for l in range(1, len(A.layers))]
    pairs += [(tA.pre[l], tB.pre[l]) for l, layer in enumerate(A.layers[:-1])
              if layer.norm is not None or B.layers[l].norm is not None]
    for hA, hB in pairs:
        # relative to the larger of the two norms: a dead neuron (zero on the data) in
        # both runs agrees (0), dead in one run only is mismatch 1, never 1e11
        worst = max(worst, float(np.max(relative_mismatch(hA, hB), initial=0.0)))
    zA, zB = tA.output, tB.output
    out = float(np.linalg.norm(zA - zB) / max(np.linalg.norm(zA), 1e-300))
    return worst, out


def _p5_pair_inputs(tA: Trace, tB: Trace, A: Network, B: Network, l: int) -> dict:
    """The measurements of P5's pair test at hidden layer ``l`` (evaluated, with the
    ``"P5.midpoint"`` mutation point, by :func:`~.p5.check_p5`): ``{"note": ...}``
    when A and B feed the layer different inputs, else the neurons ``same`` that
    compute the same function in both (and have the same activation), with their
    midpoint pre-activations ``z_mid`` and A's functions ``h`` (columns, one per
    neuron of ``same``), their ``scale`` and ``names``."""
    xa, xb = tA.inputs[l], tB.inputs[l]
    if np.max(_column_max_abs(xa, xb)) > FUNCTION_TOL * max(float(np.max(_column_max_abs(xa))), 1.0):
        return {"note": f"A and B feed layer {l} different inputs: realizations are not comparable"}
    la, lb = A.layers[l], B.layers[l]
    normed = la.norm is not None or lb.norm is not None
    ha, hb = (tA.pre[l], tB.pre[l]) if normed else (tA.inputs[l + 1], tB.inputs[l + 1])
    names_a, names_b = _neuron_names(la), _neuron_names(lb)
    scale = np.maximum(_column_max_abs(ha), 1.0)
    same = np.flatnonzero((_column_max_abs(ha, hb) <= FUNCTION_TOL * scale) & (np.array(names_a) == np.array(names_b)))
    return {"same": same, "z_mid": 0.5 * (tA.pre[l][:, same] + tB.pre[l][:, same]), "h": ha[:, same],
            "scale": scale[same], "names": [names_a[i] for i in same]}


def _check_mutations(mutations) -> dict:
    if mutations is None:
        return {}
    if not isinstance(mutations, dict):
        raise InvalidOptionError(f"mutations must be a dict {{point: function}}, found {type(mutations).__name__}")
    for point, fn in mutations.items():
        if point not in MUTATION_POINTS:
            raise InvalidOptionError(f"unknown mutation point {point!r}; valid: {', '.join(MUTATION_POINTS)}")
        if not callable(fn):
            raise InvalidOptionError(f"mutation {point!r} must be callable (value -> value), found {fn!r}")
    return dict(mutations)

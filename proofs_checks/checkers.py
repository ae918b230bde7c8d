"""One checker per result (P1-P6, T1-T4): hypotheses, conclusion, verdict, numbers.

A checker measures the quantities a result speaks about on the given networks and
data, substitutes them into the registry's SymPy predicates
(:mod:`neuronid.theory.registry`), and returns a :class:`Check` whose verdict is

- ``holds``: the conclusion was tested on the numbers and holds (hypotheses hold or
  are undetermined);
- ``fails``: the conclusion fails while some hypothesis is undetermined;
- ``undetermined``: nothing could be tested (e.g. every realization failed);
- ``hypotheses not met``: a hypothesis fails (the conclusion is still reported: a
  failing conclusion here is what a counterexample shows);
- ``not applicable``: the result does not speak about these inputs (no masks for
  T1, a non-homogeneous activation for P6, ...), with the reason;
- ``theory violation``: every hypothesis holds and the conclusion fails beyond
  tolerance. This must never happen for a correct result; tests check it.

All checks share one :class:`CheckContext`, which computes each expensive quantity
(traces, layer costs, paths, certificates) once.

Every hypothesis in a verdict carries its measured value, its threshold and, when
it fails, by how much (``fails_by``); :meth:`Check.slack_lines` says it in one line.

Mutation hook (for ``neuronid selftest`` and for users extending the registry): a
checker must flag a planted defect of the computation it relies on. ``CheckContext``
takes ``mutations={point: function}``; at each point of :data:`MUTATION_POINTS` the
checker passes the measured quantity through ``ctx.mutate(point, value)``, which
returns ``function(value)`` (the identity when the point is not mutated). No code is
edited and nothing is monkeypatched: a mutation is data given to the context.

Tolerances (float64): identities that are exact in real arithmetic are compared with
a relative tolerance ``REL_TOL = 1e-9`` of the scale of the numbers involved (sums of
at most a few thousand products, each rounding at 1e-16 relative); statements about
functions of whole networks (T2) use ``FUNCTION_TOL = 1e-8`` relative, since rounding
accumulates through the layers.

>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> A = standard_mlp([4, 6, 3], seed=0)
>>> X = np.random.default_rng(0).normal(size=(40, 4)); y = np.arange(40) % 3
>>> ctx = CheckContext(A, A, X, y, loss="ce")
>>> [c.verdict for c in check_t2(ctx)]
['holds']
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from neuronid.numerics.activations import parse_activation
from neuronid.numerics.alignment import align
from neuronid.numerics.certificate import UNSUPPORTED_NORM, certified_barriers
from neuronid.numerics.correspondence import correspondence, relative_mismatch
from neuronid.numerics.costs import network_costs, squared_center_distances
from neuronid.numerics.io import to_jsonable
from neuronid.numerics.losses import check_loss, check_targets
from neuronid.numerics.network import Network, check_inputs
from neuronid.numerics.paths import linear_path
from neuronid.numerics.realization import Realizer
from neuronid.numerics.repair import repaired_path
from neuronid.theory.activations import get_activation
from neuronid.errors import InvalidOptionError, UnknownResultError
from neuronid.theory.registry import get_result

# _sample_masks: the T1 checker redraws the Monte Carlo's first masks to cross-check them
from .cost_checks import T1_HEAD, _sample_masks, confirm_p3, confirm_p4, p4_dot, t1_monte_carlo

REL_TOL = 1e-9
FUNCTION_TOL = 1e-8
#: P1 (cvxpy vs closed form): the issue's relative 1e-6 (solver tolerances 1e-10)
P1_REL_TOL = 1e-6
#: P6: the measured factor phi(t) is a ratio of sums of O(n o) products, each exact
#: up to 1e-16 relative; phi ~ 1, so 1e-9 is far above rounding, far below any defect.
P6_PHI_TOL = 1e-9
#: Cross-checks of a measured quantity against a direct recomputation from its
#: definition (anisotropy, coherence, explained variance, U^T U): all are O(1), in
#: [0, 1] or near it, and computed in float64 with errors ~1e-15 r; 1e-9 is far above
#: rounding and far below any defect worth reporting. A failed cross-check makes the
#: verdict ``undetermined`` (a defect of the computation, not of the theory).
CROSS_CHECK_TOL = 1e-9

VERDICTS = ("holds", "fails", "hypotheses not met", "not applicable", "theory violation", "undetermined")
CHECKED_RESULTS = ("P1", "P2", "P3", "P4", "P5", "P6", "T1", "T2", "T3", "T4")
#: P4's isotropy hypothesis ``||S - p I|| <= ISO_TOL``: S = U^T diag(m) U has
#: eigenvalues in [0, 1] whatever the weights' scale, and rounding in it is ~1e-15 r.
ISO_TOL = 1e-9

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


@dataclass
class Check:
    """The verdict of one result on one scope (a pair, or a layer of one run)."""

    id: str
    scope: str
    verdict: str
    hypotheses: dict = field(default_factory=dict)
    conclusion: dict = field(default_factory=dict)
    quantities: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    #: one-line context for the slack lines (e.g. "512/512 neurons in identity correspondence")
    context: str = ""
    #: what was found for a boolean hypothesis value, by value name, e.g.
    #: ``{"strictly_increasing": "activation gelu is non_monotone (decreasing on (-inf, -0.752))"}``
    explanations: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return to_jsonable({
            "id": self.id,
            "scope": self.scope,
            "verdict": self.verdict,
            "hypotheses": self.hypotheses,
            "conclusion": self.conclusion,
            "quantities": self.quantities,
            "notes": list(self.notes),
            "context": self.context,
            "slack": self.slack_lines(),
        })

    def slack_lines(self) -> list[str]:
        """One line per failing hypothesis: what was measured, the threshold and by how
        much it fails, e.g. ``T3 layer 0: H3_margin_exceeds_eps fails (gamma = 0 <= eps =
        1e-12, by 1e-12; 0/8 neurons in identity correspondence)``."""
        out = []
        for name, h in self.hypotheses.items():
            if h.get("holds") is not False:
                continue
            text = _atom_text(h.get("worst"), self.explanations)
            if self.context:
                text = f"{text}; {self.context}" if text else self.context
            out.append(f"{self.id} {self.scope}: {name} fails" + (f" ({text})" if text else ""))
        return out

    def conclusion_line(self) -> str:
        """The failing conclusion of a ``theory violation`` or ``fails`` verdict: what was
        measured, the threshold and by how much, e.g. ``P6 A layer 0 neuron 3: theory
        violation: conclusion fails (balanced_minimizer is False, expected True)``."""
        text = _atom_text(self.conclusion.get("worst"), self.explanations)
        return f"{self.id} {self.scope}: {self.verdict}: conclusion fails" + (f" ({text})" if text else "")


def _atom_text(atom, explanations=None) -> str:
    if not atom:
        return ""
    if atom["op"] == "is":  # a boolean: what was found and what the hypothesis expects
        name = atom["measured_expr"]
        text = f"{name} is {atom['measured']}, expected {atom['threshold']}"
        found = (explanations or {}).get(name)
        return f"{found}: {text}" if found else text
    neg = {"<=": ">", "<": ">=", ">=": "<", ">": "<=", "=": "!="}[atom["op"]]
    lhs, rhs = atom["measured_expr"], atom["threshold_expr"]
    right = rhs if _is_number(rhs) else f"{rhs} = {_g(atom['threshold'])}"
    text = f"{lhs} = {_g(atom['measured'])} {neg} {right}"
    if atom.get("fails_by"):
        text += f", by {_g(atom['fails_by'])}"
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _g(x) -> str:
    if x is None:
        return "?"
    if isinstance(x, bool):
        return str(x)
    return f"{x:.3g}"


def _plain(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return value


def _slack_fields(v) -> dict:
    """measured / threshold / fails_by of a verdict's decisive atom (registry atoms)."""
    w = v.worst
    if w is None:
        return {"measured": None, "threshold": None, "fails_by": None, "worst": None, "atoms": list(v.atoms)}
    return {"measured": w["measured"], "threshold": w["threshold"], "fails_by": w["fails_by"],
            "worst": w, "atoms": list(v.atoms)}


def evaluate(result_id: str, scope: str, values: dict, *, quantities=None, notes=(), context: str = "",
             explanations=None) -> Check:
    """Evaluate a result's registry predicates on ``values`` and decide the verdict.

    Each hypothesis entry carries ``holds``, ``status``, the substituted ``values``,
    and the decisive conjunct's ``measured``, ``threshold`` and ``fails_by`` (0 when
    it holds), with every conjunct under ``atoms``. ``explanations`` (value name ->
    text) say what was found for boolean values, for the slack lines."""
    result = get_result(result_id)
    values = {k: _plain(v) for k, v in values.items()}
    out = result.evaluate(values)
    hyps = {
        v.name: {"holds": {"holds": True, "fails": False}.get(v.status), "status": v.status,
                 "predicate": v.predicate, "values": v.values, "reason": v.reason, **_slack_fields(v)}
        for v in out["hypotheses"]
    }
    concl = out["conclusion"]
    conclusion = (
        {"status": "undetermined", "statement": result.conclusion, "reason": "no predicate"}
        if concl is None
        else {"status": concl.status, "statement": result.conclusion, "predicate": concl.predicate,
              "values": concl.values, "reason": concl.reason, **_slack_fields(concl)}
    )
    status = conclusion["status"]
    if out["all_hold"] is True and status == "fails":
        verdict = "theory violation"
    elif out["all_hold"] is False:
        verdict = "hypotheses not met"
    elif status in ("holds", "fails"):
        verdict = status
    else:
        verdict = "undetermined"
    return Check(result_id, scope, verdict, hyps, conclusion, dict(quantities or {}), list(notes), context,
                 dict(explanations or {}))


def not_applicable(result_id: str, scope: str, reason: str, quantities=None) -> Check:
    return Check(result_id, scope, "not applicable", {}, {"status": "not evaluated", "reason": reason},
                 dict(quantities or {}), [reason])


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
    """

    def __init__(self, A: Network, B: Network, X, y, *, loss: str, tau: float = 0.9, steps: int = 21,
                 align=("activation", "weight"), X_support=None, max_support_points: int = 4096,
                 names=("A", "B"), seed: int = 0, progress: bool = False, X_align=None, repair: bool = False,
                 mutations=None):
        self.mutations = _check_mutations(mutations)
        self.A, self.B = A, B
        self.loss = check_loss(loss)
        self.X = check_inputs(X, A.n_inputs)
        self.y = check_targets(loss, y, A.n_outputs, self.X.shape[0])
        Xs = self.X if X_support is None else check_inputs(X_support, A.n_inputs, name="X_support")
        if Xs.shape[0] > max_support_points:
            idx = np.sort(np.random.default_rng(seed).choice(Xs.shape[0], max_support_points, replace=False))
            Xs = Xs[idx]
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
    def traces(self):
        """Recorded forward passes of A and B on the support data ``Xs``."""
        return self._record(self.Xs)

    def _record(self, X) -> list:
        """``[trace_A, trace_B]`` on ``X``; one pass when B is A."""
        tA = self.A.forward(X, record=True)
        return [tA, tA if self.B is self.A else self.B.forward(X, record=True)]

    @cached_property
    def eval_traces(self):
        """Recorded forward passes of A and B on the evaluation data ``X`` (one per
        network, shared by alignment, P5 and T2; the support passes when ``Xs is X``)."""
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
    def costs(self) -> list[list]:
        """``costs[run][layer]``: :class:`~neuronid.numerics.costs.LayerCosts`."""
        out = []
        for net, trace in zip((self.A, self.B), self.traces):
            # one pass per network; consecutive layers share supports and shape matrices
            out.append(network_costs(net, trace=trace, tau=self.tau, progress=self.progress))
        return out

    @cached_property
    def correspondences(self) -> list:
        if not self.sizes_equal:
            return []
        return [correspondence(self.A, self.B, self.Xs, l, traces=self.traces) for l in range(self.n_hidden)]

    # --- paths ----------------------------------------------------------------------
    @cached_property
    def paths(self) -> dict:
        """``{"unaligned": certified_barriers dict, "activation": ..., "weight": ...}``
        (each with ``"path"``, ``"bound"``, ``"measured"``, ``"tightness"``), plus
        ``"alignment"`` details for aligned ones."""
        out = {}
        if not self.sizes_equal:
            return out
        hook = (lambda name, v: self.mutate(f"T4.{name}", v)) if self.mutations else None
        out["unaligned"] = certified_barriers(self.A, self.B, self.X, self.y, loss=self.loss, steps=self.steps,
                                              hook=hook)
        for method in self.align:
            options = ({"X_align": self.X_align, "similarity": "correlation", "align_traces": self.align_traces}
                       if method == "activation" else {"seed": self.seed})
            # certified_barriers measures the aligned path itself: align only
            alignment = align(self.A, self.B, self.X, method=method, trace_B=self.eval_traces[1], **options)
            entry = certified_barriers(self.A, alignment.network, self.X, self.y, loss=self.loss, steps=self.steps,
                                       hook=hook)
            entry["alignment"] = alignment.to_json()
            entry["aligned_network"] = alignment.network
            out[method] = entry
        return out

    @cached_property
    def repaired_paths(self) -> dict:
        """``{"unaligned+repair": PathResult JSON, ...}`` when ``repair`` (else empty):
        each path REPAIRed with statistics on ``X_align`` (THEORY N3)."""
        if not (self.repair and self.sizes_equal):
            return {}
        out = {}
        for name, entry in self.paths.items():
            B = entry.get("aligned_network", self.B)
            out[f"{name}+repair"] = repaired_path(self.A, B, self.X, self.y, X_align=self.X_align, loss=self.loss,
                                                  steps=self.steps, allow_structure_mismatch=True).to_json()
        return out

    def scope(self, run: int, layer: int) -> str:
        return f"{self.names[run]} layer {layer}"


# ----------------------------------------------------------------------------- helpers
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


def _monotone(names) -> str:
    """Weakest monotonicity class of a set of activation names."""
    classes = {get_activation(n).monotone for n in set(names)}
    for label in ("non_monotone", "non_decreasing", "strictly_increasing"):
        if label in classes:
            return label
    return "strictly_increasing"


def _monotone_text(names, wanted: str) -> str:
    """What was found for a monotonicity hypothesis (``wanted``: ``strictly_increasing``
    or ``non_decreasing``): the activations that miss it, with their decreasing intervals."""
    order = {"strictly_increasing": 2, "non_decreasing": 1, "non_monotone": 0}
    parts = []
    for n in dict.fromkeys(names):
        act = get_activation(n)
        if order[act.monotone] >= order[wanted]:
            continue
        text = f"activation {n} is {act.monotone.replace('_', ' ')}"
        dec = act.decreasing_intervals
        if dec:
            text += " (decreasing on " + ", ".join(f"({_g(lo)}, {_g(hi)})" for lo, hi in dec) + ")"
        elif act.monotone == "non_decreasing":
            text += " (constant on an interval)"
        parts.append(text)
    return "; ".join(parts) or f"activations {', '.join(dict.fromkeys(names))}"


def _neuron_names(layer) -> list:
    """The activation of each neuron's *function* (THEORY N1): with a normalization after
    the linear map a neuron's function is its pre-activation ``z_i``, i.e. the identity."""
    return ["identity"] * layer.shape[0] if layer.norm is not None else list(layer.names)


def _hidden_monotone(net: Network) -> str:
    return _monotone([n for layer in net.layers[:-1] for n in layer.names])


def _runs(ctx: CheckContext):
    """Distinct runs to check per-network results on (A, and B unless it is A)."""
    return [0] if ctx.B is ctx.A else [0, 1]


def _finite_scale(*arrays) -> float:
    vals = [float(np.max(np.abs(a[np.isfinite(a)]))) for a in arrays if np.any(np.isfinite(a))]
    return max(vals, default=0.0)


def _direct_anisotropy(U: np.ndarray, mask_row: np.ndarray, p: float) -> float:
    """``||U^T diag(m) U - p I||_2`` straight from the definition (spectral norm of the
    r x r matrix; independent of the eigenvalue route of the cost computation)."""
    return float(np.linalg.norm(U.T @ (mask_row[:, None] * U) - p * np.eye(U.shape[1]), 2))


def _anisotropy_defects(ctx: CheckContext, run: int, l: int, eps: np.ndarray, neurons) -> list[str]:
    """Cross-check the anisotropies ``eps`` the checker uses at ``neurons`` (the ones
    its verdict rests on, plus the extremes) against :func:`_direct_anisotropy`."""
    lc = ctx.costs[run][l]
    U, mask = lc.support.U, (ctx.A, ctx.B)[run].layers[l].mask
    if U.shape[1] == 0 or eps.size == 0:
        return []
    out = []
    for i in dict.fromkeys([int(n) for n in neurons] + [int(np.argmax(eps)), int(np.argmin(eps))]):
        direct = _direct_anisotropy(U, mask[i], lc.eff.p)
        if not abs(float(eps[i]) - direct) <= CROSS_CHECK_TOL:
            out.append(f"anisotropy of neuron {i} is {_g(float(eps[i]))}, but ||U^T diag(m_{i}) U - p I|| = "
                       f"{_g(direct)} from the definition")
    return out


def _support_defects(ctx: CheckContext, run: int, l: int, sup) -> list[str]:
    """Cross-check a layer's support against its definition (D1): ``U`` orthonormal with
    ``rank`` columns, ``coherence = max_k ||U^T e_k||^2`` in ``[r/d, 1]``, and the
    explained variance of the centered layer inputs on ``U`` as recorded."""
    U, r = np.asarray(sup.U, dtype=np.float64), int(sup.rank)
    if U.ndim != 2 or U.shape[1] != r:
        return [f"support basis has shape {U.shape} but rank {r}"]
    if r == 0:
        return []
    out = []
    ortho = float(np.max(np.abs(U.T @ U - np.eye(r))))
    if not ortho <= CROSS_CHECK_TOL:
        out.append(f"support basis is not orthonormal (max |U^T U - I| = {_g(ortho)})")
    nu_direct = float(np.max(np.sum(U * U, axis=1)))
    d = U.shape[0]
    if not abs(sup.coherence - nu_direct) <= CROSS_CHECK_TOL:
        out.append(f"coherence {_g(sup.coherence)} differs from max_k ||U^T e_k||^2 = {_g(nu_direct)}")
    if not r / d - CROSS_CHECK_TOL <= sup.coherence <= 1.0 + CROSS_CHECK_TOL:
        out.append(f"coherence {_g(sup.coherence)} outside [r/d, 1] = [{_g(r / d)}, 1] (impossible for an "
                   "orthonormal basis)")
    centered = ctx.traces[run].inputs[l] - sup.xbar
    total = float(np.sum(centered ** 2))
    if total > 0:
        ev = float(np.sum((centered @ U) ** 2)) / total
        if not abs(ev - sup.explained_variance) <= CROSS_CHECK_TOL:
            out.append(f"explained variance on U is {_g(ev)}, recorded {_g(sup.explained_variance)}")
    return out


def _with_defects(check: Check, defects: list[str]) -> Check:
    """``check`` made ``undetermined`` when a measurement it rests on failed its
    cross-check: the number is wrong, so neither ``holds`` nor a theory verdict can be
    trusted; the reason goes into the conclusion and the notes."""
    if not defects:
        return check
    reason = "measurement failed its cross-check: " + "; ".join(defects)
    check.verdict = "undetermined"
    check.conclusion = {**check.conclusion, "status": "undetermined", "reason": reason}
    check.notes.append(reason + " (a defect of the computation, not of the theory)")
    check.context = f"{reason}; {check.context}" if check.context else reason
    return check


# ----------------------------------------------------------------------------- P1
def check_p1(ctx: CheckContext, *, max_pairs: int = 4, max_points: int = 200) -> list[Check]:
    """P1 on the first hidden layer of each run: cvxpy realization cost (D2) of a few
    neurons' functions by other neurons against the closed form, on the exact span
    (tau = 1) of a subset of the layer's inputs."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        layer = net.layers[0]
        scope = ctx.scope(run, 0)
        names = _neuron_names(layer)
        mono = _monotone(names)
        values = {"strictly_increasing": mono == "strictly_increasing", "tau": 1, "beta_b": 0,
                  "rel_tol": P1_REL_TOL}
        quantities = {"activation_class": mono}
        if layer.norm is not None:
            quantities["normalization"] = "neuron functions are the pre-activations z (THEORY N1)"
        if mono != "strictly_increasing" or len(set(names)) > 1:
            quantities["note"] = "conclusion not computed: P1's closed form needs one strictly increasing activation"
            why = {"strictly_increasing": _monotone_text(names, "strictly_increasing")}
            checks.append(evaluate("P1", scope, values, quantities=quantities, explanations=why))
            continue
        pts = ctx.traces[run].inputs[0]
        if pts.shape[0] > max_points:
            pts = pts[np.sort(np.random.default_rng(ctx.seed).choice(pts.shape[0], max_points, replace=False))]
        from neuronid.numerics.costs import closed_form_cost
        from neuronid.numerics.supports import compute_support, shape_matrices

        sup = compute_support(pts, tau=1.0)
        W = layer.effective_weight()
        m = W.shape[0]
        rng = np.random.default_rng(ctx.seed)
        pairs = [(int(i), int(j)) for i, j in rng.integers(0, m, size=(max_pairs, 2))]
        worst, rows = None, []
        act = names[0]
        trace = net.forward(pts, record=True)
        h_all = trace.pre[0] if layer.norm is not None else trace.inputs[1]
        for i, j in pairs:
            S = shape_matrices(layer.mask[i][None, :], sup.U)[0]
            closed = float(ctx.mutate("P1.closed_form", closed_form_cost(S, sup.U.T @ layer.fixed[i], sup.U.T @ W[j])))
            res = Realizer(pts, activation=act, mask=layer.mask[i], fixed=layer.fixed[i]).realize(h_all[:, j])
            solver_cost = res.cost if res.status in ("optimal", "optimal_inaccurate", "infeasible") else math.nan
            solver_cost = float(ctx.mutate("P1.solver_cost", solver_cost))
            row = {"i": i, "j": j, "closed_form": closed, "cvxpy": solver_cost, "status": res.status}
            rows.append(row)
            if math.isinf(closed) and math.isinf(solver_cost):
                err = 0.0
            elif math.isfinite(closed) and math.isfinite(solver_cost):
                err = abs(solver_cost - closed) / max(1.0, abs(closed))
            else:
                err = math.inf
            if worst is None or err > worst[0]:
                worst = (err, closed, solver_cost)
        quantities["pairs"] = rows
        quantities["support_points"] = int(pts.shape[0])
        _, closed, solver_cost = worst
        if math.isinf(closed) and math.isinf(solver_cost):  # both unrealizable: agreement
            closed = solver_cost = 0.0
            quantities["note"] = "worst pair: both report unrealizable (inf)"
        values.update({"cost_solver": solver_cost, "cost_closed_form": closed})
        checks.append(evaluate("P1", scope, values, quantities=quantities))
    return checks


# ----------------------------------------------------------------------------- P2-P4
def _layer_facts(net: Network, l: int) -> dict:
    layer = net.layers[l]
    return {
        "trainable_fraction": float(layer.mask.mean()),
        "fixed_norm": float(np.linalg.norm(layer.fixed)),
        "same_activation": len(set(_neuron_names(layer))) == 1,
    }


def _activation_text(net: Network, l: int) -> dict:
    """What was found for ``same_activation``: the layer's distinct neuron activations."""
    return {"same_activation": "layer mixes activations " + ", ".join(dict.fromkeys(_neuron_names(net.layers[l])))}


def check_p2(ctx: CheckContext) -> list[Check]:
    """P2 per hidden layer and run: ``Delta_in = 0`` for standard layers."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        for l in range(ctx.n_hidden):
            lc = ctx.costs[run][l]
            facts = _layer_facts(net, l)
            K, D = ctx.layer_K(run, l)
            scale = _finite_scale(K)
            max_d = float(np.max(np.abs(D[np.isfinite(D)]), initial=0.0)) if np.any(np.isfinite(D)) else math.inf
            aa = np.sum(lc.eff.A ** 2, axis=1)
            k, j = _worst_entry(np.abs(K - aa[None, :]))
            values = {**facts, "delta_in": max_d, "K_kj": K[k, j], "sqnorm_a_j": aa[j],
                      "tol": REL_TOL * max(scale, 1e-300)}
            q = {"max_abs_K": scale, "gamma": lc.gamma, "median_delta": lc.summary()["median_delta"]}
            checks.append(evaluate("P2", ctx.scope(run, l), values, quantities=q,
                                   explanations=_activation_text(net, l)))
    return checks


def check_p3(ctx: CheckContext) -> list[Check]:
    """P3 per hidden layer and run, both conclusions, each at the entry closest to
    violating it (largest ratio to its bound) among neurons with ``eps < p``: the cost
    bound ``|K[k,j] - ||a_j||^2/p| <= ||a_j||^2 eta_k`` and the swap bound on
    ``|Delta_in(i, j)|``."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        for l in range(ctx.n_hidden):
            lc = ctx.costs[run][l]
            K, D = ctx.layer_K(run, l)
            eps = ctx.layer_anisotropy(run, l)
            facts = _layer_facts(net, l)
            summary = {**_p3_worst_pair(lc, D, eps), **_p3_worst_entry(lc, K, eps)}
            q = {k: v for k, v in confirm_p3(net, None, l, costs=lc, K=K, delta_in=D, eig_tol=ISO_TOL).items()
                 if k not in ("result", "layer")}
            values = {"fixed_norm": facts["fixed_norm"], "same_activation": facts["same_activation"],
                      **summary, "tol": REL_TOL * max(_finite_scale(K), 1e-300), "iso_tol": ISO_TOL}
            context = (f"{q['K_violations']}/{q['K_entries_checked']} K entries and {q['delta_violations']}/"
                       f"{q['delta_pairs_checked']} pairs outside the bounds; {q['applicable_neurons']}/"
                       f"{q['neurons']} neurons with eps < p")
            check = evaluate("P3", ctx.scope(run, l), values, quantities=q, context=context,
                             explanations=_activation_text(net, l))
            used = summary.get("pair", []) + summary.get("entry", [])[:1]
            checks.append(_with_defects(check, _anisotropy_defects(ctx, run, l, eps, used)))
    return checks


def _worst_entry(dev) -> tuple[int, int]:
    """Index of the largest entry of a deviation matrix (nan counts as largest: a
    deviation that cannot be computed is not a pass)."""
    dev = np.where(np.isnan(dev), np.inf, dev)
    k, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
    return int(k), int(j)


def _p3_eta(lc, eps):
    """``eta = eps / (p (p - eps))`` for neurons with ``eps < p - ISO_TOL`` (P3's H4), else inf."""
    p = lc.eff.p
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p - eps > ISO_TOL, eps / (p * (p - eps)), np.inf)


def _p3_worst_pair(lc, D, eps) -> dict:
    p = lc.eff.p
    aa = np.sum(lc.eff.A ** 2, axis=1)
    m = aa.size
    if m < 2:
        return {"p": p, "eps_i": eps[0] if m else 0.0, "eps_j": eps[0] if m else 0.0,
                "aniso_i": eps[0] if m else 0.0, "aniso_j": eps[0] if m else 0.0,
                "delta_in": 0.0, "norm_a_i": 0.0, "norm_a_j": 0.0}
    eta = _p3_eta(lc, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (eta[:, None] + eta[None, :]) * (aa[:, None] + aa[None, :])
        ratio = np.abs(D) / bound
    ratio = np.where(np.isfinite(bound) & (bound > 0) & ~np.isnan(ratio), ratio, -np.inf)
    # a zero bound with a nonzero Delta_in is the worst case of all
    ratio = np.where((bound == 0) & (np.abs(D) > 0), np.inf, ratio)
    np.fill_diagonal(ratio, -np.inf)
    if np.all(ratio == -np.inf):  # no applicable pair: report the most anisotropic neurons
        order = np.argsort(-eps)
        i, j = int(order[0]), int(order[1])
    else:
        i, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return {"p": p, "eps_i": eps[i], "eps_j": eps[j], "aniso_i": eps[i], "aniso_j": eps[j],
            "delta_in": D[i, j], "norm_a_i": math.sqrt(aa[i]), "norm_a_j": math.sqrt(aa[j]),
            "pair": [int(i), int(j)]}


def _p3_worst_entry(lc, K, eps) -> dict:
    """The entry ``K[k, j]`` with the largest ``|K - ||a_j||^2/p| / (||a_j||^2 eta_k)``."""
    p = lc.eff.p
    aa = np.sum(lc.eff.A ** 2, axis=1)
    if aa.size == 0:
        return {"eps_k": 0.0, "aniso_k": 0.0, "K_kj": 0.0, "sqnorm_a_j": 0.0}
    eta = _p3_eta(lc, eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.abs(K - aa[None, :] / p)
        bound = aa[None, :] * eta[:, None]
        ratio = dev / bound
    ratio = np.where(np.isfinite(bound) & (bound > 0) & ~np.isnan(ratio), ratio, -np.inf)
    ratio = np.where(np.isfinite(bound) & (bound == 0) & (dev > 0), np.inf, ratio)
    if np.all(ratio == -np.inf):
        k = int(np.argmax(eps))
        j = 0
    else:
        k, j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
    return {"eps_k": eps[k], "aniso_k": eps[k], "K_kj": K[k, j], "sqnorm_a_j": aa[j], "entry": [int(k), int(j)]}


def check_p4(ctx: CheckContext) -> list[Check]:
    """P4 per hidden layer and run: ``Delta_in = (2/p)(a_i - a_j).(v_i - v_j)`` at
    the pair with the largest deviation (exact when ``S_i = p I``, e.g. syre). The
    isotropy hypothesis uses the dimensionless tolerance :data:`ISO_TOL`."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        for l in range(ctx.n_hidden):
            lc = ctx.costs[run][l]
            if lc.K.shape[0] < 2:
                continue
            K, D = ctx.layer_K(run, l)
            eps = ctx.layer_anisotropy(run, l)
            p = lc.eff.p
            A = lc.eff.A
            V = np.asarray(ctx.mutate("P4.centers", lc.eff.V.copy()), dtype=np.float64)
            dot = p4_dot(A, V)  # once: shared with the numeric confirmation below
            q = {k: v for k, v in confirm_p4(net, None, l, costs=lc, K=K, delta_in=D, V=V, dot=dot).items()
                 if k not in ("result", "layer")}
            dev = np.abs(D - (2.0 / p) * dot)
            np.fill_diagonal(dev, -np.inf)
            # unrealizable swaps (inf: only between neurons with different activations, since
            # S = p I realizes every target) are outside P4's setting
            dev = np.where(np.isfinite(dev), dev, -np.inf)
            i, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
            scale = max(_finite_scale(K), float(np.max(np.abs(dot))), 1e-300)
            # K[k, j] = ||a_j - v_k||^2 / p where S_k = p I (P1); worst entry among finite ones
            G = squared_center_distances(A, V)  # G[k, j] = ||a_j - v_k||^2, streamed
            iso = eps <= ISO_TOL
            # (unrealizable entries, inf, occur only between different activations: outside P4)
            kd = np.where(iso[:, None] & np.isfinite(K), np.abs(K - G / p), -np.inf)
            k, jk = _worst_entry(kd)
            values = {"aniso_i": eps[i], "aniso_j": eps[j], "p": p, "iso_tol": ISO_TOL,
                      "delta_in": D[i, j], "dot_av": dot[i, j], "K_kj": K[k, jk], "sqnorm_g_kj": G[k, jk],
                      "tol": REL_TOL * scale}
            q["K_entry"] = [int(k), int(jk)]
            q["pair"] = [int(i), int(j)]
            top = int(np.argmax(eps))
            which = "worst pair" if np.isfinite(dev[i, j]) else "no pair with a finite Delta_in; pair"
            context = (f"{which} (i, j) = ({i}, {j}): aniso_i = {_g(eps[i])} (neuron {i}), aniso_j = "
                       f"{_g(eps[j])} (neuron {j}); max anisotropy {_g(eps[top])} at neuron "
                       f"{top} of {lc.K.shape[0]}; K entry (k, j) = ({k}, {jk})")
            check = evaluate("P4", ctx.scope(run, l), values, quantities=q, context=context)
            checks.append(_with_defects(check, _anisotropy_defects(ctx, run, l, eps, [i, j, k])))
    return checks


# ----------------------------------------------------------------------------- P5
def check_p5(ctx: CheckContext, *, neurons: int = 2, max_points: int = 128) -> list[Check]:
    """P5 per hidden layer of A: two realizations of a neuron's function (the trained
    parameters and the min-norm realization from cvxpy, D2) and their midpoint;
    convexity means the midpoint realizes the same function on the support. Where B's
    neuron computes the same function on the same inputs, A's and B's parameters are a
    second pair of realizations and their midpoint is tested too."""
    checks = []
    net = ctx.A
    for l in range(ctx.n_hidden):
        layer = net.layers[l]
        names = _neuron_names(layer)
        mono = _monotone(names)
        pts = ctx.traces[0].inputs[l]
        if pts.shape[0] > max_points:
            pts = pts[np.sort(np.random.default_rng(ctx.seed).choice(pts.shape[0], max_points, replace=False))]
        W = layer.effective_weight()
        worst = 0.0
        rows = []
        tested = 0
        for i in range(min(neurons, W.shape[0])):
            act = names[i]
            z = pts @ W[i] + layer.bias[i]
            h = _act_numpy(act, z)
            res = Realizer(pts, activation=act, mask=layer.mask[i], fixed=layer.fixed[i]).realize(h, z_hint=z)
            res = ctx.mutate("P5.realization", res)
            if res.theta is None or res.bias is None:
                rows.append({"neuron": i, "status": res.status})
                continue
            w2 = layer.mask[i] * res.theta + layer.fixed[i]
            z_mid = pts @ (0.5 * (W[i] + w2)) + 0.5 * (layer.bias[i] + res.bias)
            h2 = _act_numpy(act, pts @ w2 + res.bias)
            err_2 = float(np.max(np.abs(h2 - h)))
            h_mid = np.asarray(ctx.mutate("P5.midpoint", _act_numpy(act, z_mid)), dtype=np.float64)
            err_mid = float(np.max(np.abs(h_mid - h)))
            scale = max(float(np.max(np.abs(h))), 1.0)
            rows.append({"neuron": i, "status": res.status, "second_realization_error": err_2,
                         "midpoint_error": err_mid, "scale": scale})
            if err_2 <= 1e-6 * scale:  # a genuine second realization (solver tolerance)
                worst = max(worst, err_mid / scale)
                tested += 1
        pair = _p5_pair_midpoints(ctx, l)
        worst = max(worst, pair["max_relative_midpoint_error"])
        tested += pair["neurons_compared"]
        values = {"nondecreasing": mono != "non_monotone"}
        if tested:  # nothing tested: the conclusion stays undetermined (no value)
            values["realization_set_convex"] = worst <= 1e-6
        q = {"activation_class": mono, "neurons": rows, "max_relative_midpoint_error": worst,
             "tolerance": 1e-6, "support_points": int(pts.shape[0]), "pair_test": pair, "neurons_tested": tested}
        notes = ["midpoint test of two realizations; relative tolerance 1e-6 "
                 "(cvxpy solves at 1e-10, residuals amplified by |sigma'| <= Lip)"]
        if not tested:
            notes.append("no neuron could be tested (no second realization found): undetermined")
        checks.append(evaluate("P5", ctx.scope(0, l), values, quantities=q, notes=notes,
                               context=f"{tested} neurons tested, max relative midpoint error {worst:.3g}"))
    return checks


def _p5_pair_midpoints(ctx: CheckContext, l: int) -> dict:
    """P5 on the pair: where A and B feed layer ``l`` the same inputs and neuron ``i``
    computes the same function in both, ``(theta_A + theta_B) / 2`` realizes it too
    when the activation is non-decreasing."""
    out = {"neurons_compared": 0, "max_relative_midpoint_error": 0.0}
    if ctx.B is ctx.A or not ctx.sizes_equal:
        out["note"] = "no second network of the same sizes"
        return out
    tA, tB = ctx.eval_traces
    xa, xb = tA.inputs[l], tB.inputs[l]
    if np.max(_column_max_abs(xa, xb)) > FUNCTION_TOL * max(float(np.max(_column_max_abs(xa))), 1.0):
        out["note"] = f"A and B feed layer {l} different inputs: realizations are not comparable"
        return out
    la, lb = ctx.A.layers[l], ctx.B.layers[l]
    normed = la.norm is not None or lb.norm is not None
    ha, hb = (tA.pre[l], tB.pre[l]) if normed else (tA.inputs[l + 1], tB.inputs[l + 1])
    names_a, names_b = _neuron_names(la), _neuron_names(lb)
    scale = np.maximum(_column_max_abs(ha), 1.0)
    same = (_column_max_abs(ha, hb) <= FUNCTION_TOL * scale) & (np.array(names_a) == np.array(names_b))
    worst = 0.0
    for i in np.flatnonzero(same):
        z_mid = 0.5 * (tA.pre[l][:, i] + tB.pre[l][:, i])
        h_mid = np.asarray(ctx.mutate("P5.midpoint", _act_numpy(names_a[i], z_mid)), dtype=np.float64)
        err = float(np.max(np.abs(h_mid - ha[:, i]))) / scale[i]
        worst = max(worst, err)
    out.update({"neurons_compared": int(np.sum(same)), "max_relative_midpoint_error": worst})
    return out


def _column_max_abs(a: np.ndarray, b: np.ndarray | None = None, block: int = 1024) -> np.ndarray:
    """Per column, ``max |a - b|`` over the rows (``max |a|`` without ``b``), in blocks
    of rows: no full-size temporary (a max is exact, so the result does not depend on
    the blocks; NaN propagates as with ``np.max``)."""
    out = np.full(a.shape[1], -np.inf)
    for start in range(0, a.shape[0], block):
        part = a[start:start + block]
        diff = np.abs(part if b is None else part - b[start:start + block])
        np.maximum(out, np.max(diff, axis=0, initial=-np.inf), out=out)
    return out


def _act_numpy(name: str, z: np.ndarray) -> np.ndarray:
    from neuronid.numerics.activations import apply_activation

    return apply_activation(name, z)


# ----------------------------------------------------------------------------- P6
def check_p6(ctx: CheckContext, *, alpha: float = 2.0) -> list[Check]:
    """P6 on A: rescale the most active neuron of the first hidden layer by ``alpha``.
    The conclusion tested: the function is unchanged (relative ``FUNCTION_TOL``), the
    path from A to the rescaled A multiplies the neuron's contribution by a measured
    factor equal to ``phi(t) = 1 + t(1-t)(alpha + 1/alpha - 2)`` (``|error| <=``
    ``P6_PHI_TOL``) with ``phi >= 1``, and the orbit's norm cost is minimal at the
    balanced point (on a log-spaced grid of scales around it)."""
    net = ctx.A
    layer = net.layers[0]
    X = ctx.Xs
    H = ctx.traces[0].inputs[1]
    weight_out = np.linalg.norm(net.layers[1].effective_weight(), axis=0)
    k = int(np.argmax(np.linalg.norm(H, axis=0) * weight_out))
    name = layer.names[k]
    act = parse_activation(name)
    homogeneous = act.name == "relu" or act.name.startswith("leaky_relu")
    scope = ctx.scope(0, 0) + f" neuron {k}"
    if layer.norm is not None:
        return [not_applicable("P6", scope, f"layer 0 has a {layer.norm.kind} norm: rescaling one neuron's "
                                            "parameters changes the normalized outputs (THEORY N1; N2 is the "
                                            "norm's own scale symmetry)")]
    if not homogeneous:
        return [not_applicable("P6", scope, f"activation {name!r} is not positively homogeneous of degree 1")]
    if np.linalg.norm(H[:, k]) * weight_out[k] == 0.0:
        return [not_applicable("P6", scope, "every neuron of layer 0 contributes nothing on the data")]
    sigma = ctx.mutate("P6.activation", lambda z: _act_numpy(name, z))
    B = net.copy()
    B.layers[0].weight[k] *= alpha
    B.layers[0].fixed[k] *= alpha
    B.layers[0].bias[k] *= alpha
    B.layers[1].weight[:, k] /= alpha
    B.layers[1].fixed[:, k] /= alpha
    B = ctx.mutate("P6.rescaled", B)
    out_A = net(X)
    same = float(np.max(np.abs(out_A - B(X))))
    out_scale = max(float(np.max(np.abs(out_A))), 1e-300)
    # contribution of neuron k to the next layer along the path
    W0A, W0B = net.layers[0].effective_weight()[k], B.layers[0].effective_weight()[k]
    cA, cB = net.layers[1].effective_weight()[:, k], B.layers[1].effective_weight()[:, k]
    bA, bB = net.layers[0].bias[k], B.layers[0].bias[k]
    ts = np.linspace(0.0, 1.0, 21)
    base = np.outer(_act_numpy(name, X @ W0A + bA), cA)
    norm_base = float(np.linalg.norm(base))
    factors, formula, residuals = [], [], []
    for t in ts:
        h = sigma(X @ ((1 - t) * W0A + t * W0B) + (1 - t) * bA + t * bB)
        contrib = np.outer(h, (1 - t) * cA + t * cB)
        phi_t = 1.0 + t * (1 - t) * (alpha + 1.0 / alpha - 2.0)
        factors.append(float(np.sum(contrib * base) / max(norm_base ** 2, 1e-300)))
        formula.append(phi_t)
        # the whole contribution, not only its projection on the base, is phi(t) times it
        residuals.append(float(np.linalg.norm(contrib - phi_t * base)) / max(norm_base, 1e-300))
    factor_error = max(float(np.max(np.abs(np.array(factors) - np.array(formula)))), max(residuals))
    # balanced point: minimize (|c|/s)^2 + s^2 ||(w, b)||^2 over s > 0
    c2 = float(np.sum(cA ** 2))
    wb2 = float(np.sum(W0A ** 2) + bA ** 2)
    s_star = (c2 / wb2) ** 0.25 if wb2 > 0 and c2 > 0 else 1.0
    grid = s_star * np.exp(np.linspace(-1, 1, 201))  # s_star is the middle point
    # measured: the squared norms of the rescaled parameters (c/s, s w, s b) themselves
    wb = np.append(W0A, bA)
    measured = np.sum((cA[None, :] / grid[:, None]) ** 2, axis=1) + np.sum((grid[:, None] * wb[None, :]) ** 2, axis=1)
    costs = np.asarray(ctx.mutate("P6.norm_cost", measured), dtype=np.float64)
    # THEORY P6: along the orbit the cost is c2/s^2 + s^2 ||(w, b)||^2, minimal (2 sqrt(c2 wb2))
    # at the balanced s_star; the whole curve is compared, not only its argmin (a curve x 2 or
    # tilted 2 % keeps the argmin). Sums of squares: rounding ~1e-16 relative, tolerance P6_PHI_TOL.
    closed = c2 / grid ** 2 + grid ** 2 * wb2
    curve_error = float(np.max(np.abs(costs - closed) / np.maximum(closed, 1e-300))) if costs.shape == closed.shape \
        else math.inf
    balanced = bool(int(np.argmin(costs)) == 100) and curve_error <= P6_PHI_TOL
    # phi(0) = phi(1) = 1 by definition; the claim phi >= 1 is about the interior
    values = {"alpha": alpha, "homogeneous_degree_one": True, "phi": min(factors[1:-1]),
              "phi_error": factor_error, "tol": P6_PHI_TOL, "function_change": same / out_scale,
              "function_tol": FUNCTION_TOL, "balanced_minimizer": balanced}
    q = {"function_change": same, "relative_function_change": same / out_scale, "phi_measured": factors,
         "phi_formula": formula, "max_phi_error": factor_error, "max_relative_residual": max(residuals),
         "balanced_scale": s_star,
         "balanced_is_grid_minimum": balanced, "norm_cost_curve_relative_error": curve_error,
         "norm_cost_at_alpha": c2 / alpha ** 2 + alpha ** 2 * wb2, "norm_cost_balanced": 2 * math.sqrt(c2 * wb2)}
    return [evaluate("P6", scope, values, quantities=q,
                     explanations={"balanced_minimizer": f"measured norm-cost curve: argmin at grid point "
                                   f"{int(np.argmin(costs))} (balanced point: 100), max relative deviation from "
                                   f"c2/s^2 + s^2 ||(w, b)||^2 {_g(curve_error)} (tolerance {P6_PHI_TOL:g})"},
                     notes=[f"phi(t) measured from the neuron's contribution (projection on the base and the "
                            f"relative residual ||contrib_t - phi(t) base|| / ||base||); max deviation from the "
                            f"formula {factor_error:.2e} (exact identity: rounding only, tolerance {P6_PHI_TOL:g})"])]


# ----------------------------------------------------------------------------- T1
def check_t1(ctx: CheckContext, *, delta: float = 0.05, n_masks: int = 400) -> list[Check]:
    """T1 per hidden layer with random masks (0 < p < 1): Monte Carlo over Bernoulli
    masks on the layer's own support, plus the measured anisotropy of its real masks."""
    checks = []
    for run in _runs(ctx):
        net = (ctx.A, ctx.B)[run]
        for l in range(ctx.n_hidden):
            lc = ctx.costs[run][l]
            sup = ctx.layer_support(run, l)
            eps = ctx.layer_anisotropy(run, l)
            p = lc.eff.p
            scope = ctx.scope(run, l)
            if p >= 1.0:
                checks.append(not_applicable("T1", scope, "all weights trainable (p = 1): no random mask"))
                continue
            if sup.rank == 0:
                checks.append(not_applicable("T1", scope, "the support has rank 0"))
                continue
            hook = (lambda name, v: ctx.mutate(f"T1.{name}", v)) if ctx.mutations else None
            mc = t1_monte_carlo(sup.U, p, delta, model="bernoulli", n_masks=n_masks,
                                rng=np.random.default_rng([ctx.seed, run, l]), hook=hook)
            values = {"p": p, "delta": delta, "nu": sup.coherence, "r": sup.rank,
                      "d": sup.dim, "violation_rate": mc["violation_rate"],
                      "sampling_margin": mc["allowed"] - delta}
            q = {"monte_carlo": mc, "power": mc["power"], "layer_mask_model": lc.t1["mask_model"],
                 "layer_bound": lc.t1["bound"], "layer_max_anisotropy": float(np.max(eps)),
                 "layer_violations": lc.t1["violations"]}
            notes = [f"power = (1 - delta) quantile / bound = {mc['power']:.3g}: a bound multiplied by any "
                     f"factor above {mc['power']:.3g} would still pass this Monte Carlo test"]
            check = evaluate("T1", scope, values, quantities=q, notes=notes,
                             context=f"power {mc['power']:.3g}, coherence {sup.coherence:.3g}")
            defects = (_support_defects(ctx, run, l, sup) + _anisotropy_defects(ctx, run, l, eps, [])
                       + _t1_sample_defects(ctx, run, l, sup.U, p, n_masks, mc))
            checks.append(_with_defects(check, defects))
    return checks


def _t1_sample_defects(ctx: CheckContext, run: int, l: int, U, p: float, n_masks: int, mc: dict) -> list[str]:
    """Cross-check the Monte Carlo's first anisotropies against the definition on the
    same masks (redrawn from the same seed): a one-sided bound cannot see an anisotropy
    computation that returns zeros or is scaled down; this can."""
    masks = _sample_masks(np.random.default_rng([ctx.seed, run, l]), "bernoulli", n_masks, U.shape[0], p)
    out = []
    for k, got in enumerate(mc["anisotropy_head"][:T1_HEAD]):
        direct = _direct_anisotropy(U, masks[k], p)
        if not abs(got - direct) <= CROSS_CHECK_TOL:
            out.append(f"Monte Carlo anisotropy of mask {k} is {_g(got)}, but ||U^T diag(m) U - p I|| = "
                       f"{_g(direct)} from the definition")
            break
    return out


# ----------------------------------------------------------------------------- T2-T4
def _neuron_mismatch(ctx: CheckContext) -> tuple[float, float]:
    """Max relative L2 mismatch of hidden neuron functions under the identity
    correspondence (:func:`~neuronid.numerics.correspondence.relative_mismatch`:
    relative to the larger norm, 0 for two dead neurons), and of the output
    pre-activations (T2's H3 and H4)."""
    tA, tB = ctx.eval_traces
    worst = 0.0
    # with normalization layers (THEORY N1) the neuron functions are the pre-activations
    # z; the outputs h are compared too, so equal z and h make every path point equal
    pairs = [(tA.inputs[l], tB.inputs[l]) for l in range(1, len(ctx.A.layers))]
    pairs += [(tA.pre[l], tB.pre[l]) for l, layer in enumerate(ctx.A.layers[:-1])
              if layer.norm is not None or ctx.B.layers[l].norm is not None]
    for hA, hB in pairs:
        # relative to the larger of the two norms: a dead neuron (zero on the data) in
        # both runs agrees (0), dead in one run only is mismatch 1, never 1e11
        worst = max(worst, float(np.max(relative_mismatch(hA, hB), initial=0.0)))
    zA, zB = tA.output, tB.output
    out = float(np.linalg.norm(zA - zB) / max(np.linalg.norm(zA), 1e-300))
    return worst, out


def check_t2(ctx: CheckContext) -> list[Check]:
    """T2 on the pair: identity correspondence + monotone activations => zero barrier."""
    if not ctx.sizes_equal:
        return [evaluate("T2", "pair", {"same_structure": False},
                         notes=[f"sizes differ: {ctx.A.sizes} vs {ctx.B.sizes}"])]
    mismatch, out_mismatch = _neuron_mismatch(ctx)
    path = ctx.paths["unaligned"]["path"]
    loss = np.asarray(ctx.mutate("T2.loss", np.asarray(path["loss"], dtype=float).copy()), dtype=float)
    max_barrier = float(np.max(np.abs(loss - loss[0])))
    L0 = max(abs(float(loss[0])), 1.0)
    values = {"same_structure": not ctx.structure_differences, "nondecreasing": _hidden_monotone(ctx.A) != "non_monotone",
              "max_mismatch": mismatch, "out_mismatch": out_mismatch, "max_barrier": max_barrier / L0,
              "tol": FUNCTION_TOL}
    q = {"structure_differences": ctx.structure_differences, "max_abs_loss_change": max_barrier,
         "B_lerp": path["B_lerp"], "B_mid": path["B_mid"]}
    hidden = [n for layer in ctx.A.layers[:-1] for n in layer.names]
    why = {"nondecreasing": _monotone_text(hidden, "non_decreasing"),
           "same_structure": "structures differ: " + "; ".join(map(str, ctx.structure_differences[:3]))}
    return [evaluate("T2", "pair", values, quantities=q, explanations=why,
                     notes=["max_barrier is max_t |L(t) - L(0)| relative to max(L(0), 1)"],
                     context=f"max relative neuron mismatch {mismatch:.3g}, output mismatch {out_mismatch:.3g}")]


def check_t3(ctx: CheckContext) -> list[Check]:
    """T3 per hidden layer: identifiability (margin gamma > eps) of both runs and the
    same function set => the runs' correspondence is the identity."""
    if not ctx.sizes_equal:
        return [evaluate("T3", "pair", {"support_mismatch": math.inf, "function_set_mismatch": math.inf, "tol": 0},
                         notes=[f"sizes differ: {ctx.A.sizes} vs {ctx.B.sizes}"])]
    checks = []
    for l in range(ctx.n_hidden):
        lcA, lcB = ctx.costs[0][l], ctx.costs[1][l]
        corr = ctx.correspondences[l]
        supA, supB = ctx.layer_support(0, l), ctx.layer_support(1, l)
        UA, UB = supA.U, supB.U
        support_mismatch = _support_mismatch(UA, UB)
        excess_A, excess_B = _excess(lcA.gamma), _excess(lcB.gamma)
        # costs carry rounding of REL_TOL relative to their scale: "within eps of the
        # minimum" and "margin > eps" are judged with that allowance in eps
        rounding = REL_TOL * max(_finite_scale(lcA.K), _finite_scale(lcB.K), 1e-300)
        eps = max(excess_A, excess_B) + rounding
        gamma = min(lcA.gamma, lcB.gamma)
        mism = corr.mismatch[np.isfinite(corr.mismatch)]
        perm = np.asarray(ctx.mutate("T3.permutation", np.asarray(corr.perm).copy()))
        fixed = int(np.sum(perm == np.arange(perm.size)))
        values = {"support_mismatch": support_mismatch,
                  "function_set_mismatch": float(np.max(mism)) if mism.size else math.inf,
                  "tol": FUNCTION_TOL, "excess_A": excess_A, "excess_B": excess_B, "eps": eps, "gamma": gamma,
                  "perm_A_equals_perm_B": fixed == perm.size}
        q = {"gamma_A": lcA.gamma, "gamma_B": lcB.gamma, "fixed_points": fixed, "permutation": perm,
             "neurons": int(corr.perm.size), "median_mismatch": float(np.median(mism)) if mism.size else None,
             "eps_choice": "eps = max(excess_A, excess_B) + rounding allowance (1e-9 of max |K|): the "
                           "smallest eps for which H2 holds"}
        moved = np.flatnonzero(perm != np.arange(perm.size))[:3]
        why = {"perm_A_equals_perm_B": "correspondence is not the identity: "
               + ", ".join(f"A's neuron {i} -> B's {int(perm[i])}" for i in moved)}
        check = evaluate("T3", f"layer {l}", values, quantities=q, explanations=why,
                         context=f"{fixed}/{perm.size} neurons in identity correspondence")
        checks.append(_with_defects(check, _support_defects(ctx, 0, l, supA) + _support_defects(ctx, 1, l, supB)))
    return checks


def _support_mismatch(UA, UB) -> float:
    """Sine of the largest principal angle between the supports' spans,
    ``||(I - U_A U_A^T) U_B||_2`` (accurate to rounding, unlike ``sqrt(1 - cos^2)``,
    which turns a 1e-16 cosine error into 1e-8); 1 when the ranks differ."""
    if UA.shape[1] != UB.shape[1] or UA.shape[1] == 0:
        return 1.0
    return float(np.linalg.norm(UB - UA @ (UA.T @ UB), 2))


def _excess(gamma: float) -> float:
    """How far the run's own assignment (the identity) is above the minimum cost:
    ``max(0, -gamma)``; ``gamma = +inf`` (every other assignment unrealizable) gives 0,
    ``-inf`` gives inf, nan stays nan (undetermined)."""
    if math.isnan(gamma):
        return math.nan
    return max(0.0, -gamma)


def check_t4(ctx: CheckContext) -> list[Check]:
    """T4 for every path (unaligned and aligned): the elementwise statement
    ``|f_t(x) - lerp f(x)| <= t(1-t) R^L(x)`` at every grid point, sample and output
    (THEORY: the verdict tests this, not the loss bounds). The values are the worst
    entry's deviation and its allowance (bound + rounding); the quantities add the
    elementwise tightness (median, max over entries with a positive bound), the
    loss-level bounds (global, per-sample box, the smaller used) and their tightness."""
    if not ctx.sizes_equal:
        return [evaluate("T4", "pair", {"same_structure": False},
                         notes=[f"sizes differ: {ctx.A.sizes} vs {ctx.B.sizes}"])]
    checks = []
    for name, entry in ctx.paths.items():
        cert = entry["certificate"]
        if entry["status"] == UNSUPPORTED_NORM:  # THEORY.md section 4: T4 does not cover norms yet
            checks.append(not_applicable("T4", f"path {name}", f"{entry['status']} ({entry['reason']})",
                                         quantities={"measured": entry["measured"]}))
            continue
        lips = [a.get("lipschitz") for layer in cert["constants"] for a in layer["activations"]]
        lip = max((x for x in lips if x is not None), default=math.inf) if lips else 0.0
        el = entry.get("elementwise")
        values = {"same_structure": not cert["structure_differences"],
                  "Lip": lip if lip is not None else math.inf,
                  "gap_term_available": entry["status"] == "ok"}
        if el is not None:
            values.update({"gap_measured": el["worst"]["deviation"], "certificate": el["worst"]["allowed"]})
        q = {"elementwise": el, "bound": entry["bound"], "bound_global": entry.get("bound_global"),
             "bound_box": entry.get("bound_box"), "measured": entry["measured"],
             "loss_tightness": entry["tightness"], "tightness": entry["tightness"],
             "holds_per_barrier": entry["holds"], "rho": cert["rho"], "mean_norm": cert["mean_norm"]}
        notes = []
        if name != "unaligned":
            notes.append("aligned path: A and the permuted B (masks and fixed parts move with B's neurons, "
                         "so H1 fails for structurally asymmetric pairs; the certificate still bounds the "
                         "effective-weight path)")
        if entry["status"] != "ok":
            notes.append(f"certificate {entry['status']}: {entry['reason']}")
        if el is not None:
            context = (f"elementwise tightness median {_g(el['median_tightness'])}, max {_g(el['max_tightness'])}; "
                       f"loss-level tightness {_g(entry['tightness']['B_lerp'])}")
        else:
            context = "elementwise statement not tested (no certificate)"
        checks.append(evaluate("T4", f"path {name}", values, quantities=q, notes=notes, context=context))
    return checks


CHECKERS = {
    "P1": check_p1, "P2": check_p2, "P3": check_p3, "P4": check_p4, "P5": check_p5, "P6": check_p6,
    "T1": check_t1, "T2": check_t2, "T3": check_t3, "T4": check_t4,
}


def run_checks(ctx: CheckContext, ids=None) -> list[Check]:
    """Run the checkers of ``ids`` (default: all of P1-P6, T1-T4) on one context."""
    ids = CHECKED_RESULTS if ids is None else tuple(ids)
    unknown = [i for i in ids if i.upper() not in CHECKERS]
    if unknown:
        raise UnknownResultError(
            f"no checker for {', '.join(unknown)}; results with checkers: {', '.join(CHECKED_RESULTS)}"
        )
    out = []
    for rid in ids:
        out.extend(CHECKERS[rid.upper()](ctx))
    return out

"""Registry of the THEORY.md items: definitions D1-D7, results P1-P6 and T1-T4,
experiments E1-E3, and N2 (LayerNorm's scale symmetry, section 4).

Each :class:`Result` carries its statement (in this project's words), its
hypotheses as named SymPy predicates over symbols for *measured quantities*, its
conclusion (a predicate where one exists), and its symbolic proof obligations
(:mod:`neuronid.theory.obligations`). The checkers in ``proofs_checks`` measure the
quantities on real networks and call :meth:`Result.evaluate`, which substitutes
them and answers ``holds`` / ``fails`` / ``undetermined`` per hypothesis, with the
substituted values.

Measured-quantity symbols (names are the keys of the ``values`` mapping):

===================  ===========================================================
``tau, r, d, nu``    explained-variance threshold, support rank, dimension, coherence
``eps, gamma``       assignment slack / tolerance, assignment margin (D3)
``p``                fraction of trainable entries (mask density)
``eps_i, eps_j``     anisotropy bounds ``||S - p I|| <= eps``; ``aniso_*`` measured
``tol``              numeric tolerance of the check
``Lip, M``           ``sup |sigma'|``, ``sup |sigma''|`` (theory.activations)
booleans             ``strictly_increasing``, ``nondecreasing``, ``same_structure``,
                     ``same_activation``, ``perm_A_equals_perm_B``, ...
===================  ===========================================================

Size (about 650 lines): the registry of results is one table (THEORY.md IDs with
hypotheses and conclusions) and its evaluation; kept whole.
"""

from __future__ import annotations

import functools
import math
import operator
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import sympy as sp

from neuronid.errors import UnknownResultError
from .normalization import N2_OBLIGATIONS
from .obligations import OBLIGATIONS, obligation_kind

__all__ = ["Hypothesis", "Obligation", "ObligationOutcome", "Result", "Verdict", "RESULT_IDS",
           "get_result", "all_results", "evaluate_predicate", "SYMBOLS"]

_REAL = ("tau r d nu eps gamma p eps_i eps_j aniso_i aniso_j tol rel_tol cost slack n_grid "
         "B_peak B_lerp B_mean perm_max_diff cost_solver cost_closed_form trainable_fraction fixed_norm "
         "delta_in norm_a_i norm_a_j dot_av delta violation_rate sampling_margin max_mismatch "
         "out_mismatch max_barrier excess_A excess_B support_mismatch function_set_mismatch Lip M "
         "gap_measured certificate alpha phi grid_points mask_p n_seeds sigma_F k median_delta "
         "n_pairs barrier_unaligned beta_b copies K_kj sqnorm_a_j eps_k aniso_k iso_tol phi_error "
         "function_change function_tol sqnorm_g_kj")
_BOOL = ("strictly_increasing nondecreasing same_activation same_structure gap_term_available "
         "realization_set_convex perm_A_equals_perm_B symmetry_proved homogeneous_degree_one "
         "unique_minimum balanced_minimizer")

#: Symbols of measured quantities, by name.
SYMBOLS: dict[str, sp.Symbol] = {n: sp.Symbol(n, extended_real=True) for n in _REAL.split()}
SYMBOLS.update({n: sp.Symbol(n) for n in _BOOL.split()})
# N2 (THEORY section 4): the normalization's eps and the scale c of (W, b) -> (cW, cb)
SYMBOLS.update({n: sp.Symbol(n, extended_real=True) for n in ("norm_eps", "scale_c")})
S = SYMBOLS

#: obligations of items outside theory.obligations (kept in their own modules)
_EXTRA_OBLIGATIONS = {"N2": N2_OBLIGATIONS}


def _obligations(result_id: str) -> list:
    return OBLIGATIONS.get(result_id) or _EXTRA_OBLIGATIONS.get(result_id, [])


_BOOL_NAMES = frozenset(_BOOL.split())


def _t(name: str) -> sp.Basic:
    """Boolean-valued measured quantity (a symbol used as a boolean atom)."""
    return S[name]


# ------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Verdict:
    """Outcome of evaluating one predicate on numbers."""

    name: str
    status: str  # holds | fails | undetermined
    predicate: str
    values: dict
    missing: tuple[str, ...] = ()
    reason: str = ""
    atoms: tuple = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "status": self.status, "predicate": self.predicate,
                "values": self.values, "missing": list(self.missing), "reason": self.reason,
                "atoms": [dict(a) for a in self.atoms]}

    @property
    def worst(self) -> dict | None:
        """The decisive atom: the failing one that fails by most, else the one with the
        least room (``None`` when no atom could be evaluated)."""
        failing = [a for a in self.atoms if a["holds"] is False]
        if failing:
            return max(failing, key=lambda a: -1.0 if a["fails_by"] is None else a["fails_by"])
        scored = [a for a in self.atoms if a["holds"] is True]
        if not scored:
            return None
        return min(scored, key=lambda a: math.inf if a["room"] is None else a["room"])


_OPS = {"<=": "<=", "<": "<", ">=": ">=", ">": ">", "==": "="}


def _number(e: sp.Basic) -> float | None:
    try:
        f = float(e)
    except (TypeError, ValueError):
        return None
    return f


def _leaves(predicate: sp.Basic) -> list:
    """The conjuncts of a predicate (nested ``And`` flattened); anything else is one leaf."""
    if isinstance(predicate, sp.And):
        return [leaf for arg in predicate.args for leaf in _leaves(arg)]
    return [predicate]


def predicate_atoms(predicate: sp.Basic, subs: Mapping) -> tuple[dict, ...]:
    """Per conjunct of ``predicate``: the measured side, the threshold, whether it holds,
    how much room it has (``room >= 0``) or by how much it fails (``fails_by > 0``).

    For ``lhs <= rhs`` (and ``<``): measured = lhs, threshold = rhs, room = rhs - lhs;
    for ``>=``/``>`` the same with the sides' roles kept (room = lhs - rhs); for ``=``
    room = -|lhs - rhs|. A boolean atom reports its value. Conjuncts that cannot be
    evaluated (missing values) have ``holds = None``.

    Examples
    --------
    >>> (a,) = predicate_atoms(S["gamma"] > S["eps"], {S["gamma"]: 0.1, S["eps"]: 0.3})
    >>> a["holds"], a["measured"], a["threshold"], round(a["fails_by"], 12)
    (False, 0.1, 0.3, 0.2)
    """
    out = []
    for leaf in _leaves(predicate):
        atom = {"expr": str(leaf)}
        if isinstance(leaf, sp.core.relational.Relational) and leaf.rel_op in _OPS:
            lhs, rhs = _number(leaf.lhs.subs(subs)), _number(leaf.rhs.subs(subs))
            atom.update({"measured_expr": str(leaf.lhs), "op": _OPS[leaf.rel_op], "threshold_expr": str(leaf.rhs),
                         "measured": lhs, "threshold": rhs})
            if lhs is None or rhs is None or math.isnan(lhs) or math.isnan(rhs):
                atom.update({"holds": None, "room": None, "fails_by": None})
            else:
                holds = bool(leaf.subs(subs))
                if leaf.rel_op in ("<=", "<"):
                    room = rhs - lhs
                elif leaf.rel_op in (">=", ">"):
                    room = lhs - rhs
                else:
                    room = -abs(lhs - rhs)
                if math.isnan(room):  # inf - inf: equal infinities
                    room = 0.0
                # a strict inequality that fails with equality fails by 0
                atom.update({"holds": holds, "room": room if holds else None,
                             "fails_by": 0.0 if holds else max(-room, 0.0)})
        else:
            val = leaf.subs(subs)
            holds = True if val is sp.true else (False if val is sp.false else None)
            atom.update({"measured_expr": str(leaf), "op": "is", "threshold_expr": "True",
                         "measured": holds, "threshold": True, "holds": holds, "room": None,
                         "fails_by": None})
        out.append(atom)
    return tuple(out)


def _to_sympy(v) -> sp.Basic | None:
    if isinstance(v, bool) or v is sp.true or v is sp.false:
        return sp.true if bool(v) else sp.false
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f):
        return None
    if math.isinf(f):
        return sp.oo if f > 0 else -sp.oo
    if isinstance(v, int):
        return sp.Integer(v)
    return sp.Float(f, 17)


def _to_sympy_bool(v) -> sp.Basic | None:
    """A truth value: ``True``/``False`` (also NumPy's and SymPy's, and the integers 0 and
    1); anything else (``None``: not determined, NaN) is no truth value (``None``: the
    predicate stays undetermined instead of reading ``None`` as false and NaN as true)."""
    if v is sp.true or v is sp.false:
        return v
    if isinstance(v, bool) or getattr(getattr(v, "dtype", None), "kind", None) == "b":
        return sp.true if bool(v) else sp.false
    try:
        number = operator.index(v)  # Python and NumPy integers
    except TypeError:
        return None
    return {0: sp.false, 1: sp.true}.get(number)


def evaluate_predicate(name: str, predicate: sp.Basic, values: Mapping[str, object]) -> Verdict:
    """Substitute measured values into a predicate: holds / fails / undetermined.

    Missing or NaN values, and a truth value given as ``None`` (not determined), leave
    the predicate undetermined unless the known ones already decide it (``And`` with a
    false part fails).

    Examples
    --------
    >>> evaluate_predicate("H3", S["gamma"] > S["eps"], {"gamma": 0.3, "eps": 0.1}).status
    'holds'
    >>> v = evaluate_predicate("H3", S["gamma"] > S["eps"], {"gamma": 0.3})
    >>> v.status, v.missing
    ('undetermined', ('eps',))
    """
    used = sorted(predicate.free_symbols, key=str)
    subs, shown, missing, bad = {}, {}, [], []
    for sym in used:
        key = str(sym)
        if key not in values:
            missing.append(key)
            continue
        val = _to_sympy_bool(values[key]) if key in _BOOL_NAMES else _to_sympy(values[key])
        shown[key] = values[key] if not isinstance(values[key], float) or math.isfinite(values[key]) else str(values[key])
        if val is None:
            bad.append(key)
            continue
        subs[sym] = val
    try:
        res = predicate.subs(subs)
        if not isinstance(res, sp.logic.boolalg.BooleanAtom):
            res = sp.simplify_logic(res) if isinstance(res, sp.logic.boolalg.Boolean) else res
    except TypeError as exc:  # e.g. a boolean substituted into an inequality
        return Verdict(name, "undetermined", str(predicate), shown, tuple(missing), f"cannot evaluate: {exc}")
    atoms = predicate_atoms(predicate, subs)
    if res is sp.true:
        return Verdict(name, "holds", str(predicate), shown, atoms=atoms)
    if res is sp.false:
        return Verdict(name, "fails", str(predicate), shown, atoms=atoms)
    reason = []
    if missing:
        reason.append("missing " + ", ".join(missing))
    if bad:
        reason.append("not a number: " + ", ".join(bad))
    return Verdict(name, "undetermined", str(predicate), shown, tuple(missing),
                   "; ".join(reason) or f"reduces to {res}", atoms)


# ------------------------------------------------------------------------ the objects


@dataclass(frozen=True)
class Hypothesis:
    """A named predicate over measured quantities."""

    name: str
    predicate: sp.Basic
    description: str

    def evaluate(self, values: Mapping[str, object]) -> Verdict:
        return evaluate_predicate(self.name, self.predicate, values)

    def to_dict(self) -> dict:
        return {"name": self.name, "predicate": str(self.predicate), "description": self.description,
                "symbols": sorted(str(s) for s in self.predicate.free_symbols)}


@dataclass(frozen=True)
class ObligationOutcome:
    verified: bool
    detail: str
    seconds: float


@dataclass(frozen=True)
class Obligation:
    """A symbolic proof obligation: ``verify()`` runs the SymPy check (cached)."""

    result_id: str
    name: str
    check: Callable[[], tuple[bool, str]] = field(repr=False)

    @property
    def description(self) -> str:
        doc = (self.check.__doc__ or "").strip()
        return " ".join(doc.split())

    @property
    def kind(self) -> str:
        """``"proof"`` (a lemma step, counted), ``"sanity identity"`` (true for any
        expression: bookkeeping, not counted) or ``"reference (<ID>)"`` (another item's
        proof, counted there)."""
        return obligation_kind(self.result_id, self.name)

    @property
    def is_proof(self) -> bool:
        return self.kind == "proof"

    def verify(self) -> ObligationOutcome:
        return _verify(self.result_id, self.name)

    def to_dict(self, run: bool = True) -> dict:
        out = {"name": self.name, "kind": self.kind, "description": self.description}
        if run:
            o = self.verify()
            out.update({"verified": o.verified, "detail": o.detail, "seconds": round(o.seconds, 4)})
        return out


@functools.lru_cache(maxsize=None)
def _verify(result_id: str, name: str) -> ObligationOutcome:
    fn = dict(_obligations(result_id))[name]
    start = time.perf_counter()
    try:
        ok, detail = fn()
    except Exception as exc:  # a crashing check is an unverified obligation, reported
        ok, detail = False, f"check raised {type(exc).__name__}: {exc}"
    return ObligationOutcome(bool(ok), detail, time.perf_counter() - start)


@dataclass(frozen=True)
class Result:
    """One THEORY.md item."""

    id: str
    kind: str  # definition | proposition | theorem | experiment
    title: str
    statement: str
    hypotheses: tuple[Hypothesis, ...]
    conclusion: str
    conclusion_predicate: sp.Basic | None
    checks: tuple[str, ...]
    obligations: tuple[Obligation, ...]

    def evaluate(self, values: Mapping[str, object]) -> dict:
        """Evaluate every hypothesis (and the conclusion) on measured ``values``.

        Returns
        -------
        dict
            ``{"id", "hypotheses": [Verdict...], "all_hold": bool | None,
            "conclusion": Verdict | None}``; ``all_hold`` is ``None`` when some
            hypothesis is undetermined and none fails.

        Examples
        --------
        >>> out = get_result("T3").evaluate({"gamma": 0.5, "eps": 0.7})
        >>> [v.status for v in out["hypotheses"] if v.name == "H3_margin_exceeds_eps"]
        ['fails']
        """
        verdicts = [h.evaluate(values) for h in self.hypotheses]
        statuses = {v.status for v in verdicts}
        all_hold = False if "fails" in statuses else (True if statuses <= {"holds"} else None)
        concl = (evaluate_predicate("conclusion", self.conclusion_predicate, values)
                 if self.conclusion_predicate is not None else None)
        return {"id": self.id, "hypotheses": verdicts, "all_hold": all_hold, "conclusion": concl}

    def to_dict(self, run_obligations: bool = True) -> dict:
        return {"id": self.id, "kind": self.kind, "title": self.title, "statement": self.statement,
                "hypotheses": [h.to_dict() for h in self.hypotheses], "conclusion": self.conclusion,
                "conclusion_predicate": (str(self.conclusion_predicate)
                                         if self.conclusion_predicate is not None else None),
                "checks": list(self.checks),
                "obligations": [o.to_dict(run_obligations) for o in self.obligations]}


# ------------------------------------------------------------------------- the content

H = Hypothesis
_abs = sp.Abs


def _spec() -> list[dict]:
    return [
        dict(id="D1", kind="definition", title="Input support and effective coordinates",
             statement=("Center a layer's inputs at their mean and keep the top-r right singular "
                        "vectors U reaching explained variance tau (tau = 1: exact span). On the "
                        "support a neuron is determined by a = U^T w and c = w . xbar + b; with "
                        "free biases only a has cost. Coherence nu(U) = max_j ||U^T e_j||^2 lies in "
                        "[r/d, 1]."),
             hypotheses=[H("H1_tau_in_0_1", (S["tau"] > 0) & (S["tau"] <= 1), "0 < tau <= 1"),
                         H("H2_rank_valid", (S["r"] >= 1) & (S["r"] <= S["d"]), "1 <= r <= d")],
             conclusion="r/d <= nu <= 1",
             pred=(S["nu"] >= S["r"] / S["d"]) & (S["nu"] <= 1),
             checks=("symbolic", "numeric")),
        dict(id="D2", kind="definition", title="Effective function class and realization cost",
             statement=("The realization cost C_i(h) of a target h on the support is the least "
                        "norm ||m_i * theta||^2 of trainable parameters for which the neuron "
                        "reproduces h exactly (+inf if impossible). Strictly increasing sigma: a "
                        "least-norm linear problem; non-decreasing with flat pieces: a convex QP; "
                        "non-monotone: non-convex (exact for tiny supports, else a labelled upper "
                        "estimate). epsilon-realization relaxes equality to |z - z*| <= eps."),
             hypotheses=[H("H1_eps_nonnegative", S["eps"] >= 0, "epsilon-realization tolerance eps >= 0")],
             conclusion="C_i(h) >= 0 (or +inf)", pred=S["cost"] >= 0, checks=("symbolic", "numeric")),
        dict(id="D3", kind="definition", title="Cost matrix, swap cost, assignment margin",
             statement=("K[i, j] = C_i(h_j): the cost for neuron i to compute neuron j's current "
                        "function. Slack s_i = ||m_i*theta_i||^2 - K[i,i] >= 0. Swap costs "
                        "Delta_in(i,j) = K[i,j] + K[j,i] - K[i,i] - K[j,j], Delta_out from the next "
                        "layer, Delta = Delta_in + Delta_out. Assignment margin gamma = best "
                        "non-identity assignment cost minus identity cost; delta = min Delta."),
             hypotheses=[H("H1_tolerance", S["tol"] >= 0, "numeric tolerance tol >= 0")],
             conclusion="slack s_i >= 0 (up to tol)", pred=S["slack"] >= -S["tol"],
             checks=("symbolic", "numeric")),
        dict(id="D4", kind="definition", title="Neuron identifiability",
             statement=("A layer is identifiable with margin gamma > 0 when the identity is the "
                        "unique minimum-cost assignment of its neuron functions to its neurons; it "
                        "is effectively symmetric when many assignments cost almost the same. "
                        "Across runs, neurons are matched by their functions on the support "
                        "(permutation, fixed points, relative L2 mismatch)."),
             hypotheses=[H("H1_margin_positive", S["gamma"] > 0, "assignment margin gamma > 0")],
             conclusion="the layer is identifiable with margin gamma",
             pred=_t("unique_minimum"), checks=("numeric",)),
        dict(id="D5", kind="definition", title="Linear path and barriers",
             statement=("Interpolate effective weights and biases, theta(t) = (1-t) theta_A + t "
                        "theta_B, evaluate the loss on a grid; barriers: lerp (max of L(t) minus the "
                        "chord), peak (max L(t) minus max endpoint), midpoint, mean (max L(t) minus "
                        "the endpoints' mean). B_peak <= B_lerp and B_peak <= B_mean."),
             hypotheses=[H("H1_grid", S["n_grid"] >= 2, "at least two grid points")],
             conclusion="B_peak <= B_lerp and B_peak <= B_mean (up to tol)",
             pred=(S["B_peak"] <= S["B_lerp"] + S["tol"]) & (S["B_peak"] <= S["B_mean"] + S["tol"]),
             checks=("symbolic", "numeric")),
        dict(id="D6", kind="definition", title="Alignment",
             statement=("Activation matching: per hidden layer a linear assignment maximizing "
                        "the correlation of neuron outputs of A and B (layer by layer); weight "
                        "matching: coordinate descent on sum_l <W_A, P_l W_B P_{l-1}^T>. Maximizing "
                        "1 - |corr| (as in the paper's code) selects the least-correlated pairing "
                        "and is treated as a suspected inversion. A permutation must leave B's "
                        "function unchanged, checked every time."),
             hypotheses=[H("H1_permutation_exact", S["perm_max_diff"] <= S["tol"],
                           "the permuted B computes B's function (max output difference <= tol)")],
             conclusion="aligned paths interpolate A and the permuted B", pred=None,
             checks=("symbolic", "numeric")),
        dict(id="D7", kind="definition", title="Structural symmetries of an activation",
             statement=("Identities in sigma that give parameter transformations leaving the "
                        "network function unchanged everywhere: positive homogeneity, oddness, "
                        "evenness, complementarity sigma(-z) = 1 - sigma(z), relu(z) - relu(-z) = "
                        "z, periodicity, neuron permutations. Effective symmetries leave the "
                        "function unchanged only on the support."),
             hypotheses=[H("H1_identity_proved", _t("symmetry_proved"),
                           "the activation identity is proved symbolically")],
             conclusion="the transformed neuron has the same contribution", pred=None,
             checks=("symbolic",)),
        dict(id="P1", kind="proposition", title="Closed-form cost on subspace supports",
             statement=("For strictly increasing sigma, exact span and free bias, with M_i = U^T "
                        "diag(m_i), S_i = M_i M_i^T, v_i = U^T f_i: C_i(a) = (a - v_i)^T S_i^+ (a - "
                        "v_i) when a - v_i is in range(S_i), +inf otherwise; the minimizer is theta "
                        "= M_i^+ (a - v_i)."),
             hypotheses=[H("H1_strictly_increasing", _t("strictly_increasing"), "sigma strictly increasing"),
                         H("H2_exact_span", sp.Eq(S["tau"], 1), "tau = 1 (exact span)"),
                         H("H3_free_bias", sp.Eq(S["beta_b"], 0), "no bias penalty (beta_b = 0)")],
             conclusion="solver cost equals the closed form (relative tolerance)",
             pred=_abs(S["cost_solver"] - S["cost_closed_form"])
             <= S["rel_tol"] * sp.Max(1, _abs(S["cost_closed_form"])),
             checks=("symbolic", "numeric", "property")),
        dict(id="P2", kind="proposition", title="Exact permutation symmetry of standard layers",
             statement=("With full masks, no fixed parts and equal activations, K[i, j] = ||a_j||^2 "
                        "for every i: all incoming swap costs vanish and every assignment costs "
                        "the same."),
             hypotheses=[H("H1_full_masks", sp.Eq(S["trainable_fraction"], 1), "all entries trainable"),
                         H("H2_no_fixed_part", sp.Eq(S["fixed_norm"], 0), "fixed parts are zero"),
                         H("H3_equal_activations", _t("same_activation"), "one activation per layer")],
             conclusion="K[k, j] = ||a_j||^2 for every k (worst entry), hence Delta_in(i, j) = 0",
             pred=(_abs(S["K_kj"] - S["sqnorm_a_j"]) <= S["tol"]) & (_abs(S["delta_in"]) <= S["tol"]),
             checks=("symbolic", "numeric")),
        dict(id="P3", kind="proposition", title="Approximate symmetry of structurally asymmetric layers",
             statement=("No fixed parts, equal activations, ||S_i - p I|| <= eps_i < p: each cost is "
                        "within ||a_j||^2 eps_i/(p(p - eps_i)) of ||a_j||^2/p, and |Delta_in(i,j)| <= "
                        "(eta_i + eta_j)(||a_i||^2 + ||a_j||^2) with eta_i = eps_i/(p(p - eps_i)): large "
                        "families of almost equivalent solutions."),
             hypotheses=[H("H1_no_fixed_part", sp.Eq(S["fixed_norm"], 0), "fixed parts are zero"),
                         H("H2_equal_activations", _t("same_activation"), "one activation per layer"),
                         H("H3_anisotropy_bounded", (S["aniso_i"] <= S["eps_i"]) & (S["aniso_j"] <= S["eps_j"])
                           & (S["aniso_k"] <= S["eps_k"]), "measured ||S - pI|| within eps"),
                         H("H4_eps_below_p", (S["p"] - S["eps_i"] > S["iso_tol"]) & (S["p"] - S["eps_j"] > S["iso_tol"])
                           & (S["p"] - S["eps_k"] > S["iso_tol"]),
                           "eps_i, eps_j, eps_k < p, by more than rounding (iso_tol): S is invertible")],
             conclusion=("|K[k,j] - ||a_j||^2/p| <= ||a_j||^2 eta_k and "
                         "|Delta_in| <= (eta_i + eta_j)(||a_i||^2 + ||a_j||^2)"),
             pred=(_abs(S["K_kj"] - S["sqnorm_a_j"] / S["p"])
                   <= S["sqnorm_a_j"] * S["eps_k"] / (S["p"] * (S["p"] - S["eps_k"])) + S["tol"])
             & (_abs(S["delta_in"]) <= (S["eps_i"] / (S["p"] * (S["p"] - S["eps_i"]))
                                        + S["eps_j"] / (S["p"] * (S["p"] - S["eps_j"])))
                * (S["norm_a_i"] ** 2 + S["norm_a_j"] ** 2) + S["tol"]),
             checks=("symbolic", "numeric", "property")),
        dict(id="P4", kind="proposition", title="Swap cost with centers",
             statement=("When S_i = S_j = p I (exact for syre layers with p = 1), Delta_in(i, j) = "
                        "(2/p)(a_i - a_j).(v_i - v_j). Fixed parts pull each neuron toward its own "
                        "center v_i, so swap costs turn positive and grow like sigma_F^2 (1-p) r."),
             hypotheses=[H("H1_isotropic", (S["aniso_i"] <= S["iso_tol"]) & (S["aniso_j"] <= S["iso_tol"]),
                           "S_i = S_j = p I up to iso_tol (dimensionless)"),
                         H("H2_p_positive", S["p"] > 0, "p > 0")],
             conclusion=("K[k, j] = ||a_j - v_k||^2 / p (worst entry) and "
                         "Delta_in = (2/p)(a_i - a_j).(v_i - v_j)"),
             pred=(_abs(S["K_kj"] - S["sqnorm_g_kj"] / S["p"]) <= S["tol"])
             & (_abs(S["delta_in"] - 2 / S["p"] * S["dot_av"]) <= S["tol"]),
             checks=("symbolic", "numeric", "property")),
        dict(id="P5", kind="proposition", title="Convex realization sets",
             statement=("If sigma is non-decreasing, the parameters realizing a given function on a "
                        "support form a convex set (each constraint confines an affine z(x) to an "
                        "interval). For non-monotone sigma (GELU, SiLU) the set can be non-convex."),
             hypotheses=[H("H1_nondecreasing", _t("nondecreasing"), "sigma non-decreasing")],
             conclusion="the realization set is convex", pred=_t("realization_set_convex"),
             checks=("symbolic", "counterexample")),
        dict(id="P6", kind="proposition", title="Scaling symmetry and balanced representatives (ReLU)",
             statement=("(c, w, b) -> (c/alpha, alpha w, alpha b) keeps a ReLU neuron's contribution; "
                        "on the straight path between the two the contribution is multiplied by "
                        "phi(t) = 1 + t(1-t)(alpha + 1/alpha - 2) >= 1 (equality iff alpha = 1), a "
                        "barrier. The norm cost over the orbit has the unique minimizer |c| = "
                        "||(w, b)||, so weight decay removes this symmetry; the sign flip of odd "
                        "activations survives the norm but not nonzero fixed parts."),
             hypotheses=[H("H1_alpha_positive", S["alpha"] > 0, "scale alpha > 0"),
                         H("H2_homogeneous", _t("homogeneous_degree_one"), "sigma positively homogeneous of degree 1")],
             conclusion=("the rescaled network computes the same function; phi(t) >= 1 and the measured "
                         "factor equals 1 + t(1-t)(alpha + 1/alpha - 2); the orbit's norm cost is minimal "
                         "at the balanced point"),
             pred=(S["function_change"] <= S["function_tol"]) & (S["phi"] >= 1) & (S["phi_error"] <= S["tol"])
             & _t("balanced_minimizer"),
             checks=("symbolic", "numeric")),
        dict(id="T1", kind="theorem", title="Anisotropy concentration",
             statement=("With i.i.d. Bernoulli(p) masks, coherence nu, L = log(2r/delta) and b = "
                        "max(p, 1-p): with probability at least 1 - delta, ||U^T diag(m) U - p I|| <= "
                        "(2/3) b nu L + sqrt(p(1-p)) sqrt(2 nu L) (matrix Bernstein)."),
             hypotheses=[H("H1_p_in_0_1", (S["p"] > 0) & (S["p"] < 1), "0 < p < 1"),
                         H("H2_delta_in_0_1", (S["delta"] > 0) & (S["delta"] < 1), "0 < delta < 1"),
                         H("H3_coherence", (S["nu"] >= S["r"] / S["d"]) & (S["nu"] <= 1), "r/d <= nu <= 1")],
             conclusion="empirical violation rate <= delta (+ sampling margin)",
             pred=S["violation_rate"] <= S["delta"] + S["sampling_margin"],
             checks=("symbolic", "numeric", "property")),
        dict(id="T2", kind="theorem", title="Exact linear mode connectivity under identity correspondence",
             statement=("If A and B share the structure, every hidden activation is non-decreasing, "
                        "each hidden neuron computes the same function on the data in A and B, and "
                        "the output pre-activations agree, then every interpolated network computes "
                        "A's function on the data: all barriers vanish, for any loss."),
             hypotheses=[H("H1_same_structure", _t("same_structure"), "same masks, fixed parts, activations"),
                         H("H2_nondecreasing", _t("nondecreasing"), "hidden activations non-decreasing"),
                         H("H3_identity_correspondence", S["max_mismatch"] <= S["tol"],
                           "neuron functions agree (max relative mismatch <= tol)"),
                         H("H4_outputs_agree", S["out_mismatch"] <= S["tol"], "output pre-activations agree")],
             conclusion="max barrier = 0 (up to tol)", pred=S["max_barrier"] <= S["tol"],
             checks=("symbolic", "numeric", "counterexample")),
        dict(id="T3", kind="theorem", title="Identifiability implies identity correspondence",
             statement=("If two runs see the same support and realize the same set of neuron "
                        "functions, each run's assignment is within eps of the minimum cost, and the "
                        "minimum is unique with margin gamma > eps, then both runs use the minimizer: "
                        "neuron i computes the same function in both, no alignment needed, and T2 "
                        "applies."),
             hypotheses=[H("H1_same_support_and_functions",
                           (S["support_mismatch"] <= S["tol"]) & (S["function_set_mismatch"] <= S["tol"]),
                           "same support and same set of neuron functions"),
                         H("H2_near_minimal", (S["excess_A"] <= S["eps"]) & (S["excess_B"] <= S["eps"]),
                           "each run's assignment within eps of the minimum"),
                         H("H3_margin_exceeds_eps", S["gamma"] > S["eps"], "margin gamma > eps")],
             conclusion="pi_A = pi_B", pred=_t("perm_A_equals_perm_B"),
             checks=("symbolic", "numeric", "counterexample")),
        dict(id="T4", kind="theorem", title="Barrier certificate (approximate identifiability)",
             statement=("For any A, B of one structure the recursion R^l = Lip_l (|dW| |dh| + max|W| "
                        "R^{l-1}) + g_l with the combined gap rule g = min(kappa Lip dz, (M/2) dz^2 + dz "
                        "sum_k |J_k|) (kinks c_k strictly between z_A and z_B, slope jumps J_k, |sigma''| <= "
                        "M between kinks, kappa = 1 for monotone sigma, else 2) bounds the deviation of the "
                        "path from the chord: |f_t - ((1-t) f_A + t f_B)| <= t(1-t) R^L elementwise (the "
                        "verdict tests this at every grid point); hence barrier bounds for MSE and "
                        "cross-entropy (global and per-sample box bounds; the smaller is used). Exact "
                        "correspondence gives R = 0 (T2)."),
             hypotheses=[H("H1_same_structure", _t("same_structure"), "same masks, fixed parts, activations"),
                         H("H2_lipschitz_finite", S["Lip"] < sp.oo, "sup |sigma'| finite"),
                         H("H3_gap_term", _t("gap_term_available"),
                           "ReLU / leaky ReLU, or a finite curvature bound M")],
             conclusion=("|f_t(x) - lerp f(x)| <= t(1-t) R^L(x) at every grid point, sample and output "
                         "(the worst entry; certificate = bound + rounding allowance)"),
             pred=S["gap_measured"] <= S["certificate"],
             checks=("symbolic", "numeric", "property")),
        dict(id="E1", kind="experiment", title="Synthetic coherence",
             statement=("Teacher relu(z1 + z2) on latent z ~ N(0, I_2) embedded in 2*copies "
                        "dimensions (exact copies or random tight frames, a active copies, coherence "
                        "1/a); one masked hidden ReLU layer (width 128, Bernoulli(0.15) mask), AdamW; "
                        "midpoint test-loss barrier on a 21-point grid vs coherence, per family."),
             hypotheses=[H("H1_grid", sp.Eq(S["grid_points"], 21), "21-point grid"),
                         H("H2_mask_density", (S["mask_p"] > 0) & (S["mask_p"] < 1), "0 < mask density < 1"),
                         H("H3_seeds", S["n_seeds"] >= 1, "at least one seed")],
             conclusion="barrier vs coherence reported per family with spread", pred=None,
             checks=("numeric",)),
        dict(id="E2", kind="experiment", title="Swap costs vs intrinsic dimension",
             statement=("Gaussian-mixture data in a random k-dimensional subspace (k in {2, 8, 32}); "
                        "W-MLPs with sigma_F in {0, 1}; heatmaps of Delta for a hidden layer, fraction "
                        "of negative entries and median. Expected: small mixed-sign costs for "
                        "sigma_F = 0, positive costs growing with k for sigma_F = 1."),
             hypotheses=[H("H1_sigma_F", S["sigma_F"] >= 0, "sigma_F >= 0"),
                         H("H2_dimension", S["k"] >= 1, "k >= 1")],
             conclusion="for sigma_F > 0 the median swap cost is positive",
             pred=sp.Implies(S["sigma_F"] > 0, S["median_delta"] > 0), checks=("numeric",)),
        dict(id="E3", kind="experiment", title="LMC unaligned vs aligned",
             statement=("Standard MLP, W-MLPs (sigma_F = 0, 1) and syre-MLP trained from independent "
                        "seeds on the same data; barriers without alignment, with activation "
                        "matching and with weight matching, plus the T4 certificate for each pair."),
             hypotheses=[H("H1_pairs", S["n_pairs"] >= 1, "at least one pair"),
                         H("H2_permutation_exact", S["perm_max_diff"] <= S["tol"],
                           "alignment permutations leave B's function unchanged")],
             conclusion="unaligned barrier <= T4 certificate",
             pred=S["barrier_unaligned"] <= S["certificate"], checks=("numeric",)),
    ]


def _n2_spec() -> dict:
    """THEORY section 4, N2 (checked by proofs_checks.normalization_checks)."""
    return dict(
        id="N2", kind="proposition", title="Scale symmetry of LayerNorm",
        statement=("For c > 0, (W, b) -> (cW, cb) of a layer followed by LayerNorm changes z to c z "
                   "and leaves the normalized output unchanged when eps = 0 (otherwise the centered "
                   "part changes by rho = c sqrt(var + eps)/sqrt(c^2 var + eps)). Along the straight "
                   "path between (W, b) and (cW, cb) the pre-activation is ((1-t) + tc) z, a positive "
                   "multiple of z, so with eps = 0 every point of the path computes the same function: "
                   "unlike ReLU rescaling (P6) this symmetry creates no barrier."),
        hypotheses=[H("H1_c_positive", S["scale_c"] > 0, "scale c > 0"),
                    H("H2_eps_zero", sp.Eq(S["norm_eps"], 0), "LayerNorm eps = 0")],
        conclusion="the path is flat: max_t |L(t) - L(0)| (relative) <= tol",
        pred=S["max_barrier"] <= S["tol"], checks=("symbolic", "numeric", "property"))


@functools.lru_cache(maxsize=1)
def _registry() -> dict[str, Result]:
    out: dict[str, Result] = {}
    for spec in _spec() + [_n2_spec()]:
        rid = spec["id"]
        obligations = tuple(Obligation(rid, name, fn) for name, fn in _obligations(rid))
        out[rid] = Result(rid, spec["kind"], spec["title"], spec["statement"], tuple(spec["hypotheses"]),
                          spec["conclusion"], spec["pred"], tuple(spec["checks"]), obligations)
    return out


#: The IDs of THEORY.md, in document order.
RESULT_IDS: tuple[str, ...] = ("D1", "D2", "D3", "D4", "D5", "D6", "D7", "P1", "P2", "P3", "P4", "P5",
                               "P6", "T1", "T2", "T3", "T4", "E1", "E2", "E3", "N2")


def all_results() -> tuple[Result, ...]:
    """Every registered item, in THEORY.md order.

    Examples
    --------
    >>> [r.id for r in all_results()][:3]
    ['D1', 'D2', 'D3']
    """
    reg = _registry()
    return tuple(reg[i] for i in RESULT_IDS)


def get_result(result_id: str) -> Result:
    """The :class:`Result` for an ID (case-insensitive).

    Raises
    ------
    UnknownResultError
        If the ID is not in THEORY.md; the message lists the valid IDs.

    Examples
    --------
    >>> get_result("t4").title
    'Barrier certificate (approximate identifiability)'
    """
    key = str(result_id).strip().upper()
    reg = _registry()
    if key not in reg:
        raise UnknownResultError(f"unknown result ID '{result_id}'; valid: {', '.join(RESULT_IDS)}")
    return reg[key]

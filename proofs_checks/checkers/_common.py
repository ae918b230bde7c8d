"""Shared by every result module: tolerances, the :class:`Check` verdict record,
:func:`evaluate` (registry predicates -> verdict, THEORY.md section 2), and the small
measurement helpers (monotonicity texts, cross-checks of supports and anisotropies)
that several results rest on.

Tolerances (float64), one per quantity:

- ``REL_TOL = 1e-9``: identities that are exact in real arithmetic (cost matrices,
  swap costs, bounds on them), relative to the scale of the numbers involved (sums of
  at most a few thousand products, each rounding at 1e-16 relative);
- ``FUNCTION_TOL = 1e-8``: statements about functions of whole networks (T2, T3, P5's
  pair test, P6's function change), relative, since rounding accumulates through the
  layers;
- ``ISO_TOL = 1e-9``: isotropy ``||S - p I||`` (P3's and P4's hypotheses): ``S = U^T
  diag(m) U`` has eigenvalues in [0, 1] whatever the weights' scale, rounding ~1e-15 r;
- ``CROSS_CHECK_TOL = 1e-9``: cross-checks of a measured quantity against a direct
  recomputation from its definition (anisotropy, coherence, explained variance,
  ``U^T U``): all O(1) and computed with errors ~1e-15 r. A failed cross-check makes the
  verdict ``undetermined`` (a defect of the computation, not of the theory).

Result-specific tolerances live in their result's module (``P1_REL_TOL`` in
:mod:`.p1`, ``P6_PHI_TOL`` in :mod:`.p6`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.activations import apply_activation
from neuronid.numerics.io import to_jsonable
from neuronid.numerics.network import Network
from neuronid.numerics.threads import single_threaded_blas
from neuronid.theory.activations import get_activation
from neuronid.theory.registry import get_result

if TYPE_CHECKING:  # annotations only: the context imports this module
    from .context import CheckContext

REL_TOL = 1e-9
FUNCTION_TOL = 1e-8
CROSS_CHECK_TOL = 1e-9
ISO_TOL = 1e-9

VERDICTS = ("holds", "fails", "hypotheses not met", "not applicable", "theory violation", "undetermined")
CHECKED_RESULTS = ("P1", "P2", "P3", "P4", "P5", "P6", "T1", "T2", "T3", "T4")


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
    """A ``not applicable`` verdict with its reason (the result does not speak about these inputs)."""
    return Check(result_id, scope, "not applicable", {}, {"status": "not evaluated", "reason": reason},
                 dict(quantities or {}), [reason])



def _monotone(names) -> str:
    """Weakest monotonicity class of a set of activation names."""
    classes = {get_activation(n).monotone for n in set(names)}
    for label in ("non_monotone", "non_decreasing", "strictly_increasing"):
        if label in classes:
            return label
    return "strictly_increasing"


def _determined(names, found):
    """``found`` (a hypothesis value read from the activations' symbolic facts), or
    ``None`` (undetermined) when the analysis of one of the activations ``names`` is
    undetermined: its facts (``non_monotone``, unbounded Lipschitz constant) are then
    conservative stand-ins, not findings, and a hypothesis must not fail on them."""
    if any(get_activation(n).undetermined for n in set(names)):
        return None
    return found


def _monotone_text(names, wanted: str) -> str:
    """What was found for a monotonicity hypothesis (``wanted``: ``strictly_increasing``
    or ``non_decreasing``): the activations that miss it, with their decreasing intervals."""
    order = {"strictly_increasing": 2, "non_decreasing": 1, "non_monotone": 0}
    parts = []
    for n in dict.fromkeys(names):
        act = get_activation(n)
        if act.undetermined:
            parts.append(f"activation {n}: monotonicity undetermined ({act.undetermined})")
            continue
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
    # r x r: OpenBLAS threads cost more than they give here (measured 1.8 ms against 5.6 ms
    # at r = 169 with one other job running, 0.28 s with 2 threads under heavier load)
    with single_threaded_blas():
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


def _worst_entry(dev) -> tuple[int, int]:
    """Index of the largest entry of a deviation matrix (nan counts as largest: a
    deviation that cannot be computed is not a pass)."""
    dev = np.where(np.isnan(dev), np.inf, dev)
    k, j = np.unravel_index(int(np.argmax(dev)), dev.shape)
    return int(k), int(j)


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
    return apply_activation(name, z)


def random_support_points(rng, n: int, d: int, r: int, *, spread: float = 1.0) -> np.ndarray:
    """``n`` points in a random ``r``-dimensional affine subspace of ``R^d``, with
    well-conditioned coordinates (singular values of the centered points bounded away
    from 0)."""
    B = np.linalg.qr(rng.normal(size=(d, r)))[0]
    Y = rng.normal(size=(n, r))
    Y -= Y.mean(axis=0)
    Uy, s, Vt = np.linalg.svd(Y, full_matrices=False)
    s = np.clip(s, 0.3 * np.sqrt(n), None)  # keep the support well conditioned
    Y = (Uy * s) @ Vt * spread / np.sqrt(n)
    return Y @ B.T + rng.normal(size=d)


def _hidden_ok(net: Network, layer: int) -> None:
    """Refuse a layer index that is not a hidden layer of ``net`` (numeric confirmations)."""
    if not 0 <= layer < len(net.layers) - 1:
        raise InvalidOptionError(f"layer {layer} is out of range: hidden layers are 0..{len(net.layers) - 2}")

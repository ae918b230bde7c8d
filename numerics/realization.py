"""Realization costs of arbitrary target functions on a finite support with cvxpy
(THEORY.md D2).

What
----
A neuron with trainable-entry mask ``m``, fixed part ``f`` and activation ``sigma``
realizes a target ``h`` (its values on the ``n`` support points, rows of ``X``) when
``sigma((m * theta + f) . x + b) = h(x)`` for every support point. The realization
cost is ``C(h) = min ||m * theta||^2`` (plus ``beta_b b^2`` for a penalized bias) over
all realizing ``(theta, b)``, ``+inf`` if none exists.

Each point confines the pre-activation ``z(x) = (m*theta + f) . x + b`` to the
preimage ``sigma^{-1}(h(x))``:

- strictly increasing ``sigma`` (identity, leaky ReLU with slope > 0, tanh, sigmoid,
  softplus, ELU): one value, ``z = sigma^{-1}(h)`` -> equality constraints (where
  ``sigma`` saturates, the float target only pins ``z`` to an interval:
  :func:`preimage_uncertainty`);
- ReLU / hard tanh (non-decreasing with flat pieces): a closed interval
  (ReLU: ``z = h`` where ``h > 0``, ``z <= 0`` where ``h = 0``) -> interval
  constraints; a convex QP;
- GELU / SiLU (non-monotone): up to two values per point (a union of intervals) ->
  non-convex. :class:`Realizer` enumerates the ``2^k`` branch choices of the ``k``
  ambiguous points exactly when ``k <= max_branch_points``; otherwise it returns an
  **upper estimate** (the best of a few branch choices), labelled ``exact=False`` and
  ``method="branch_upper_estimate"``.

``eps > 0`` gives the epsilon-realization of D2: every preimage interval is widened by
``eps`` in pre-activation space (``|z - z*| <= eps``; for ReLU ``|z - h| <= eps`` on
active points and ``z <= eps`` on inactive ones).

How
---
:class:`Realizer` builds each cvxpy problem **once** with
:class:`cvxpy.Parameter` targets (DPP; asserted) and re-solves it for every target:
the compiled problem is reused, only parameter values change. An auxiliary variable
``z = X_T theta + X f + offset + b`` keeps the dense data out of the parametrized
constraints, which are diagonal in ``z``:
``multiply(eq_ind, z) == eq_val``, ``multiply(lo_ind, z) >= lo_val``,
``multiply(hi_ind, z) <= hi_val`` with 0/1 indicator Parameters (a product
``Parameter * Parameter`` is not DPP, so ``eq_val = eq_ind * value`` is its own
Parameter).

Solvers are chosen explicitly: by default CLARABEL (interior point, accurate), then
OSQP, then SCS as fallbacks, with tight tolerances. A solver error, an inaccurate
status or a solution failing the independent feasibility check triggers the next
solver. Outcomes map to canonical statuses in one table (:data:`STATUS_TABLE`):
``optimal``, ``optimal_inaccurate``, ``infeasible``, ``error``. Only ``optimal``
results carry ``exact=True``; an inaccurate solve keeps its cost but says so; a
failed solve has ``cost = nan``; an infeasible target has ``cost = inf``. A target
value outside the activation's range (e.g. a negative value for ReLU) is infeasible
without calling a solver (``method="preimage"``).

Example
-------
>>> import numpy as np
>>> X = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
>>> h = np.maximum(X @ np.array([1.0, -1.0]), 0.0)        # relu(x1 - x2)
>>> res = Realizer(X, activation="relu").realize(h)
>>> res.status, round(res.cost, 6), res.exact
('optimal', 1.0, True)
>>> pre = Realizer(X, activation="identity").realize(X @ np.array([1.0, -1.0]))
>>> round(pre.cost, 6)        # the pre-activation cost is larger: x2 is unconstrained above
2.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product

import numpy as np

from neuronid.errors import InvalidDataError, InvalidOptionError

from ._validation import check_array, check_number, ensure_finite
# the numeric activation catalogue (monotonicity, inverses, preimages) lives in .activations;
# re-exported here, where the realization API has always offered them
from .activations import (
    activation_monotonicity,
    inverse_activation,
    parse_activation,
    preimage_intervals,
    preimage_uncertainty,
)

__all__ = [
    "Realization",
    "Realizer",
    "realize",
    "activation_monotonicity",
    "preimage_intervals",
    "inverse_activation",
    "preimage_uncertainty",
    "STATUS_TABLE",
    "CANONICAL_STATUSES",
    "DEFAULT_SOLVERS",
]

CANONICAL_STATUSES = ("optimal", "optimal_inaccurate", "infeasible", "error")
#: Solver order tried by default (filtered by what is installed).
DEFAULT_SOLVERS = ("CLARABEL", "OSQP", "SCS")

#: cvxpy status -> canonical status (one table for every backend). An
#: ``infeasible_inaccurate`` or ``unbounded`` outcome is not trusted: ``error``.
STATUS_TABLE = {
    "optimal": "optimal",
    "optimal_inaccurate": "optimal_inaccurate",
    "infeasible": "infeasible",
    "infeasible_inaccurate": "error",
    "unbounded": "error",
    "unbounded_inaccurate": "error",
    "infeasible_or_unbounded": "error",
    "user_limit": "error",
    "solver_error": "error",
    None: "error",
}

def _osqp_polish() -> dict:
    """OSQP >= 1.0 renamed ``polish`` to ``polishing``."""
    try:
        from importlib.metadata import version

        major = int(version("osqp").split(".")[0])
    except Exception:  # pragma: no cover - osqp missing or odd version string
        return {}
    return {"polishing": True} if major >= 1 else {"polish": True}


#: Per-solver settings: tight tolerances so that costs agree with closed forms to 1e-6.
_SOLVER_SETTINGS = {
    "CLARABEL": dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=400),
    "OSQP": dict(eps_abs=1e-10, eps_rel=1e-10, max_iter=200000, **_osqp_polish()),
    "SCS": dict(eps_abs=1e-9, eps_rel=1e-9, max_iters=200000),
}

# ------------------------------------------------------------------ results
@dataclass
class Realization:
    """Result of one realization problem (D2).

    Attributes
    ----------
    status : one of :data:`CANONICAL_STATUSES`.
    cost : ``||m * theta||^2 (+ beta_b b^2)``; ``inf`` if infeasible, ``nan`` on error.
    theta : (d,) minimizing trainable parameters (0 where the mask is 0), or ``None``.
    bias : the minimizing bias, or ``None``.
    exact : True only for an ``optimal`` solve of the exact problem (not an upper
        estimate, not inaccurate).
    method : ``"equality_qp"``, ``"interval_qp"``, ``"branch_enumeration"``,
        ``"branch_upper_estimate"`` or ``"preimage"`` (rejected before solving).
    solver : the solver that produced the answer (``None`` if none ran).
    residual : largest constraint violation of the returned point (absolute).
    attempts : ``[(solver, canonical status, message)]`` in the order tried.
    message : human-readable detail (why infeasible, which fallback, ...).
    duals : multipliers ``{"eq", "lo", "hi"}`` (n,) of the final solve, for KKT checks.
    branches : number of branch problems solved (non-monotone activations).
    """

    status: str
    cost: float
    theta: np.ndarray | None = None
    bias: float | None = None
    exact: bool = False
    method: str = ""
    solver: str | None = None
    residual: float = float("nan")
    attempts: list = field(default_factory=list)
    message: str = ""
    duals: dict | None = None
    branches: int = 0

    def to_json(self) -> dict:
        return {
            "status": self.status,
            "cost": self.cost,
            "exact": self.exact,
            "method": self.method,
            "solver": self.solver,
            "residual": self.residual,
            "theta": None if self.theta is None else self.theta.tolist(),
            "bias": self.bias,
            "attempts": [list(a) for a in self.attempts],
            "message": self.message,
            "branches": self.branches,
        }


@lru_cache(maxsize=1)
def _installed_solvers() -> frozenset:
    """``cvxpy.installed_solvers()`` once per process (each call re-imports solver
    modules: ~5 ms, a fifth of a small solve)."""
    import cvxpy as cp

    return frozenset(cp.installed_solvers())


def _known_solvers() -> set[str]:
    from cvxpy.reductions.solvers import defines

    return set(defines.SOLVER_MAP_CONIC) | set(defines.SOLVER_MAP_QP)


def _check_solvers(solver, fallback: bool) -> tuple[str, ...]:
    known = _known_solvers()
    if solver is None:
        order = [s for s in DEFAULT_SOLVERS if s in _installed_solvers()]
        if not fallback:
            order = order[:1]
        return tuple(order)
    names = [solver] if isinstance(solver, str) else list(solver)
    out = []
    for name in names:
        if not isinstance(name, str) or name.upper() not in known:
            raise InvalidOptionError(
                f"unknown solver {name!r}; cvxpy knows {', '.join(sorted(known))}; installed here: "
                f"{', '.join(sorted(_installed_solvers()))}"
            )
        out.append(name.upper())
    if fallback:
        out += [s for s in DEFAULT_SOLVERS if s not in out and s in _installed_solvers()]
    return tuple(out)


# ------------------------------------------------------------------ the realizer
class Realizer:
    """Minimal-norm realizations of many targets on one support (D2), re-solving one
    compiled cvxpy problem per constraint mode.

    Parameters
    ----------
    X : (n, d) support points (rows).
    activation : activation name (catalogue or ``sympy:`` strictly increasing).
    mask : (d,) 0/1 trainable-entry mask (default all ones).
    fixed : (d,) fixed part ``f`` (default 0).
    offset : (n,) extra constant added to every pre-activation (default 0); lets
        callers express reduced problems (effective coordinates).
    bias : ``"free"`` (default, unpenalized) or ``"penalized"`` (adds
        ``bias_penalty * b^2`` to the cost).
    bias_penalty : ``beta_b > 0`` for a penalized bias.
    eps : epsilon-realization half-width in pre-activation space (default 0: exact).
    solver : solver name or list of names tried first; default CLARABEL.
    fallback : try the other installed default solvers when one fails (default True).
    max_branch_points : non-monotone activations: exact branch enumeration when at
        most this many points have two preimages (``2^k`` solves), else an upper
        estimate.
    verify_rtol : feasibility check of every returned point: constraint violation at
        most ``verify_rtol * (1 + max |bound|)``, else ``optimal_inaccurate``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.eye(3)
    >>> r = Realizer(X, activation="identity", mask=np.array([1.0, 1.0, 0.0]))
    >>> res = r.realize(np.array([1.0, -1.0, 0.0]))   # z = theta_k + b; z_3 = b
    >>> res.status, round(res.cost, 6), round(res.bias, 6)
    ('optimal', 2.0, 0.0)
    >>> r.realize(np.array([1.0, 2.0])).status
    Traceback (most recent call last):
    ...
    neuronid.errors.InvalidDataError: target h: expected 3 values (one per support point), found 2
    """

    def __init__(self, X, *, activation="identity", mask=None, fixed=None, offset=None, bias="free",
                 bias_penalty=None, eps=0.0, solver=None, fallback=True, max_branch_points=8,
                 verify_rtol=1e-6):
        X = check_array(X, what="support X", ndim=2, layout="(n, d)", allow_empty=False, empty_noun="support")
        n, d = X.shape
        self.X = X
        self.activation = parse_activation(activation).name
        self.kind = activation_monotonicity(self.activation)
        self.mask = np.ones(d) if mask is None else np.asarray(mask, dtype=np.float64).reshape(-1)
        self.fixed = np.zeros(d) if fixed is None else np.asarray(fixed, dtype=np.float64).reshape(-1)
        for what, arr in (("mask", self.mask), ("fixed", self.fixed)):
            if arr.shape != (d,):
                raise InvalidDataError(f"{what}: expected shape ({d},) to match X {X.shape}, found {arr.shape}")
            ensure_finite(arr, what)
        if not np.all((self.mask == 0.0) | (self.mask == 1.0)):
            raise InvalidDataError("mask: entries must be 0 or 1")
        off = np.zeros(n) if offset is None else np.asarray(offset, dtype=np.float64).reshape(-1)
        if off.shape != (n,) or not np.all(np.isfinite(off)):
            raise InvalidDataError(f"offset: expected {n} finite values, found shape {off.shape}")
        if bias not in ("free", "penalized"):
            raise InvalidOptionError(f"bias must be 'free' or 'penalized', found {bias!r}")
        if bias == "penalized":
            self.beta = check_number(bias_penalty, what="bias_penalty", low=0.0, low_open=True,
                                     hint="bias='penalized' needs bias_penalty > 0")
        else:
            self.beta = 0.0
        self.bias = bias
        self.eps = check_number(eps, what="eps", low=0.0)
        if int(max_branch_points) < 0:
            raise InvalidOptionError(f"max_branch_points must be >= 0, found {max_branch_points}")
        self.max_branch_points = int(max_branch_points)
        self.verify_rtol = float(verify_rtol)
        self.solvers = _check_solvers(solver, fallback)
        self.trainable = np.flatnonzero(self.mask == 1.0)
        self.const = X @ self.fixed + off
        self._problems = {}

    # ----------------------------------------------------------- problem building
    def _build(self, mode: str):
        import cvxpy as cp

        n = self.X.shape[0]
        k = self.trainable.size
        Xt = self.X[:, self.trainable] if k else np.zeros((n, 1))
        theta = cp.Variable(max(k, 1), name="theta")
        b = cp.Variable(name="bias")
        z = cp.Variable(n, name="z")
        objective = cp.sum_squares(theta)
        if self.beta > 0:
            objective = objective + self.beta * cp.square(b)
        cons = [z == Xt @ theta + self.const + b]
        params = {}
        if mode == "equality":
            params["zs"] = cp.Parameter(n, name="zs")
            cons.append(z == params["zs"])
        else:
            for key in ("eq", "lo", "hi"):
                params[f"{key}_ind"] = cp.Parameter(n, nonneg=True, name=f"{key}_ind")
                params[f"{key}_val"] = cp.Parameter(n, name=f"{key}_val")
            cons += [
                cp.multiply(params["eq_ind"], z) == params["eq_val"],
                cp.multiply(params["lo_ind"], z) >= params["lo_val"],
                cp.multiply(params["hi_ind"], z) <= params["hi_val"],
            ]
        if k == 0:
            cons.append(theta == 0)
        problem = cp.Problem(cp.Minimize(objective), cons)
        assert problem.is_dpp(), "realization problem must be DPP (parametrized once, re-solved)"
        return dict(problem=problem, theta=theta, b=b, z=z, params=params, cons=cons, mode=mode)

    def _get(self, mode: str):
        if mode not in self._problems:
            self._problems[mode] = self._build(mode)
        return self._problems[mode]

    # ----------------------------------------------------------- solving
    def _solve_intervals(self, lo: np.ndarray, hi: np.ndarray) -> Realization:
        """One convex problem: ``z(x_s) in [lo_s, hi_s]`` (ends may be infinite)."""
        if self.eps > 0:
            lo = lo - self.eps
            hi = hi + self.eps
        eq = np.isfinite(lo) & np.isfinite(hi) & (lo == hi)
        if np.all(eq):
            P = self._get("equality")
            P["params"]["zs"].value = lo.copy()
            method = "equality_qp"
        else:
            P = self._get("interval")
            pr = P["params"]
            has_lo = np.isfinite(lo) & ~eq
            has_hi = np.isfinite(hi) & ~eq
            pr["eq_ind"].value = eq.astype(np.float64)
            pr["eq_val"].value = np.where(eq, lo, 0.0)
            pr["lo_ind"].value = has_lo.astype(np.float64)
            pr["lo_val"].value = np.where(has_lo, lo, 0.0)
            pr["hi_ind"].value = has_hi.astype(np.float64)
            pr["hi_val"].value = np.where(has_hi, hi, 0.0)
            method = "interval_qp"
        finite = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
        scale = 1.0 + (float(np.max(np.abs(finite))) if finite.size else 0.0)
        attempts = []
        best = None
        for solver in self.solvers:
            res = self._solve_once(P, solver, lo, hi, scale, method)
            attempts.append((solver, res.status, res.message))
            if res.status in ("optimal", "infeasible"):
                best = res
                break
            if best is None or (best.status == "error" and res.status == "optimal_inaccurate"):
                best = res
        if best is None:
            best = Realization(status="error", cost=float("nan"), method=method,
                               message="no solver available (none of CLARABEL, OSQP, SCS installed)")
        best.attempts = attempts
        if len(attempts) > 1 and best.status in ("optimal", "infeasible"):
            best.message = (best.message + "; " if best.message else "") + (
                "fallback after " + ", ".join(f"{s}: {st}" for s, st, _ in attempts[:-1])
            )
        return best

    def _solve_once(self, P, solver: str, lo, hi, scale, method) -> Realization:
        import cvxpy as cp

        problem = P["problem"]
        if solver not in _installed_solvers():
            return Realization(status="error", cost=float("nan"), method=method, solver=solver,
                               message=f"solver {solver} is not installed")
        try:
            problem.solve(solver=solver, **_SOLVER_SETTINGS.get(solver, {}))
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            return Realization(status="error", cost=float("nan"), method=method, solver=solver,
                               message=f"{solver} failed: {type(exc).__name__}: {exc}")
        status = STATUS_TABLE.get(problem.status, "error")
        if status == "infeasible":
            return Realization(status="infeasible", cost=float("inf"), method=method, solver=solver,
                               exact=True, message="no parameters realize the target (solver certificate)")
        if status == "error" or P["theta"].value is None:
            return Realization(status="error", cost=float("nan"), method=method, solver=solver,
                               message=f"{solver} returned status {problem.status!r}")
        theta_t = np.asarray(P["theta"].value, dtype=np.float64).reshape(-1)
        b = float(P["b"].value)
        theta = np.zeros(self.X.shape[1])
        if self.trainable.size:
            theta[self.trainable] = theta_t
        zval = self.X @ (self.mask * theta) + self.const + b
        with np.errstate(invalid="ignore"):
            viol = np.maximum(np.nan_to_num(lo - zval, nan=0.0, neginf=0.0), 0.0)
            viol = np.maximum(viol, np.maximum(np.nan_to_num(zval - hi, nan=0.0, neginf=0.0), 0.0))
        residual = float(np.max(viol)) if viol.size else 0.0
        cost = float(np.sum(theta**2) + self.beta * b * b)
        duals = self._duals(P)
        message = ""
        if residual > self.verify_rtol * scale:
            status = "optimal_inaccurate"
            message = (f"{solver} solution violates constraints by {residual:.3g} "
                       f"(> {self.verify_rtol:g} * {scale:.3g})")
        elif status == "optimal_inaccurate":
            message = f"{solver} reported optimal_inaccurate"
        return Realization(status=status, cost=cost, theta=theta, bias=b, exact=status == "optimal",
                           method=method, solver=solver, residual=residual, message=message, duals=duals)

    def _duals(self, P) -> dict:
        """Multipliers as one vector per constraint family on ``z``."""
        n = self.X.shape[0]
        cons = P["cons"]

        def val(c):
            v = c.dual_value
            return np.zeros(n) if v is None else np.asarray(v, dtype=np.float64).reshape(-1)

        if P["mode"] == "equality":
            return {"eq": val(cons[1]), "lo": np.zeros(n), "hi": np.zeros(n), "link": val(cons[0])}
        return {"eq": val(cons[1]), "lo": val(cons[2]), "hi": val(cons[3]), "link": val(cons[0])}

    # ----------------------------------------------------------- public
    def _check_target(self, h) -> np.ndarray:
        arr = np.asarray(h)
        n = self.X.shape[0]
        if arr.dtype.kind not in "fiub":
            raise InvalidDataError(f"target h: expected real values, found dtype {arr.dtype}")
        arr = np.asarray(arr, dtype=np.float64).reshape(-1) if arr.ndim <= 1 else arr
        if arr.ndim != 1 or arr.size != n:
            raise InvalidDataError(
                f"target h: expected {n} values (one per support point), found "
                f"{arr.size if arr.ndim == 1 else arr.shape}"
            )
        return ensure_finite(arr, "target h")

    def realize(self, h, *, z_hint=None) -> Realization:
        """Minimal-cost realization of the target values ``h`` (n,).

        ``z_hint`` (n,): for non-monotone activations beyond exact enumeration, one of
        the branch choices tried picks, per point, the preimage nearest to
        ``z_hint`` (e.g. the current neuron's pre-activation).
        """
        h = self._check_target(h)
        lo, hi, count = preimage_intervals(self.activation, h)
        if np.any(count == 0):
            bad = int(np.flatnonzero(count == 0)[0])
            return Realization(
                status="infeasible", cost=float("inf"), exact=True, method="preimage",
                message=(f"target value {h[bad]!r} at support point {bad} lies outside the range of "
                         f"{self.activation} ({int(np.sum(count == 0))} such points)"),
            )
        ambiguous = np.flatnonzero(count == 2)
        if ambiguous.size == 0:
            return self._solve_intervals(lo[:, 0].copy(), hi[:, 0].copy())
        return self._branches(lo, hi, ambiguous, z_hint)

    def _branches(self, lo, hi, ambiguous, z_hint) -> Realization:
        k = ambiguous.size
        if k <= self.max_branch_points:
            choices = product((0, 1), repeat=k)
            method, exact = "branch_enumeration", True
        else:
            cand = [np.zeros(k, dtype=int), np.ones(k, dtype=int)]
            if z_hint is not None:
                zh = np.asarray(z_hint, dtype=np.float64).reshape(-1)
                if zh.shape != (self.X.shape[0],):
                    raise InvalidDataError(f"z_hint: expected {self.X.shape[0]} values, found {zh.shape}")
                d0 = np.abs(zh[ambiguous] - lo[ambiguous, 0])
                d1 = np.abs(zh[ambiguous] - lo[ambiguous, 1])
                cand.append((d1 < d0).astype(int))
            choices = cand
            method, exact = "branch_upper_estimate", False
        best = None
        solved = 0
        statuses = []
        for choice in choices:
            l, u = lo[:, 0].copy(), hi[:, 0].copy()
            sel = np.asarray(choice, dtype=int)
            l[ambiguous] = lo[ambiguous, sel]
            u[ambiguous] = hi[ambiguous, sel]
            res = self._solve_intervals(l, u)
            solved += 1
            statuses.append(res.status)
            if res.status in ("optimal", "optimal_inaccurate") and (best is None or res.cost < best.cost):
                best = res
        n_err = sum(s == "error" for s in statuses)
        n_inacc = sum(s == "optimal_inaccurate" for s in statuses)
        if best is None:
            if n_err:
                best = Realization(status="error", cost=float("nan"), method=method,
                                   message=f"{n_err} of {solved} branch problems failed")
            else:
                best = Realization(status="infeasible", cost=float("inf"), exact=exact, method=method,
                                   message=f"all {solved} branch choices are infeasible")
                if not exact:
                    best.status = "error"
                    best.cost = float("nan")
                    best.message = (f"upper estimate: none of the {solved} branch choices tried is feasible; "
                                    "the target may still be realizable with another branch choice")
            best.branches = solved
            return best
        best.method = method
        best.branches = solved
        best.exact = exact and best.status == "optimal" and n_err == 0 and n_inacc == 0
        notes = []
        if not exact:
            notes.append(f"upper estimate: {k} points have two preimages; {solved} of 2^{k} branch choices tried")
        if n_err or n_inacc:
            notes.append(f"{n_err} branch problems failed, {n_inacc} inaccurate: the minimum is not certified")
        if notes:
            best.message = "; ".join(notes + ([best.message] if best.message else []))
        return best

    def realize_many(self, H, *, z_hints=None) -> list[Realization]:
        """Realize each column of ``H`` (n, t): one compiled problem, many solves."""
        H = np.asarray(H)
        if H.ndim != 2 or H.shape[0] != self.X.shape[0]:
            raise InvalidDataError(f"targets H: expected shape ({self.X.shape[0]}, t), found {H.shape}")
        out = []
        for j in range(H.shape[1]):
            hint = None if z_hints is None else np.asarray(z_hints)[:, j]
            out.append(self.realize(H[:, j], z_hint=hint))
        return out


def realize(X, h, **options) -> Realization:
    """One-off :meth:`Realizer.realize` (builds the problem; use :class:`Realizer` for
    many targets on one support).

    >>> import numpy as np
    >>> res = realize(np.array([[0.0], [1.0], [2.0]]), np.array([1.0, 3.0, 5.0]))
    >>> res.status, round(res.cost, 6), round(res.bias, 6)
    ('optimal', 4.0, 1.0)
    """
    z_hint = options.pop("z_hint", None)
    return Realizer(X, **options).realize(h, z_hint=z_hint)

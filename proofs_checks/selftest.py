"""Mutation self-test of the checkers: does every verdict test its conclusion?

For every result P1-P6, T1-T4 the self-test runs the result's checker
(:mod:`.checkers`) on a small case where the conclusion holds (the verdict must be
``holds``) and on planted defects of the computation the checker relies on (the
verdict must be ``theory violation``, or ``undetermined`` where nothing can be
tested). A checker that says ``holds`` under a planted defect has no power against
it: that is a bug of the checker, and the self-test fails.

Defects are planted through the documented hook of
:class:`~.checkers.CheckContext`: ``mutations={point: function}`` with the points of
:data:`~.checkers.MUTATION_POINTS` (a cost matrix, a realization, the activation used
to measure phi, a bound, a loss curve, a permutation, ...). No code is edited.

A user who adds a checker adds a :class:`Case` with its mutations to :data:`CASES`
(or passes their own list to :func:`run_selftest`) and runs ``neuronid selftest``.

Power has limits, and the checkers report them: P3 and T1 test *bounds*, so a
defect smaller than the bound's room passes (on the P3 case here a 1 % change of
``K`` stays inside the bound: worst entry at 0.83 of it, ``max_K_ratio``; T1 reports
``power`` = quantile / bound, ~0.2, so a bound shrunk 5x still passes while x 0.05
is caught). T4's case is chosen where the elementwise bound is attained (tightness
1), so any shrinking of the bound is caught there.

Where a bound cannot see a defect (anisotropies returned as zeros, a coherence
outside ``[r/d, 1]``, a support that is not orthonormal or misses variance), the
checkers cross-check the measurement against its definition and say
``undetermined``: those defects are planted with ``expected="undetermined"``.

Example
-------
>>> out = run_selftest(["T2"])
>>> out["score"], out["passed"]
(1.0, True)
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.network import Network
from neuronid.numerics.structures import standard_mlp, syre_mlp, w_mlp

from .checkers import CHECKED_RESULTS, CHECKERS, CheckContext

__all__ = ["Mutation", "Case", "CASES", "run_selftest", "selftest_table"]


@dataclass(frozen=True)
class Mutation:
    """A planted defect: ``mutations`` for :class:`CheckContext` and the verdict it must
    produce (``theory violation`` unless nothing can be tested)."""

    name: str
    mutations: dict
    expected: str = "theory violation"


@dataclass(frozen=True)
class Case:
    """A result's self-test: ``build()`` returns ``(A, B, X, y, context_options)`` for a
    case where the conclusion holds; ``mutations`` are the planted defects."""

    result: str
    description: str
    build: Callable[[], tuple]
    mutations: tuple = field(default_factory=tuple)


# ------------------------------------------------------------------------- cases
def _data(d=6, n=60, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % classes


def _subspace_data(d=24, r=3, n=200, seed=0):
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, r)))[0]
    return rng.normal(size=(n, r)) @ basis.T, np.arange(n) % 3


def _noise(shape, seed=1):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=shape)


def _perturb_1pct(K):
    """Every entry of K changed by up to 1 % of itself (seeded)."""
    return K * (1.0 + 0.01 * _noise(K.shape))


def _bump_entry(K):
    """One off-diagonal entry raised by 1 % of max |K|."""
    K = K.copy()
    K[0, 1] += 0.01 * np.max(np.abs(K[np.isfinite(K)]))
    return K


def _shift_1pct(K):
    return K + 0.01 * np.max(np.abs(K[np.isfinite(K)]))


def _shift_10max(K):
    return K + 10.0 * np.max(np.abs(K[np.isfinite(K)]))


def _one_neuron_pair():
    """1-1-1 ReLU pair; the hidden neuron changes sign at t = 1/2 on x = 1, where the
    elementwise T4 bound is attained (tightness 1): a bound x 0.5 is detectable."""
    A = standard_mlp([1, 1, 1], seed=0)
    B = A.copy()
    for net, w in ((A, 1.0), (B, -1.0)):
        net.layers[0].weight[:] = w
        net.layers[0].bias[:] = 0.0
        net.layers[1].weight[:] = 1.0
        net.layers[1].bias[:] = 0.0
    X = np.array([[1.0], [0.5], [-2.0]])
    return A, B, X, 0.3 * X, {"loss": "mse", "align": ()}


def _same(net: Network, X, y, **options):
    return net, net, X, y, {"loss": "ce", "align": (), **options}


def _swap01(perm):
    perm = perm.copy()
    perm[[0, 1]] = perm[[1, 0]]
    return perm


def _fail_realization(res):
    return dataclasses.replace(res, status="error", theta=None, bias=None, cost=float("nan"))


def _shift_midpoint(h):
    return h + 1e-3 * max(float(np.max(np.abs(h))), 1.0)


def _leaky(_):
    return lambda z: np.where(z > 0, z, 0.1 * z)


def _relu_15(_):
    return lambda z: np.maximum(z, 0.0) ** 1.5


def _scaled_output(B):
    B = B.copy()
    B.layers[-1].weight *= 1.01
    return B


def _tilted_costs(costs):
    """The orbit's norm costs with a 10 % linear tilt: the minimum moves off the balanced point."""
    return costs * (1.0 + 0.1 * np.linspace(-1.0, 1.0, costs.size))


def _drop_last_direction(sup):
    """The support without its last principal direction (rank and coherence recomputed,
    explained variance left as recorded): a support that no longer reaches tau."""
    U = sup.U[:, :-1]
    return dataclasses.replace(sup, U=U, rank=U.shape[1], coherence=float(np.max(np.sum(U * U, axis=1))))


def _delta_in_shift_1pct(D):
    """Delta_in off-diagonal + 1 % of its max |entry| (K unchanged)."""
    D = D + 0.01 * max(np.max(np.abs(D[np.isfinite(D)]), initial=0.0), 1e-3)
    np.fill_diagonal(D, 0.0)
    return D


def _delta_in_shift_10max(D):
    D = D + 10.0 * max(np.max(np.abs(D[np.isfinite(D)]), initial=0.0), 1e-3)
    np.fill_diagonal(D, 0.0)
    return D


def _bump_loss(loss):
    loss = loss.copy()
    loss[loss.size // 2] += 1e-3 * max(abs(float(loss[0])), 1.0)
    return loss


def _tilt_loss(loss):
    return loss + 1e-3 * max(abs(float(loss[0])), 1.0) * np.linspace(0.0, 1.0, loss.size)


def _interior_outputs_off(F):
    F = F.copy()
    F[1:-1] += 1.0
    return F


CASES: tuple[Case, ...] = (
    Case("P1", "tanh W-MLP layer (sigma_F = 1): cvxpy vs the closed form",
         lambda: _same(w_mlp([6, 5, 3], activation="tanh", n_fixed=2, sigma_F=1.0, seed=0), *_data(n=40)),
         (Mutation("closed-form cost x 1.05", {"P1.closed_form": lambda c: 1.05 * c}),
          Mutation("solver cost + 1 %", {"P1.solver_cost": lambda c: 1.01 * c}))),
    Case("P2", "standard tanh layer: Delta_in = 0",
         lambda: _same(standard_mlp([6, 7, 3], activation="tanh", seed=0), *_data()),
         (Mutation("K perturbed 1 %", {"K": _perturb_1pct}),
          Mutation("one K entry + 1 % of max |K|", {"K": _bump_entry}),
          Mutation("K + 1 % of max|K| (Delta_in unchanged)", {"K": _shift_1pct}))),
    Case("P3", "tanh W-MLP layer (sigma_F = 0) on a 3-dim subspace: both P3 bounds",
         lambda: _same(w_mlp([24, 6, 3], activation="tanh", n_fixed=[4, 1], sigma_F=0.0, seed=0),
                       *_subspace_data(), tau=1.0),
         (Mutation("K + 10 max|K| (Delta_in unchanged)", {"K": _shift_10max}),
          Mutation("K x 2", {"K": lambda K: 2.0 * K}),
          Mutation("Delta_in + 10 max|Delta_in| (K unchanged)", {"Delta_in": _delta_in_shift_10max}),
          Mutation("anisotropies x 0.5", {"anisotropy": lambda a: 0.5 * a}, expected="undetermined"))),
    Case("P4", "syre tanh layer (S = I): the swap-cost identity",
         lambda: _same(syre_mlp([6, 7, 3], kappa=1.0, activation="tanh", seed=0), *_data()),
         (Mutation("K perturbed 1 %", {"K": _perturb_1pct}),
          Mutation("K + 1 % of max|K| (Delta_in unchanged)", {"K": _shift_1pct}),
          Mutation("centers with flipped sign", {"P4.centers": lambda V: -V}),
          Mutation("Delta_in + 1 % of max|Delta_in| (K unchanged)", {"Delta_in": _delta_in_shift_1pct}),
          Mutation("anisotropies + 0.1", {"anisotropy": lambda a: a + 0.1}, expected="undetermined"))),
    Case("P5", "standard ReLU layer: midpoints of two realizations",
         lambda: _same(standard_mlp([6, 5, 3], activation="relu", seed=0), *_data()),
         (Mutation("every realization failing", {"P5.realization": _fail_realization}, expected="undetermined"),
          Mutation("midpoint function shifted by 1e-3", {"P5.midpoint": _shift_midpoint}))),
    Case("P6", "ReLU W-MLP neuron rescaled by alpha = 2",
         lambda: _same(w_mlp([6, 7, 3], n_fixed=2, sigma_F=1.0, seed=0), *_data()),
         (Mutation("phi measured with relu^1.5", {"P6.activation": _relu_15}),
          Mutation("phi measured with leaky_relu:0.1", {"P6.activation": _leaky}),
          Mutation("rescaled network's output x 1.01", {"P6.rescaled": _scaled_output}),
          Mutation("norm costs tilted 10 %", {"P6.norm_cost": _tilted_costs}),
          Mutation("norm costs tilted 2 %", {"P6.norm_cost": lambda c: c * (1.0 + 0.02 * np.linspace(-1, 1, c.size))}),
          Mutation("norm costs x 2", {"P6.norm_cost": lambda c: 2.0 * c}))),
    Case("T1", "W-MLP layer with half the entries masked (p = 1/2, d = 24)",
         lambda: _same(w_mlp([24, 8, 3], n_fixed=[12, 1], sigma_F=0.0, seed=0), *_data(d=24, n=200)),
         (Mutation("bound x 0.05", {"T1.bound": lambda b: 0.05 * b}),
          Mutation("anisotropies x 20", {"T1.anisotropy": lambda a: 20.0 * a}, expected="undetermined"),
          Mutation("anisotropies all 0", {"T1.anisotropy": np.zeros_like}, expected="undetermined"),
          Mutation("coherence 1.5", {"coherence": lambda nu: 1.5}, expected="undetermined"),
          Mutation("layer anisotropies x 0.5", {"anisotropy": lambda a: 0.5 * a}, expected="undetermined"),
          Mutation("support without its last direction", {"support": _drop_last_direction},
                   expected="undetermined"))),
    Case("T2", "a ReLU network with itself",
         lambda: _same(standard_mlp([6, 8, 3], activation="relu", seed=0), *_data()),
         (Mutation("loss bump at t = 1/2", {"T2.loss": _bump_loss}),
          Mutation("loss tilted along the path", {"T2.loss": _tilt_loss}))),
    Case("T3", "an identifiable tanh W-MLP (sigma_F = 1) with itself",
         lambda: _same(w_mlp([6, 7, 3], activation="tanh", n_fixed=2, sigma_F=1.0, seed=0), *_data()),
         (Mutation("two neurons swapped in the correspondence", {"T3.permutation": _swap01}),
          Mutation("correspondence rolled by one", {"T3.permutation": lambda p: np.roll(p, 1)}),
          Mutation("support without its last direction", {"support": _drop_last_direction},
                   expected="undetermined"))),
    Case("T4", "a 1-1-1 ReLU pair whose bound is attained",
         _one_neuron_pair,
         (Mutation("elementwise bound x 0.5", {"T4.bound": lambda b: 0.5 * b}),
          Mutation("path outputs + 1 at interior grid points", {"T4.outputs": _interior_outputs_off}))),
)


# ------------------------------------------------------------------------- running
def _verdicts(case: Case, mutations: dict) -> list[str]:
    A, B, X, y, options = case.build()
    ctx = CheckContext(A, B, X, y, mutations=mutations or None, **options)
    return [c.verdict for c in CHECKERS[case.result](ctx)]


def _check_ids(ids) -> tuple[str, ...]:
    if ids is None:
        return CHECKED_RESULTS
    out = []
    for rid in ids:
        key = str(rid).strip().upper()
        if key not in CHECKED_RESULTS:
            raise InvalidOptionError(f"--results: no self-test for {rid!r}; valid: {', '.join(CHECKED_RESULTS)}")
        out.append(key)
    return tuple(dict.fromkeys(out))


def run_selftest(ids=None, cases=CASES) -> dict:
    """Run the self-test for ``ids`` (default: P1-P6, T1-T4).

    Returns ``{"rows": [...], "mutations", "detected", "score", "holds_cases",
    "holds_passed", "passed", "seconds"}``; each row has ``result``, ``case``,
    ``mutation`` (``None`` for the holds case), ``expected``, ``verdicts`` and ``ok``.
    ``passed`` is True only when every holds case says ``holds`` and every planted
    defect is detected (score 1.0).
    """
    wanted = _check_ids(ids)
    rows = []
    start = time.perf_counter()
    for case in cases:
        if case.result not in wanted:
            continue
        got = _verdicts(case, {})
        rows.append({"result": case.result, "case": case.description, "mutation": None, "expected": "holds",
                     "verdicts": got, "ok": bool(got) and all(v == "holds" for v in got)})
        for m in case.mutations:
            got = _verdicts(case, m.mutations)
            rows.append({"result": case.result, "case": case.description, "mutation": m.name,
                         "points": sorted(m.mutations), "expected": m.expected, "verdicts": got,
                         "ok": m.expected in got})
    planted = [r for r in rows if r["mutation"] is not None]
    holds = [r for r in rows if r["mutation"] is None]
    detected = sum(r["ok"] for r in planted)
    score = detected / len(planted) if planted else 0.0
    return {
        "rows": rows,
        "mutations": len(planted),
        "detected": detected,
        "score": score,
        "holds_cases": len(holds),
        "holds_passed": sum(r["ok"] for r in holds),
        "passed": bool(planted) and detected == len(planted) and all(r["ok"] for r in holds),
        "seconds": time.perf_counter() - start,
    }


def selftest_table(out: dict) -> str:
    """The terminal table of :func:`run_selftest`'s result."""
    lines = [f"{'result':<7}{'planted defect':<48}{'expected':<19}{'got':<26}ok"]
    for r in out["rows"]:
        name = "(none: conclusion holds)" if r["mutation"] is None else r["mutation"]
        got = ", ".join(sorted(set(r["verdicts"]))) or "-"
        lines.append(f"{r['result']:<7}{name:<48}{r['expected']:<19}{got:<26}{'yes' if r['ok'] else 'NO'}")
    lines.append(f"mutation score {out['detected']}/{out['mutations']} = {100 * out['score']:.0f} %; "
                 f"holds cases {out['holds_passed']}/{out['holds_cases']}; "
                 f"{'PASSED' if out['passed'] else 'FAILED'} ({out['seconds']:.1f} s)")
    return "\n".join(lines) + "\n"

"""Plug points shared by the runners: the T4 certificate column and the D1-D3 swap
costs, each behind one small function, plus config validation helpers and verdicts.

If the module behind a plug point cannot be imported, the function returns a
``{"status": "not available", "reason": ...}`` block instead of numbers, and the
summaries say so; the rest of the experiment still runs.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.io import available_memory, format_bytes

__all__ = [
    "BARRIERS",
    "NOT_AVAILABLE",
    "certificate_column",
    "swap_cost_analysis",
    "offdiag_stats",
    "check_keys",
    "check_int",
    "check_float",
    "check_choice",
    "check_int_list",
    "check_unit_count",
    "check_unit_memory",
    "unit_bytes",
    "MAX_UNITS",
    "MAX_EPOCHS",
    "MAX_CHECKPOINTS",
    "MAX_WIDTH",
    "MAX_POINTS",
    "MAX_STEPS",
    "verdict",
    "fmt",
]

BARRIERS = ("B_mid", "B_peak", "B_lerp", "B_mean")
NOT_AVAILABLE = "not available"

# Upper bounds on configuration sizes, checked by every experiment's check_config before
# anything is built: a mistyped ``--set pairs=1000000000`` is refused at once (exit 2)
# instead of hanging while the unit list is built or dying out of memory later. They are
# far above the paper's protocol (E1: 1,000 units, 100 epochs, width 128; E3: 4 pairs,
# widths 512, 5,000 points; E4: 11 checkpoints).
#: units of one run (pairs / seeds x levels x structures x data sets)
MAX_UNITS = 100_000
#: training epochs
MAX_EPOCHS = 100_000
#: E4 checkpoints per run (each keeps a copy of both networks)
MAX_CHECKPOINTS = 1_000
#: a hidden width, input dimension, number of copies or classes
MAX_WIDTH = 100_000
#: points of one data split (training, test, support, alignment, cost points)
MAX_POINTS = 10_000_000
#: path grid points, matching restarts, heatmap neurons
MAX_STEPS = 10_000


# ----------------------------------------------------------------------------- plug points
def certificate_column(A, B, X, path, loss: str) -> dict:
    """T4 certificate of the path ``A -> B`` on ``X`` beside the measured ``path``.

    Returns ``status`` (``"ok"``, ``"unsupported"``, ``"overflow"`` or ``"not
    available"``), ``bound`` and ``tightness`` (measured / bound) per barrier,
    ``holds`` per barrier, ``rho`` and ``mean_norm``.
    """
    try:
        from neuronid.numerics.certificate import certificate
    except ImportError as exc:  # pragma: no cover - depends on the checkout
        return {"status": NOT_AVAILABLE, "reason": f"neuronid.numerics.certificate missing ({exc})"}
    L_A, L_B = float(path.loss[0]), float(path.loss[-1])
    if not (math.isfinite(L_A) and math.isfinite(L_B)):
        return {"status": "non-finite endpoints", "reason": "an endpoint loss is not finite"}
    cert = certificate(A, B, X)
    bounds = cert.barrier_bounds(max(L_A, 0.0), max(L_B, 0.0), loss)
    out = {"status": cert.status, "reason": cert.reason, "rho": cert.rho, "mean_norm": cert.mean_norm,
           "bound": {}, "tightness": {}, "holds": {}}
    scale = abs(L_A) + abs(L_B) + float(np.max(np.abs(path.loss)))
    for key in BARRIERS:
        b = float(bounds[key])
        m = float(getattr(path, key))
        out["bound"][key] = b
        out["tightness"][key] = m / b if (math.isfinite(b) and b > 0) else None
        out["holds"][key] = bool(m <= b + 1e-9 * (abs(b) + scale)) if math.isfinite(b) else True
    return out


def swap_cost_analysis(net, X, layer: int, *, tau: float) -> dict:
    """D1-D3 for hidden layer ``layer`` on ``X``: the three swap-cost matrices
    ``delta_in`` (the paper's transposition cost, D3), ``delta_out`` and their sum
    ``delta_sum``, the transposition margins ``delta_min_in`` / ``delta_min`` (of the
    sum) and the layer summary (rank, coherence, ``p``, ``gamma``, ...)."""
    try:
        from neuronid.numerics.costs import layer_costs, transposition_margin
    except ImportError as exc:  # pragma: no cover - depends on the checkout
        return {"status": NOT_AVAILABLE, "reason": f"neuronid.numerics.costs missing ({exc})"}
    lc = layer_costs(net, X, layer, tau=tau)
    s = lc.summary()
    K = lc.K
    return {
        "status": "ok",
        "summary": s,
        "delta_in": np.asarray(lc.delta_in, dtype=np.float64),
        "delta_out": np.asarray(lc.delta_out, dtype=np.float64),
        "delta_sum": np.asarray(lc.delta, dtype=np.float64),
        "K_scale": float(np.max(K[np.isfinite(K)])) if np.any(np.isfinite(K)) else None,
        "semantics": lc.costs.semantics,
        "t1": {k: v for k, v in lc.t1.items() if isinstance(v, (int, float, str))},
        "mean_anisotropy": float(np.mean(lc.anisotropy)) if lc.anisotropy.size else 0.0,
        "gamma": lc.gamma,
        "delta_min": lc.delta_min,
        "delta_min_in": transposition_margin(lc.delta_in)[0],
        "notes": list(lc.notes),
    }


def offdiag_stats(D, tol: float = 0.0) -> dict:
    """Summary of the off-diagonal entries of a swap-cost matrix (D3): the share of
    negative finite entries (strictly below 0, as the paper counts) and the share below
    ``-tol`` (negative beyond rounding, ``tol`` >= 0 chosen by the caller from the cost
    scale), median, mean, 10 % / 90 % quantiles, minimum, and the shares of
    unrealizable (``inf``) and not computed (``nan``) entries. ``None`` for a
    statistic with no finite entry."""
    D = np.asarray(D, dtype=np.float64)
    m = D.shape[0]
    off = D[~np.eye(m, dtype=bool)]
    fin = off[np.isfinite(off)]
    has = fin.size > 0
    return {
        "frac_negative": float(np.mean(fin < 0)) if has else None,
        "frac_negative_beyond_tol": float(np.mean(fin < -tol)) if has else None,
        "tol": float(tol),
        "median": float(np.median(fin)) if has else None,
        "mean": float(np.mean(fin)) if has else None,
        "q10": float(np.quantile(fin, 0.1)) if has else None,
        "q90": float(np.quantile(fin, 0.9)) if has else None,
        "min": float(np.min(fin)) if has else None,
        "unrealizable_fraction": float(np.mean(np.isinf(off))) if off.size else 0.0,
        "not_computed_fraction": float(np.mean(np.isnan(off))) if off.size else 0.0,
    }


# ----------------------------------------------------------------------------- validation
def check_keys(config: dict, allowed, experiment: str) -> None:
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise InvalidOptionError(
            f"{experiment}: unknown configuration key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(allowed))}"
        )
    missing = sorted(set(allowed) - set(config))
    if missing:
        raise InvalidOptionError(f"{experiment}: configuration lacks {', '.join(missing)}")


def check_int(config: dict, key: str, lo: int, hi: int | None = None) -> int:
    v = config[key]
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise InvalidOptionError(f"configuration {key}={v!r}: expected an integer {rng}")
    return int(v)


def check_float(config: dict, key: str, lo: float, hi: float | None = None, *, open_lo: bool = False) -> float:
    v = config[key]
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
        raise InvalidOptionError(f"configuration {key}={v!r}: expected a finite number")
    v = float(v)
    if v < lo or (open_lo and v == lo) or (hi is not None and v > hi):
        rng = f"{'>' if open_lo else '>='} {lo}" + ("" if hi is None else f" and <= {hi}")
        raise InvalidOptionError(f"configuration {key}={v!r}: expected a number {rng}")
    return v


def check_choice(config: dict, key: str, choices) -> str:
    v = config[key]
    if v not in choices:
        raise InvalidOptionError(f"configuration {key}={v!r}: expected one of {', '.join(map(repr, choices))}")
    return v


def check_int_list(config: dict, key: str, lo: int, hi: int | None = None, *, nonempty: bool = True,
                   distinct: bool = True) -> list:
    v = config[key]
    if not isinstance(v, (list, tuple)) or (nonempty and not v):
        raise InvalidOptionError(f"configuration {key}={v!r}: expected a non-empty list of integers")
    for x in v:
        if isinstance(x, bool) or not isinstance(x, numbers.Integral) or x < lo or (hi is not None and x > hi):
            rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise InvalidOptionError(f"configuration {key}={v!r}: every entry must be an integer {rng}")
    if distinct and len(set(v)) != len(v):
        raise InvalidOptionError(f"configuration {key}={v!r}: entries must be distinct")
    return list(v)


def check_unit_count(experiment: str, n_units: int, factors: str) -> int:
    """Refuse a run of more than :data:`MAX_UNITS` units (``factors`` says how the count
    arises, e.g. ``"pairs=10 x 3 structures"``); computed from the sizes, nothing is built."""
    if n_units > MAX_UNITS:
        raise InvalidOptionError(
            f"{experiment}: the configuration gives {n_units} units ({factors}); at most {MAX_UNITS} per run")
    return n_units


def unit_bytes(sizes, n_points: int, *, networks: int = 2, snapshots: int = 1, cost_width: int = 0) -> float:
    """A lower estimate of one unit's memory in bytes (float64): ``networks`` networks of
    layer ``sizes`` with their optimizer state (weights, mask, fixed part, gradient, two
    Adam moments: 6 copies), ``snapshots`` kept copies of each, the data and the
    activations of ``n_points`` points in every layer, and four ``cost_width`` x
    ``cost_width`` cost matrices per network (K, Delta_in, Delta_out, their sum)."""
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return 8.0 * (networks * weights * (6 + snapshots) + n_points * sum(sizes) * (1 + networks)
                  + networks * 4 * cost_width * cost_width)


def check_unit_memory(experiment: str, nbytes: float, what: str) -> None:
    """Refuse (exit 2) a configuration whose one unit needs more than the available memory
    (``what`` names the sizes that drive the estimate); nothing where it cannot be read."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise InvalidOptionError(
            f"{experiment}: one unit with {what} needs at least {format_bytes(nbytes)} of memory but only "
            f"{format_bytes(free)} is available; choose smaller sizes with --set")


# ----------------------------------------------------------------------------- reporting
def verdict(claim: str, status: str, evidence: str, **numbers) -> dict:
    """One claim of the summary: ``status`` in supported / not supported / inconclusive."""
    assert status in ("supported", "not supported", "inconclusive", "not available")
    return {"claim": claim, "verdict": status, "evidence": evidence, "numbers": numbers}


def fmt(x, spec: str = ".3g") -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    return format(x, spec)


def claims_markdown(claims) -> str:
    lines = []
    for c in claims:
        lines.append(f"- **Claim:** {c['claim']} — **{c['verdict']}** by this run: {c['evidence']}")
    return "\n".join(lines)

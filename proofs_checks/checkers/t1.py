"""T1: random masks are near-isotropic on low-coherence supports (THEORY.md T1).

:func:`t1_monte_carlo` draws masks on one support and counts how often the
anisotropy exceeds the matrix-Bernstein bound (allowed: ``delta + 3 SE``);
:func:`confirm_t1` runs it on generated supports of low and high coherence and both
mask models; :func:`check_t1` gives the verdict per hidden layer of a network with
random masks, cross-checking the Monte Carlo's first anisotropies (``CROSS_CHECK_TOL``).
"""

from __future__ import annotations

import math

import numpy as np

from neuronid.errors import InvalidOptionError
from neuronid.numerics.supports import anisotropy, mask_shape_eigenvalues, t1_bound

from ._common import (
    Check,
    CROSS_CHECK_TOL,
    _anisotropy_defects,
    _direct_anisotropy,
    _g,
    _runs,
    _support_defects,
    _with_defects,
    evaluate,
    not_applicable,
)
from .context import CheckContext

# ============================================================== numbers
def _basis(kind: str, d: int, r: int, rng) -> np.ndarray:
    if kind == "low":
        # rows of equal norm (nu = r/d): a random rotation of r columns of an orthogonal
        # matrix whose rows all have norm sqrt(r/d) (scaled random +-1 Hadamard-like via QR)
        Q = np.linalg.qr(rng.choice([-1.0, 1.0], size=(d, r)))[0]
        return Q
    if kind == "high":
        # one direction concentrated on a few coordinates: nu close to 1/2
        Q = np.linalg.qr(rng.normal(size=(d, r)))[0]
        spike = np.zeros(d)
        spike[:2] = 1.0 / np.sqrt(2.0)
        Q[:, 0] = spike
        return np.linalg.qr(Q)[0]
    raise ValueError(kind)


def _sample_masks(rng, model: str, N: int, d: int, p: float) -> np.ndarray:
    if model == "bernoulli":
        return (rng.random((N, d)) < p).astype(np.float64)
    t = int(round(p * d))
    ranks = np.argsort(rng.random((N, d)), axis=1)
    return (ranks < t).astype(np.float64)


def confirm_t1(*, n_masks: int = 2000, delta: float = 0.1, d: int = 256, r: int = 4, p: float = 0.75,
             seed: int = 0, coherences=("low", "high")) -> dict:
    """T1 by Monte Carlo: for supports ``U`` of low and high coherence and both mask
    models, the fraction of masks with ``||U^T diag(m) U - p I|| > bound(delta)`` must
    be at most ``delta + 3 SE`` with ``SE = sqrt(delta (1 - delta) / n_masks)``."""
    if not 0.0 < float(delta) < 1.0:
        raise InvalidOptionError(f"confirm_t1: delta must lie in (0, 1), found {delta}")
    if not 0.0 < float(p) < 1.0:
        raise InvalidOptionError(f"confirm_t1: p must lie in (0, 1), found {p}")
    if int(n_masks) < 1 or not 1 <= int(r) <= int(d):
        raise InvalidOptionError(f"confirm_t1: need n_masks >= 1 and 1 <= r <= d, found {n_masks}, {r}, {d}")
    rng = np.random.default_rng(seed)
    out = {"result": "T1", "delta": delta, "n_masks": n_masks, "d": d, "r": r, "p": p, "cases": []}
    ok = True
    for kind in coherences:
        U = _basis(kind, d, r, rng)
        for model in ("bernoulli", "exact_count"):
            case = t1_monte_carlo(U, p, delta, model=model, n_masks=n_masks, rng=rng)
            case["coherence_kind"] = kind
            ok &= case["ok"]
            out["cases"].append(case)
    out["ok"] = bool(ok)
    return out


#: how many Monte Carlo anisotropies :func:`t1_monte_carlo` reports for cross-checks
T1_HEAD = 4


def t1_monte_carlo(U, p: float, delta: float, *, model: str = "bernoulli", n_masks: int = 2000, rng=None,
                  hook=None) -> dict:
    """T1 by Monte Carlo on one support basis ``U`` (d, r): draw ``n_masks`` masks of
    the given model, measure ``||U^T diag(m) U - p I||`` and count how often it exceeds
    the T1 bound at ``delta``; allowed: ``delta + 3 SE``, ``SE = sqrt(delta (1-delta) / n)``.

    ``power`` (also ``tightness``) = the (1 - delta) quantile of the anisotropy / the
    bound: a bound multiplied by any ``c > power`` would still pass this test, so a
    small power means the test can only catch gross errors in the bound.
    ``hook(name, value)``, for mutation tests only, transforms ``"bound"`` and
    ``"anisotropy"``."""
    rng = np.random.default_rng(rng)
    U = np.asarray(U, dtype=np.float64)
    d, r = U.shape
    nu = float(np.max(np.sum(U * U, axis=1)))
    se = math.sqrt(delta * (1.0 - delta) / n_masks)
    masks = _sample_masks(rng, model, n_masks, d, p)
    p_eff = p if model == "bernoulli" else int(round(p * d)) / d
    # eigenvalues without the (n_masks, r, r) stack (91 MB for 400 masks at r = 169):
    # the complement formula for few zeros, else shape matrices (mask_shape_eigenvalues)
    an = anisotropy(None, p_eff, eigenvalues=mask_shape_eigenvalues(masks, U))
    bound = t1_bound(p_eff, nu, r, delta, model=model, dim=d)
    if hook is not None:
        an = np.asarray(hook("anisotropy", an), dtype=np.float64)
        bound = float(hook("bound", bound))
    rate = float(np.mean(an > bound))
    return {
        "coherence": nu, "rank": r, "dim": d, "p": p_eff, "mask_model": model, "bound": bound,
        "n_masks": int(n_masks), "violation_rate": rate, "allowed": delta + 3.0 * se, "standard_error": se,
        "quantile_1_minus_delta": float(np.quantile(an, 1.0 - delta)),
        "tightness": float(np.quantile(an, 1.0 - delta) / bound) if bound > 0 else float("nan"),
        "power": float(np.quantile(an, 1.0 - delta) / bound) if bound > 0 else float("nan"),
        "max_anisotropy": float(np.max(an)), "ok": bool(rate <= delta + 3.0 * se),
        # the first masks' anisotropies, for an independent cross-check by the T1 checker
        "anisotropy_head": [float(a) for a in an[:T1_HEAD]],
    }


# ----------------------------------------------------------------------------- T1
def check_t1(ctx: CheckContext, *, delta: float = 0.05, n_masks: int = 400) -> list[Check]:
    """T1 per hidden layer with random masks (0 < p < 1): Monte Carlo over Bernoulli
    masks on the layer's own support, plus the measured anisotropy of its real masks."""
    checks = []
    for run in _runs(ctx):
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

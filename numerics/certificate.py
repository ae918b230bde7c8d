r"""The T4 barrier certificate (THEORY.md T4): a bound on the whole linear path.

For networks A and B with the same sizes and activations and data ``X``, the
certificate computes per sample ``x`` non-negative vectors ``R^l(x)`` such that for
every ``t in [0, 1]``, elementwise,

.. math::

    |f_t(x) - ((1-t) f_A(x) + t f_B(x))| \le t(1-t)\, R^L(x),

where ``f_t`` is the network with effective weights and biases
``(1-t) theta_A + t theta_B`` (D5). From it follow bounds on the loss barriers of
the whole path (not only grid points), for MSE and cross-entropy.

Recursion (per sample; products with elementwise absolute values)
------------------------------------------------------------------
``R^0 = 0``, ``D^0 = |h_A^0 - h_B^0| = 0`` (both networks see the same ``x``), and for
layer ``l`` with effective weights ``W_A, W_B`` (``dW = W_A - W_B``,
``W_max = max(|W_A|, |W_B|)``) and pre-activations ``z_A = W_A h_A + b_A``,
``z_B = W_B h_B + b_B``:

.. math::

    Q^l &= |dW|\, D^{l-1} + W_\max R^{l-1} \\
    R^l &= \mathrm{Lip} \odot Q^l + g(z_A, z_B) \quad\text{(hidden)}, \qquad
    R^L = Q^L \quad\text{(linear output)},

with ``D^l = |h_A^l - h_B^l|`` and per-neuron constants (sigma-asymmetric layers
get their own per neuron).

Proof (induction over layers). Write ``lerp(u, v) = (1-t) u + t v``, ``s = t(1-t)``,
``h_t`` the input of layer ``l`` in the network at ``t`` and
``e = h_t - lerp(h_A, h_B)``. Hypothesis: ``|e| <= s R^{l-1}`` (true for ``l = 1``:
``e = 0``).

1. Pre-activations. ``W_t = lerp(W_A, W_B)``, ``b_t = lerp(b_A, b_B)``. Expanding,
   ``W_t lerp(h_A, h_B) - lerp(W_A h_A, W_B h_B) = -s (W_A - W_B)(h_A - h_B)``
   (the coefficients of ``W_A h_A`` and ``W_B h_B`` are ``(1-t)^2 - (1-t)`` and
   ``t^2 - t``, those of ``W_A h_B`` and ``W_B h_A`` are ``t(1-t)``), and the bias is
   affine in ``t``: ``b_t - lerp(b_A, b_B) = 0``. Hence

   ``z_t - lerp(z_A, z_B) = -s dW dh + W_t e``, and since
   ``|W_t| <= (1-t)|W_A| + t|W_B| <= W_max`` elementwise,
   ``|z_t - lerp(z_A, z_B)| <= s (|dW| D^{l-1} + W_max R^{l-1}) = s Q^l``.
   For the linear output layer this is the claim with ``R^L = Q^L``.

2. Activation (neuron ``i``, ``a = z_A``, ``b = z_B``, ``z_t`` the path's
   pre-activation, ``zbar = lerp(a, b)``):
   ``sigma(z_t) - lerp(sigma(a), sigma(b)) = [sigma(z_t) - sigma(zbar)] +
   [sigma(zbar) - lerp(sigma(a), sigma(b))]``. The first term is at most
   ``Lip |z_t - zbar| <= Lip s Q_i``; the second (the *convexity gap*) is at most
   ``s g(a, b)`` by the gap lemma below. So ``|e^l_i| <= s (Lip Q_i + g) = s R^l_i``.

Gap lemma. Let ``sigma`` be continuous, with kinks ``c_k`` (slope jumps
``J_k = sigma'(c_k+) - sigma'(c_k-)``) and ``|sigma''| <= M`` between kinks, and let
``G(t) = sigma(lerp(a, b)) - lerp(sigma(a), sigma(b))``, ``dz = |a - b|``. Then
``|G(t)| <= t(1-t) g(a, b)`` with

.. math::

    g(a, b) = \min\Big(\kappa\,\mathrm{Lip}\,dz,\;
              \tfrac{M}{2} dz^2 + dz \sum_{k:\ c_k \text{ strictly between } a, b} |J_k|\Big),
    \qquad \kappa = 1 \text{ (monotone)},\ 2 \text{ (otherwise)}.

*Kink part.* Write ``sigma = s_0 + sum_k J_k relu(z - c_k)``: ``s_0`` is ``C^1``
(the ``relu`` terms remove every slope jump) and ``s_0'' = sigma''`` off the kinks,
so ``s_0'`` is ``M``-Lipschitz. ``G`` is linear in ``sigma``, so
``|G| <= |G_{s_0}| + sum_k |J_k| |G_{relu(. - c_k)}|``.
(i) For ``s_0``: ``phi(t) = s_0(lerp(a, b))`` has ``|phi''| <= M dz^2`` a.e. and
``G_{s_0} = phi - lerp(phi(0), phi(1))`` vanishes at 0 and 1, so
``G_{s_0}(t) = -int_0^1 K(t, u) phi''(u) du`` with the Green's function
``K(t, u) = min(t, u)(1 - max(t, u)) >= 0``, ``int_0^1 K(t, u) du = t(1-t)/2``:
``|G_{s_0}(t)| <= (M/2) t(1-t) dz^2``.
(ii) For ``relu(z - c)``: if ``a, b`` lie on one side of ``c`` (or one equals ``c``)
the function is affine on ``[a, b]`` and the gap is 0. Otherwise, with
``A = |a - c|``, ``B = |b - c|`` (``A + B = dz``) and ``a < c < b`` (the other case
by symmetry), ``|G(t)| = min(t B, (1-t) A)``; since ``min(x, y) <= lam x + (1-lam) y``
for ``lam in [0, 1]``, taking ``lam = 1 - t`` gives
``min(t B, (1-t) A) <= t(1-t)(A + B) = t(1-t) dz``, with equality at
``t = A / (A + B)`` (THEORY.md: ``t = a / (a + |b|)`` for ``c = 0``).
*Cap.* ``G = (1-t)(sigma(z) - sigma(a)) + t(sigma(z) - sigma(b))`` with
``z = lerp(a, b)``, ``|z - a| = t dz``, ``|z - b| = (1-t) dz``: so
``|G| <= 2 Lip t(1-t) dz`` for any ``Lip``-Lipschitz ``sigma``; for monotone
``sigma`` the two brackets have opposite signs, so ``|G| <= max((1-t) Lip t dz,
t Lip (1-t) dz) = Lip t(1-t) dz``. Both bounds hold, hence the minimum.

This gives THEORY.md's rules as special cases: ReLU ``g = |dz| 1[signs differ]``,
leaky ReLU ``(1 - alpha)`` times that, smooth ``sigma`` ``(M/2) dz^2`` (here capped by
``Lip dz``), and it covers hard tanh (two kinks, ``|J| = 1`` each), ELU with
``alpha != 1`` (a kink *and* curvature), ``Abs`` (non-monotone, ``|J| = 2``) and
user expressions. The activation constants (``Lip``, ``M``, kinks, monotonicity)
come from :func:`neuronid.theory.activations.get_activation`; an unknown curvature
bound leaves only the cap term (still a valid certificate); an infinite ``Lip``
(e.g. ``sympy:z**2``) makes the certificate ``unsupported``. Every activation's
constants also pass a numeric spot check of the gap lemma before use (a wrong or
incomplete kink list would fail it); a failure is reported as ``unsupported``.

Loss bounds (``L(t)`` the path loss, ``lerp L = (1-t) L_A + t L_B``, ``s = t(1-t)``)
-------------------------------------------------------------------------------------
- MSE (mean over samples of ``||f - y||^2``, summed over outputs, as in
  :mod:`.losses`): with ``u = lerp(f_A, f_B) - y`` and ``e = f_t - lerp(f_A, f_B)``,
  ``||u + e||^2 = ||u||^2 + 2 u.e + ||e||^2``, ``mean ||u||^2 <= lerp L``
  (convexity), Cauchy-Schwarz over samples and ``||e|| <= s ||R^L||``:
  ``L(t) - lerp L <= 2 sqrt(lerp L) s rho + (s rho)^2``,
  ``rho = sqrt(mean_x ||R^L(x)||^2)``.
- Cross-entropy: ``CE`` is convex in the logits and ``sqrt(2)``-Lipschitz in the
  2-norm (its gradient ``softmax - onehot`` has norm ``<= sqrt(2)``):
  ``L(t) - lerp L <= sqrt(2) s mean_x ||R^L(x)||_2``.

Writing ``bound(t)`` for the right-hand sides, ``L(t) <= lerp L(t) + bound(t)`` for
every ``t``, so (D5):
``B_lerp <= max_t bound(t)``;
``B_peak <= max_t [lerp L(t) + bound(t)] - max(L_A, L_B)``;
``B_mean <= max_t [lerp L(t) + bound(t)] - (L_A + L_B) / 2``;
``B_mid <= bound(1/2) + (L_A + L_B)/2 - max(L_A, L_B)``.
The maxima are over the continuum ``[0, 1]``: a fine grid and a bounded scalar
search give the best point found, and a branch and bound with exact interval
enclosures of ``bound`` (``t(1-t)`` and ``lerp L`` are monotone on each side of
their extremes) certifies that no ``t`` exceeds the returned value by more than
``1e-12`` relative. The barrier bounds hold for the barriers measured on any grid.
*Tightness* = measured barrier / bound (``None`` unless the bound is positive).

Cost. Samples stream in row blocks (memory independent of ``n``); per block and
hidden layer two BLAS products for the forward passes, one product
``[D | R] [|dW| | W_max]^T`` (``K = 2 m``) for ``Q`` (none for the first layer,
where ``D = R = 0``), and one fused numba pass (see :mod:`._certificate_kernels`).
The output layer needs only the ``Q`` product (``f_A``, ``f_B`` are not needed).

Size (about 1,000 lines, above the ~600 of issue 10): kept whole on purpose: this
docstring is the proof of T4 and the code follows it step by step (activation
constants, the fused kernel driver, the bound, barrier bounds, the elementwise
statement); the numba kernels already live in :mod:`._certificate_kernels`. The
property harness lives in :func:`neuronid.proofs_checks.strategies.run_certificate_property`.

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> A, B = standard_mlp([3, 8, 2], seed=0), standard_mlp([3, 8, 2], seed=1)
>>> X = np.random.default_rng(0).normal(size=(100, 3))
>>> cert = certificate(A, B, X)
>>> cert.status, cert.rho > 0, certificate(A, A, X).rho
('ok', True, 0.0)
>>> b = cert.barrier_bounds(0.5, 0.7, "ce")
>>> bool(b["B_lerp"] >= cert.bound(0.5, 0.5, 0.7, "ce"))
True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from scipy.optimize import minimize_scalar

from neuronid.errors import InvalidOptionError, StructureMismatchError

from . import _certificate_kernels as _k
from .activations import apply_layer, layer_dispatch
from .losses import check_loss, check_targets, error_rate, loss_per_sample
from .threads import block_workers, worker_count
from ._validation import check_inputs
from .network import Network
# _PathEvaluator: the fused path forward pass of linear_path, reused so that the outputs
# f_t(x) the elementwise test needs cost one pass, not two
from .paths import _BLOCK_ROWS, PathResult, _PathEvaluator, _add_bias, check_pair, path_grid

__all__ = [
    "Certificate",
    "CertifiedPath",
    "certificate",
    "certified_barriers",
    "activation_constants",
    "elementwise_statement",
    "box_bounds",
    "FLOAT_SLACK",
    "exceeds_bound",
]

#: Relative slack for "the bound is never exceeded" comparisons. The computed path
#: and bound each carry rounding errors of order (depth x width) x 1e-16 relative to
#: the magnitudes involved (~1e-13 for the networks we check); 1e-9 is far above
#: that and far below any real violation.
FLOAT_SLACK = 1e-9

_BARRIERS = ("B_lerp", "B_peak", "B_mid", "B_mean")


# --------------------------------------------------------------------------- constants
@dataclass(frozen=True)
class ActivationConstants:
    """What the certificate uses for one activation (from the theory layer)."""

    name: str
    lipschitz: float
    cap: float  # Lip (monotone) or 2 Lip
    curvature: float  # M; -1.0: no curvature bound known (cap-only gap)
    kinks: tuple  # ((location, |slope jump|), ...)
    monotone: str
    supported: bool
    reason: str | None
    method: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def gap_rule(self) -> str:
        cap = f"{'' if self.cap == self.lipschitz else '2 '}Lip |dz|"
        if self.curvature < 0:
            return f"g = {cap} (no curvature bound known)"
        parts = []
        if self.curvature > 0:
            parts.append("(M/2) dz^2")
        if self.kinks:
            parts.append("|dz| sum_k |J_k| 1[kink c_k strictly between z_A, z_B]")
        if not parts:
            return "g = 0 (affine)"
        return f"g = min({cap}, " + " + ".join(parts) + ")"

    def to_json(self) -> dict:
        return {
            "activation": self.name,
            "lipschitz": float(self.lipschitz),
            "curvature": None if self.curvature < 0 else float(self.curvature),
            "kinks": [[float(c), float(j)] for c, j in self.kinks],
            "monotone": self.monotone,
            "gap_rule": self.gap_rule,
            "supported": self.supported,
            "reason": self.reason,
            "method": dict(self.method),
        }


#: certificate status of networks with normalization layers (THEORY.md section 4)
UNSUPPORTED_NORM = "unsupported: normalization layer"


def _unsupported(name, reason, method=None):
    return ActivationConstants(name, math.inf, math.inf, -1.0, (), "unknown", False, reason, method or {})


def _gap_numpy(a, b, c: ActivationConstants):
    """Vectorized gap coefficient (the same formula as the kernel)."""
    dz = np.abs(a - b)
    cap = c.cap * dz
    if c.curvature < 0:
        return cap
    g = 0.5 * c.curvature * dz * dz
    for loc, jump in c.kinks:
        between = ((a < loc) & (b > loc)) | ((a > loc) & (b < loc))
        g = g + np.where(between, jump * dz, 0.0)
    return np.minimum(g, cap)


def _spot_check(act, c: ActivationConstants) -> str | None:
    """Check ``|G(t)| <= t(1-t) g(a, b)`` and the Lipschitz constant on sample points.

    A safeguard against wrong metadata (e.g. a missed kink), not a proof.
    """
    pts = [np.linspace(-6.0, 6.0, 49), np.array([-40.0, -20.0, -10.0, 10.0, 20.0, 40.0])]
    for loc, _ in c.kinks:
        pts.append(loc + np.array([-1.0, -0.25, -1e-3, 0.0, 1e-3, 0.25, 1.0]))
    z = np.unique(np.concatenate(pts))
    a, b = np.meshgrid(z, z, indexing="ij")
    iu = np.triu_indices(z.size, 1)
    a, b = a[iu], b[iu]
    with np.errstate(all="ignore"):
        fa, fb = act.numpy(a), act.numpy(b)
        if not (np.all(np.isfinite(fa)) and np.all(np.isfinite(fb))):
            return "activation values are not finite on [-40, 40]"
        scale = 1.0 + np.abs(fa) + np.abs(fb)
        lip_excess = np.abs(fa - fb) - c.lipschitz * np.abs(a - b) * (1 + 1e-7) - 1e-12 * scale
        if np.any(lip_excess > 0):
            k = int(np.argmax(lip_excess))
            return (f"spot check failed: |sigma(a) - sigma(b)| > Lip |a - b| at a={a[k]:.6g}, "
                    f"b={b[k]:.6g} (Lip={c.lipschitz:.6g})")
        g = _gap_numpy(a, b, c)
        for t in (0.05, 0.2, 1.0 / 3.0, 0.5, 0.7, 0.95):
            zt = (1.0 - t) * a + t * b
            gap = np.abs(act.numpy(zt) - ((1.0 - t) * fa + t * fb))
            excess = gap - t * (1.0 - t) * g * (1 + 1e-7) - 1e-12 * scale
            if np.any(excess > 0):
                k = int(np.argmax(excess))
                return (f"spot check of the gap lemma failed at z_A={a[k]:.6g}, z_B={b[k]:.6g}, t={t:.3g} "
                        f"(gap {gap[k]:.6g} > t(1-t) g = {t * (1 - t) * g[k]:.6g}); the activation's "
                        "constants or kink list look wrong")
    return None


@functools.lru_cache(maxsize=256)
def activation_constants(name: str) -> ActivationConstants:
    """The certificate's constants for an activation name, from the theory layer.

    ``Lip = sup|sigma'|``, ``M = sup|sigma''|`` between kinks (``-1``: unknown, only
    the Lipschitz cap is used), kinks with absolute slope jumps, monotonicity (the
    cap is ``Lip |dz|`` for monotone, ``2 Lip |dz|`` otherwise). ``supported`` is
    False (with a reason) when ``Lip`` is infinite or unknown, or the numeric spot
    check of the gap lemma fails.

    >>> c = activation_constants("leaky_relu:0.1")
    >>> c.lipschitz, c.kinks, c.gap_rule
    (1.0, ((0.0, 0.9),), 'g = min(Lip |dz|, |dz| sum_k |J_k| 1[kink c_k strictly between z_A, z_B])')
    """
    # SymPy (the theory layer's analysis) is loaded when a certificate needs constants, not on import
    from neuronid.theory.activations import get_activation

    try:
        act = get_activation(name)
        lip = float(act.lipschitz)
        curv = act.curvature
        kinks = act.kinks
        monotone = act.monotone
        pl = bool(act.piecewise_linear)
        method = {k: v for k, v in act.method.items() if k in ("lipschitz", "curvature", "kinks", "monotone")}
    except Exception as exc:  # the theory layer could not analyse it: a status, not a crash
        return _unsupported(name, f"activation {name!r}: the theory layer could not derive its constants ({exc})")
    if not math.isfinite(lip) or lip < 0:
        return _unsupported(
            name, f"activation {name!r} has no finite Lipschitz constant (sup|sigma'| = {lip}); T4 needs one", method
        )
    cap = lip if monotone in ("strictly_increasing", "non_decreasing") else 2.0 * lip
    if curv is None:
        M = 0.0 if pl else -1.0
    else:
        M = float(curv)
        if not math.isfinite(M) or M < 0:
            M = -1.0
    kink_list = []
    for loc, left, right in kinks:
        jump = abs(float(right) - float(left))
        if not (math.isfinite(loc) and math.isfinite(jump)):
            M = -1.0  # cannot use the kink rule; the cap still holds
            kink_list = []
            break
        if jump > 0:
            kink_list.append((float(loc), jump))
    c = ActivationConstants(act.name, lip, cap, M, tuple(kink_list), monotone, True, None, method)
    problem = _spot_check(act, c)
    if problem is not None:
        return _unsupported(act.name, f"activation {act.name!r}: {problem}", method)
    return c


# --------------------------------------------------------------------------- layer plans
class _HiddenPlan:
    """Per hidden layer: how the fused kernel is called and the constants used."""

    def __init__(self, layer, index):
        self.index = index
        self.names = layer.names
        self.codes = np.ascontiguousarray(layer.codes)
        self.params = np.ascontiguousarray(layer.params)
        distinct = sorted(set(layer.names))
        self.constants = {name: activation_constants(name) for name in distinct}
        bad = [c for c in self.constants.values() if not c.supported]
        self.problem = None
        if bad:
            self.problem = f"layer {index}: " + "; ".join(c.reason for c in bad)
            return
        cs = [self.constants[name] for name in layer.names]
        K = max((len(c.kinks) for c in cs), default=0)
        m = len(cs)
        self.lips = np.array([c.lipschitz for c in cs])
        self.caps = np.array([c.cap for c in cs])
        self.Ms = np.array([c.curvature for c in cs])
        self.nks = np.array([len(c.kinks) for c in cs], dtype=np.int64)
        self.klocs = np.zeros((m, max(K, 1)))
        self.kjumps = np.zeros((m, max(K, 1)))
        for i, c in enumerate(cs):
            for k, (loc, jump) in enumerate(c.kinks):
                self.klocs[i, k] = loc
                self.kjumps[i, k] = jump
        self.kind = layer_dispatch(self.codes, self.params)[0]

    def describe(self) -> str:
        if len(self.constants) == 1:
            return next(iter(self.constants))
        return f"per-neuron ({len(self.constants)} kinds)"

    def run(self, ZA, ZB, bA, bB, Q, has_q, DR):
        if self.kind == "uniform":
            return _k.hidden_uniform(
                ZA, ZB, bA, bB, Q, has_q, int(self.codes[0]), float(self.params[0]),
                float(self.lips[0]), float(self.caps[0]), float(self.Ms[0]), int(self.nks[0]),
                self.klocs[0], self.kjumps[0], DR,
            )
        if self.kind == "columns":
            return _k.hidden_columns(
                ZA, ZB, bA, bB, Q, has_q, self.codes, self.params, self.lips, self.caps, self.Ms,
                self.nks, self.klocs, self.kjumps, DR,
            )
        ZA += bA
        ZB += bB
        sum_r, max_r, sum_sq = _k.gap_only(
            ZA, ZB, Q, has_q, self.lips, self.caps, self.Ms, self.nks, self.klocs, self.kjumps, DR
        )
        apply_layer(ZA, self.names, self.codes, self.params, out=ZA)
        apply_layer(ZB, self.names, self.codes, self.params, out=ZB)
        m = ZA.shape[1]
        np.abs(ZA - ZB, out=DR[:, :m])
        return sum_r, max_r, sum_sq, float(DR[:, :m].sum())


# --------------------------------------------------------------------------- result
@dataclass
class Certificate:
    """The T4 certificate of one pair on one data set.

    Attributes
    ----------
    status : ``"ok"``; ``"unsupported"`` (an activation without usable constants,
        ``reason`` says which; every bound is ``inf``); ``"unsupported: normalization
        layer"`` (T4 does not cover normalization layers yet, THEORY.md section 4; every
        bound is ``inf``); ``"overflow"`` (``R`` overflowed float64; every bound is
        ``inf``).
    reason : why the status is not ``"ok"`` (``None`` otherwise).
    rho : ``sqrt(mean_x ||R^L(x)||^2)`` (MSE bound).
    mean_norm : ``mean_x ||R^L(x)||_2`` (cross-entropy bound).
    max_norm : ``max_x ||R^L(x)||_2``.
    coord_mean, coord_rms, coord_max : per output coordinate ``k``: mean, root mean
        square and maximum over samples of ``R^L_k(x)``.
    layers : per layer (index from 0 as in files) ``mean_R``, ``max_R``,
        ``rms_norm`` (``sqrt(mean_x ||R^l(x)||^2)``) and, for hidden layers,
        ``mean_dh`` (mean of ``|h_A - h_B|``: 0 under identity correspondence).
    constants : per hidden layer, the activation constants used (with provenance).
    structure_differences : mask / fixed-part differences between A and B (the
        certificate is about effective weights, so these are allowed).
    samples : ``(n, o)`` array of ``R^L(x)`` when requested (``keep_samples``).
    """

    status: str
    reason: str | None
    n_samples: int
    n_outputs: int
    rho: float
    mean_norm: float
    max_norm: float
    coord_mean: np.ndarray | None = None
    coord_rms: np.ndarray | None = None
    coord_max: np.ndarray | None = None
    layers: list = field(default_factory=list)
    constants: list = field(default_factory=list)
    structure_differences: list = field(default_factory=list)
    samples: np.ndarray | None = None
    result: str = "T4"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    # ------------------------------------------------------------------ bounds
    def bound(self, t, L_A, L_B, loss: str):
        """Upper bound on ``L(t) - ((1-t) L_A + t L_B)`` at ``t`` (array-friendly).

        MSE: ``2 sqrt((1-t) L_A + t L_B) t(1-t) rho + (t(1-t) rho)^2``;
        CE: ``sqrt(2) t(1-t) mean_norm``. ``inf`` unless ``status == "ok"``.

        >>> import numpy as np
        >>> c = Certificate("ok", None, 1, 1, rho=2.0, mean_norm=2.0, max_norm=2.0)
        >>> float(c.bound(0.5, 1.0, 1.0, "mse"))   # 2 * 1 * 0.5 + 0.5**2
        1.25
        >>> c.bound(np.array([0.0, 1.0]), 1.0, 1.0, "ce").tolist()
        [0.0, 0.0]
        """
        check_loss(loss)
        t = np.asarray(t, dtype=np.float64)
        if np.any(~np.isfinite(t)) or np.any((t < 0) | (t > 1)):
            raise InvalidOptionError("bound: t must lie in [0, 1]")
        L_A, L_B = _check_losses(L_A, L_B)
        s = t * (1.0 - t)
        if not self.ok:
            out = np.full(t.shape, math.inf)
            return out if out.ndim else float(out)
        with np.errstate(over="ignore", invalid="ignore"):
            if loss == "mse":
                lerp = _chord(t, L_A, L_B)
                sr = s * self.rho
                out = 2.0 * np.sqrt(lerp) * sr + sr * sr
            else:
                out = math.sqrt(2.0) * s * self.mean_norm
            out = np.where(s == 0.0, 0.0, out)
        return out if out.ndim else float(out)

    def _upper(self, u, v, L_A, L_B, loss, with_chord):
        """Upper bound of ``[chord(t) +] bound(t)`` over ``[u, v]`` (vectorized)."""
        smax = np.where((u <= 0.5) & (v >= 0.5), 0.25, np.maximum(u * (1 - u), v * (1 - v)))
        cmax = np.maximum(_chord(u, L_A, L_B), _chord(v, L_A, L_B))
        with np.errstate(over="ignore", invalid="ignore"):
            if loss == "mse":
                sr = smax * self.rho
                b = 2.0 * np.sqrt(np.maximum(cmax, 0.0)) * sr + sr * sr
            else:
                b = math.sqrt(2.0) * smax * self.mean_norm
        return b + cmax if with_chord else b

    def _certified_max(self, L_A, L_B, loss, with_chord) -> tuple[float, float]:
        """``(max over [0,1] of [chord +] bound, argmax)``, certified by branch and bound."""

        def f(t):
            t = np.asarray(t, dtype=np.float64)
            val = self.bound(t, L_A, L_B, loss)
            return val + _chord(t, L_A, L_B) if with_chord else val

        grid = np.linspace(0.0, 1.0, 1025)
        vals = f(grid)
        i = int(np.argmax(vals))
        best, t_best = float(vals[i]), float(grid[i])
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        if hi > lo:
            res = minimize_scalar(lambda t: -float(f(t)), bounds=(lo, hi), method="bounded",
                                  options={"xatol": 1e-12})
            if res.success and -res.fun > best:
                best, t_best = float(-res.fun), float(res.x)
        # branch and bound: an interval is dropped once its enclosure is within tol of the
        # best value found; ``certified`` keeps the largest enclosure dropped, so the
        # returned value is an upper bound whatever tol is (tol only sets how close)
        u, v = grid[:-1], grid[1:]
        tol = 1e-10 * abs(best)
        certified = best
        for _ in range(60):
            up = self._upper(u, v, L_A, L_B, loss, with_chord)
            keep = up > best + tol
            if np.any(~keep):
                certified = max(certified, float(np.max(up[~keep])))
            u, v = u[keep], v[keep]
            if u.size == 0:
                break
            if u.size > 200_000:  # pragma: no cover - stop refining; the enclosures stay valid
                certified = max(certified, float(np.max(up[keep])))
                break
            mid = 0.5 * (u + v)
            mv = f(mid)
            j = int(np.argmax(mv))
            if mv[j] > best:
                best, t_best = float(mv[j]), float(mid[j])
                tol = 1e-10 * abs(best)
            u, v = np.concatenate([u, mid]), np.concatenate([mid, v])
        else:  # pragma: no cover - 60 halvings of 1/1024 reach the float resolution
            certified = max(certified, float(np.max(self._upper(u, v, L_A, L_B, loss, with_chord))))
        return max(certified, best), t_best

    def barrier_bounds(self, L_A, L_B, loss: str) -> dict:
        """Certified upper bounds on the four barriers of D5 (over the whole path).

        ``B_lerp <= max_t bound(t)``, ``B_peak <= max_t [lerp L + bound] - max(L_A, L_B)``,
        ``B_mean <= max_t [lerp L + bound] - (L_A + L_B)/2``,
        ``B_mid <= bound(1/2) + (L_A + L_B)/2 - max(L_A, L_B)``; also the maximizing
        ``t`` of the first two (``t_lerp``, ``t_peak``).
        """
        check_loss(loss)
        L_A, L_B = _check_losses(L_A, L_B)
        if not self.ok:
            return {**dict.fromkeys(_BARRIERS, math.inf), "t_lerp": None, "t_peak": None}
        lerp_max, t_lerp = self._certified_max(L_A, L_B, loss, with_chord=False)
        peak_max, t_peak = self._certified_max(L_A, L_B, loss, with_chord=True)
        hi, mean = max(L_A, L_B), 0.5 * (L_A + L_B)
        return {
            "B_lerp": lerp_max,
            "B_peak": peak_max - hi,
            "B_mid": float(self.bound(0.5, L_A, L_B, loss)) + mean - hi,
            "B_mean": peak_max - mean,
            "t_lerp": t_lerp,
            "t_peak": t_peak,
        }

    def to_json(self) -> dict:
        """Plain values for :func:`neuronid.numerics.io.to_jsonable`, which writes the
        non-finite ones (an unsupported certificate's ``inf``) as ``null`` with a reason."""
        def arr(a):
            return None if a is None else [float(v) for v in a]

        return {
            "result": self.result,
            "status": self.status,
            "reason": self.reason,
            "n_samples": self.n_samples,
            "n_outputs": self.n_outputs,
            "rho": float(self.rho),
            "mean_norm": float(self.mean_norm),
            "max_norm": float(self.max_norm),
            "non_finite_reason": None if self.ok and math.isfinite(self.rho) else (self.reason or "infinite"),
            "coord_mean": arr(self.coord_mean),
            "coord_rms": arr(self.coord_rms),
            "coord_max": arr(self.coord_max),
            "layers": [dict(d) for d in self.layers],
            "constants": self.constants,
            "structure_differences": list(self.structure_differences),
        }


def _chord(t, L_A, L_B):
    """``(1-t) L_A + t L_B`` computed as ``L_A + t (L_B - L_A)`` and clipped to
    ``[min, max]`` (where it lies mathematically): exact for ``L_A == L_B``."""
    return np.clip(L_A + t * (L_B - L_A), min(L_A, L_B), max(L_A, L_B))


def _check_losses(L_A, L_B):
    try:
        L_A, L_B = float(L_A), float(L_B)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"L_A and L_B must be numbers, found {L_A!r} and {L_B!r}") from None
    if not (math.isfinite(L_A) and math.isfinite(L_B)) or L_A < 0 or L_B < 0:
        raise InvalidOptionError(f"L_A and L_B must be finite losses >= 0, found {L_A!r} and {L_B!r}")
    return L_A, L_B


# --------------------------------------------------------------------------- computation
def _check_block(block) -> int:
    if isinstance(block, (bool, np.bool_)) or not isinstance(block, Integral) or int(block) < 1:
        raise InvalidOptionError(f"block must be an integer >= 1 (rows per block), found {block!r}")
    return int(block)


def certificate(A: Network, B: Network, X, *, block: int = _BLOCK_ROWS, keep_samples: bool = False) -> Certificate:
    """Compute the T4 certificate of the pair ``(A, B)`` on the rows of ``X``.

    Parameters
    ----------
    A, B : Network
        Same sizes and the same activation in every neuron. Masks and fixed parts may
        differ: the certificate is about the path in effective-weight space (D5);
        the differences are recorded in ``structure_differences``.
    X : (n, d) array
        Data (any real dtype; processed in float64, ``block`` rows at a time).
    block : int, default 512 (the path evaluator's row blocks)
        Rows per block; memory is ``O(block x width)`` per worker thread, independent
        of ``n``.
    keep_samples : bool, default False
        Keep ``R^L(x)`` for every sample in ``Certificate.samples`` (``n x o``).

    Returns
    -------
    Certificate

    Raises
    ------
    StructureMismatchError
        Sizes or activations differ (no single network represents the path).
    InvalidDataError, InvalidOptionError
        Bad ``X`` or ``block``.
    """
    block = _check_block(block)
    diffs = _check_certificate_pair(A, B)
    return _certificate(A, B, check_inputs(X, A.n_inputs), diffs, block, keep_samples)


def _check_certificate_pair(A: Network, B: Network) -> list[str]:
    """:func:`check_pair` with the certificate's advice; the structure differences."""
    try:
        return check_pair(A, B, allow_structure_mismatch=True, what="certificate: A and B")
    except StructureMismatchError as exc:
        raise StructureMismatchError(
            f"{exc}. The T4 certificate needs equal sizes and equal activations per neuron"
        ) from None


def _certificate(A: Network, B: Network, X: np.ndarray, diffs: list[str], block: int, keep_samples: bool,
                 endpoints: np.ndarray | None = None) -> Certificate:
    """:func:`certificate` on validated inputs (``X`` from :func:`check_inputs`, ``diffs``
    from :func:`_check_certificate_pair`, ``block`` from :func:`_check_block`).

    ``endpoints``: an optional pair of ``(n, o)`` arrays that receive ``f_A(X)`` and
    ``f_B(X)`` (the certificate's forward passes already hold every hidden layer; with
    the path's row blocks these are bitwise the path's ``t = 0`` and ``t = 1``
    outputs, see :func:`certified_barriers`). Left untouched when the status is not ok.
    """
    n, o = X.shape[0], A.n_outputs
    L = len(A.layers)
    normed = [f"layer {l}: {norm.kind} norm" for l, norm in enumerate(A.norms) if norm is not None]
    if normed:
        return Certificate(
            UNSUPPORTED_NORM, "T4 does not cover normalization layers yet (THEORY.md section 4): "
            + ", ".join(normed), n, o, math.inf, math.inf, math.inf, structure_differences=diffs,
        )
    plans = [_HiddenPlan(layer, l) for l, layer in enumerate(A.layers[:-1])]
    constants = [
        {"layer": p.index, "activations": [c.to_json() for c in p.constants.values()]} for p in plans
    ]
    problems = [p.problem for p in plans if p.problem]
    if problems:
        return Certificate(
            "unsupported", "; ".join(problems), n, o, math.inf, math.inf, math.inf,
            constants=constants, structure_differences=diffs,
        )

    X = np.ascontiguousarray(X, dtype=np.float64)
    WA, WB = A.effective_weights(), B.effective_weights()
    bA = [np.ascontiguousarray(b) for b in A.biases()]
    bB = [np.ascontiguousarray(b) for b in B.biases()]
    # [|dW| | max(|W_A|, |W_B|)]^T, one (2 d_l, m_l) operand per layer after the first
    cat_T = [None] + [
        np.ascontiguousarray(
            np.concatenate([np.abs(WA[l] - WB[l]), np.maximum(np.abs(WA[l]), np.abs(WB[l]))], axis=1).T
        )
        for l in range(1, L)
    ]
    rows = min(n, block)
    starts = range(0, n, rows)
    widths = [w.shape[0] for w in WA]
    hid = max(widths[:-1], default=1)
    R_out = np.empty((n, o))  # R^L(x) per sample: the output layer's stats are taken from it below
    hidden = [None] * len(starts)  # per block: (sum R, max R, sum ||R||^2, sum D) per hidden layer

    def run_block(i: int, buf) -> None:
        """Block ``i`` through every layer: hidden stats into ``hidden[i]``, ``R^L`` into ``R_out``."""
        ZAb, ZBb, DRb, Qb = buf
        start = starts[i]
        stop = min(start + rows, n)
        r = stop - start
        hA = hB = X[start:stop]
        DR_prev = None
        out = []
        for l in range(L):
            m = widths[l]
            if l == L - 1:
                if l > 0:
                    np.matmul(DR_prev, cat_T[l], out=R_out[start:stop])
                else:  # a single linear layer: the path is exactly linear
                    R_out[start:stop] = 0.0
                if endpoints is not None:  # the output layer as the path evaluator computes it
                    for F, h, W, b in ((endpoints[0], hA, WA, bA), (endpoints[1], hB, WB, bB)):
                        np.matmul(h, W[l].T, out=F[start:stop])
                        _add_bias(F[start:stop], b[l])
                break
            Q = Qb[: r * m].reshape(r, m) if l > 0 else Qb[:1].reshape(1, 1)
            if l > 0:
                np.matmul(DR_prev, cat_T[l], out=Q)
            k = l % 2  # ping-pong: layer l writes set l % 2 and reads set (l - 1) % 2
            ZA = ZAb[k][: r * m].reshape(r, m)
            ZB = ZBb[k][: r * m].reshape(r, m)
            DR = DRb[k][: r * 2 * m].reshape(r, 2 * m)
            np.matmul(hA, WA[l].T, out=ZA)
            np.matmul(hB, WB[l].T, out=ZB)
            out.append(plans[l].run(ZA, ZB, bA[l], bB[l], Q, l > 0, DR))
            hA, hB, DR_prev = ZA, ZB, DR
        hidden[i] = out

    def run_block_quietly(i: int, buf) -> None:
        with np.errstate(over="ignore", invalid="ignore"):  # per thread; overflow -> status "overflow"
            run_block(i, buf)

    # blocks on worker threads (single-threaded BLAS each, see numerics.threads); each
    # block's numbers do not depend on the thread that computes it, and the sums below
    # combine them in block order, so the certificate does not depend on the thread count
    workers = min(worker_count(), len(starts))
    buffers = [([np.empty(rows * hid), np.empty(rows * hid)], [np.empty(rows * hid), np.empty(rows * hid)],
                [np.empty(rows * 2 * hid), np.empty(rows * 2 * hid)], np.empty(rows * max(widths)))
               for _ in range(workers)]
    with block_workers(buffers) as run:
        run(len(starts), run_block_quietly)

    coord_sum, coord_sumsq = np.zeros(o), np.zeros(o)
    coord_max = np.zeros(o)
    norms = np.empty(rows)
    stats = [dict(sum_r=0.0, max_r=0.0, sum_sq=0.0, sum_d=0.0) for _ in range(L)]
    total_sq = total_norm = 0.0
    max_norm = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for i, start in enumerate(starts):
            for l, (sum_r, max_r, sum_sq, sum_d) in enumerate(hidden[i]):
                st = stats[l]
                st["sum_r"] += sum_r
                st["max_r"] = max(st["max_r"], max_r)
                st["sum_sq"] += sum_sq
                st["sum_d"] += sum_d
            Q = R_out[start:min(start + rows, n)]
            r = Q.shape[0]
            sq, nrm = _k.output_stats(Q, coord_sum, coord_sumsq, coord_max, norms[:r])
            total_sq += sq
            total_norm += nrm
            max_norm = max(max_norm, float(np.max(norms[:r])))
            st = stats[L - 1]
            st["sum_r"] += float(Q.sum())
            st["max_r"] = max(st["max_r"], float(Q.max()))
            st["sum_sq"] += sq
    samples = R_out if keep_samples else None

    layers = []
    for l in range(L):
        st, m = stats[l], widths[l]
        entry = {
            "layer": l,
            "kind": "output" if l == L - 1 else "hidden",
            "activation": "linear" if l == L - 1 else plans[l].describe(),
            "mean_R": st["sum_r"] / (n * m),
            "max_R": st["max_r"],
            "rms_norm": math.sqrt(st["sum_sq"] / n) if math.isfinite(st["sum_sq"]) else math.inf,
        }
        if l < L - 1:
            entry["mean_dh"] = st["sum_d"] / (n * m)
        layers.append(entry)

    rho = math.sqrt(total_sq / n) if total_sq >= 0 else math.nan
    mean_norm = total_norm / n
    status, reason = "ok", None
    if not (math.isfinite(rho) and math.isfinite(mean_norm)):
        status = "overflow"
        reason = ("R overflowed float64 (weights or activations too large); the certificate is vacuous "
                  "(every bound is inf)")
        rho = mean_norm = max_norm = math.inf
    return Certificate(
        status, reason, n, o, rho, mean_norm, max_norm,
        coord_mean=coord_sum / n, coord_rms=np.sqrt(coord_sumsq / n), coord_max=coord_max,
        layers=layers, constants=constants, structure_differences=diffs, samples=samples,
    )


def exceeds_bound(measured: float, bound: float, scale: float) -> bool:
    """True when ``measured`` exceeds ``bound`` beyond floating-point slack."""
    if math.isnan(measured):
        return True
    return measured > bound + FLOAT_SLACK * (abs(bound) + scale)


def path_outputs(A: Network, B: Network, X, grid) -> np.ndarray:
    """``f_t(X)`` at every ``t`` of ``grid``: an array ``(T, n, o)`` (effective-weight
    path; masks and fixed parts may differ, sizes and activations must agree)."""
    check_pair(A, B, allow_structure_mismatch=True)
    return _evaluate_path(A, B, check_inputs(X, A.n_inputs), grid)


def _evaluate_path(A: Network, B: Network, X: np.ndarray, grid, out=None, skip=()) -> np.ndarray:
    """:func:`path_outputs` for a pair :func:`check_pair` accepted and validated ``X``
    (into ``out`` when given; grid indices in ``skip`` are left as they are)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    if out is None:
        out = np.empty((len(grid), X.shape[0], A.n_outputs))
    _PathEvaluator(A, B, X).evaluate(grid, out.__setitem__, skip=skip)
    return out


def elementwise_statement(F: np.ndarray, bound: np.ndarray, grid) -> dict:
    """T4's elementwise statement ``|f_t(x) - lerp f(x)| <= t(1-t) R^L(x)`` on a grid.

    ``F``: path outputs ``(T, n, o)`` (``F[0]``, ``F[-1]`` the endpoints); ``bound``:
    ``t(1-t) R^L(x)`` of the same shape. An entry passes when the deviation is at most
    ``bound (1 + FLOAT_SLACK) + FLOAT_SLACK * scale`` (``scale`` = the largest output
    magnitude on the path: rounding of the forward passes is relative to it).

    Returns ``entries``, ``violations`` (count), ``worst`` (``deviation``, ``allowed``,
    ``bound``, ``t``, ``sample``, ``output`` of the entry with the largest excess),
    ``median_tightness`` / ``max_tightness`` (deviation / bound over entries with a
    positive bound) and ``positive_bound_entries``.
    """
    grid = np.asarray(grid, dtype=np.float64)
    w = grid[:, None, None]
    lerp = (1.0 - w) * F[0] + w * F[-1]
    dev = np.abs(F - lerp)
    scale = float(np.max(np.abs(F), initial=0.0) + np.max(np.abs(lerp), initial=0.0))
    with np.errstate(invalid="ignore", over="ignore"):
        allowed = bound * (1.0 + FLOAT_SLACK) + FLOAT_SLACK * scale
        excess = dev - allowed
    excess = np.where(np.isnan(excess), np.inf, excess)
    k = np.unravel_index(int(np.argmax(excess)), excess.shape)
    pos = bound > 0
    ratio = dev[pos] / bound[pos]
    return {
        "entries": int(dev.size),
        "violations": int(np.sum(excess > 0)),
        "worst": {"deviation": float(dev[k]), "allowed": float(allowed[k]), "bound": float(bound[k]),
                  "t": float(grid[k[0]]), "sample": int(k[1]), "output": int(k[2])},
        "positive_bound_entries": int(np.sum(pos)),
        "median_tightness": float(np.median(ratio)) if ratio.size else None,
        "max_tightness": float(np.max(ratio)) if ratio.size else None,
        "max_deviation": float(np.max(dev, initial=0.0)),
        "rounding_scale": scale,
        "slack": FLOAT_SLACK,
    }


def box_bounds(F: np.ndarray, bound: np.ndarray, grid, y, loss: str) -> np.ndarray:
    """Per-sample box bounds on ``L(t) - lerp L`` at each grid point (THEORY T4).

    With ``u = lerp(f_A(x), f_B(x))`` and the error confined to ``|e| <= bound``:
    MSE ``mean_x sum_k (2 |u_k - y_k| b_k + b_k^2)``; CE ``mean_x [CE(u + e*) - CE(u)]``
    with ``e*_y = -b_y`` and ``e*_j = +b_j`` (``j != y``), the box's maximizing vertex.
    Both use ``mean_x loss(u) <= lerp L`` (convexity of the loss in the outputs).
    """
    grid = np.asarray(grid, dtype=np.float64)
    T, n, o = F.shape
    out = np.empty(T)
    if loss == "mse":
        Y = np.eye(o)[y] if y.dtype.kind == "i" else np.asarray(y, dtype=np.float64)
    for k, t in enumerate(grid):
        u = (1.0 - t) * F[0] + t * F[-1]
        b = bound[k]
        if loss == "mse":
            out[k] = float(np.mean(np.sum(2.0 * np.abs(u - Y) * b + b * b, axis=1)))
        else:
            e = b.copy()
            e[np.arange(n), y] *= -1.0
            out[k] = float(np.mean(loss_per_sample("ce", u + e, y) - loss_per_sample("ce", u, y)))
    return out


@dataclass
class CertifiedPath:
    """T4 on one measured linear path (:func:`certified_barriers`): typed, with plain
    floats (``inf`` where a bound is infinite); :func:`neuronid.numerics.io.to_jsonable`
    writes the non-finite ones as ``null`` with a reason when a report is serialized.

    Attributes
    ----------
    status, reason : the certificate's status (``"ok"``, ``"unsupported"``, ...) and why.
    loss, L_A, L_B : the loss function and the endpoint losses.
    bound : the smaller of ``bound_global`` and ``bound_box``, keyed by ``B_lerp``,
        ``B_peak``, ``B_mid``, ``B_mean``.
    bound_global : the certificate's bounds over the continuum ``[0, 1]``.
    bound_box : per-sample box bounds maximized over the grid (they bound the barriers
        measured on that grid); ``inf`` without a certificate.
    measured : the measured barriers.
    tightness : measured / bound (``None`` when the bound is not positive or not finite).
    holds : measured <= bound up to the relative slack :data:`FLOAT_SLACK`.
    elementwise : :func:`elementwise_statement` (``None`` without a certificate).
    t_lerp, t_peak : where the global bounds peak.
    slack : :data:`FLOAT_SLACK`.
    certificate : the :class:`Certificate`.
    path : the measured :class:`~neuronid.numerics.paths.PathResult`.
    box_curve : the per-sample box bound on ``L(t) - lerp L(t)`` at each grid point
        (``None`` without a certificate); ``bound_box`` holds its maxima. Plots draw it
        beside the global band, so the figure shows the bound the report states.
    """

    status: str
    reason: str | None
    loss: str
    L_A: float
    L_B: float
    bound: dict
    bound_global: dict
    bound_box: dict
    measured: dict
    tightness: dict
    holds: dict
    elementwise: dict | None
    t_lerp: float
    t_peak: float
    slack: float
    certificate: Certificate
    path: PathResult
    result: str = "T4"
    box_curve: np.ndarray | None = None

    def to_json(self) -> dict:
        """Plain values (``inf`` kept) for :func:`neuronid.numerics.io.to_jsonable`,
        which writes the non-finite ones as ``null`` with a reason."""
        out = {k: getattr(self, k) for k in ("result", "status", "reason", "loss", "L_A", "L_B", "bound",
                                             "bound_global", "bound_box", "measured", "tightness", "holds",
                                             "elementwise", "t_lerp", "t_peak", "slack")}
        out["certificate"] = self.certificate.to_json()
        out["path"] = self.path.to_json()
        return out


def certified_barriers(
    A: Network,
    B: Network,
    X,
    y,
    *,
    loss: str,
    steps=21,
    block: int = _BLOCK_ROWS,
    hook=None,
) -> CertifiedPath:
    """T4 barrier bounds, the elementwise statement, the measured path, and tightness,
    as one :class:`CertifiedPath`.

    The path is measured on ``steps`` as :func:`neuronid.numerics.paths.linear_path`
    measures it (same grid and loss; interpolating effective weights, so masks and
    fixed parts may differ), from the outputs ``f_t(x)`` that the elementwise test
    uses too (one pass over the path). On the
    same grid the elementwise statement is tested (:func:`elementwise_statement`) and
    the per-sample box bounds are evaluated (:func:`box_bounds`).

    ``hook``: optional ``hook(name, array) -> array`` applied to the arrays the
    elementwise test compares, ``"bound"`` (``t(1-t) R^L``, shape ``(T, n, o)``) and
    ``"outputs"`` (``f_t(x)``, same shape). It exists for mutation tests (a planted
    defect must be flagged, see ``neuronid selftest``); ``None`` in normal use.

    Returns
    -------
    :class:`CertifiedPath` (bounds keyed by ``B_lerp``, ``B_peak``, ``B_mid``,
    ``B_mean``; infinite bounds stay ``inf`` until a report serializes them).

    Examples
    --------
    >>> import numpy as np
    >>> from neuronid.numerics.structures import standard_mlp
    >>> A, B = standard_mlp([3, 6, 2], seed=0), standard_mlp([3, 6, 2], seed=1)
    >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = np.arange(64) % 2
    >>> out = certified_barriers(A, B, X, y, loss="ce")
    >>> out.status, all(out.holds.values()), out.elementwise["violations"]
    ('ok', True, 0)
    """
    check_loss(loss)
    # validated once here; the cores below trust their inputs
    block = _check_block(block)
    diffs = _check_certificate_pair(A, B)
    X = np.ascontiguousarray(check_inputs(X, A.n_inputs), dtype=np.float64)
    y = check_targets(loss, y, A.n_outputs, X.shape[0])
    grid = path_grid(steps)
    F = np.empty((grid.size, X.shape[0], A.n_outputs))
    # the certificate's forward passes of A and B give the path's endpoints: with the
    # path's row blocks (block == _BLOCK_ROWS) they are the same products, bitwise
    # (tests/numerics/test_certificate.py checks the curve against linear_path's, bitwise)
    reuse = block == _BLOCK_ROWS
    cert = _certificate(A, B, X, diffs, block, True, endpoints=(F[0], F[-1]) if reuse else None)
    # "ok" and "overflow" ran the forward passes; the "unsupported" ones returned before
    skip = (0, grid.size - 1) if reuse and cert.status in ("ok", "overflow") else ()
    # one pass over the path: its outputs give the loss curve (as linear_path computes
    # it) and the elementwise test
    _evaluate_path(A, B, X, grid, out=F, skip=skip)
    losses = np.array([np.mean(loss_per_sample(loss, F[k], y)) for k in range(grid.size)])
    errors = np.array([error_rate(F[k], y) for k in range(grid.size)]) if y.dtype.kind == "i" else None
    path = PathResult.from_curves(grid, losses, errors, loss_function=loss, n_samples=int(X.shape[0]),
                                  structure_differences=diffs)
    L_A, L_B = float(path.loss[0]), float(path.loss[-1])
    glob = cert.barrier_bounds(max(L_A, 0.0), max(L_B, 0.0), loss)
    box = dict.fromkeys(_BARRIERS, math.inf)
    box_t = None
    elementwise = None
    if cert.ok:
        s = grid * (1.0 - grid)
        R = np.asarray(cert.samples)
        raw = s[:, None, None] * R[None]
        box_t = box_bounds(F, raw, grid, y, loss)
        lerp = (1.0 - grid) * L_A + grid * L_B
        hi, mean = max(L_A, L_B), 0.5 * (L_A + L_B)
        mid = int(np.argmin(np.abs(grid - 0.5)))
        box = {"B_lerp": float(np.max(box_t)), "B_peak": float(np.max(lerp + box_t)) - hi,
               "B_mid": float(box_t[mid] + lerp[mid]) - hi, "B_mean": float(np.max(lerp + box_t)) - mean}
        if hook is not None:
            raw = hook("bound", raw)
            F = hook("outputs", F)
        elementwise = elementwise_statement(F, raw, grid)
    bounds = {k: min(glob[k], box[k]) for k in _BARRIERS}
    scale = abs(L_A) + abs(L_B) + float(np.max(np.abs(path.loss)))
    measured = {k: float(getattr(path, k)) for k in _BARRIERS}
    tight, holds = {}, {}
    for k in _BARRIERS:
        b = bounds[k]
        tight[k] = measured[k] / b if (math.isfinite(b) and b > 0) else None
        holds[k] = not exceeds_bound(measured[k], b, scale)
    return CertifiedPath(
        status=cert.status, reason=cert.reason, loss=loss, L_A=L_A, L_B=L_B,
        bound={k: float(bounds[k]) for k in _BARRIERS},
        bound_global={k: float(glob[k]) for k in _BARRIERS},
        bound_box={k: float(box[k]) for k in _BARRIERS},
        measured=measured, tightness=tight, holds=holds, elementwise=elementwise,
        t_lerp=glob["t_lerp"], t_peak=glob["t_peak"], slack=FLOAT_SLACK, certificate=cert, path=path,
        box_curve=box_t,
    )


"""Counterexamples: drop one hypothesis of a result and find a small case where the
conclusion fails (``neuronid counterexample ID --drop H``).

Each search combines a targeted construction (the mechanism THEORY.md names) with
hypothesis-driven search and shrinking (:func:`hypothesis.find`): hypothesis draws the
free parameters (sizes, seeds, pre-activation values), keeps the examples where the
conclusion fails by a clear margin, and shrinks to the simplest one. The case is
saved as network files ``A.safetensors``, ``B.safetensors``, a data file
``data.npz`` and ``witness.json`` (the hypotheses that hold, the one dropped, the
numbers showing the failure, and the verdicts ``neuronid check`` gives on the saved
files, which reproduce it).

Cases (``COUNTEREXAMPLES``):

- ``T2 --drop H2_nondecreasing``: two GELU networks whose hidden neuron computes the
  same function on the data through different pre-activations (GELU is not
  monotone); the midpoint computes a different function: positive barrier.
- ``T2 --drop H3_identity_correspondence``: a standard MLP and a neuron permutation of
  it (same function everywhere); the path between them has a barrier.
- ``T3 --drop H3_margin_exceeds_eps``: standard layers (P2: every assignment costs the
  same, margin 0); two runs realizing the same functions in a different order; no
  identity correspondence, and the unaligned merge has a large barrier.
- ``P5 --drop H1_nondecreasing``: two realizations of one GELU neuron's function
  whose midpoint realizes a different function (the realization set is not convex).
- ``P6 --drop H_balanced``: a ReLU network and a rescaled copy (one neuron's incoming
  weights times ``alpha``, outgoing divided by ``alpha``): the same function, but the
  contribution along the straight path is multiplied by ``phi(t) > 1``: a barrier.
  Weight decay's balanced representative (``alpha = 1``) is what removes it.
- ``N2 --drop H2_eps_zero``: a LayerNorm network with a large ``eps`` and its copy with
  ``(W, b) -> (c W, c b)``: the copy computes another function and the straight path
  has a barrier (with ``eps = 0`` it would be flat; :mod:`.normalization_checks`).
  Re-checked with :func:`~.normalization_checks.check_n2` instead of ``full_check``.
"""

from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from hypothesis import find, settings
from hypothesis import strategies as st
from scipy.optimize import brentq, minimize_scalar

from neuronid.numerics.activations import apply_activation
from neuronid.numerics.alignment import permute_network
from neuronid.numerics.io import save_data, save_network, to_jsonable, write_json
from neuronid.numerics.network import Layer, Network
from neuronid.numerics.paths import linear_path
from neuronid.numerics.structures import standard_mlp
from neuronid.errors import InvalidOptionError, UnknownResultError
from neuronid.theory.registry import get_result

from .normalization_checks import check_n2, n2_counterexample
from .report import full_check

#: barrier (or function change) a counterexample must show, far above rounding
MARGIN = 1e-3


@dataclass
class Counterexample:
    id: str
    dropped: str
    A: Network
    B: Network
    X: np.ndarray
    y: np.ndarray
    loss: str
    numbers: dict
    construction: str
    search: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)
    reproduce: str = ""

    def witness(self) -> dict:
        return to_jsonable({
            "id": self.id,
            "dropped": self.dropped,
            "construction": self.construction,
            "loss": self.loss,
            "numbers": self.numbers,
            "search": self.search,
            "check": self.verdicts,
            "reproduce": self.reproduce
            or "neuronid check A.safetensors B.safetensors --data data.npz --loss " + self.loss,
        })

    def save(self, out_dir) -> list[str]:
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidOptionError(f"{out}: cannot create the output folder ({exc.strerror})") from None
        save_network(self.A, out / "A.safetensors")
        save_network(self.B, out / "B.safetensors")
        save_data(out / "data.npz", self.X, self.y)
        write_json(out / "witness.json", self.witness())
        return [str(out / name) for name in ("A.safetensors", "B.safetensors", "data.npz", "witness.json")]


def _search_settings(max_examples: int = 200):
    return settings(max_examples=max_examples, database=None, deadline=None)


# ----------------------------------------------------------------------------- GELU
@functools.cache
def _gelu_min_z() -> float:
    """Where GELU (the catalogue's kernel) takes its minimum, ``z* ~ -0.7518``. Computed on
    first use, not at import: importing this module (the CLI, test collection) must not
    compile and run numba kernels (measured: 6 s of compile on an empty numba cache)."""
    return float(minimize_scalar(lambda z: float(apply_activation("gelu", np.array([z]))[0]),
                                 bounds=(-2.0, 0.0), method="bounded", options={"xatol": 1e-13}).x)


def _gelu(z):
    return apply_activation("gelu", np.asarray(z, dtype=float))


def gelu_partner(z: float) -> float:
    """The other preimage of ``gelu(z)`` for ``z < 0`` (GELU decreases below
    ``z* ~ -0.7518`` and increases above it, so each value in ``(gelu(z*), 0)`` has two
    preimages)."""
    target = float(_gelu(z))
    z_min = _gelu_min_z()
    if z < z_min:
        return brentq(lambda u: float(_gelu(u)) - target, z_min, 0.0, xtol=1e-15, rtol=1e-15)
    return brentq(lambda u: float(_gelu(u)) - target, -40.0, z_min, xtol=1e-15, rtol=1e-15)


def _gelu_pair(z_left):
    """One-input networks with one GELU neuron and output weight 1, on points
    ``x = 1, 2, ...``: A's pre-activations are ``z_left`` (affine in x), B's the partner
    preimages (affine by construction when there are two points)."""
    z_left = np.asarray(z_left, dtype=float)
    X = np.arange(1.0, z_left.size + 1.0)[:, None]
    z_right = np.array([gelu_partner(z) for z in z_left])
    fits = []
    for z in (z_left, z_right):
        G = np.hstack([X, np.ones_like(X)])
        (w, b), *_ = np.linalg.lstsq(G, z, rcond=None)
        fits.append((w, b))
    nets = []
    for w, b in fits:
        hidden = Layer(np.array([[w]]), np.array([b]), activation="gelu")
        out = Layer(np.array([[1.0]]), np.array([0.0]))
        nets.append(Network([hidden, out]))
    A, B = nets
    y = A(X)
    return A, B, X, y


def _gelu_case(result_id: str, dropped: str, seed: int) -> Counterexample:
    def failing(z):
        z0, z1 = z
        if abs(z0 - z1) < 1e-3:
            return False
        A, B, X, y = _gelu_pair([z0, z1])
        same = float(np.max(np.abs(A(X) - B(X))))
        mid = linear_path(A, B, X, y, loss="mse", steps=3)
        return same < 1e-12 and mid.B_mid > MARGIN

    z_below = _gelu_min_z() - 0.05
    z_strategy = st.tuples(st.floats(-3.0, z_below), st.floats(-3.0, z_below))
    z0, z1 = find(z_strategy, failing, settings=_search_settings(), random=random.Random(seed))
    A, B, X, y = _gelu_pair([z0, z1])
    path = linear_path(A, B, X, y, loss="mse", steps=21)
    zA, zB = A.forward(X, record=True).pre[0][:, 0], B.forward(X, record=True).pre[0][:, 0]
    z_mid = 0.5 * (zA + zB)
    numbers = {
        "preactivations_A": zA, "preactivations_B": zB,
        "hidden_outputs_A": _gelu(zA), "hidden_outputs_B": _gelu(zB),
        "max_output_difference_A_B": float(np.max(np.abs(A(X) - B(X)))),
        "midpoint_hidden_outputs": _gelu(z_mid),
        "midpoint_function_change": float(np.max(np.abs(_gelu(z_mid) - _gelu(zA)))),
        "B_mid": path.B_mid, "B_lerp": path.B_lerp, "B_peak": path.B_peak,
        "hypotheses_that_hold": {
            "H1_same_structure": True,
            "H3_identity_correspondence": "the hidden neuron computes the same values in A and B",
            "H4_outputs_agree": True,
        } if result_id == "T2" else {"realizations": "A's and B's hidden neuron realize the same function"},
    }
    construction = (
        "GELU is decreasing below z* = %.6f: each value in (gelu(z*), 0) has two preimages. A's hidden "
        "neuron has pre-activations z_A on the data, B's the other preimages z_B (an affine function of "
        "the two inputs), so both compute the same function; at t = 1/2 the pre-activation "
        "(z_A + z_B)/2 lies between the preimages, where GELU is lower." % _gelu_min_z()
    )
    return Counterexample(result_id, dropped, A, B, X, y, "mse", numbers, construction,
                          search={"method": "hypothesis.find over the pre-activations of A, shrunk", "seed": seed,
                                  "found": [z0, z1]})


# ----------------------------------------------------------------------------- permutations
def _permutation_pair(seed: int, *, result_id: str):
    """A standard ReLU MLP on a small data set and a non-identity neuron permutation."""

    def build(params):
        width, net_seed, shift = params
        A = standard_mlp([3, width, 2], activation="relu", seed=net_seed)
        perm = np.roll(np.arange(width), shift)
        B = permute_network(A, [perm])
        X = np.random.default_rng(net_seed).normal(size=(32, 3))
        y = A(X)
        return A, B, X, y

    def failing(params):
        A, B, X, y = build(params)
        return linear_path(A, B, X, y, loss="mse", steps=3).B_mid > MARGIN

    params = find(st.tuples(st.integers(2, 6), st.integers(0, 1000), st.integers(1, 5)), failing,
                  settings=_search_settings(), random=random.Random(seed))
    A, B, X, y = build(params)
    return params, A, B, X, y


def _permutation_case(result_id: str, dropped: str, seed: int) -> Counterexample:
    (width, net_seed, shift), A, B, X, y = _permutation_pair(seed, result_id=result_id)
    path = linear_path(A, B, X, y, loss="mse", steps=21)
    perm = np.roll(np.arange(width), shift)
    numbers = {
        "width": width, "permutation": perm, "fixed_points": int(np.sum(perm == np.arange(width))),
        "max_output_difference_A_B": float(np.max(np.abs(A(X) - B(X)))),
        "B_mid": path.B_mid, "B_lerp": path.B_lerp, "B_peak": path.B_peak, "L_A": path.loss[0],
    }
    if result_id == "T2":
        numbers["hypotheses_that_hold"] = {"H1_same_structure": True, "H2_nondecreasing": "relu",
                                           "H4_outputs_agree": True}
        construction = ("B is A with its hidden neurons permuted (and the output layer's columns with "
                        "them): the same function everywhere, but neuron i of A and neuron i of B compute "
                        "different functions, and the straight path between them has a barrier.")
    else:
        numbers["hypotheses_that_hold"] = {
            "H1_same_support_and_functions": "same data, the same set of neuron functions (a permutation)",
            "H2_near_minimal": "both runs' assignments cost the same as every other (P2)",
        }
        numbers["margin_gamma"] = "0 (P2: standard layers give K[i, j] = ||a_j||^2, every assignment costs the same)"
        construction = ("Standard layers are exactly permutation symmetric (P2), so the assignment margin "
                        "gamma is 0 and nothing pins neuron i to one function: run B realizes the same "
                        "functions in another order; merging without alignment fails (positive barrier).")
    return Counterexample(result_id, dropped, A, B, X, y, "mse", numbers, construction,
                          search={"method": "hypothesis.find over (width, seed, cyclic shift), shrunk",
                                  "seed": seed, "found": [width, net_seed, shift]})


# ----------------------------------------------------------------------------- P6
def _rescale_case(result_id: str, dropped: str, seed: int) -> Counterexample:
    def build(params):
        width, net_seed, alpha = params
        A = standard_mlp([2, width, 1], activation="relu", seed=net_seed)
        X = np.random.default_rng(net_seed).normal(size=(16, 2))
        H = A.forward(X, record=True).inputs[1]
        k = int(np.argmax(np.linalg.norm(H, axis=0) * np.abs(A.layers[1].weight[0])))
        B = A.copy()
        B.layers[0].weight[k] *= alpha
        B.layers[0].bias[k] *= alpha
        B.layers[1].weight[:, k] /= alpha
        return A, B, X, A(X), k

    def failing(params):
        A, B, X, y, _ = build(params)
        return linear_path(A, B, X, y, loss="mse", steps=3).B_mid > MARGIN

    params = find(st.tuples(st.integers(1, 4), st.integers(0, 1000), st.sampled_from([2.0, 3.0, 4.0, 8.0])),
                  failing, settings=_search_settings(), random=random.Random(seed))
    A, B, X, y, k = build(params)
    alpha = params[2]
    path = linear_path(A, B, X, y, loss="mse", steps=21)
    numbers = {
        "alpha": alpha, "neuron": k, "phi_at_half": 1 + 0.25 * (alpha + 1 / alpha - 2),
        "max_output_difference_A_B": float(np.max(np.abs(A(X) - B(X)))),
        "B_mid": path.B_mid, "B_lerp": path.B_lerp, "B_peak": path.B_peak,
        "norm_cost_A": A.norm_cost(), "norm_cost_B": B.norm_cost(),
        "hypotheses_that_hold": {"H1_alpha_positive": alpha, "H2_homogeneous": "relu"},
    }
    construction = ("P6's scaling symmetry: B multiplies one ReLU neuron's incoming weights and bias by "
                    "alpha and its outgoing weight by 1/alpha (same function). Along the straight path the "
                    "neuron's contribution is multiplied by phi(t) = 1 + t(1-t)(alpha + 1/alpha - 2) > 1: a "
                    "barrier. Dropped: balance (alpha = 1, |c| = ||(w, b)||), which weight decay enforces; "
                    "B also has the larger norm cost.")
    return Counterexample(result_id, dropped, A, B, X, y, "mse", numbers, construction,
                          search={"method": "hypothesis.find over (width, seed, alpha), shrunk", "seed": seed,
                                  "found": list(params)})


def _n2_case(result_id, dropped, seed):
    A, B, X, y, result, search = n2_counterexample(seed, margin=MARGIN)
    n = result["numbers"]
    numbers = {k: v for k, v in n.items() if k not in ("loss", "steps")}
    numbers["loss_along_path"] = n["loss"]
    numbers["hypotheses_that_hold"] = {"H1_c_positive": n["c"]}
    construction = (f"N2's scale symmetry with a large eps = {n['eps']:g}: B multiplies the hidden layer's W "
                    f"and b by c = {n['c']:g}. With eps = 0 LayerNorm(c z) = LayerNorm(z) and the path is flat; "
                    "with eps > 0 the normalized output changes by rho = c sqrt(V + eps)/sqrt(c^2 V + eps) "
                    f"(max |rho - 1| = {n['eps_effect']:.3g} here): B computes another function and the path "
                    "has a barrier.")
    return Counterexample(result_id, dropped, A, B, X, y, "mse", numbers, construction, search=search,
                          reproduce="neuronid lmc A.safetensors B.safetensors --data data.npz --loss mse")


def _recheck_n2(case) -> dict:
    out = check_n2(case.A, case.X, case.y, loss=case.loss, c=case.numbers["c"])
    return {"result": "N2", "verdicts": {"pair": out["verdict"]}, "conclusion": out["conclusion"],
            "hypotheses": {"pair": out["hypotheses"]}, "theory_violations": []}


#: (result ID, dropped hypothesis) -> builder(result_id, dropped, seed)
COUNTEREXAMPLES = {
    ("T2", "H2_nondecreasing"): _gelu_case,
    ("T2", "H3_identity_correspondence"): _permutation_case,
    ("T3", "H3_margin_exceeds_eps"): _permutation_case,
    ("P5", "H1_nondecreasing"): _gelu_case,
    ("P6", "H_balanced"): _rescale_case,
    ("N2", "H2_eps_zero"): _n2_case,
}

#: results re-checked by their own numeric check instead of full_check
_RECHECK = {"N2": _recheck_n2}

#: the result whose conclusion ``neuronid check`` must show failing on the saved files
_REPRODUCED_BY = {"T2": "T2", "T3": "T3", "P5": "P5", "P6": "T2"}


def valid_drops(result_id: str) -> list[str]:
    return sorted(h for (rid, h) in COUNTEREXAMPLES if rid == result_id)


def _resolve(result_id: str, dropped: str) -> tuple[str, str]:
    rid = result_id.strip().upper()
    known = sorted({r for r, _ in COUNTEREXAMPLES})
    if rid not in known:
        get_result(rid)  # raises UnknownResultError listing every ID when unknown altogether
        raise UnknownResultError(
            f"no counterexample search for {rid}; available: "
            + "; ".join(f"{r} --drop {', '.join(valid_drops(r))}" for r in known)
        )
    names = valid_drops(rid)
    hyp_names = [h.name for h in get_result(rid).hypotheses]
    matches = [n for n in names if n == dropped or n.split("_")[0] == dropped]
    if not matches:
        raise UnknownResultError(
            f"{rid}: cannot drop {dropped!r}; valid: {', '.join(names)} (hypotheses of {rid}: "
            f"{', '.join(hyp_names)})"
        )
    return rid, matches[0]


def search_counterexample(result_id: str, dropped: str, *, seed: int = 0, check: bool = True) -> Counterexample:
    """Find and confirm a counterexample for ``result_id`` with ``dropped`` removed.

    With ``check``, :func:`~neuronid.proofs_checks.report.full_check` runs on the case
    and its verdicts go into the witness; the case is rejected (RuntimeError) unless
    the check shows the conclusion failing and no theory violation.

    >>> case = search_counterexample("T2", "H3", seed=0)
    >>> case.numbers["B_mid"] > 1e-3, case.verdicts["conclusion"]
    (True, 'fails')
    """
    rid, name = _resolve(result_id, dropped)
    case = COUNTEREXAMPLES[(rid, name)](rid, name, seed)
    if check and rid in _RECHECK:
        case.verdicts = _RECHECK[rid](case)
        if case.verdicts["conclusion"] != "fails":  # pragma: no cover - a construction bug
            raise RuntimeError(f"counterexample {rid} --drop {name} did not reproduce: {case.verdicts}")
    elif check:
        report = full_check(case.A, case.B, case.X, case.y, loss=case.loss, steps=21)
        target = _REPRODUCED_BY[rid]
        mine = [c for c in report.checks if c.id == target]
        failing = [c for c in mine if c.conclusion.get("status") == "fails"]
        case.verdicts = {
            "result": target,
            "verdicts": {c.scope: c.verdict for c in mine},
            "conclusion": "fails" if failing else "holds",
            "hypotheses": {c.scope: {k: v["status"] for k, v in c.hypotheses.items()} for c in mine},
            "theory_violations": [c.id for c in report.violations],
        }
        if not failing or report.violations:  # pragma: no cover - a construction bug
            raise RuntimeError(f"counterexample {rid} --drop {name} did not reproduce: {case.verdicts}")
    return case


def witness_from(path) -> dict:
    return json.loads(Path(path).read_text())

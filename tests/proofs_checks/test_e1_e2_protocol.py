"""E2 decided on the paper's swap cost Delta_in; E1's seeding (common random numbers
vs independent draws); the per-curve trend spread; the off-diagonal statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from neuronid.errors import InvalidOptionError
from neuronid.proofs_checks.experiments import common as C
from neuronid.proofs_checks.experiments import e1, e2, experiment_config

KINDS = ("delta_in", "delta_out", "delta_sum")


# ----------------------------------------------------------------------------- E2: claims read Delta_in
def planted_row(k, s, seed, costs):
    """An E2 unit row with planted swap-cost statistics: ``costs[kind] = (fraction
    negative, median)`` for each of the three matrices."""
    stats = {kind: {"frac_negative": fn, "frac_negative_beyond_tol": fn, "median": md, "min": md - 1.0,
                    "unrealizable_fraction": 0.0} for kind, (fn, md) in costs.items()}
    return {"k": k, "sigma_F": s, "seed": seed, "costs_status": "ok", "test_accuracy": 0.9, "rank": k,
            "coherence": 1.0 / k, "mean_anisotropy": 0.1, "p4_scale": s * s * 0.25 * k, "delta_min_in": -1.0,
            "delta_min_sum": -1.0, "swap_costs": stats, "heatmaps": None}


def planted_results(cfg, plant):
    """``plant(k, sigma_F, seed) -> costs`` for every unit of ``cfg``, aggregated."""
    records = [{"result": planted_row(k, s, seed, plant(k, s, seed))}
               for k in cfg["ks"] for s in cfg["sigmas"] for seed in range(cfg["seeds"])]
    return e2.aggregate(cfg, records)


def verdicts(cfg, results):
    """Verdicts by short name (the claims come in this order when both sigma_F run)."""
    claims = e2.claims(cfg, results)
    names = ("mixed", "small", "positive", "grows", "sanity")
    assert len(claims) == len(names) and "mixed signs" in claims[0]["claim"] and "grows" in claims[3]["claim"]
    return {n: c["verdict"] for n, c in zip(names, claims)}


CFG2 = experiment_config("E2", "small", {"ks": [2, 8, 32], "seeds": 2})


def test_e2_verdicts_follow_delta_in_where_the_sum_disagrees():
    # the paper's picture in Delta_in, the opposite in the sum (and in Delta_out)
    def paper_in_delta_in(k, s, seed):
        if s == 0.0:
            return {"delta_in": (0.4, 0.01 * k), "delta_out": (0.0, 3.0 * k), "delta_sum": (0.0, 3.0 * k)}
        return {"delta_in": (0.0, 5.0 * k), "delta_out": (0.5, -9.0 * k), "delta_sum": (0.3, -4.0 * k)}

    res = planted_results(CFG2, paper_in_delta_in)
    assert res["claims_read"] == "delta_in"
    v = verdicts(CFG2, res)
    assert v["mixed"] == "supported"      # mixed signs in Delta_in (40 %), the sum 0 % negative
    assert v["small"] == "supported"      # |median Delta_in| 0.01 k vs 5 k
    assert v["positive"] == "supported"   # Delta_in positive; the sum is 30 % negative
    assert v["grows"] == "supported"      # Delta_in grows with k; the sum falls

    # and the mirror image: the paper's picture only in the sum -> the claims fail
    def paper_in_sum(k, s, seed):
        c = paper_in_delta_in(k, s, seed)
        return {"delta_in": c["delta_sum"], "delta_out": c["delta_out"], "delta_sum": c["delta_in"]}

    v = verdicts(CFG2, planted_results(CFG2, paper_in_sum))
    assert v["mixed"] == "not supported"
    assert v["positive"] == "not supported"
    assert v["grows"] == "not supported"


def test_e2_claim_evidence_quotes_delta_in_and_its_seed_spread():
    def plant(k, s, seed):
        fn = 0.2 + 0.1 * seed if s == 0.0 else 0.0
        return {"delta_in": (fn, 0.5 if s == 0.0 else 10.0 * k), "delta_out": (0.9, 1.0), "delta_sum": (0.0, 7.0)}

    claims = e2.claims(CFG2, planted_results(CFG2, plant))
    mixed = claims[0]
    assert "Delta_in" in mixed["claim"]
    assert "k = 2: 25% negative (seeds 20-30%), median 0.5" in mixed["evidence"]
    assert mixed["numbers"]["frac_negative"] == {"2": pytest.approx(0.25), "8": pytest.approx(0.25),
                                                 "32": pytest.approx(0.25)}


fraction = st.floats(0.0, 1.0)
median = st.floats(-1e3, 1e3, allow_nan=False)


@given(st.lists(st.tuples(fraction, median, fraction, median), min_size=12, max_size=12),
       st.lists(st.tuples(fraction, median, fraction, median), min_size=12, max_size=12))
def test_e2_verdicts_do_not_depend_on_delta_out_or_the_sum(delta_in_draws, other_draws):
    """Property: with Delta_in fixed, any Delta_out and sum leave every verdict unchanged."""
    cfg = experiment_config("E2", "small", {"ks": [2, 8, 32], "seeds": 2})
    units = [(k, s, seed) for k in cfg["ks"] for s in cfg["sigmas"] for seed in range(cfg["seeds"])]
    din = dict(zip(units, delta_in_draws))

    def plant(other):
        o = dict(zip(units, other))
        return lambda k, s, seed: {"delta_in": din[(k, s, seed)][:2], "delta_out": o[(k, s, seed)][:2],
                                   "delta_sum": o[(k, s, seed)][2:]}

    base = e2.claims(cfg, planted_results(cfg, plant(delta_in_draws)))
    other = e2.claims(cfg, planted_results(cfg, plant(other_draws)))
    assert [c["verdict"] for c in base] == [c["verdict"] for c in other]
    assert [c["evidence"] for c in base] == [c["evidence"] for c in other]


# ----------------------------------------------------------------------------- off-diagonal statistics
def test_offdiag_stats_counts_strict_negatives_and_reports_inf_nan_apart():
    D = np.array([[-5.0, -1.0, 2.0, np.inf],
                  [-1.0, 9.0, -1e-12, 3.0],
                  [2.0, -1e-12, 0.0, np.nan],
                  [np.inf, 3.0, np.nan, 7.0]])
    s = C.offdiag_stats(D, tol=1e-9)
    # off-diagonal finite entries: -1, 2, -1, -1e-12, 3, 2, -1e-12, 3 (diagonal ignored)
    assert s["frac_negative"] == pytest.approx(4 / 8)
    assert s["frac_negative_beyond_tol"] == pytest.approx(2 / 8)
    assert s["median"] == pytest.approx(1.0) and s["min"] == -1.0
    assert s["unrealizable_fraction"] == pytest.approx(2 / 12) and s["not_computed_fraction"] == pytest.approx(2 / 12)
    empty = C.offdiag_stats(np.full((2, 2), np.inf))
    assert empty["median"] is None and empty["frac_negative"] is None and empty["unrealizable_fraction"] == 1.0


@given(st.integers(2, 9).flatmap(lambda m: st.lists(st.floats(-1e6, 1e6), min_size=m * m, max_size=m * m)))
def test_offdiag_stats_property(values):
    m = math.isqrt(len(values))
    D = np.array(values).reshape(m, m)
    s = C.offdiag_stats(D)
    off = D[~np.eye(m, dtype=bool)]
    assert s["frac_negative"] == pytest.approx(np.mean(off < 0))
    assert s["min"] <= s["q10"] <= s["median"] <= s["q90"] <= off.max()
    assert s["median"] == pytest.approx(np.median(off))
    D2 = D.copy()
    np.fill_diagonal(D2, -1e9)  # the diagonal never counts
    assert C.offdiag_stats(D2) == s


# ----------------------------------------------------------------------------- E1 seeding
CFG1 = experiment_config("E1", "paper")


def params(family, a, seed=1, pair=2):
    return {"family": family, "active": a, "seed": seed, "pair": pair}


def test_e1_common_seeding_shares_initialization_across_levels_and_families():
    assert CFG1["seeding"] == "common"
    mask = e1.e1_mask(CFG1, 1)
    for run in (0, 1):
        seeds = {e1.run_seeds(CFG1, params(f, a), run) for f in e1.FAMILIES for a in CFG1["actives"]}
        assert len(seeds) == 1
        init, _ = seeds.pop()
        nets = [e1.e1_network(CFG1, mask, e1.run_seeds(CFG1, params(f, a), run)[0])
                for f in e1.FAMILIES for a in (1, 5, 10)]
        assert all(np.array_equal(n.layers[0].weight, nets[0].layers[0].weight) for n in nets)
    # the two runs of a pair, other pairs and other seeds still differ
    assert e1.run_seeds(CFG1, params("exact_copy", 3), 0) != e1.run_seeds(CFG1, params("exact_copy", 3), 1)
    assert e1.run_seeds(CFG1, params("exact_copy", 3), 0) != e1.run_seeds(CFG1, params("exact_copy", 3, pair=3), 0)
    assert e1.run_seeds(CFG1, params("exact_copy", 3), 0) != e1.run_seeds(CFG1, params("exact_copy", 3, seed=2), 0)


def test_e1_independent_seeding_draws_per_level_and_family():
    cfg = {**CFG1, "seeding": "independent"}
    seeds = [e1.run_seeds(cfg, params(f, a), 0) for f in e1.FAMILIES for a in cfg["actives"]]
    assert len(set(seeds)) == len(seeds)
    mask = e1.e1_mask(cfg, 1)
    w = [e1.e1_network(cfg, mask, s[0]).layers[0].weight for s in seeds[:3]]
    assert not np.array_equal(w[0], w[1]) and not np.array_equal(w[1], w[2])


def frame(cfg, a, seed):
    tr, te = e1.e1_data(cfg, "random_tight_frame", a, seed)
    return tr, te, {int(p): r for p, r in zip(tr.info["pairs"], tr.info["rotations"])}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_e1_common_seeding_nests_the_random_tight_frames(seed):
    cfg = experiment_config("E1", "small", {"n_train": 32, "n_test": 32})
    frames = [frame(cfg, a, seed) for a in range(1, 11)]
    for (tr_a, te_a, ra), (tr_b, _, rb) in zip(frames, frames[1:]):
        assert set(ra) < set(rb)
        assert all(np.array_equal(ra[p], rb[p]) for p in ra)
        # the same latent samples along the curve: only the embedding changes
        assert np.allclose(tr_a.X @ tr_a.info["embedding"], tr_b.X @ tr_b.info["embedding"], rtol=0, atol=1e-12)
        assert np.allclose(tr_a.y, tr_b.y, rtol=0, atol=0)
    assert abs(frames[3][0].info["coherence"] - 0.25) < 1e-12


def test_e1_independent_seeding_does_not_nest_the_frames():
    cfg = experiment_config("E1", "small", {"n_train": 32, "n_test": 32, "seeding": "independent"})
    shared_same = []
    for seed in range(3):
        frames = [frame(cfg, a, seed)[2] for a in range(1, 11)]
        for ra, rb in zip(frames, frames[1:]):
            shared_same += [np.array_equal(ra[p], rb[p]) for p in set(ra) & set(rb)]
    assert shared_same and not any(shared_same)  # independent angles: never the same rotation


@pytest.mark.parametrize("bad", ["crn", "Common", None, 1, True, ["common"]])
def test_e1_bad_seeding_values_are_refused(bad):
    with pytest.raises(InvalidOptionError, match="seeding"):
        experiment_config("E1", "small", {"seeding": bad})


# ----------------------------------------------------------------------------- E1 trend spread
def test_trend_spread_recovers_planted_slopes():
    rows = []
    slopes = {(0, 0): -0.2, (0, 1): -0.1, (1, 0): -0.3, (1, 1): 0.1}
    for (seed, pair), beta in slopes.items():
        for a in (1, 2, 5, 10):
            nu = 1.0 / a * (1 + 1e-15 * seed)  # measured coherences carry rounding that differs between frames
            rows.append({"seed": seed, "pair": pair, "active": a, "coherence": nu,
                         "B_mid": 0.05 + beta * math.log10(nu)})
    t = e1.trend_spread(rows)
    assert t["curves"] == 4
    assert t["slope"]["mean"] == pytest.approx(np.mean(list(slopes.values())), rel=1e-9)
    assert t["slope"]["std"] == pytest.approx(np.std(list(slopes.values()), ddof=1), rel=1e-9)
    # drop = B_mid(nu = 0.1) - B_mid(nu = 1) = -beta
    assert t["drop"]["mean"] == pytest.approx(-np.mean(list(slopes.values())), rel=1e-9)
    assert t["step"]["n"] == 4 * 3
    assert t["slope_seed_means"]["n"] == 2
    assert t["slope_seed_means"]["mean"] == pytest.approx(np.mean([-0.15, -0.1]), rel=1e-9)
    # a curve with a missing level or a non-finite barrier is left out, not filled in
    rows.append({"seed": 2, "pair": 0, "active": 1, "coherence": 1.0, "B_mid": 0.1})
    rows += [{"seed": 3, "pair": 0, "active": a, "coherence": 1.0 / a, "B_mid": None if a == 2 else 0.1}
             for a in (1, 2, 5, 10)]
    assert e1.trend_spread(rows)["curves"] == 4


def test_trend_spread_reports_the_correlation_between_neighbouring_levels():
    # B_mid at a level = level offset + curve amplitude * level gain (+ planted noise): the
    # correlation across curves between two levels is computed independently with numpy
    rng = np.random.default_rng(3)
    actives = (1, 2, 5, 10)
    amp = rng.normal(size=6)
    noise = rng.normal(scale=0.5, size=(6, len(actives)))
    rows = []
    for c in range(6):
        for j, a in enumerate(actives):
            rows.append({"seed": c // 2, "pair": c % 2, "active": a, "coherence": 1.0 / a,
                         "B_mid": 0.1 * j + amp[c] + noise[c, j]})
    lc = e1.trend_spread(rows)["level_correlation"]
    # columns in increasing coherence = decreasing a
    B = (0.1 * np.arange(len(actives)) + amp[:, None] + noise)[:, ::-1]
    expected = [np.corrcoef(B[:, j], B[:, j + 1])[0, 1] for j in range(len(actives) - 1)]
    assert lc["per_step"] == pytest.approx(expected, rel=1e-12)
    assert lc["mean"] == pytest.approx(np.mean(expected), rel=1e-12)
    # perfectly related levels give 1, too few curves or a constant level give None
    assert e1.level_correlation(np.array([[1.0, 3.0], [2.0, 5.0], [4.0, 9.0]]))["mean"] == pytest.approx(1.0, rel=1e-12)
    assert e1.level_correlation(np.array([[1.0, 3.0], [2.0, 5.0]])) == {"per_step": [None], "mean": None}
    assert e1.level_correlation(np.array([[1.0, 3.0], [2.0, 3.0], [4.0, 3.0]]))["per_step"] == [None]

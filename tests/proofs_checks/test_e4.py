"""E4 (identifiability during training): the sweep end to end on a tiny configuration
(1 worker, 2 workers and Dask give identical results; resume), the per-checkpoint
measurements on planted pairs, the configuration checks, and the order claim on
planted series (before / same / after / inconclusive)."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest

from neuronid.cli import main
from neuronid.errors import InvalidInputError, InvalidOptionError
from neuronid.numerics.alignment import permute_network
from neuronid.proofs_checks.experiments import e4, experiment_config, run_experiment
from neuronid.proofs_checks.experiments.sweep import single_threaded

#: 3 units of a few hundred milliseconds each
TINY_E4 = {"pairs": 1, "hidden": [6, 5], "epochs": 4, "every": 2, "ambient": 8, "k": 3, "n_classes": 3,
           "n_train": 120, "n_test": 60, "cost_points": 60, "batch_size": 40, "restarts": 1, "steps": 5}


def unit_files(out):
    return sorted(p.name for p in (out / "units").iterdir())


@pytest.fixture(scope="module")
def e4_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e4") / "run"
    return out, run_experiment("E4", out=out, overrides=TINY_E4, workers=1)


# ----------------------------------------------------------------------------- end to end
def test_tiny_run_writes_units_results_summary_and_plot(e4_run):
    out, rep = e4_run
    res = json.loads((out / "results.json").read_text())
    assert unit_files(out) == sorted(f"subspace_{st}_p0.json" for st in e4.STRUCTURES)
    assert res["epochs"] == [0, 2, 4]
    assert set(res["series"]) == set(e4.STRUCTURES)
    row = res["rows"][0]
    assert [ck["epoch"] for ck in row["checkpoints"]] == [0, 2, 4]
    ck = row["checkpoints"][-1]
    assert set(ck["barrier"]) == {"unaligned", "activation", "weight"}
    assert [lay["width"] for lay in ck["layers"]] == [6, 5]
    for lay in ck["layers"]:
        assert 0.0 <= lay["identity_fraction"] <= 1.0
        assert len(lay["gamma"]) == len(lay["gamma_rel"]) == len(lay["median_delta_in"]) == 2
    std = next(r for r in res["rows"] if r["structure"] == "standard")
    for ck in std["checkpoints"]:
        for lay in ck["layers"]:  # P2: standard layers are symmetric, gamma = 0 up to rounding
            assert all(g is not None and abs(g) < 1e-9 for g in lay["gamma_rel"])
            assert lay["negative_delta_in_fraction"] == [0.0, 0.0]  # rounding-level negatives do not count
    assert len(res["claims"]) == 3
    summary = (out / "summary.md").read_text()
    assert "Answer from this run:" in summary and summary.count("**Claim:**") == 3
    png = out / "e4_identifiability_vs_epoch.png"
    assert png.exists() and 10_000 < png.stat().st_size < 400_000


def _rows(results):
    return json.dumps(results["rows"], sort_keys=True)


def test_two_workers_give_the_serial_results(e4_run, tmp_path):
    _, rep = e4_run
    par = run_experiment("E4", out=tmp_path / "par", overrides=TINY_E4, workers=2, plots=False)
    assert _rows(par.results) == _rows(rep.results)
    assert par.results["answers"] == rep.results["answers"]


def test_dask_gives_the_serial_results(e4_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    _, rep = e4_run
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None) as cluster:
        dk = run_experiment("E4", out=tmp_path / "dask", overrides=TINY_E4, dask=cluster.scheduler_address,
                            plots=False)
    assert _rows(dk.results) == _rows(rep.results)
    assert dk.ran == 3


def test_resume_runs_only_the_missing_units(e4_run, tmp_path, monkeypatch):
    out, rep = e4_run
    part = tmp_path / "part"
    (part / "units").mkdir(parents=True)
    (part / "config.json").write_text((out / "config.json").read_text())
    names = unit_files(out)
    (part / "units" / names[0]).write_text((out / "units" / names[0]).read_text())
    calls = []
    real = e4.EXPERIMENT.run_unit

    def counting(cfg, params):
        calls.append(params["structure"])
        return real(cfg, params)

    monkeypatch.setattr(e4, "EXPERIMENT", dataclasses.replace(e4.EXPERIMENT, run_unit=counting))
    again = run_experiment("E4", out=part, overrides=TINY_E4, resume=True, plots=False)
    assert (again.ran, again.skipped) == (2, 1) and len(calls) == 2
    assert _rows(again.results) == _rows(rep.results)


def test_a_unit_is_reproducible_on_its_own(e4_run):
    out, _ = e4_run
    cfg = experiment_config("E4", "small", TINY_E4)
    key, params = e4.units(cfg)[2]
    stored = json.loads((out / "units" / f"{key}.json").read_text())["result"]
    with single_threaded():
        fresh = json.loads(json.dumps(_jsonable(e4.run_unit(cfg, params))))
    assert fresh == stored


def _jsonable(obj):
    from neuronid.numerics.io import to_jsonable

    return to_jsonable(obj)


# ----------------------------------------------------------------------------- measurements on planted pairs
def _tiny_nets(structure="w-mlp-1"):
    cfg = experiment_config("E4", "small", TINY_E4)
    tr, te = e4.e4_data(cfg)
    sizes = [tr.d, *cfg["hidden"], 3]
    return cfg, tr, te, e4.e4_network(cfg, structure, sizes, seed=5)


def test_a_network_against_itself_is_identity_with_zero_barrier():
    cfg, tr, te, A = _tiny_nets()
    m = e4.measure_checkpoint(cfg, A, A, tr, te, tr.X[:60], seed=0)
    assert all(abs(b) <= 1e-12 for b in m["barrier"].values())
    for lay in m["layers"]:
        assert lay["identity_fraction"] == lay["activation_identity_fraction"] == 1.0
        assert lay["gamma"][0] == lay["gamma"][1]


def test_a_permuted_copy_is_found_and_counted():
    cfg, tr, te, A = _tiny_nets("standard")
    perms = [np.array([1, 0, 2, 3, 4, 5]), np.array([0, 1, 2, 4, 3])]
    B = permute_network(A, perms)
    m = e4.measure_checkpoint(cfg, A, B, tr, te, tr.X[:60], seed=0)
    assert [lay["identity_fraction"] for lay in m["layers"]] == [4 / 6, 3 / 5]
    assert abs(m["barrier"]["weight"]) <= 1e-9 and abs(m["barrier"]["activation"]) <= 1e-9


# ----------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("override, fragment", [
    ({"every": 0}, "every=0"),
    ({"every": 10, "epochs": 4}, "at most epochs"),
    ({"structures": ["syre"]}, "structures"),
    ({"structures": []}, "structures"),
    ({"dataset": "mnist"}, "dataset"),
    ({"hidden": [1]}, "hidden"),
    ({"identity_threshold": 0}, "identity_threshold"),
    ({"identity_threshold": 1.5}, "identity_threshold"),
    ({"barrier_tol": -1}, "barrier_tol"),
    ({"gamma_rtol": float("nan")}, "gamma_rtol"),
    ({"tau": 0}, "tau"),
    ({"norm": "batch"}, "norm"),
    ({"barrier": "B_max"}, "barrier"),
    ({"cost_points": 1}, "cost_points"),
    ({"pairs": True}, "pairs"),
    ({"nope": 1}, "unknown configuration key"),
])
def test_bad_configuration_is_one_line(override, fragment):
    with pytest.raises(InvalidInputError) as info:
        experiment_config("E4", "small", override)
    msg = str(info.value)
    assert fragment in msg and "\n" not in msg


@pytest.mark.parametrize("setting", ["every=0", "structures=[\"dense\"]", "barrier_tol=abc", "epochs=-3"])
def test_cli_bad_set_exits_2_with_one_line(setting, tmp_path, capsys):
    try:
        code = main(["reproduce", "E4", "--out", str(tmp_path / "x"), "--quiet", "--set", setting])
    except SystemExit as exc:
        code = exc.code
    _, err = capsys.readouterr()
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_scales_are_valid_and_checkpoints_cover_the_run():
    for scale in ("small", "paper"):
        cfg = experiment_config("E4", scale)
        ep = e4.checkpoint_epochs(cfg)
        assert ep[0] == 0 and ep[-1] == cfg["epochs"] and len(e4.units(cfg)) == 3 * cfg["pairs"]
    assert e4.checkpoint_epochs({"epochs": 7, "every": 3}) == [0, 3, 6, 7]


# ----------------------------------------------------------------------------- the order claim on planted series
EPOCHS = [0, 2, 4, 6, 8]


def planted_row(pair, gamma_rel, identity, barrier, structure="w-mlp-1", n_layers=2):
    """A unit result with the given per-checkpoint series (the same in every layer and run)."""
    cks = []
    for e, g, f, b in zip(EPOCHS, gamma_rel, identity, barrier):
        lay = {"identity_fraction": f, "gamma_rel": [g, g], "gamma_infinite": [False, False], "gamma": [g, g],
               "median_delta_in": [1.0, 1.0], "negative_delta_in_fraction": [0.0, 0.0],
               "activation_identity_fraction": f, "weight_identity_fraction": f}
        cks.append({"epoch": e, "barrier": {"unaligned": b, "activation": 0.0, "weight": 0.0}, "test_loss": [1.0, 1.0],
                    "layers": [copy.deepcopy(lay) for _ in range(n_layers)]})
    return {"structure": structure, "pair": pair, "epochs": EPOCHS, "checkpoints": cks}


CFG = {**experiment_config("E4", "small"), "epochs": 8, "every": 2, "hidden": [4, 4], "structures": ["w-mlp-1"]}
GOOD, BAD = 0.5, -0.5
HI, LO = 0.5, 0.01  # barriers above and below barrier_tol = 0.05


def _answer(rows):
    res = e4.aggregate(CFG, [{"result": r} for r in rows])
    return res, res["answers"]["w-mlp-1"]["answer"]


@pytest.mark.parametrize("gamma, ident, barrier, expected_order, t_ident, t_barrier", [
    # identifiable from epoch 2 (after a blip at 0), barrier small from 6: before
    ([GOOD, BAD, GOOD, GOOD, GOOD], [1, 1, 1, 1, 1], [LO, HI, HI, LO, LO], "before", 4, 6),
    ([BAD, GOOD, GOOD, GOOD, GOOD], [0, 1, 1, 1, 1], [LO, HI, HI, LO, LO], "before", 2, 6),
    # both from epoch 4: same
    ([BAD, BAD, GOOD, GOOD, GOOD], [1, 1, 1, 1, 1], [HI, HI, LO, LO, LO], "same", 4, 4),
    # barrier gone from 2, identity correspondence only from 6: after
    ([GOOD] * 5, [0, 0.5, 0.8, 0.95, 1.0], [HI, LO, LO, LO, LO], "after", 6, 2),
    # identifiable but the barrier never vanishes: before
    ([GOOD] * 5, [1] * 5, [HI] * 5, "before", 0, None),
    # barrier vanishes, identifiability lost at the end: after
    ([GOOD, GOOD, GOOD, GOOD, BAD], [1] * 5, [HI, LO, LO, LO, LO], "after", None, 2),
    # the barrier never exceeded barrier_tol: nothing vanished, the pair does not decide
    ([GOOD, GOOD, GOOD, GOOD, BAD], [1] * 5, [LO] * 5, None, None, 0),
    ([BAD, BAD, GOOD, GOOD, GOOD], [1] * 5, [LO, 0.04, LO, LO, LO], None, 4, 0),
    # neither: undecided
    ([BAD] * 5, [0] * 5, [HI] * 5, None, None, None),
])
def test_order_on_planted_series(gamma, ident, barrier, expected_order, t_ident, t_barrier):
    row = planted_row(0, gamma, ident, barrier)
    t = e4.onsets(CFG, row)
    assert (t["identifiable"], t["barrier_vanished"], t["order"]) == (t_ident, t_barrier, expected_order)
    res, answer = _answer([row])
    assert answer == (expected_order or "inconclusive")
    claim = e4.claims(CFG, {**res, "scale": "small"})[0]
    assert claim["verdict"] == ("inconclusive" if expected_order is None else "supported")


def test_a_barrier_that_never_rose_does_not_decide():
    # the outside tester's case: barely trained networks, unaligned barrier 0.013 / 0.037 < barrier_tol
    rows = [planted_row(0, [BAD] * 5, [0] * 5, [0.013] * 5), planted_row(1, [BAD] * 5, [0] * 5, [0.037] * 5)]
    res, answer = _answer(rows)
    assert answer == "inconclusive"
    assert all(p["order"] is None and not p["barrier_rose"] for p in res["onsets"]["w-mlp-1"])
    claim = e4.claims(CFG, {**res, "scale": "small"})[0]
    assert claim["verdict"] == "inconclusive"
    assert "the unaligned barrier never exceeded barrier_tol" in claim["claim"]
    assert "supported" not in claim["claim"] and "appears" not in claim["claim"]
    assert "never exceeded barrier_tol" in e4.answer_sentence(res)
    # a barrier that rose above the tolerance at an earlier checkpoint does decide
    row = planted_row(0, [BAD] * 5, [0] * 5, [0.013, HI, 0.013, 0.013, 0.013])
    t = e4.onsets(CFG, row)
    assert (t["barrier_vanished"], t["barrier_rose"], t["order"]) == (4, True, "after")


def test_after_without_identifiability_says_not_reached_within_the_run():
    row = planted_row(0, [BAD] * 5, [0] * 5, [HI, LO, LO, LO, LO])
    res, answer = _answer([row])
    assert answer == "after"
    claim = e4.claims(CFG, {**res, "scale": "small"})[0]
    assert claim["verdict"] == "supported"
    assert "identifiability not reached within the run" in claim["claim"] and "order: after" in claim["claim"]
    assert "identifiability not reached within the run" in e4.answer_sentence(res)


def test_rounding_level_margin_is_not_identifiability():
    # a standard layer's gamma is 0 in theory and ~1e-16 relative after rounding
    row = planted_row(0, [1e-15] * 5, [1] * 5, [HI] * 5)
    assert e4.onsets(CFG, row)["margin"] is None
    row = planted_row(0, [2e-6] * 5, [1] * 5, [HI] * 5)
    assert e4.onsets(CFG, row)["margin"] == 0


def test_infinite_margin_counts_as_identifiable():
    row = planted_row(0, [None] * 5, [1] * 5, [HI] * 5)
    for ck in row["checkpoints"]:
        for lay in ck["layers"]:
            lay["gamma_infinite"] = [True, True]
    assert e4.onsets(CFG, row)["margin"] == 0


def test_one_layer_failing_blocks_identifiability():
    row = planted_row(0, [GOOD] * 5, [1] * 5, [HI] * 5)
    row["checkpoints"][-1]["layers"][1]["identity_fraction"] = 0.5
    assert e4.onsets(CFG, row)["identifiable"] is None


def test_pairs_must_agree():
    before = planted_row(0, [GOOD] * 5, [1] * 5, [HI, HI, LO, LO, LO])
    after = planted_row(1, [BAD, BAD, BAD, GOOD, GOOD], [1] * 5, [HI, LO, LO, LO, LO])
    neither = planted_row(2, [BAD] * 5, [0] * 5, [HI] * 5)
    res, answer = _answer([before, after])
    assert answer == "inconclusive" and res["answers"]["w-mlp-1"]["counts"] == {
        "before": 1, "same": 0, "after": 1, "undecided": 0}
    assert "pairs disagree" in e4.answer_sentence(res)
    res, answer = _answer([before, neither])
    assert answer == "before" and res["answers"]["w-mlp-1"]["counts"]["undecided"] == 1
    res, answer = _answer([neither, neither])
    assert answer == "inconclusive" and "no pair decides" in e4.answer_sentence(res)


def test_onset_helpers_reject_mismatched_lengths():
    with pytest.raises(ValueError):
        e4.onset([0, 1], [True])


def test_doctests():
    import doctest

    result = doctest.testmod(e4, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= 4


def test_config_errors_are_invalid_option_errors():
    with pytest.raises(InvalidOptionError):
        e4.check_config({**experiment_config("E4", "small"), "every": 0})


def test_cli_end_to_end_with_json(tmp_path, capsys):
    sets = []
    for key, value in TINY_E4.items():
        sets += ["--set", f"{key}={json.dumps(value)}"]
    code = main(["reproduce", "E4", "--out", str(tmp_path / "run"), "--json", str(tmp_path / "r.json"), "--quiet",
                 "--workers", "1", "--no-plots", "--set", 'structures=["w-mlp-1"]', *sets])
    out, _ = capsys.readouterr()
    assert code == 0 and "E4" in out
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["experiment"] == "E4" and list(res["series"]) == ["w-mlp-1"]
    assert not (tmp_path / "run" / "e4_identifiability_vs_epoch.png").exists()

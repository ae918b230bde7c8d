"""E1-E3 runners and the sweep machinery: atomic unit files, resume, a killed run,
incompatible configurations, bad input, local worker processes and Dask."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time

import numpy as np
import pytest

from neuronid.proofs_checks.experiments import (
    IncompatibleResultsError,
    OutputFolderError,
    SchedulerUnreachableError,
    UnitFailedError,
    UnknownExperimentError,
    e1,
    experiment_config,
    get_experiment,
    parse_overrides,
    run_experiment,
    sweep,
)
from neuronid.errors import InvalidInputError, InvalidOptionError

#: E1 in milliseconds per unit: 4 units
TINY_E1 = {"families": ["exact_copy"], "actives": [1, 4], "seeds": 1, "pairs": 2, "width": 8, "epochs": 3,
           "n_train": 64, "n_test": 64, "batch_size": 32}
TINY_E2 = {"ks": [2, 4], "sigmas": [0.0, 1.0], "ambient": 16, "n_classes": 4, "n_train": 200, "n_test": 100,
           "n_support": 100, "hidden": [8, 8], "epochs": 2, "batch_size": 50, "heatmap_neurons": 8}
TINY_E3 = {"datasets": ["subspace", "digits"], "pairs": 1, "hidden": [8], "mask_constants": [1.0, 0.25], "epochs": 2,
           "ambient": 16, "k": 4,
           "n_classes": 4, "n_train": 200, "n_test": 100, "restarts": 1, "batch_size": 50}


def rows_of(results):
    return [(r["family"], r["active"], r["seed"], r["pair"], r["B_mid"], r["L_A"], r["L_B"])
            for f in results["families"].values() for r in f]


def unit_files(out):
    return sorted(p.name for p in (out / "units").iterdir())


@pytest.fixture(scope="module")
def e1_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e1") / "run"
    report = run_experiment("E1", out=out, overrides=TINY_E1, workers=1)
    return out, report


def counting(monkeypatch, fail_on=None):
    """Replace E1's run_unit by a counting wrapper (optionally raising on one key)."""
    calls = []
    real = e1.EXPERIMENT.run_unit

    def run_unit(cfg, params):
        key = f"{params['family']}_a{params['active']:02d}_s{params['seed']}_p{params['pair']}"
        calls.append(key)
        if key == fail_on:
            raise RuntimeError("simulated crash")
        return real(cfg, params)

    monkeypatch.setattr(e1, "EXPERIMENT", dataclasses.replace(e1.EXPERIMENT, run_unit=run_unit))
    return calls


# ----------------------------------------------------------------------------- outputs
def test_units_written_atomically_and_results_have_the_documented_keys(e1_run):
    out, report = e1_run
    names = unit_files(out)
    assert len(names) == 4 and all(n.endswith(".json") and not n.startswith(".") for n in names)
    assert not [p for p in out.rglob(".*") if p.is_file()], "temporary files left behind"
    for name in names:
        rec = json.loads((out / "units" / name).read_text())
        assert rec["key"] + ".json" == name and rec["experiment"] == "E1"
    res = json.loads((out / "results.json").read_text())
    assert set(res["families"]) == {"exact_copy"}
    row = res["families"]["exact_copy"][0]
    for key in ("coherence", "B_mid", "B_peak", "B_lerp", "certificate", "L_A", "L_B"):
        assert key in row
    assert row["certificate"]["status"] == "ok"
    assert row["B_peak"] <= row["B_lerp"] + 1e-12
    assert sorted({r["coherence"] for r in res["families"]["exact_copy"]}) == [0.25, 1.0]
    assert (out / "e1_barrier_vs_coherence.png").stat().st_size > 10_000
    summary = (out / "summary.md").read_text()
    assert summary.count("**Claim:**") == len(res["claims"]) >= 4
    assert all(c["verdict"] in ("supported", "not supported", "inconclusive", "not available") for c in res["claims"])
    assert json.loads((out / "config.json").read_text())["config"]["epochs"] == 3


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "unit.json"

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sweep.os, "replace", broken_replace)
    with pytest.raises(OutputFolderError, match="No space left"):
        sweep.write_json(target, {"a": 1})
    assert list(tmp_path.iterdir()) == []


def test_nonfinite_values_are_written_as_null_with_a_reason(tmp_path):
    sweep.write_json(tmp_path / "x.json", {"bound": float("inf"), "v": [1.0, float("nan")]})
    obj = json.loads((tmp_path / "x.json").read_text())
    assert obj["bound"] is None and "bound_reason" in obj and obj["v"][1] is None


# ----------------------------------------------------------------------------- resume and killed runs
def test_resume_skips_finished_units(e1_run, tmp_path, monkeypatch):
    out, report = e1_run
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "units").mkdir()
    (copy / "config.json").write_text((out / "config.json").read_text())
    names = unit_files(out)
    for name in names[:3]:
        (copy / "units" / name).write_text((out / "units" / name).read_text())
    calls = counting(monkeypatch)
    again = run_experiment("E1", out=copy, overrides=TINY_E1, resume=True, plots=False)
    assert calls == [names[3][:-5]]
    assert (again.ran, again.skipped) == (1, 3)
    assert rows_of(again.results) == rows_of(report.results)
    # resuming a complete folder runs nothing
    calls.clear()
    run_experiment("E1", out=copy, overrides=TINY_E1, resume=True, plots=False)
    assert calls == []


def test_killed_run_keeps_finished_units_and_resume_completes_it(e1_run, tmp_path, monkeypatch):
    _, report = e1_run
    out = tmp_path / "killed"
    keys = [k for k, _ in e1.units(experiment_config("E1", "small", TINY_E1))]
    calls = counting(monkeypatch, fail_on=keys[2])
    with pytest.raises(UnitFailedError, match=keys[2]) as info:
        run_experiment("E1", out=out, overrides=TINY_E1, workers=1)
    assert info.value.key == keys[2]
    assert unit_files(out) == sorted(f"{k}.json" for k in keys[:2])
    assert not (out / "results.json").exists()
    monkeypatch.undo()
    calls = counting(monkeypatch)
    done = run_experiment("E1", out=out, overrides=TINY_E1, resume=True, plots=False)
    assert sorted(calls) == sorted(keys[2:])
    assert rows_of(done.results) == rows_of(report.results)


def test_every_unit_is_reproducible_on_its_own(e1_run):
    out, _ = e1_run
    cfg = experiment_config("E1", "small", TINY_E1)
    key, params = e1.units(cfg)[3]
    stored = json.loads((out / "units" / f"{key}.json").read_text())["result"]
    with sweep.single_threaded():
        fresh = json.loads(json.dumps(sweep.to_jsonable(e1.run_unit(cfg, params))))
    assert fresh == stored


def test_incompatible_configuration_is_refused(e1_run, tmp_path):
    out, _ = e1_run
    with pytest.raises(IncompatibleResultsError, match=r"epochs: 3 \(stored\) vs 4 \(requested\)"):
        run_experiment("E1", out=out, overrides={**TINY_E1, "epochs": 4}, resume=True)
    with pytest.raises(IncompatibleResultsError, match="refusing to mix"):
        run_experiment("E1", out=out, overrides={**TINY_E1, "pairs": 3})
    with pytest.raises(IncompatibleResultsError, match="experiment: E1 .stored. vs E2"):
        run_experiment("E2", out=out, overrides=TINY_E2, resume=True)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(IncompatibleResultsError, match="not empty"):
        run_experiment("E1", out=foreign, overrides=TINY_E1)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: get_experiment("E9"), UnknownExperimentError, "unknown experiment 'E9'"),
        (lambda: experiment_config("E1", "huge"), UnknownExperimentError, "unknown scale 'huge'"),
        (lambda: experiment_config("E1", "small", {"nope": 1}), UnknownExperimentError, "unknown configuration key"),
        (lambda: experiment_config("E1", "small", {"mask_reading": "half"}), InvalidOptionError, "mask_reading"),
        (lambda: experiment_config("E1", "small", {"seeding": "crn"}), InvalidOptionError, "seeding='crn'"),
        (lambda: experiment_config("E1", "small", {"seeding": None}), InvalidOptionError, "seeding=None"),
        (lambda: experiment_config("E1", "small", {"seeding": 1}), InvalidOptionError, "seeding=1"),
        (lambda: experiment_config("E1", "small", {"seeding": ["common"]}), InvalidOptionError, "seeding"),
        (lambda: experiment_config("E1", "small", {"actives": [0, 2]}), InvalidOptionError, "actives"),
        (lambda: experiment_config("E2", "small", {"ks": [2, 9999]}), InvalidOptionError, "ks"),
        (lambda: experiment_config("E3", "small", {"structures": ["dense"]}), InvalidOptionError, "structures"),
        (lambda: parse_overrides(["epochs"]), UnknownExperimentError, "KEY=VALUE"),
        (lambda: run_experiment("E1", out="x", overrides=TINY_E1, workers=0), InvalidOptionError, "workers"),
    ],
)
def test_bad_input_table(call, error, message):
    with pytest.raises(error, match=message) as info:
        call()
    assert isinstance(info.value, InvalidInputError)


def test_unwritable_output_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputFolderError, match="cannot create the results folder"):
        run_experiment("E1", out=blocker / "run", overrides=TINY_E1)
    with pytest.raises(OutputFolderError, match="--json"):
        run_experiment("E1", out=tmp_path / "run", overrides=TINY_E1, json_path=blocker / "r.json")


def test_overrides_parse_json_values():
    assert parse_overrides(["epochs=5", "actives=[1, 2]", "mask_reading=masked", "certificate=false"]) == {
        "epochs": 5, "actives": [1, 2], "mask_reading": "masked", "certificate": False}


# ----------------------------------------------------------------------------- E1 specifics
def test_e1_mask_reading_and_fixed_output():
    cfg = experiment_config("E1", "paper")
    mask = e1.e1_mask(cfg, 0)
    assert mask.shape == (128, 20) and abs(mask.mean() - 0.15) < 0.02
    masked = e1.e1_mask({**cfg, "mask_reading": "masked"}, 0)
    assert abs(masked.mean() - 0.85) < 0.02
    assert np.array_equal(mask, e1.e1_mask(cfg, 0)) and not np.array_equal(mask, e1.e1_mask(cfg, 1))
    net = e1.e1_network(cfg, mask, 0)
    out = net.layers[-1]
    assert np.all(out.mask == 0) and np.all(out.fixed == 1) and np.all(out.bias == 0)
    tiny = experiment_config("E1", "small", TINY_E1)
    tr, _ = e1.e1_data(tiny, "random_tight_frame", 4, 0)
    assert abs(tr.info["coherence"] - 0.25) < 1e-12
    from neuronid.numerics.training import train

    res = train(e1.e1_network(tiny, e1.e1_mask(tiny, 0), 1), tr.X, tr.y, e1.train_config(tiny, 2), progress=False)
    trained = res.network.layers
    assert np.all(trained[-1].bias == 0) and np.all(trained[-1].fixed == 1)
    assert np.all(trained[0].weight[e1.e1_mask(tiny, 0) == 0] == 0)


def test_trend_claim_is_computed_from_the_numbers():
    rows = [{"coherence": 1 / a, "B_mid": b + 0.001 * i} for a, b in ((1, 0.3), (10, 0.01)) for i in range(5)]
    levels = [{"coherence": 0.1, "B_mid": sweep.describe([0.01 + 0.001 * i for i in range(5)])},
              {"coherence": 1.0, "B_mid": sweep.describe([0.3 + 0.001 * i for i in range(5)])}]
    assert e1.trend_claim("exact_copy", rows, levels)["verdict"] == "not supported"
    rows = [{"coherence": 1 / a, "B_mid": b + 0.001 * i} for a, b in ((1, 0.01), (10, 0.3)) for i in range(5)]
    levels.reverse()
    levels[0]["coherence"], levels[1]["coherence"] = 0.1, 1.0
    assert e1.trend_claim("exact_copy", rows, levels)["verdict"] == "supported"


# ----------------------------------------------------------------------------- E2 and E3 end to end (tiny)
def test_e2_tiny_end_to_end(tmp_path):
    rep = run_experiment("E2", out=tmp_path / "e2", overrides=TINY_E2)
    res = rep.results
    assert res["status"] == "ok"
    cells = {(c["k"], c["sigma_F"]): c for c in res["cells"]}
    assert set(cells) == {(2, 0.0), (2, 1.0), (4, 0.0), (4, 1.0)}
    for kind in ("delta_in", "delta_out", "delta_sum"):
        assert len(cells[(4, 1.0)]["heatmap"][kind]["delta"]) == 8
    for r in res["rows"]:
        assert r["rank"] <= r["k"] + 1
        for kind in ("delta_in", "delta_out", "delta_sum"):
            assert 0.0 <= r["swap_costs"][kind]["frac_negative"] <= 1.0
    assert res["claims_read"] == "delta_in"
    names = {os.path.basename(f) for f in rep.files}
    assert {"e2_heatmaps.png", "e2_heatmaps_delta_out.png", "e2_heatmaps_delta_sum.png", "e2_median_vs_k.png",
            "e2_heatmap_k2_sf0.png"} <= names
    text = (tmp_path / "e2" / "summary.md").read_text()
    assert "sigma_F = 1" in text and "decided on Delta_in" in text and "| Delta_in + Delta_out median |" in text


def test_e3_tiny_end_to_end(tmp_path):
    rep = run_experiment("E3", out=tmp_path / "e3", overrides=TINY_E3)
    res = rep.results
    ran = res["datasets_run"]
    assert "subspace" in ran
    try:
        import sklearn  # noqa: F401

        assert "digits" in ran
    except ImportError:  # pragma: no cover - depends on the environment
        assert any("digits skipped" in n for n in res["notes"])
    groups = [g for g in res["groups"] if g["dataset"] == "subspace"]
    paths = ("unaligned", "activation", "weight", "unaligned+repair", "activation+repair", "weight+repair")
    assert {(g["structure"], g["alignment"]) for g in groups} == {
        (s, a) for s in ("standard", "w-mlp-0", "w-mlp-1", "syre") for a in paths}
    row = res["rows"][0]
    for al in ("unaligned", "activation", "weight"):  # LayerNorm networks: T4 does not apply (THEORY N1-N3)
        cert = row["paths"][al]["certificate"]
        assert cert["status"] == "unsupported: normalization layer" and cert["reason"]
    assert row["paths"]["weight"]["max_output_difference"] <= 1e-6
    assert (tmp_path / "e3" / "e3_barriers_subspace.png").exists()


# ----------------------------------------------------------------------------- parallel execution
@pytest.fixture(scope="module")
def e1_serial(e1_run, tmp_path_factory):
    """Serial E1 reports per seeding (the default ``common`` is ``e1_run``)."""
    out = tmp_path_factory.mktemp("e1ind") / "run"
    indep = run_experiment("E1", out=out, overrides={**TINY_E1, "seeding": "independent"}, workers=1, plots=False)
    return {"common": e1_run[1], "independent": indep}


def test_the_two_seedings_give_different_runs(e1_serial):
    assert experiment_config("E1", "small", TINY_E1)["seeding"] == "common"
    assert rows_of(e1_serial["common"].results) != rows_of(e1_serial["independent"].results)


@pytest.mark.parametrize("seeding", ["common", "independent"])
def test_local_worker_processes_give_the_serial_results(e1_serial, seeding, tmp_path):
    report = e1_serial[seeding]
    par = run_experiment("E1", out=tmp_path / "par", overrides={**TINY_E1, "seeding": seeding}, workers=2,
                         plots=False)
    assert rows_of(par.results) == rows_of(report.results)
    assert par.results["trend"] == report.results["trend"]
    pids = {json.loads(p.read_text())["pid"] for p in (tmp_path / "par" / "units").iterdir()}
    assert os.getpid() not in pids


@pytest.mark.parametrize("seeding", ["common", "independent"])
def test_dask_local_cluster_gives_the_local_results(e1_serial, seeding, tmp_path):
    distributed = pytest.importorskip("distributed")
    report = e1_serial[seeding]
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None) as cluster:
        rep = run_experiment("E1", out=tmp_path / "dask", overrides={**TINY_E1, "seeding": seeding},
                             dask=cluster.scheduler_address, plots=False)
    assert rows_of(rep.results) == rows_of(report.results)
    assert rep.ran == 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_scheduler_fails_within_seconds(tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from neuronid.proofs_checks.experiments import sweep

    monkeypatch.setattr(sweep, "DASK_CONNECT_SECONDS", 1.0)  # the bound under test, shortened
    t0 = time.perf_counter()
    with pytest.raises(SchedulerUnreachableError, match="cannot reach the Dask scheduler"):
        run_experiment("E1", out=tmp_path / "never", overrides=TINY_E1, dask=f"tcp://127.0.0.1:{_free_port()}")
    assert time.perf_counter() - t0 < 20
    assert not (tmp_path / "never").exists()


@pytest.mark.parametrize("name", ["neuronid.proofs_checks.experiments", "neuronid.proofs_checks.experiments.sweep"])
def test_doctests(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0

"""``neuronid check`` options a demanding user repeats or redirects (outside tester):
a repeated ``--results`` is the union of its occurrences; stage lines reach a
redirected stderr (unless ``--quiet``) while stdout stays the report; ``timings`` in
``report.json`` names every stage that ran."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from neuronid.cli import main
from neuronid.numerics.io import save_data, save_network
from neuronid.numerics.structures import standard_mlp
from neuronid.proofs_checks.checkers import CHECKED_RESULTS

SHARED_STAGES = ["forward passes", "supports and costs", "neuron correspondence", "paths and certificates",
                 "repaired paths"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("check_options")
    for name, seed in (("a", 0), ("b", 1)):
        save_network(standard_mlp([4, 6, 3], seed=seed), d / f"{name}.safetensors")
    X = np.random.default_rng(0).normal(size=(60, 4))
    save_data(d / "data.npz", X, np.arange(60) % 3)
    return d


def _check(files, *extra):
    return ["check", str(files / "a.safetensors"), str(files / "b.safetensors"), "--data", str(files / "data.npz"),
            *map(str, extra)]


def _ids(report):
    return list(dict.fromkeys(entry["id"] for entry in report["results"]))


# ----------------------------------------------------------------------------- --results
@pytest.mark.parametrize("given, expected", [
    (["--results", "P2", "--results", "T4"], ["P2", "T4"]),
    (["--results", "t4,P2", "--results", "p2", "--results", "P3,T4"], ["T4", "P2", "P3"]),
    (["--results", "P2,,P2"], ["P2"]),
])
def test_repeated_results_are_the_union_in_order(files, tmp_path, capsys, given, expected):
    out_json = tmp_path / "r.json"
    assert main(_check(files, *given, "--quiet", "--json", out_json)) == 0, capsys.readouterr().err
    report = json.loads(out_json.read_text())
    assert _ids(report) == expected
    per_id = [entry["id"] for entry in report["results"]]
    assert len(per_id) == len(set((e["id"], e.get("scope")) for e in report["results"]))  # no check twice


@pytest.mark.parametrize("given, fragment", [
    (["--results", ""], "--results: give comma-separated result IDs"),
    (["--results", " , "], "--results: give comma-separated result IDs"),
    (["--results", "P2", "--results", ""], "--results: give comma-separated result IDs"),
    (["--results", "P2", "--results", "P9"], "unknown result ID(s) P9"),
])
def test_bad_results_is_one_line_exit_2(files, capsys, given, fragment):
    assert main(_check(files, *given, "--quiet")) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and fragment in err, err


# ----------------------------------------------------------------------------- other repeated options
#: per-layer list options: a repeat could mean more layers or an override, so it is
#: refused (argparse kept the last silently); set-valued options (--results) merge
REPEATED_LIST_OPTIONS = [
    ["train", "--out", "{d}/x.safetensors", "--hidden", "8", "--hidden", "4"],
    ["train", "--out", "{d}/x.safetensors", "--structure", "w-mlp", "--n-fixed", "2", "--n-fixed", "1"],
    ["lmc", "{d}/a.safetensors", "{d}/b.safetensors", "--data", "{d}/data.npz", "--activations", "relu",
     "--activations", "tanh"],
    ["costs", "{d}/a.safetensors", "--data", "{d}/data.npz", "--activations", "relu", "--activations", "relu"],
    ["check", "{d}/a.safetensors", "{d}/b.safetensors", "--data", "{d}/data.npz", "--activations", "relu",
     "--activations", "relu"],
    ["import", "{d}/sd.pt", "-o", "{d}/y.npz", "--activation", "relu", "--activation", "gelu"],
    ["import", "{d}/sd.pt", "-o", "{d}/y.npz", "--mask-constant", "1", "--mask-constant", "2"],
]


@pytest.mark.parametrize("argv", REPEATED_LIST_OPTIONS, ids=[" ".join(a[:1] + a[-2:]) for a in REPEATED_LIST_OPTIONS])
def test_a_repeated_per_layer_list_option_is_refused(files, capsys, argv):
    with pytest.raises(SystemExit) as info:
        main([a.format(d=files) for a in argv])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and f"{argv[-2]} given twice" in err, err
    assert not (files / "x.safetensors").exists() and not (files / "y.npz").exists()


# ----------------------------------------------------------------------------- stage lines
def _run(files, *extra):
    return subprocess.run([sys.executable, "-m", "neuronid", *_check(files, *extra)[0:], ], capture_output=True,
                          text=True, timeout=600)


def test_stage_lines_reach_a_redirected_stderr_and_not_stdout(files):
    """stderr is a pipe here (not a terminal): no progress bars, but one line per
    stage start and end; stdout holds the report alone."""
    proc = _run(files, "--results", "T4")
    assert proc.returncode == 0, proc.stderr
    err = proc.stderr.splitlines()
    for stage in ("checker T4", "paths and certificates"):
        assert f"  {stage} ..." in err
        assert any(line.startswith(f"  {stage}: ") and line.endswith(" s") for line in err)
    assert "\r" not in proc.stderr and "it/s" not in proc.stderr  # no tqdm bar in a pipe
    assert " ..." not in proc.stdout and "checker T4" not in proc.stdout


def test_quiet_silences_the_stage_lines(files):
    proc = _run(files, "--results", "T4", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert " ..." not in proc.stderr and "checker" not in proc.stderr
    assert proc.stderr.startswith("note: matching and evaluation share data")  # the one note, after the results


# ----------------------------------------------------------------------------- timings
def test_timings_name_every_stage_that_ran(files, tmp_path, capsys):
    """All results: every shared stage, then one key per checker, then total. With
    ``--results`` the report still shows layers and paths, so every shared stage runs
    and is listed too (it used to be hidden: only "checkers P2,T4" and total), with
    one key per checker asked for; each second counted once, so total is the sum."""
    full = tmp_path / "full.json"
    assert main(_check(files, "--quiet", "--json", full)) == 0
    timings = json.loads(full.read_text())["timings"]
    assert list(timings) == SHARED_STAGES + [f"checker {rid}" for rid in CHECKED_RESULTS] + ["total"]

    subset = tmp_path / "subset.json"
    assert main(_check(files, "--quiet", "--results", "P2,T4", "--json", subset)) == 0
    timings = json.loads(subset.read_text())["timings"]
    keys = list(timings)
    assert sorted(keys) == sorted(SHARED_STAGES + ["checker P2", "checker T4", "total"])
    assert keys[-1] == "total" and keys.index("checker P2") < keys.index("checker T4")
    assert all(isinstance(v, float) and v >= 0.0 for v in timings.values())
    assert timings["total"] == pytest.approx(sum(v for k, v in timings.items() if k != "total"), rel=1e-12)
    capsys.readouterr()

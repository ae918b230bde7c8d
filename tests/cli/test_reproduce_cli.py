"""``neuronid reproduce``: end to end on a tiny E1, --json, --resume, and the bad-input
table (one line on stderr, exit status 2, no traceback)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from neuronid.cli import main

TINY = ["--set", 'families=["exact_copy"]', "--set", "actives=[1,4]", "--set", "seeds=1", "--set", "pairs=1",
        "--set", "width=8", "--set", "epochs=2", "--set", "n_train=64", "--set", "n_test=64", "--quiet",
        "--workers", "1"]


def run_cli(args, capsys):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    d = tmp_path_factory.mktemp("reproduce")
    code = main(["reproduce", "E1", "--scale", "small", "--out", str(d / "run"), "--json", str(d / "r.json"), *TINY])
    assert code == 0
    return d


def test_reproduce_writes_results_summary_plots_and_json(finished):
    res = json.loads((finished / "r.json").read_text())
    assert set(res["families"]) == {"exact_copy"}
    for row in res["families"]["exact_copy"]:
        for key in ("coherence", "B_mid", "B_peak", "B_lerp", "certificate", "L_A", "L_B"):
            assert key in row
    run = finished / "run"
    assert json.loads((run / "results.json").read_text())["families"] == res["families"]
    assert "**Claim:**" in (run / "summary.md").read_text()
    assert (run / "e1_barrier_vs_coherence.png").exists()
    assert len(list((run / "units").iterdir())) == 2


def test_e1_summary_has_the_level_correlation_and_no_sd_of_one_value(finished):
    res = json.loads((finished / "r.json").read_text())
    assert "level_correlation" in res["trend"]["exact_copy"]  # the docs' trend column
    text = (finished / "run" / "summary.md").read_text()
    assert "correlation of B_mid between levels (mean)" in text
    assert "n/a (1 seeds)" in text and "0.0000 (1 seeds)" not in text
    # one pair per level: no spread to show in the level table or the claims' evidence
    assert "± 0.0000" not in text and "± 0 " not in text and "± n/a" in text


def test_resume_reports_resumed_units(finished, capsys):
    code, out, err = run_cli(["reproduce", "E1", "--out", finished / "run", "--resume", "--no-plots", *TINY], capsys)
    assert code == 0, err
    assert "units: 0 run, 2 resumed" in out
    assert "[supported]" in out or "[inconclusive]" in out or "[not supported]" in out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "args, message",
    [
        (["reproduce", "E7"], "unknown experiment 'E7'"),
        (["reproduce", "E1", "--scale", "huge"], "unknown scale 'huge'"),
        (["reproduce", "E1", "--set", "nope=1"], "unknown configuration key 'nope'"),
        (["reproduce", "E1", "--set", "epochs"], "expected KEY=VALUE"),
        (["reproduce", "E2", "--set", "ks=[2,8,4096]"], "configuration ks="),
        (["reproduce", "E1", "--set", "seeding=crn"], "configuration seeding='crn': expected one of 'common', "),
        (["reproduce", "E1", "--set", "seeding=true"], "configuration seeding=True"),
        (["reproduce", "E1", "--workers", "0"], "expected an integer >= 1"),
        # huge sizes: refused at once by the configuration check, naming key, bound and value
        (["reproduce", "E4", "--set", "pairs=1000000000"], "pairs=1000000000: expected an integer in [1, 100000]"),
        (["reproduce", "E4", "--set", "epochs=1000000000"], "epochs=1000000000: expected an integer in [1, 100000]"),
        (["reproduce", "E4", "--set", "epochs=100000"], "gives 20001 checkpoints; at most 1000"),
        (["reproduce", "E4", "--set", "n_train=100000000"], "n_train=100000000: expected an integer in [10, 10000000]"),
        (["reproduce", "E4", "--set", "hidden=[32,1000000]"], "hidden=[32, 1000000]: every entry must be an integer in [2, 100000]"),
        (["reproduce", "E1", "--set", "width=100000000"], "width=100000000: expected an integer in [1, 100000]"),
        (["reproduce", "E1", "--set", "copies=1000000"], "copies=1000000: expected an integer in [1, 100000]"),
        (["reproduce", "E1", "--set", "seeds=1000", "--set", "pairs=1000"], "gives 20000000 units"),
        (["reproduce", "E1", "--set", "epochs=1000000"], "epochs=1000000: expected an integer in [1, 100000]"),
        (["reproduce", "E2", "--set", "seeds=1000000"], "seeds=1000000: expected an integer in [1, 100000]"),
        (["reproduce", "E2", "--set", "n_support=100000000"], "n_support=100000000: expected an integer in [2, 10000000]"),
        (["reproduce", "E2", "--set", "hidden=[100000,100000]"], "needs at least"),
        (["reproduce", "E3", "--set", "pairs=1000000"], "pairs=1000000: expected an integer in [1, 100000]"),
        (["reproduce", "E3", "--set", "steps=1000000"], "steps=1000000: expected an integer in [3, 10000]"),
        (["reproduce", "E3", "--set", "hidden=[64,10000000]"], "every entry must be an integer in [1, 100000]"),
        # a value meant as JSON that does not parse is named as such (plain strings still work)
        (["reproduce", "E4", "--set", "hidden=[32,"], "the value did not parse as JSON (Expecting value at character 4; found '[32,')"),
        (["reproduce", "E3", "--set", 'barrier="B_peak'], "did not parse as JSON"),
        (["reproduce", "E1", "--out", ""], "--out: expected a folder path, found an empty string"),
        (["reproduce", "E1", "--out", "/proc/t13x"], "--out /proc/t13x: cannot create the folder /proc/t13x ("),
    ],
)
def test_bad_input_exits_2_with_one_line(args, message, capsys):
    t0 = time.perf_counter()
    code, out, err = run_cli(args, capsys)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len([line for line in err.splitlines() if "error" in line]) == 1
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("experiment", ["E1", "E2", "E3", "E4"])
@pytest.mark.parametrize("name", ["config.json", "results.json", "units/x.json", "."])
def test_json_inside_the_out_folder_is_refused(experiment, name, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "units").mkdir()
    (out / "config.json").write_text("{}")
    code, _, err = run_cli(["reproduce", experiment, "--out", out, "--json", out / name, "--quiet"], capsys)
    assert code == 2 and "is inside the --out folder" in err and len(err.strip().splitlines()) == 1
    assert (out / "config.json").read_text() == "{}"
    # through a symbolic link to the folder as well, and from the Python API
    (tmp_path / "link").symlink_to(out)
    code, _, err = run_cli(["reproduce", experiment, "--out", out, "--json", tmp_path / "link" / "r.json"], capsys)
    assert code == 2 and "is inside the --out folder" in err
    from neuronid.errors import InvalidOptionError
    from neuronid.proofs_checks.experiments import run_experiment

    with pytest.raises(InvalidOptionError, match="inside the --out folder"):
        run_experiment(experiment, out=out, json_path=out / "config.json")
    assert (out / "config.json").read_text() == "{}"


def test_interrupt_mentions_the_units_folder_only_when_it_exists(tmp_path, capsys, monkeypatch):
    from neuronid.proofs_checks import experiments

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(experiments, "run_sweep", interrupted)
    out = tmp_path / "never-made"
    assert main(["reproduce", "E1", "--out", str(out), *TINY]) != 0
    assert "units" not in capsys.readouterr().err
    (out / "units").mkdir(parents=True)
    assert main(["reproduce", "E1", "--out", str(out), *TINY]) != 0
    assert f"finished units are kept in {out}/units" in capsys.readouterr().err


def test_plain_string_values_still_parse_as_strings():
    from neuronid.proofs_checks.experiments import parse_overrides

    assert parse_overrides(["mask_reading=masked", "mnist_dir=/data/mnist", "x=1e3", "y=true"]) == {
        "mask_reading": "masked", "mnist_dir": "/data/mnist", "x": 1000.0, "y": True}


def test_unwritable_and_incompatible_folders_exit_2(finished, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_cli(["reproduce", "E1", "--out", blocker / "sub", *TINY], capsys)
    assert code == 2 and "cannot create the" in err and "is not a folder" in err
    code, _, err = run_cli(["reproduce", "E1", "--out", finished / "run", "--resume", *TINY, "--set", "epochs=3"], capsys)
    assert code == 2 and "cannot resume" in err and "epochs: 2 (stored) vs 3 (requested)" in err


def test_unreachable_scheduler_exits_2_within_seconds(tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    from neuronid.proofs_checks.experiments import sweep

    monkeypatch.setattr(sweep, "DASK_CONNECT_SECONDS", 1.0)  # the bound under test, shortened
    t0 = time.perf_counter()
    code, _, err = run_cli(["reproduce", "E1", "--out", tmp_path / "x", "--dask", f"tcp://127.0.0.1:{_free_port()}",
                            *TINY], capsys)
    assert code == 2 and "cannot reach the Dask scheduler" in err
    assert time.perf_counter() - t0 < 20


def test_help_lists_reproduce():
    proc = subprocess.run([sys.executable, "-m", "neuronid", "reproduce", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0
    for flag in ("--scale", "--out", "--json", "--workers", "--dask", "--resume", "--set"):
        assert flag in proc.stdout

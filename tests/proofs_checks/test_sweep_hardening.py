"""Sweep hardening (issue 12, items 9 and 10): unit files are checked against a schema
and their result checksum before a resume trusts them; worker processes end when the
sweep process is killed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from neuronid.proofs_checks.experiments import run_experiment, sweep

TINY_E1 = {"families": ["exact_copy"], "actives": [1, 4], "seeds": 1, "pairs": 2, "width": 8, "epochs": 3,
           "n_train": 64, "n_test": 64, "batch_size": 32}


def rows_of(results):
    return [(r["family"], r["active"], r["seed"], r["pair"], r["B_mid"], r["L_A"], r["L_B"])
            for f in results["families"].values() for r in f]


@pytest.fixture(scope="module")
def e1_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e1h") / "run"
    report = run_experiment("E1", out=out, overrides=TINY_E1, workers=1, plots=False)
    return out, report


def _edit(path, change):
    rec = json.loads(path.read_text())
    path.write_text(json.dumps(change(rec)))


def test_unit_files_carry_a_checksum_of_their_result(e1_run):
    out, _ = e1_run
    for path in (out / "units").iterdir():
        rec = json.loads(path.read_text())
        assert rec["checksum"] == sweep.result_checksum(rec["result"])
        assert sweep.unit_problem(rec, rec["key"], "E1", rec["params"]) is None


def test_invalid_or_edited_unit_files_are_rerun_and_counted(e1_run, tmp_path):
    """The four broken units of the issue (garbage result, empty object, a string where
    a number belongs, a hand-edited number) are re-run, and the results equal the
    original run's exactly."""
    out, report = e1_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    units = sorted((copy / "units").iterdir())
    assert len(units) == 4

    def scale_b_mid(rec):
        rec["result"]["B_mid"] = rec["result"]["B_mid"] * 20
        return rec

    _edit(units[0], lambda rec: {**rec, "result": "garbage"})
    _edit(units[1], lambda rec: {})
    _edit(units[2], lambda rec: {**rec, "result": {**rec["result"], "B_mid": "abc"}})
    _edit(units[3], scale_b_mid)
    again = run_experiment("E1", out=copy, overrides=TINY_E1, resume=True, plots=False)
    assert (again.ran, again.skipped, again.rerun_invalid) == (4, 0, 4)
    assert rows_of(again.results) == rows_of(report.results)
    assert again.results["units"]["invalid_rerun"] == 4
    reasons = " ".join(u["reason"] for u in again.results["units"]["invalid"])
    assert "wrong type" in reasons and "missing" in reasons and "checksum" in reasons
    assert "were re-run" in (copy / "summary.md").read_text()
    # the re-written units are valid again: a second resume runs nothing
    third = run_experiment("E1", out=copy, overrides=TINY_E1, resume=True, plots=False)
    assert (third.ran, third.skipped, third.rerun_invalid) == (0, 4, 0)


@pytest.mark.parametrize("content, reason", [
    pytest.param(b"{not json", "not valid JSON", id="broken"),
    pytest.param(b"[" * 50_000 + b"]" * 50_000, "not valid JSON", id="deep"),
    pytest.param(b"[]", "not a JSON object", id="list"),
])
def test_unreadable_unit_files_are_rerun(e1_run, tmp_path, content, reason):
    out, report = e1_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    first = sorted((copy / "units").iterdir())[0]
    first.write_bytes(content)
    again = run_experiment("E1", out=copy, overrides=TINY_E1, resume=True, plots=False)
    assert (again.ran, again.rerun_invalid) == (1, 1)
    assert reason in again.results["units"]["invalid"][0]["reason"]
    assert rows_of(again.results) == rows_of(report.results)


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if fields[0] != "Z":
                    parents[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    """``kill -9`` of ``reproduce``: its worker processes (and the resource tracker,
    which lives as long as they do) end within seconds, not after their units."""
    sets = ["--set", 'families=["exact_copy"]', "--set", "actives=[1,4]", "--set", "seeds=1", "--set", "pairs=2",
            "--set", "width=8", "--set", "n_train=64", "--set", "n_test=64", "--set", "epochs=100000"]
    proc = subprocess.Popen([sys.executable, "-m", "neuronid", "reproduce", "E1", "--workers", "2", "--quiet",
                             "--no-plots", "--out", str(tmp_path / "run"), *sets],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        workers = set()
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.5)
            workers = {p for p in _children(proc.pid) if b"spawn_main" in _cmdline(p)}
            assert proc.poll() is None, "reproduce ended before its workers started"
        assert len(workers) >= 2, "the workers did not start"
        time.sleep(2.0)  # let them enter their units
        family = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.25)
        assert not [p for p in family if _alive(p)], "orphaned processes survived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read()
    except OSError:
        return b""

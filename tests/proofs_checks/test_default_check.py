"""The built-in default check: runs end to end, saves re-checkable files, and shows
the paper's contrast (standard MLPs need alignment, W-MLPs much less)."""

from __future__ import annotations

import json

import numpy as np

from neuronid.cli import main
from neuronid.numerics.io import load_network, to_jsonable
from neuronid.proofs_checks.default_check import (
    DefaultCheckConfig,
    format_default_check,
    run_default_check,
)

SMALL = DefaultCheckConfig(ambient=16, k=4, n_classes=4, n_train=512, n_test=256, hidden=(32,), epochs=4, steps=11)


def test_small_default_check_runs_and_saves_files(tmp_path):
    check = run_default_check(SMALL, progress=False, out_dir=tmp_path)
    assert [r.label.split(" A vs")[0] for r in check.reports] == ["standard", "w-mlp"]
    for report in check.reports:
        assert set(report.context.paths) == {"unaligned", "activation", "weight"}
        for entry in report.context.paths.values():
            assert len(entry.path.steps) == 11 and np.all(np.isfinite(entry.path.loss))
        assert report.violations == []
    text = format_default_check(check)
    assert "standard A vs standard B" in text and "B_lerp" in text and "verdicts side by side" in text
    for kind in ("standard", "w-mlp"):
        assert (tmp_path / kind / "report.md").exists() and (tmp_path / kind / "barriers.png").exists()
    json.dumps(to_jsonable(check.to_json()), allow_nan=False)
    # the saved files reproduce the same unaligned path through the CLI
    out = tmp_path / "lmc.json"
    code = main(["lmc", str(tmp_path / "standard_A.safetensors"), str(tmp_path / "standard_B.safetensors"),
                 "--data", str(tmp_path / "test.npz"), "--steps", "11", "--json", str(out)])
    assert code == 0
    saved = json.loads(out.read_text())["unaligned"]["loss"]
    np.testing.assert_allclose(saved, check.reports[0].context.paths["unaligned"].path.loss, rtol=1e-12)
    wa = load_network(tmp_path / "w-mlp_A.safetensors")
    wb = load_network(tmp_path / "w-mlp_B.safetensors")
    assert wa.structure_differences(wb) == []


def test_default_check_shows_the_contrast(tmp_path, capsys):
    """The full default: the standard pair's unaligned barrier is large and alignment
    removes most of it; the W-MLP pair's unaligned barrier is already small and its
    neurons correspond without alignment. These are the paper's qualitative claims; the
    thresholds leave a wide margin around the measured values (standard ~0.8 unaligned
    vs ~0.02 aligned; W-MLP ~0.02; first-layer fixed points 1/128 vs 128/128)."""
    code = main(["check", "--quiet", "--json", str(tmp_path / "check.json")])
    assert code == 0
    report = json.loads((tmp_path / "check.json").read_text())
    standard, wmlp = (pair["paths"] for pair in report["pairs"].values())
    assert standard["unaligned"]["B_mid"] > 5 * standard["activation"]["B_mid"]
    assert standard["unaligned"]["B_mid"] > 5 * wmlp["unaligned"]["B_mid"]
    layers = [pair["layers"][0]["correspondence"] for pair in report["pairs"].values()]
    assert layers[0]["fixed_points"] < 0.1 * layers[0]["neurons"] < layers[1]["fixed_points"]
    assert report["violations"] == []
    assert report["contrast"]["P2"]["standard A vs standard B"].startswith("holds")
    assert "verdicts side by side" in capsys.readouterr().out

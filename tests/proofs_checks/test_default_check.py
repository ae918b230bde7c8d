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
    assert [p.label.split(" A vs")[0] for p in check.pairs] == ["standard", "w-mlp"]
    for pair in check.pairs:
        assert set(pair.paths) == {"unaligned", "activation", "weight"}
        for path in pair.paths.values():
            assert len(path.steps) == 11 and np.all(np.isfinite(path.loss))
    text = format_default_check(check)
    assert "standard A vs standard B" in text and "B_lerp" in text
    json.dumps(to_jsonable(check.to_json()), allow_nan=False)
    # the saved files reproduce the same unaligned path through the CLI
    out = tmp_path / "lmc.json"
    code = main(["lmc", str(tmp_path / "standard_A.safetensors"), str(tmp_path / "standard_B.safetensors"),
                 "--data", str(tmp_path / "test.npz"), "--steps", "11", "--json", str(out)])
    assert code == 0
    saved = json.loads(out.read_text())["unaligned"]["loss"]
    np.testing.assert_allclose(saved, check.pairs[0].paths["unaligned"].loss, rtol=1e-12)
    wa = load_network(tmp_path / "w-mlp_A.safetensors")
    wb = load_network(tmp_path / "w-mlp_B.safetensors")
    assert wa.structure_differences(wb) == []


def test_default_check_shows_the_contrast(tmp_path, capsys):
    """The full default: the standard pair's unaligned barrier is large and alignment
    removes most of it; the W-MLP pair's unaligned barrier is already small. These are
    the paper's qualitative claims; the thresholds leave a wide margin around the
    measured values (standard ~0.8 unaligned vs ~0.02 aligned; W-MLP ~0.02)."""
    code = main(["check", "--quiet", "--json", str(tmp_path / "check.json")])
    assert code == 0
    report = json.loads((tmp_path / "check.json").read_text())
    standard, wmlp = report["pairs"].values()
    assert standard["unaligned"]["B_mid"] > 5 * standard["activation"]["B_mid"]
    assert standard["unaligned"]["B_mid"] > 5 * wmlp["unaligned"]["B_mid"]
    assert "standard A vs standard B" in capsys.readouterr().out

"""The barriers plot (``check --out``: ``barriers.png``) stays readable when the T4
certificate is loose, and shows the bound the report states (issue 10).

The loss axis follows the measured losses; a band taller than the axis is clipped and
labelled with its true height and with the reported bound (the smaller of the global
band and the per-sample box bound, which is drawn at the grid points).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import neuronid as nid  # noqa: E402
from neuronid.proofs_checks.plots import paths_figure  # noqa: E402


def _report(same: bool):
    A = nid.standard_mlp([4, 16, 3], activation="relu", seed=0)
    B = A if same else nid.standard_mlp([4, 16, 3], activation="relu", seed=1)
    X = np.random.default_rng(0).normal(size=(64, 4))
    y = np.arange(64) % 3
    return nid.full_check(A, B, X, y, loss="ce", ids=["T4"], progress=False)


def test_a_loose_band_is_clipped_and_labelled_with_both_heights():
    report = _report(same=False)
    fig = paths_figure(report)
    losses = np.concatenate([np.asarray(m.path.loss) for m in report.context.paths.values()])
    spread = float(np.max(losses) - np.min(losses))
    for ax, measured in zip(fig.axes, report.context.paths.values()):
        entry = measured.certified
        bottom, top = ax.get_ylim()
        # the axis follows the losses, not the band
        assert top <= float(np.max(losses)) + 2.0 * spread + 0.1 * float(np.max(np.abs(losses))) + 1e-9
        assert entry.bound_global["B_lerp"] > top - bottom  # the band does not fit: clipped
        (text,) = [t.get_text() for t in ax.texts]
        assert f"height up to {entry.bound_global['B_lerp']:.3g}" in text
        assert f"reported T4 bound B_lerp {entry.bound['B_lerp']:.3g}" in text
        # the per-sample box bound is drawn where it is evaluated: the grid points
        (box,) = [line for line in ax.get_lines() if line.get_marker() == "v"]
        grid = np.asarray(entry.path.steps)
        expected = (1 - grid) * entry.L_A + grid * entry.L_B + entry.box_curve
        np.testing.assert_allclose(box.get_ydata(), expected, rtol=1e-12)
        assert float(np.max(entry.box_curve)) == pytest.approx(entry.bound_box["B_lerp"], rel=1e-12)
    matplotlib.pyplot.close(fig)


def test_a_tight_band_has_no_clipping_label():
    report = _report(same=True)
    fig = paths_figure(report)
    for ax in fig.axes:
        assert len(ax.texts) == 0
    matplotlib.pyplot.close(fig)

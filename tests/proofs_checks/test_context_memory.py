"""What the check context keeps (issue 10, peak memory): shape matrices released after
the costs, support passes taken back as rows of the evaluation passes, evaluation
passes released after the paths, with P5/T2 reading ``pair_functions``; the numbers
are those of fresh passes."""

from __future__ import annotations

import numpy as np

from neuronid.numerics.costs import layer_costs
from neuronid.numerics.structures import w_mlp
from neuronid.numerics.supports import shape_matrices
from neuronid.proofs_checks.checkers import CheckContext, check_p5, check_t2
from neuronid.proofs_checks.checkers.context import _neuron_mismatch


def _ctx(**kw):
    sizes = [12, 10, 9, 3]
    A = w_mlp(sizes, activation="tanh", n_fixed=3, sigma_F=1.0, seed=1, structure_seed=0)
    B = w_mlp(sizes, activation="tanh", n_fixed=3, sigma_F=1.0, seed=2, structure_seed=0)
    X = np.random.default_rng(0).normal(size=(240, 12))
    y = np.arange(240) % 3
    return CheckContext(A, B, X, y, loss="ce", steps=5, max_support_points=100, **kw), A, B, X


def test_passes_are_released_and_taken_back_as_rows():
    ctx, A, B, X = _ctx()
    ctx.costs
    ctx.paths
    assert "eval_traces" not in ctx.__dict__  # released after the paths
    # the support passes are back, as rows of the evaluation passes: equal to fresh passes
    for net, trace in zip((A, B), ctx.traces):
        fresh = net.forward(ctx.Xs, record=True)
        assert trace.inputs[0] is ctx.Xs
        for got, ref in zip(trace.inputs + trace.pre + [trace.output], fresh.inputs + fresh.pre + [fresh.output]):
            np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12 * np.max(np.abs(ref)))
    # what T2 reads was measured on the evaluation passes
    fresh = (A.forward(X, record=True), B.forward(X, record=True))
    assert ctx.pair_functions["t2"] == _neuron_mismatch(*fresh, A, B)
    assert [c.verdict for c in check_t2(ctx)] and len(check_p5(ctx)) == ctx.n_hidden


def test_layer_costs_hold_no_shape_matrices_but_give_them_on_access():
    ctx, A, _, _ = _ctx()
    for run, net in enumerate((ctx.A, ctx.B)):
        for l, lc in enumerate(ctx.costs[run]):
            assert lc.eff._S is None
            np.testing.assert_array_equal(lc.eff.S, shape_matrices(net.layers[l].mask, lc.support.U))
    # the same numbers as one layer computed on its own
    lc = layer_costs(A, layer=1, trace=A.forward(ctx.Xs, record=True), tau=ctx.tau)
    ref = ctx.costs[0][1]
    np.testing.assert_allclose(lc.K, ref.K, rtol=1e-12)
    np.testing.assert_allclose(lc.delta_out, ref.delta_out, rtol=1e-10, atol=1e-12 * np.max(np.abs(ref.K)))


def test_p5_midpoint_mutation_still_flagged_after_release():
    """The P5 pair test reads pair_functions: a planted midpoint defect still shows on a
    pair whose layer-0 neurons compute the same functions (B = a copy of A)."""
    _, A, _, X = _ctx()
    B = w_mlp([12, 10, 9, 3], activation="tanh", n_fixed=3, sigma_F=1.0, seed=1, structure_seed=0)
    ok = CheckContext(A, B, X, np.arange(240) % 3, loss="ce", steps=5, max_support_points=100)
    bad = CheckContext(A, B, X, np.arange(240) % 3, loss="ce", steps=5, max_support_points=100,
                       mutations={"P5.midpoint": lambda h: h + 1.0})
    for c in (ok, bad):
        c.paths  # releases the evaluation passes
    good = check_p5(ok)[0].quantities["pair_test"]
    planted = check_p5(bad)[0].quantities["pair_test"]
    assert good["neurons_compared"] == 10 and good["max_relative_midpoint_error"] <= 1e-12
    assert planted["max_relative_midpoint_error"] > 0.1

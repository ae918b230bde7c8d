"""Closed-form realization costs of whole layers, swap costs and assignment margins
(THEORY.md D1-D3, P1).

What
----
For hidden layer ``L`` with support ``U`` (D1, :mod:`.supports`), neuron ``i`` has
effective coordinates ``a_i = U^T w_i`` (``w_i`` its effective weight), center
``v_i = U^T f_i`` and shape ``S_i = U^T diag(m_i) U``. P1 gives the cost for neuron
``i`` to realize the pre-activation functional ``a``:

.. math::

    C_i(a) = (a - v_i)^T S_i^+ (a - v_i) \\quad\\text{if } a - v_i \\in \\operatorname{range}(S_i),
    \\quad +\\infty \\text{ otherwise.}

:func:`cost_matrix` returns ``K[i, j] = C_i(a_j)`` for all pairs at once;
:func:`incoming_swap_costs`, :func:`outgoing_swap_costs` the swap costs
``Delta_in``, ``Delta_out`` of D3; :func:`assignment_margin` the exact margin
``gamma`` of the best non-identity permutation; :func:`transposition_margin`
``min_{i<j} Delta(i, j)``; :func:`layer_costs` everything for one layer.

What the numbers mean (stated in every result's ``semantics``)
---------------------------------------------------------------
- Strictly increasing activations, ``tau = 1``: ``K`` is the exact realization cost
  of D2 (P1).
- ReLU / hard tanh: the closed form is the cost of realizing the same
  *pre-activation*; the activation's flat pieces allow cheaper realizations, so it is
  an **upper bound** on the D2 cost (:mod:`.realization` computes the exact one).
  GELU / SiLU: also an upper bound (other preimage branches may be cheaper).
- ``tau < 1``: every cost is the cost on the PCA-truncated support (the points
  projected onto ``xbar + span(U)``), as in the paper's experiments.
- layers with a normalization (THEORY N1): neuron ``i``'s function is its
  pre-activation ``z_i`` (the linear part, before the norm), so the closed form is
  taken with the identity activation: the exact cost of realizing ``z_j``.
- sigma-asymmetric layers: a pair with different activations needs
  ``sigma_i^{-1}(h_j)`` to be affine on the (truncated) support: checked on the
  support points (strictly increasing ``sigma_i``: exact; otherwise with
  :class:`~.realization.Realizer` in effective coordinates).

Tolerances (float64)
--------------------
- eigenvalues of ``S_i`` at most ``eig_tol = eig_rtol * max(1, lambda_max)`` count as
  zero; default ``eig_rtol = 10 * max(d, r) * eps`` (``S_i <= U^T U = I``, so rounding
  in ``S_i`` is of order ``d * eps``);
- ``a - v`` lies in ``range(S_i)`` when its component in the null space has norm at
  most ``range_rtol * (||a|| + ||v||)``, default ``range_rtol = 1e-8`` (rounding gives
  ~1e-14; structurally infeasible targets give O(1));
- the batched evaluation expands ``K = a^T P a - 2 a^T P v + v^T P v`` into matrix
  products; entries whose cancellation factor ``(a^T P a + v^T P v) / K`` exceeds
  ``1e4`` are recomputed directly as ``g^T P g`` (relative error then ``< 1e-10``).
- 0/1 masks with at most ``r`` zeros per row and nonsingular ``S_i``: ``S_i = I - E^T E``
  (``E`` = the rows of ``U`` at the zeros), so eigenvalues, ``K``
  (:func:`complement_costs`: two sums of squares, no cancellation) and ``Delta_out``
  come from ``|Z| x |Z|`` matrices by Woodbury, without the ``m x r x r`` shape
  matrices; this needs ``U^T U = I``: ``max |U^T U - I| <= 1e-10``
  (:func:`~.supports.orthonormal_columns`; an SVD basis has ~1e-15), else the shape
  matrices are used.

Modules
-------
One concept per module; import from this package (``from neuronid.numerics.costs
import layer_costs``), the underscored modules are internal:

- ``_quadratic``: effective coordinates (D1) and the P1 quadratic kernels;
- ``_cross``: the cost matrix ``K``, including pairs with different activations;
- ``_swaps``: ``Delta_in``, ``Delta_out`` and the streamed pairwise helpers;
- ``_margins``: assignment and transposition margins;
- ``_layer``: everything for one layer / every hidden layer;
- ``_common``: reason codes and shared constants.

Example
-------
>>> import numpy as np
>>> from neuronid.numerics.structures import standard_mlp
>>> net = standard_mlp([4, 6, 3], activation="tanh", seed=0)
>>> X = np.random.default_rng(0).normal(size=(100, 4))
>>> lc = layer_costs(net, X, 0, tau=1.0)
>>> bool(np.allclose(lc.delta_in, 0.0, atol=1e-12))     # P2: standard layers are symmetric
True
>>> bool(lc.delta_out.max() == 0.0)                      # standard next layer: exactly 0
True
"""

from __future__ import annotations

from ._common import (
    NOT_AFFINE,
    NOT_COMPUTED,
    OK,
    OUT_OF_ACT_RANGE,
    OUT_OF_RANGE,
    REASONS,
    SOLVER_FAILED,
    SOLVER_INFEASIBLE,
)
from ._cross import CostMatrix, cost_matrix, slack
from ._layer import LayerCosts, layer_costs, network_costs
from ._margins import Margin, assignment_margin, transposition_margin
from ._quadratic import (
    EffectiveLayer,
    QuadraticCosts,
    closed_form_cost,
    complement_costs,
    effective_layer,
    layer_shapes,
    orthonormal_columns,
    quadratic_costs,
)
from ._swaps import (
    SwapCosts,
    incoming_swap_costs,
    outgoing_swap_costs,
    pair_difference_dots,
    squared_center_distances,
)

__all__ = [
    "EffectiveLayer",
    "QuadraticCosts",
    "CostMatrix",
    "SwapCosts",
    "Margin",
    "LayerCosts",
    "effective_layer",
    "layer_shapes",
    "quadratic_costs",
    "complement_costs",
    "orthonormal_columns",
    "closed_form_cost",
    "cost_matrix",
    "slack",
    "incoming_swap_costs",
    "outgoing_swap_costs",
    "pair_difference_dots",
    "squared_center_distances",
    "assignment_margin",
    "transposition_margin",
    "layer_costs",
    "network_costs",
    "REASONS",
    "OK",
    "OUT_OF_RANGE",
    "NOT_AFFINE",
    "OUT_OF_ACT_RANGE",
    "NOT_COMPUTED",
    "SOLVER_FAILED",
    "SOLVER_INFEASIBLE",
]

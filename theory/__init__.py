"""neuronid.theory: the SymPy layer (activations, structural symmetries, results).

Imported by the other layers, never importing them. Public API:

* :func:`get_activation`, :data:`CATALOGUE`, :class:`Activation` - activation
  expressions with derived monotonicity, ``Lip``, ``M``, kinks, numpy callables;
* :func:`find_symmetries`, :func:`prove_symmetry`, :class:`Symmetry` - D7;
* :func:`get_result`, :func:`all_results`, :data:`RESULT_IDS`, :data:`SYMBOLS`,
  :func:`evaluate_predicate` - the THEORY.md registry with hypotheses as SymPy
  predicates and verified proof obligations.
"""

from .activations import CATALOGUE, Activation, Z, analyze, canonical_name, get_activation
from .errors import (
    InvalidInputError,
    NeuronidError,
    UnknownActivationError,
    UnknownResultError,
)
from .registry import (
    RESULT_IDS,
    SYMBOLS,
    Hypothesis,
    Obligation,
    Result,
    Verdict,
    all_results,
    evaluate_predicate,
    get_result,
)
from .symmetries import SYMMETRY_NAMES, Symmetry, find_symmetries, prove_symmetry

__all__ = [
    "Z",
    "CATALOGUE",
    "Activation",
    "analyze",
    "canonical_name",
    "get_activation",
    "SYMMETRY_NAMES",
    "Symmetry",
    "find_symmetries",
    "prove_symmetry",
    "RESULT_IDS",
    "SYMBOLS",
    "Hypothesis",
    "Obligation",
    "Result",
    "Verdict",
    "all_results",
    "evaluate_predicate",
    "get_result",
    "NeuronidError",
    "InvalidInputError",
    "UnknownActivationError",
    "UnknownResultError",
]

"""neuronid.theory: the SymPy layer (activations, structural symmetries, results).

Imported by the other layers, never importing them. Public API (loaded lazily, PEP
562, so that ``import neuronid.theory.activations`` does not pull in the registry):

* :func:`get_activation`, :data:`CATALOGUE`, :class:`Activation` - activation
  expressions with derived monotonicity, ``Lip``, ``M``, kinks, numpy callables;
* :func:`find_symmetries`, :func:`prove_symmetry`, :class:`Symmetry` - D7;
* :func:`get_result`, :func:`all_results`, :data:`RESULT_IDS`, :data:`SYMBOLS`,
  :func:`evaluate_predicate` - the THEORY.md registry with hypotheses as SymPy
  predicates and verified proof obligations.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "Z": ".activations",
    "CATALOGUE": ".activations",
    "Activation": ".activations",
    "analyze": ".activations",
    "canonical_name": ".activations",
    "get_activation": ".activations",
    "SYMMETRY_NAMES": ".symmetries",
    "Symmetry": ".symmetries",
    "find_symmetries": ".symmetries",
    "prove_symmetry": ".symmetries",
    "RESULT_IDS": ".registry",
    "SYMBOLS": ".registry",
    "Hypothesis": ".registry",
    "Obligation": ".registry",
    "Result": ".registry",
    "Verdict": ".registry",
    "all_results": ".registry",
    "evaluate_predicate": ".registry",
    "get_result": ".registry",
    "NeuronidError": "neuronid.errors",
    "InvalidInputError": "neuronid.errors",
    "UnknownActivationError": "neuronid.errors",
    "UnknownResultError": "neuronid.errors",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'neuronid.theory' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

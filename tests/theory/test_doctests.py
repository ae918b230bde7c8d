"""The examples in the theory layer's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["neuronid.theory._budget", "neuronid.theory._interval", "neuronid.theory._parse",
           "neuronid.theory._piecewise", "neuronid.theory.activations", "neuronid.theory.symmetries",
           "neuronid.theory.obligations", "neuronid.theory.registry", "neuronid._cmd_theory"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

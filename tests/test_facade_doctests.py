"""The examples in the docstrings of the public facade (``neuronid`` and its CLI modules)
run, like those of the layers (``tests/*/test_doctests.py``).

Modules are discovered, not listed; ``neuronid.__main__`` is left out (importing it runs
the CLI).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import neuronid

MODULES = ["neuronid"] + sorted(
    info.name for info in pkgutil.iter_modules(neuronid.__path__, prefix="neuronid.")
    if info.name != "neuronid.__main__" and not info.ispkg)


def test_modules_found():
    assert "neuronid.cli" in MODULES and "neuronid._cli_common" in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples in {name} failed"

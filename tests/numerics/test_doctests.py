"""The examples in the docstrings of the numerics and proofs_checks layers run.

Modules are discovered, not listed, so a new module's examples run too.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

PACKAGES = ("neuronid.numerics", "neuronid.proofs_checks")


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        pkg = importlib.import_module(package)
        names += [info.name for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}.")]
    return sorted(names)


MODULES = _modules()


def test_modules_found():
    assert "neuronid.numerics.paths" in MODULES and "neuronid.proofs_checks.report" in MODULES


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")  # strategies' .example()
@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples in {name} failed"

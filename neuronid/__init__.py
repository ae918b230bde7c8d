"""neuronid: check the theory of LMC via neuron identifiability on real networks.

The public API, loaded lazily (PEP 562) so that ``import neuronid`` is cheap and
SymPy, numba and cvxpy load only when a name that needs them is first used.

Example
-------
>>> import numpy as np
>>> import neuronid as nid
>>> A = nid.standard_mlp([4, 8, 3], activation="relu", seed=0)
>>> B = nid.standard_mlp([4, 8, 3], activation="relu", seed=1)
>>> X = np.random.default_rng(0).normal(size=(32, 4))
>>> y = np.arange(32) % 3
>>> path = nid.linear_path(A, B, X, y, loss="ce", steps=5)
>>> len(path.steps)
5
"""

from __future__ import annotations

import importlib

from neuronid.errors import (
    FileFormatError,
    InvalidDataError,
    InvalidInputError,
    InvalidNetworkError,
    InvalidOptionError,
    NeuronidError,
    StructureMismatchError,
    UnknownActivationError,
    UnknownResultError,
    UnsafeFileError,
)

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first use)
_LAZY = {
    # networks and files
    "Network": "neuronid.numerics.network",
    "Layer": "neuronid.numerics.network",
    "Norm": "neuronid.numerics.network",
    "load_network": "neuronid.numerics.io",
    "save_network": "neuronid.numerics.io",
    "load_data": "neuronid.numerics.io",
    "save_data": "neuronid.numerics.io",
    "standard_mlp": "neuronid.numerics.structures",
    "w_mlp": "neuronid.numerics.structures",
    # PyTorch converters (torch is an optional extra; imported inside them)
    "from_torch": "neuronid.numerics.torch_convert",
    "to_torch": "neuronid.numerics.torch_convert",
    # training, paths, alignment, certificate, costs
    "train": "neuronid.numerics.training",
    "TrainConfig": "neuronid.numerics.training",
    "linear_path": "neuronid.numerics.paths",
    "repaired_path": "neuronid.numerics.repair",
    "align": "neuronid.numerics.alignment",
    "certificate": "neuronid.numerics.certificate",
    "layer_costs": "neuronid.numerics.costs",
    "network_costs": "neuronid.numerics.costs",
    # the main job
    "full_check": "neuronid.proofs_checks.report",
    "Report": "neuronid.proofs_checks.report",
}
#: public submodules
_MODULES = {
    "strategies": "neuronid.proofs_checks.strategies",
    "errors": "neuronid.errors",
}

__all__ = [
    "__version__",
    *_LAZY,
    *_MODULES,
    "NeuronidError",
    "InvalidInputError",
    "FileFormatError",
    "UnsafeFileError",
    "InvalidNetworkError",
    "InvalidDataError",
    "StructureMismatchError",
    "UnknownActivationError",
    "InvalidOptionError",
    "UnknownResultError",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise AttributeError(f"module 'neuronid' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))

"""neuronid: check the theory of LMC via neuron identifiability on real networks.

The public API is re-exported here; everything else is internal.
"""

from neuronid.theory.errors import (
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

__all__ = [
    "__version__",
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

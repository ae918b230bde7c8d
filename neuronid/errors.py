"""Error types of neuronid.

Every user-facing failure is one of these. Each also inherits the built-in type a
caller would naturally catch (``ValueError``, ``OSError``), so ``except ValueError``
keeps working. Messages name the file, tensor, layer, what was expected and what was
found. The CLI maps :class:`InvalidInputError` to exit status 2.

This is a leaf module (it imports nothing from neuronid), so every layer can import
it without breaking the one-way import rule and without loading SymPy.
"""

from __future__ import annotations


class NeuronidError(Exception):
    """Base class of all neuronid errors."""


class InvalidInputError(NeuronidError, ValueError):
    """Bad input from the user: a file, an option, an expression, an array."""


class FileFormatError(InvalidInputError):
    """A file is missing, unreadable, corrupt, or not in the documented format."""


class UnsafeFileError(FileFormatError):
    """A file would need unpickling (code execution) to load; refused."""


class InvalidNetworkError(InvalidInputError):
    """Network tensors are missing, mis-shaped, non-finite or inconsistent."""


class InvalidDataError(InvalidInputError):
    """A data set is empty, non-finite, mis-shaped, or has bad labels."""


class StructureMismatchError(InvalidInputError):
    """Two networks that must share a structure do not."""


class UnknownActivationError(InvalidInputError):
    """An activation name is not in the catalogue, or an expression is invalid."""


class InvalidOptionError(InvalidInputError):
    """An option value is out of range (grid with fewer than 2 points, ...)."""


class UnknownResultError(InvalidInputError):
    """A result ID or hypothesis name is not in the registry."""


__all__ = [
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

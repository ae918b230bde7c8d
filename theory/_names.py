"""Names of the built-in activations (DESIGN.md file format), shared by the SymPy
catalogue (:mod:`neuronid.theory.activations`) and the numeric one
(:mod:`neuronid.numerics.activations`) without importing SymPy.

One table of base names, aliases and parameter defaults, so that both layers accept
exactly the same names (``swish`` is ``silu``, ``hardtanh`` is ``hard_tanh``,
``linear`` is ``identity``; base names are case-insensitive).

>>> split_spec(" Swish ")
('silu', None)
>>> split_spec("leaky_relu:0.2")
('leaky_relu', '0.2')
"""

from __future__ import annotations

from neuronid.errors import UnknownActivationError

__all__ = ["CATALOGUE", "ALIASES", "PARAMETER_DEFAULTS", "split_spec", "valid_names"]

#: Canonical base names of the built-in activations.
CATALOGUE: tuple[str, ...] = (
    "identity", "relu", "leaky_relu", "gelu", "tanh", "sigmoid", "softplus", "elu", "silu",
    "hard_tanh",
)
#: Other spellings accepted for a base name.
ALIASES = {"hardtanh": "hard_tanh", "swish": "silu", "linear": "identity"}
#: Base names that take a parameter (``leaky_relu:<slope>``, ``elu:<alpha>``), with its
#: default as a decimal string (exact for SymPy's ``Rational``).
PARAMETER_DEFAULTS = {"leaky_relu": "0.01", "elu": "1"}


def valid_names() -> str:
    """The valid names, for error messages."""
    return ", ".join(CATALOGUE) + ", leaky_relu:<slope>, elu:<alpha>, sympy:<expression in z>"


def split_spec(spec) -> tuple[str, str | None]:
    """``(canonical base name, parameter text or None)`` of an activation name; the
    base is lower-cased and aliases are resolved (validity is the caller's check)."""
    if not isinstance(spec, str):
        raise UnknownActivationError(
            f"activation must be a string, got {type(spec).__name__}; valid: {valid_names()}")
    spec = spec.strip()
    base, sep, rest = spec.partition(":")
    base = base.strip().lower()
    base = ALIASES.get(base, base)
    return base, (rest if sep else None)

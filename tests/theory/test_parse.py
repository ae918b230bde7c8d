"""Bad activation names and expressions: one table, exception type and message."""

from __future__ import annotations

import pytest
import sympy as sp

from neuronid.theory import InvalidInputError, UnknownActivationError, get_activation
from neuronid.theory._parse import Z, parse_user_expression

BAD = [
    ("sympy:log(z)", "argument of log"),
    ("sympy:sqrt(z)", "root"),
    ("sympy:1/z", "divisor z"),
    ("sympy:(z-1)**(-2)", "divisor"),
    ("sympy:z**z", "base"),
    ("sympy:x + z", "unknown name"),
    ("sympy:I*z", "unknown name"),
    ("sympy:asin(z)", "unknown name"),
    ("sympy:sqrt(-1)*z", "not real"),
    ("sympy:", "empty"),
    ("sympy", "needs an expression"),
    ("sympy:z +", "does not parse"),
    ("sympy:tanh(z", "does not parse"),
    ("sympy:3", "does not depend on z"),
    ('sympy:__import__("os").system("true")', "not allowed"),
    ("sympy:z.func", "attribute"),
    ("sympy:(1).__class__", "not allowed"),
    ("sympy:9**9**9**9", "exponent"),
    ("sympy:z**1000", "exponent"),
    ("sympy:z*1e9999", "decimal exponent"),
    ("sympy:z*1e99999999", "decimal exponent"),
    ("sympy:z*1e-99999999", "decimal exponent"),
    ("sympy:z*" + "9" * 40, "digits"),
    ("sympy:z*0." + "1" * 40, "digits"),
    ("sympy:" + "(" * 21 + "z" + ")" * 21, "nested"),
    ("sympy:" + "exp(" * 21 + "z" + ")" * 21, "nested"),
    ("sympy:lambda: 1", "not allowed"),
    ("sympy:" + "z+" * 300 + "z", "longer than"),
    ("leaky_relu:abc", "not a finite decimal"),
    ("leaky_relu:nan", "not a finite decimal"),
    ("elu:inf", "not a finite decimal"),
    ("relu:2", "takes no parameter"),
    ("nope", "unknown activation"),
    ("", "unknown activation"),
]


@pytest.mark.parametrize("spec, message", BAD)
def test_bad_specs(spec, message):
    with pytest.raises(UnknownActivationError, match=message) as info:
        get_activation(spec)
    assert isinstance(info.value, InvalidInputError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


def test_non_string():
    with pytest.raises(UnknownActivationError, match="must be a string"):
        get_activation(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("text, expected", [
    ("z^2 + 0.5*z", Z**2 + Z / 2),
    ("1e-3*z", Z / 1000),
    ("relu(z) - relu(-z)", sp.Max(0, Z) - sp.Max(0, -Z)),
    ("sigmoid(z)", 1 / (1 + sp.exp(-Z))),
    ("abs(z)**1.5", sp.Abs(Z) ** sp.Rational(3, 2)),
    ("log(1 + exp(z))", sp.log(1 + sp.exp(Z))),
    ("log(2 + sin(z))", sp.log(2 + sp.sin(Z))),
    ("1/(1 + z**2)", 1 / (1 + Z**2)),
    ("2**z", 2**Z),
])
def test_good_expressions(text, expected):
    assert sp.simplify(parse_user_expression(text) - expected) == 0


def test_unhashable_spec():
    with pytest.raises(UnknownActivationError, match="must be a string"):
        get_activation(["relu"])  # type: ignore[arg-type]

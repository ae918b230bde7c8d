"""Safe parsing of user activation expressions (``sympy:<expression in z>``).

The text is never handed to ``sympify``. It is checked character by character and
name by name against a whitelist, parsed with
:func:`sympy.parsing.sympy_parser.parse_expr` under empty builtins and an explicit
global/local namespace, first unevaluated (so that ``9**9**9`` is rejected before
anything is computed), then evaluated within a time budget. The result must be a
real, finite function of ``z`` on the whole real line: every ``log`` argument must
be provably positive, every root argument provably non-negative, every divisor
provably non-zero. Anything else raises :class:`UnknownActivationError` with one
clear message.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.parsing.sympy_parser import (
    auto_number,
    auto_symbol,
    convert_xor,
    parse_expr,
    rationalize,
)

from ._budget import BudgetExceeded, BudgetExhausted, run_isolated, try_within_budget, within_budget
from neuronid.errors import UnknownActivationError

__all__ = ["Z", "parse_user_expression", "ALLOWED_FUNCTIONS"]

#: The activation variable: real.
Z = sp.Symbol("z", real=True)


def _relu(x):
    return sp.Max(0, x)


def _sigmoid(x):
    return 1 / (1 + sp.exp(-x))


def _softplus(x):
    return sp.log(1 + sp.exp(x))


#: Names a user expression may use, mapped to what they mean.
ALLOWED_FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "erf": sp.erf, "erfc": sp.erfc,
    "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh, "atan": sp.atan,
    "asinh": sp.asinh, "sin": sp.sin, "cos": sp.cos,
    "Abs": sp.Abs, "abs": sp.Abs, "Max": sp.Max, "max": sp.Max, "Min": sp.Min, "min": sp.Min,
    "relu": _relu, "sigmoid": _sigmoid, "softplus": _softplus,
}
_CONSTANTS = {"pi": sp.pi, "E": sp.E}
_ALLOWED_NAMES = set(ALLOWED_FUNCTIONS) | set(_CONSTANTS) | {"z"}
_CHARS = re.compile(r"^[0-9A-Za-z_+\-*/^().,\s]*$")
_NAME = re.compile(r"(?<![0-9A-Za-z_])[A-Za-z_][A-Za-z_0-9]*")
_ATTRIBUTE = re.compile(r"\.\s*[A-Za-z_(]")
_MAX_LEN = 400
_MAX_EXPONENT = 64
#: Bounds that keep parsing and checking cheap whatever the text: nesting of
#: parentheses, digits of a literal, decimal exponent of a literal (``1e30``), and the
#: size and depth of the parsed expression tree.
_MAX_NESTING = 20
_MAX_DIGITS = 30
_MAX_LITERAL_EXPONENT = 30
_MAX_NODES = 5000
_MAX_DEPTH = 60
_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])(\d*\.?\d*)(?:[eE]([+-]?\d+))?")
_KNOWN_TYPES = (sp.exp, sp.log, sp.erf, sp.erfc, sp.tanh, sp.sinh, sp.cosh, sp.atan, sp.asinh,
                sp.sin, sp.cos, sp.Abs, sp.Max, sp.Min)


def _fail(text: str, why: str) -> UnknownActivationError:
    return UnknownActivationError(
        f"invalid activation expression 'sympy:{text}': {why}. Write a real function of z "
        f"using + - * / ** and {', '.join(sorted(k for k in ALLOWED_FUNCTIONS if k[0].islower()))}, "
        "Abs, Max, Min, pi, E; for example 'sympy:z*tanh(softplus(z))'"
    )


def _check_text_bounds(text: str) -> None:
    """Reject, from the text alone, literals with too many digits or too large a
    decimal exponent and too deep a nesting: nothing is built from them."""
    depth = deepest = 0
    for ch in text:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    if deepest > _MAX_NESTING:
        raise _fail(text, f"parentheses are nested {deepest} deep; at most {_MAX_NESTING} are allowed")
    for match in _NUMBER.finditer(text):
        mantissa, exponent = match.group(1), match.group(2)
        if not mantissa.strip(".") and exponent is None:
            continue
        digits = len(mantissa.replace(".", "").lstrip("0"))
        literal = match.group(0)
        shown = literal if len(literal) <= 24 else literal[:20] + "..."
        if digits > _MAX_DIGITS:
            raise _fail(text, f"number {shown} has {digits} digits; at most {_MAX_DIGITS} are allowed")
        if exponent is not None and (len(exponent.lstrip("+-")) > 4 or abs(int(exponent)) > _MAX_LITERAL_EXPONENT):
            raise _fail(text, f"number {shown} has a decimal exponent beyond +-{_MAX_LITERAL_EXPONENT}")


def _check_tree(expr: sp.Basic, text: str) -> None:
    """Reject expression trees that are too large or too deep (iteratively)."""
    stack = [(expr, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            raise _fail(text, f"the expression has more than {_MAX_NODES} parts")
        if depth > _MAX_DEPTH:
            raise _fail(text, f"the expression is nested more than {_MAX_DEPTH} levels deep")
        stack.extend((arg, depth + 1) for arg in node.args)


def _check_sizes(expr: sp.Basic, text: str) -> None:
    """Reject huge literals and exponents before anything is evaluated."""
    _check_tree(expr, text)
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Integer) and abs(node.p) > 10**30:
            raise _fail(text, f"a number with {len(str(abs(node.p))) if abs(node.p) < 10**4000 else 'thousands of'} "
                              "digits is too large")
        if isinstance(node, sp.Rational) and not isinstance(node, sp.Integer) and (
                abs(node.p) > 10**60 or node.q > 10**60):
            raise _fail(text, "a fraction with more than 60 digits is too large")
        if isinstance(node, sp.Pow):
            expo = node.args[1]
            if expo.is_number:
                value = try_within_budget(lambda: float(sp.N(expo, 15)), 1.0)
                if value is None or abs(value) > _MAX_EXPONENT:
                    raise _fail(text, f"exponent {expo} is not a number of magnitude <= {_MAX_EXPONENT}")


def _prove(kind: str, arg: sp.Expr) -> bool | None:
    """Prove ``arg > 0`` / ``arg >= 0`` / ``arg != 0`` for every real z.

    Returns True when proved, False when a real counterexample set exists, None
    when undecided.
    """
    query = {"positive": arg.is_positive, "nonnegative": arg.is_nonnegative,
             "nonzero": arg.is_nonzero}[kind]
    if query:
        return True
    bad = {"positive": lambda: sp.solveset(arg <= 0, Z, sp.S.Reals),
           "nonnegative": lambda: sp.solveset(arg < 0, Z, sp.S.Reals),
           "nonzero": lambda: sp.solveset(sp.Eq(arg, 0), Z, sp.S.Reals)}[kind]
    result = try_within_budget(bad, 3.0)
    if result is None or isinstance(result, sp.ConditionSet) or result.has(sp.ConditionSet):
        return None
    return result is sp.S.EmptySet


def _check_real_everywhere(expr: sp.Expr, text: str) -> None:
    if expr.has(sp.I, sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise _fail(text, "it is not real and finite (contains I, oo, zoo or nan)")
    for node in sp.preorder_traversal(expr):
        if isinstance(node, sp.Function) and not isinstance(node, _KNOWN_TYPES):
            raise _fail(text, f"function {node.func} is not supported")
        need = None
        if isinstance(node, sp.Pow):
            base, expo = node.args
            if not base.has(Z):
                if expo.has(Z) and not (base.is_positive):
                    need = ("positive", base, f"the base of {node}")
            elif expo.is_Integer and expo < 0:
                need = ("nonzero", base, f"the divisor {base}")
            elif not expo.is_Integer:
                if expo.has(Z) or expo.is_negative:
                    need = ("positive", base, f"the base of {node}")
                else:
                    need = ("nonnegative", base, f"the argument of the root {node}")
        elif isinstance(node, sp.log):
            need = ("positive", node.args[0], f"the argument of {node}")
        if need is None:
            continue
        kind, arg, what = need
        verdict = _prove(kind, arg)
        if verdict is False:
            raise _fail(text, f"it is undefined or complex for some real z: {what} is not "
                              f"{'positive' if kind == 'positive' else 'non-negative' if kind == 'nonnegative' else 'non-zero'} everywhere")
        if verdict is None:
            raise _fail(text, f"cannot prove that {what} is "
                              f"{'positive' if kind == 'positive' else 'non-negative' if kind == 'nonnegative' else 'non-zero'} "
                              "for every real z")


def parse_user_expression(text: str) -> sp.Expr:
    """Parse the text after ``sympy:`` into a real SymPy expression in ``z``.

    Parameters
    ----------
    text : str
        For example ``"z*tanh(softplus(z))"``; ``^`` means power; decimals become
        exact rationals.

    Returns
    -------
    sympy.Expr
        A function of the real symbol :data:`Z`, defined, real and finite on the
        whole real line.

    Raises
    ------
    UnknownActivationError
        Unparsable text, unknown names or symbols, no dependence on ``z``,
        complex or undefined values for some real ``z``.

    Examples
    --------
    >>> parse_user_expression("z^2 + 0.5*z")
    z**2 + z/2
    >>> parse_user_expression("log(z)")
    Traceback (most recent call last):
    ...
    neuronid.errors.UnknownActivationError: invalid activation expression 'sympy:log(z)': it is undefined or complex for some real z: the argument of log(z) is not positive everywhere. Write a real function of z using + - * / ** and abs, asinh, atan, cos, cosh, erf, erfc, exp, log, max, min, relu, sigmoid, sin, sinh, softplus, sqrt, tanh, Abs, Max, Min, pi, E; for example 'sympy:z*tanh(softplus(z))'
    """
    if not isinstance(text, str):
        raise UnknownActivationError(f"activation expression must be a string, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise _fail(text, "the expression is empty")
    if len(text) > _MAX_LEN:
        raise _fail(text[:40] + "...", f"it is longer than {_MAX_LEN} characters")
    if _ATTRIBUTE.search(text):
        raise _fail(text, "attribute access ('.' before a name) is not allowed")
    if not _CHARS.match(text) or "__" in text:
        bad = sorted({c for c in text if not _CHARS.match(c)} | ({"__"} if "__" in text else set()))
        raise _fail(text, f"it contains characters that are not allowed: {' '.join(bad)}")
    unknown = sorted({n for n in _NAME.findall(text) if n not in _ALLOWED_NAMES})
    if unknown:
        raise _fail(text, f"unknown name(s) {', '.join(unknown)} (the only variable is z)")
    _check_text_bounds(text)
    try:
        return run_isolated(lambda: _parse_checked(text), what="parsing and checking the expression")
    except BudgetExhausted as exc:
        raise _fail(text, str(exc)) from None


def _parse_checked(text: str) -> sp.Expr:
    """The SymPy part of :func:`parse_user_expression` (runs in an isolated process)."""
    local = dict(ALLOWED_FUNCTIONS)
    local.update(_CONSTANTS)
    local["z"] = Z
    glob = {"__builtins__": {}, "Integer": sp.Integer, "Float": sp.Float,
            "Rational": sp.Rational, "Symbol": sp.Symbol, "Add": sp.Add, "Mul": sp.Mul,
            "Pow": sp.Pow}
    transformations = (auto_symbol, auto_number, rationalize, convert_xor)
    try:
        raw = parse_expr(text, local_dict=dict(local), global_dict=dict(glob),
                         transformations=transformations, evaluate=False)
    except Exception as exc:  # SyntaxError, TypeError, TokenError, ...
        raise _fail(text, f"it does not parse ({type(exc).__name__})") from None
    if not isinstance(raw, sp.Expr):
        raise _fail(text, "it is not a scalar expression")
    _check_sizes(raw, text)
    try:
        expr = within_budget(lambda: parse_expr(text, local_dict=dict(local), global_dict=dict(glob),
                                                transformations=transformations), 5.0)
    except BudgetExceeded:
        raise _fail(text, "evaluating it took too long") from None
    except Exception as exc:
        raise _fail(text, f"it could not be evaluated ({type(exc).__name__})") from None
    if not isinstance(expr, sp.Expr):
        raise _fail(text, "it is not a scalar expression")
    others = expr.free_symbols - {Z}
    if others:
        raise _fail(text, f"it uses symbols other than z: {', '.join(sorted(map(str, others)))}")
    if not expr.has(Z):
        raise _fail(text, "it does not depend on z")
    _check_tree(expr, text)
    _check_real_everywhere(expr, text)
    return expr

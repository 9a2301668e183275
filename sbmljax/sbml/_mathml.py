"""libsbml `ASTNode` (parsed MathML) → `sbmljax._expr` tree.

Function definitions are inlined by substitution and local parameters renamed to `reaction.param`, so the
tree that reaches the compiler refers only to model-level symbols. Constructs that no simulator here can
honour raise `UnsupportedMath` with the construct's name and the reason from the support table
(`sbmljax.sbml._support`); the caller turns it into an `UnsupportedSBMLFeatureError` that names the SBML
element.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import libsbml

from .._expr import AVOGADRO, Bool, Call, Expr, Num, Piecewise, Sym, Time, substitute
from ._support import CONSTRUCTS


class UnsupportedMath(Exception):
    """A MathML construct that cannot be compiled: `construct` names it, `key` is its entry in the support
    table and `reason` (the entry's, with `fields` filled in) says why."""

    def __init__(self, construct: str, key: str, **fields: object):
        self.construct = construct
        self.key = key
        self.reason = CONSTRUCTS[key].why(**fields)
        super().__init__(f"{construct}: {self.reason}")


_SIMPLE: dict[int, str] = {
    libsbml.AST_PLUS: "plus",
    libsbml.AST_TIMES: "times",
    libsbml.AST_DIVIDE: "divide",
    libsbml.AST_POWER: "power",
    libsbml.AST_FUNCTION_POWER: "power",
    libsbml.AST_FUNCTION_ABS: "abs",
    libsbml.AST_FUNCTION_EXP: "exp",
    libsbml.AST_FUNCTION_LN: "ln",
    libsbml.AST_FUNCTION_FLOOR: "floor",
    libsbml.AST_FUNCTION_CEILING: "ceiling",
    libsbml.AST_FUNCTION_FACTORIAL: "factorial",
    libsbml.AST_FUNCTION_MAX: "max",
    libsbml.AST_FUNCTION_MIN: "min",
    libsbml.AST_FUNCTION_QUOTIENT: "quotient",
    libsbml.AST_FUNCTION_REM: "rem",
    libsbml.AST_LOGICAL_AND: "and",
    libsbml.AST_LOGICAL_OR: "or",
    libsbml.AST_LOGICAL_XOR: "xor",
    libsbml.AST_LOGICAL_NOT: "not",
    libsbml.AST_LOGICAL_IMPLIES: "implies",
    libsbml.AST_RELATIONAL_EQ: "eq",
    libsbml.AST_RELATIONAL_NEQ: "neq",
    libsbml.AST_RELATIONAL_GT: "gt",
    libsbml.AST_RELATIONAL_GEQ: "geq",
    libsbml.AST_RELATIONAL_LT: "lt",
    libsbml.AST_RELATIONAL_LEQ: "leq",
}
for _name in (
    "sin cos tan sec csc cot sinh cosh tanh sech csch coth arcsin arccos arctan arcsec arccsc arccot "
    "arcsinh arccosh arctanh arcsech arccsch arccoth"
).split():
    _SIMPLE[getattr(libsbml, f"AST_FUNCTION_{_name.upper()}")] = _name

_DISTRIB = {
    getattr(libsbml, n): n[len("AST_DISTRIB_FUNCTION_") :].lower()
    for n in dir(libsbml)
    if n.startswith("AST_DISTRIB_FUNCTION_")
}

FunctionDefinitions = Mapping[str, tuple[tuple[str, ...], Expr]]


def _number(node: libsbml.ASTNode) -> float:
    t = node.getType()
    if t == libsbml.AST_INTEGER:
        return float(node.getInteger())
    if t == libsbml.AST_RATIONAL:
        return float(node.getNumerator()) / float(node.getDenominator())
    return float(node.getReal())


def convert(
    node: libsbml.ASTNode,
    functions: FunctionDefinitions | None = None,
    rename: Mapping[str, str] | None = None,
) -> Expr:
    """Convert a libsbml AST to an expression tree.

    **Arguments:**

    - `node`: the libsbml `ASTNode` (e.g. `kineticLaw.getMath()`).
    - `functions`: function definitions already converted, `id -> (argument names, body)`; calls are inlined.
    - `rename`: symbol renames applied to `ci` names (local parameter `k` → `reaction.k`).

    **Returns:** the tree.

    **Raises:** `UnsupportedMath` for `delay`, `rateOf`, `distrib` draws, unknown functions and MathML outside
    what SBML permits.
    """
    functions = functions or {}
    rename = rename or {}
    if node is None:
        raise UnsupportedMath("math", "missing_math")
    t = node.getType()
    kids = [node.getChild(i) for i in range(node.getNumChildren())]

    if t in (libsbml.AST_INTEGER, libsbml.AST_REAL, libsbml.AST_REAL_E, libsbml.AST_RATIONAL):
        return Num(_number(node))
    if t == libsbml.AST_CONSTANT_E:
        return Num(math.e)
    if t == libsbml.AST_CONSTANT_PI:
        return Num(math.pi)
    if t == libsbml.AST_CONSTANT_TRUE:
        return Bool(True)
    if t == libsbml.AST_CONSTANT_FALSE:
        return Bool(False)
    if t == libsbml.AST_NAME_TIME:
        return Time()
    if t == libsbml.AST_NAME_AVOGADRO:
        return Num(AVOGADRO)
    if t == libsbml.AST_NAME:
        name = node.getName()
        return Sym(rename.get(name, name))
    if t == libsbml.AST_FUNCTION_DELAY:
        raise UnsupportedMath("delay", "delay")
    if t == libsbml.AST_FUNCTION_RATE_OF:
        raise UnsupportedMath("rateOf", "rate_of")
    if t in _DISTRIB:
        raise UnsupportedMath(f"distrib:{_DISTRIB[t]}", "distrib_math")

    args = tuple(convert(k, functions, rename) for k in kids)
    if t == libsbml.AST_MINUS:
        return Call("minus", args)
    if t in _SIMPLE:
        return Call(_SIMPLE[t], args)
    if t == libsbml.AST_FUNCTION_LOG:
        # libsbml inserts the implicit base 10 as a first child when <logbase> is absent.
        return Call("log", args) if len(args) == 2 else Call("log", (Num(10.0), args[0]))
    if t == libsbml.AST_FUNCTION_ROOT:
        return Call("root", args) if len(args) == 2 else Call("root", (Num(2.0), args[0]))
    if t == libsbml.AST_FUNCTION_PIECEWISE:
        pieces = tuple((args[i], args[i + 1]) for i in range(0, len(args) - 1, 2))
        otherwise = args[-1] if len(args) % 2 == 1 else None
        return Piecewise(pieces, otherwise)
    if t == libsbml.AST_FUNCTION:
        name = node.getName()
        if name not in functions:
            raise UnsupportedMath(f"function {name!r}", "unknown_function")
        params, body = functions[name]
        if len(params) != len(args):
            raise UnsupportedMath(f"function {name!r}", "function_arity", given=len(args), expected=len(params))
        return substitute(body, dict(zip(params, args)))
    if t == libsbml.AST_LAMBDA:
        raise UnsupportedMath("lambda", "lambda")
    if t == libsbml.AST_CSYMBOL_FUNCTION:
        raise UnsupportedMath(f"csymbol {node.getName()!r}", "csymbol")
    raise UnsupportedMath(f"MathML element <{node.getName() or libsbml.formulaToL3String(node)}>", "mathml_other")


def convert_function_definition(
    fd: libsbml.FunctionDefinition, functions: FunctionDefinitions
) -> tuple[tuple[str, ...], Expr]:
    """Convert a `<functionDefinition>` (a lambda) into `(argument names, body)`."""
    lam = fd.getMath()
    if lam is None or lam.getType() != libsbml.AST_LAMBDA:
        raise UnsupportedMath(f"functionDefinition {fd.getId()!r}", "function_not_lambda")
    n = lam.getNumChildren()
    names = tuple(lam.getChild(i).getName() for i in range(n - 1))
    # Arguments must not be renamed by the caller's scope, so no rename map here.
    body = convert(lam.getChild(n - 1), functions)
    return names, body

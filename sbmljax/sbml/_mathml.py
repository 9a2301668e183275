"""libsbml `ASTNode` (parsed MathML) → `sbmljax._expr` tree.

Function definitions are inlined by substitution and local parameters renamed to `reaction.param`, so the
tree that reaches the compiler refers only to model-level symbols. Constructs that no simulator here can
honour raise `UnsupportedMath` with the construct's name and the reason from the support table
(`sbmljax._support`); the caller turns it into an `UnsupportedSBMLFeatureError` that names the SBML
element.

The tree is read from the MathML text that libsbml writes for the node, not from `ASTNode.getType()`: once
another SWIG module with its own runtime (tellurium's `libsedml`) is imported after libsbml, `getType()`
returns an opaque pointer instead of the enum's int, so type codes cannot be trusted whatever the user
imported. The MathML element names are the standard's (W3C MathML 2.0, as SBML Level 3 restricts it), so
reading them needs nothing from libsbml's bindings but `writeMathMLToString`.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, TypeAlias

import libsbml

from .._expr import AVOGADRO, Bool, Call, Expr, Num, Piecewise, Sym, Time, substitute
from .._support import CONSTRUCTS

ASTNode: TypeAlias = Any
"""A libsbml `ASTNode`, as an annotation. Not `libsbml.ASTNode`: for the reason above, the proxies libsbml
returns are then `libsedml.ASTNode`s (SWIG's shared type table), which a run-time type check of
`libsbml.ASTNode` would refuse although libsbml's functions take them."""


class UnsupportedMath(Exception):
    """A MathML construct that cannot be compiled: `construct` names it, `key` is its entry in the support
    table and `reason` (the entry's, with `fields` filled in) says why."""

    def __init__(self, construct: str, key: str, **fields: object):
        self.construct = construct
        self.key = key
        self.reason = CONSTRUCTS[key].why(**fields)
        super().__init__(f"{construct}: {self.reason}")


# MathML operator elements whose name is the expression tree's operator name (see `sbmljax._expr.OPERATORS`).
_SIMPLE = frozenset(
    (
        "plus times divide power abs exp ln floor ceiling factorial max min quotient rem and or xor not implies "
        "eq neq gt geq lt leq sin cos tan sec csc cot sinh cosh tanh sech csch coth arcsin arccos arctan arcsec "
        "arccsc arccot arcsinh arccosh arctanh arcsech arccsch arccoth"
    ).split()
)
_CONSTANTS: dict[str, Expr] = {
    "exponentiale": Num(math.e),
    "pi": Num(math.pi),
    "true": Bool(True),
    "false": Bool(False),
    "infinity": Num(math.inf),
    "notanumber": Num(math.nan),
}
_SBML_SYMBOLS = "http://www.sbml.org/sbml/symbols/"
_DISTRIB = _SBML_SYMBOLS + "distrib/"

FunctionDefinitions = Mapping[str, tuple[tuple[str, ...], Expr]]


def _tag(el: ET.Element) -> str:
    return el.tag.rpartition("}")[2]


def _children(el: ET.Element) -> list[ET.Element]:
    """Child elements, with `<semantics>` wrappers replaced by the math they annotate (their first child)."""
    out = []
    for c in el:
        while _tag(c) == "semantics" and len(c):
            c = c[0]
        out.append(c)
    return out


def _cn(el: ET.Element) -> float:
    kind = el.get("type", "real")
    parts = [(el.text or "").strip()] + [(s.tail or "").strip() for s in el if _tag(s) == "sep"]
    if kind == "integer":
        return float(int(parts[0]))
    if kind == "rational":
        return float(int(parts[0])) / float(int(parts[1]))
    if kind == "e-notation":
        # libsbml's value for e-notation is mantissa × 10^exponent (ASTNode::getReal); the same product
        # keeps imported numbers bitwise identical to what libsbml reports and libRoadRunner uses.
        return float(parts[0]) * math.pow(10.0, float(parts[1]))
    return float(parts[0])


def _csymbol(el: ET.Element) -> str:
    return (el.get("definitionURL") or "").strip()


def _math_root(node: ASTNode) -> ET.Element:
    """The element for `node`, parsed from libsbml's MathML for it (see the module docstring)."""
    text = libsbml.writeMathMLToString(node)
    if not text:
        raise UnsupportedMath("MathML element <math>", "mathml_other")
    kids = _children(ET.fromstring(text))
    if len(kids) != 1:
        # An ASTNode libsbml cannot write as MathML (AST_UNKNOWN, say) comes out as an empty <math/>.
        raise UnsupportedMath(f"MathML element <math> with {len(kids)} children", "mathml_other")
    return kids[0]


def convert(
    node: ASTNode | None,
    functions: FunctionDefinitions | None = None,
    rename: Mapping[str, str] | None = None,
) -> Expr:
    """Convert a libsbml AST to an expression tree.

    **Arguments:**

    - `node`: the libsbml `ASTNode` (e.g. `kineticLaw.getMath()`; `None`, what libsbml returns for an element
      without math, is refused).
    - `functions`: function definitions already converted, `id -> (argument names, body)`; calls are inlined.
    - `rename`: symbol renames applied to `ci` names (local parameter `k` → `reaction.k`).

    **Returns:** the tree.

    **Raises:** `UnsupportedMath` for `delay`, `rateOf`, `distrib` draws, unknown functions and MathML outside
    what SBML permits.

    **Reference:** W3C, "Mathematical Markup Language (MathML) Version 2.0", content markup, as restricted by
    SBML Level 3 Version 2 Core, section 3.4.
    """
    if node is None:
        raise UnsupportedMath("math", "missing_math")
    return _convert(_math_root(node), functions or {}, rename or {})


def _convert(el: ET.Element, functions: FunctionDefinitions, rename: Mapping[str, str]) -> Expr:
    tag = _tag(el)
    if tag == "cn":
        return Num(_cn(el))
    if tag in _CONSTANTS:
        return _CONSTANTS[tag]
    if tag == "ci":
        name = (el.text or "").strip()
        return Sym(rename.get(name, name))
    if tag == "csymbol":
        url = _csymbol(el)
        if url == _SBML_SYMBOLS + "time":
            return Time()
        if url == _SBML_SYMBOLS + "avogadro":
            return Num(AVOGADRO)
        return _csymbol_function(el)
    if tag == "piecewise":
        pieces, otherwise = [], None
        for part in _children(el):
            args = tuple(_convert(k, functions, rename) for k in _children(part))
            if _tag(part) == "piece" and len(args) == 2:
                pieces.append((args[0], args[1]))
            elif _tag(part) == "otherwise" and len(args) == 1:
                otherwise = args[0]
            else:
                raise UnsupportedMath(f"MathML element <{_tag(part)}>", "mathml_other")
        return Piecewise(tuple(pieces), otherwise)
    if tag == "lambda":
        raise UnsupportedMath("lambda", "lambda")
    if tag != "apply":
        raise UnsupportedMath(f"MathML element <{tag}>", "mathml_other")

    kids = _children(el)
    if not kids:
        raise UnsupportedMath("MathML element <apply>", "mathml_other")
    head, operands = kids[0], kids[1:]
    op = _tag(head)
    if op == "csymbol":
        _csymbol_function(head)  # raises: no csymbol function is supported
    qualifier = {_tag(k): k for k in operands if _tag(k) in ("logbase", "degree")}
    operands = [k for k in operands if _tag(k) not in ("logbase", "degree", "bvar")]
    args = tuple(_convert(k, functions, rename) for k in operands)
    if op == "minus":
        return Call("minus", args)
    if op in _SIMPLE:
        return Call(op, args)
    if op in ("log", "root"):
        # A missing <logbase> is base 10 and a missing <degree> the square root (MathML 2.0, 4.4.2.12/4.4.2.11).
        q = qualifier.get("logbase" if op == "log" else "degree")
        base = _convert(_children(q)[0], functions, rename) if q is not None else Num(10.0 if op == "log" else 2.0)
        return Call(op, (base, *args))
    if op == "ci":
        name = (head.text or "").strip()
        if name not in functions:
            raise UnsupportedMath(f"function {name!r}", "unknown_function")
        params, body = functions[name]
        if len(params) != len(args):
            raise UnsupportedMath(f"function {name!r}", "function_arity", given=len(args), expected=len(params))
        return substitute(body, dict(zip(params, args)))
    raise UnsupportedMath(f"MathML element <{op}>", "mathml_other")


def _csymbol_function(el: ET.Element) -> Expr:
    url = _csymbol(el)
    if url == _SBML_SYMBOLS + "delay":
        raise UnsupportedMath("delay", "delay")
    if url == _SBML_SYMBOLS + "rateOf":
        raise UnsupportedMath("rateOf", "rate_of")
    if url.startswith(_DISTRIB):
        raise UnsupportedMath(f"distrib:{url[len(_DISTRIB) :]}", "distrib_math")
    raise UnsupportedMath(f"csymbol {(el.text or '').strip()!r}", "csymbol")


def convert_function_definition(
    fd: libsbml.FunctionDefinition, functions: FunctionDefinitions
) -> tuple[tuple[str, ...], Expr]:
    """Convert a `<functionDefinition>` (a lambda) into `(argument names, body)`."""
    lam = fd.getMath()
    root = _math_root(lam) if lam is not None else None
    if root is None or _tag(root) != "lambda":
        raise UnsupportedMath(f"functionDefinition {fd.getId()!r}", "function_not_lambda")
    kids = _children(root)
    bvars = [k for k in kids if _tag(k) == "bvar"]
    body = [k for k in kids if _tag(k) != "bvar"]
    names = tuple((_children(b)[0].text or "").strip() for b in bvars)
    if len(body) != 1:
        raise UnsupportedMath(f"functionDefinition {fd.getId()!r}", "function_not_lambda")
    # Arguments must not be renamed by the caller's scope, so no rename map here.
    return names, _convert(body[0], functions, {})

"""A small, immutable expression tree for SBML math, and its evaluation with `jax.numpy`.

SBML math (MathML) is converted once, at import, into these nodes (see `sbmljax.sbml._mathml`). Nothing is
ever evaluated from strings: the compiler walks the tree at trace time and emits `jax.numpy` operations, so
parameters stay traced inputs and every expression is differentiable where its operations are.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import jax.numpy as jnp
import jax.scipy.special as jsp

AVOGADRO = 6.02214179e23
"""The Avogadro constant as SBML Level 3 defines its `avogadro` csymbol (CODATA 2006), used for both that
symbol and mole → molecule conversion so the two agree (and agree with libRoadRunner). The 2019 SI value
6.02214076e23 differs by 1.7e-7, relatively."""


@dataclasses.dataclass(frozen=True)
class Num:
    """A numeric literal."""

    value: float


@dataclasses.dataclass(frozen=True)
class Bool:
    """A boolean literal (`true`/`false`)."""

    value: bool


@dataclasses.dataclass(frozen=True)
class Sym:
    """A reference to a species, compartment or parameter id (local parameters as `reaction.param`)."""

    name: str


@dataclasses.dataclass(frozen=True)
class Time:
    """The simulation time (`csymbol time`)."""


@dataclasses.dataclass(frozen=True)
class Call:
    """An operator or built-in function applied to arguments; `op` is a key of `OPERATORS`."""

    op: str
    args: tuple[Expr, ...]


@dataclasses.dataclass(frozen=True)
class Piecewise:
    """`piecewise`: the first `(value, condition)` whose condition holds, else `otherwise`."""

    pieces: tuple[tuple[Expr, Expr], ...]
    otherwise: Expr | None


Expr = Num | Bool | Sym | Time | Call | Piecewise


def _f(x):
    """Booleans take part in arithmetic as 0/1 (libsbml accepts such math; MathML 2 strictly does not)."""
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(float)) if x.dtype == bool else x


def _b(x):
    x = jnp.asarray(x)
    return x if x.dtype == bool else x != 0


def _root(deg, x):
    deg, x = _f(deg), _f(x)
    # An odd integer root of a negative number is real: MathML <root> means the real root.
    odd = jnp.logical_and(jnp.mod(deg, 2) == 1, x < 0)
    return jnp.where(odd, -jnp.power(jnp.abs(x), 1.0 / deg), jnp.power(x, 1.0 / deg))


def _variadic(fn: Callable, unit: float) -> Callable:
    def op(*args):
        if not args:
            return jnp.asarray(unit)
        out = _f(args[0])
        for a in args[1:]:
            out = fn(out, _f(a))
        return out

    return op


def _logical(fn: Callable, unit: bool) -> Callable:
    def op(*args):
        if not args:
            return jnp.asarray(unit)
        out = _b(args[0])
        for a in args[1:]:
            out = fn(out, _b(a))
        return out

    return op


def _relational(fn: Callable) -> Callable:
    # MathML relations are n-ary and chain: a < b < c means a < b and b < c.
    def op(*args):
        out = jnp.asarray(True)
        for a, b in zip(args[:-1], args[1:]):
            out = jnp.logical_and(out, fn(_f(a), _f(b)))
        return out

    return op


def _minus(*args):
    if len(args) == 1:
        return -_f(args[0])
    return _f(args[0]) - _f(args[1])


OPERATORS: dict[str, Callable] = {
    "plus": _variadic(jnp.add, 0.0),
    "times": _variadic(jnp.multiply, 1.0),
    "minus": _minus,
    "divide": lambda a, b: _f(a) / _f(b),
    "power": lambda a, b: jnp.power(_f(a), _f(b)),
    "root": _root,
    "exp": lambda a: jnp.exp(_f(a)),
    "ln": lambda a: jnp.log(_f(a)),
    "log": lambda base, a: jnp.log(_f(a)) / jnp.log(_f(base)),
    "abs": lambda a: jnp.abs(_f(a)),
    "floor": lambda a: jnp.floor(_f(a)),
    "ceiling": lambda a: jnp.ceil(_f(a)),
    "factorial": lambda a: jnp.exp(jsp.gammaln(_f(a) + 1.0)),
    "min": lambda *a: _variadic(jnp.minimum, math.inf)(*a),
    "max": lambda *a: _variadic(jnp.maximum, -math.inf)(*a),
    "quotient": lambda a, b: jnp.trunc(_f(a) / _f(b)),
    "rem": lambda a, b: jnp.fmod(_f(a), _f(b)),
    "sin": lambda a: jnp.sin(_f(a)),
    "cos": lambda a: jnp.cos(_f(a)),
    "tan": lambda a: jnp.tan(_f(a)),
    "sec": lambda a: 1.0 / jnp.cos(_f(a)),
    "csc": lambda a: 1.0 / jnp.sin(_f(a)),
    "cot": lambda a: 1.0 / jnp.tan(_f(a)),
    "sinh": lambda a: jnp.sinh(_f(a)),
    "cosh": lambda a: jnp.cosh(_f(a)),
    "tanh": lambda a: jnp.tanh(_f(a)),
    "sech": lambda a: 1.0 / jnp.cosh(_f(a)),
    "csch": lambda a: 1.0 / jnp.sinh(_f(a)),
    "coth": lambda a: 1.0 / jnp.tanh(_f(a)),
    "arcsin": lambda a: jnp.arcsin(_f(a)),
    "arccos": lambda a: jnp.arccos(_f(a)),
    "arctan": lambda a: jnp.arctan(_f(a)),
    "arcsec": lambda a: jnp.arccos(1.0 / _f(a)),
    "arccsc": lambda a: jnp.arcsin(1.0 / _f(a)),
    "arccot": lambda a: jnp.arctan(1.0 / _f(a)),
    "arcsinh": lambda a: jnp.arcsinh(_f(a)),
    "arccosh": lambda a: jnp.arccosh(_f(a)),
    "arctanh": lambda a: jnp.arctanh(_f(a)),
    "arcsech": lambda a: jnp.arccosh(1.0 / _f(a)),
    "arccsch": lambda a: jnp.arcsinh(1.0 / _f(a)),
    "arccoth": lambda a: jnp.arctanh(1.0 / _f(a)),
    "and": _logical(jnp.logical_and, True),
    "or": _logical(jnp.logical_or, False),
    "xor": _logical(jnp.logical_xor, False),
    "not": lambda a: jnp.logical_not(_b(a)),
    "implies": lambda a, b: jnp.logical_or(jnp.logical_not(_b(a)), _b(b)),
    "eq": _relational(jnp.equal),
    "neq": lambda a, b: jnp.not_equal(_f(a), _f(b)),
    "gt": _relational(jnp.greater),
    "geq": _relational(jnp.greater_equal),
    "lt": _relational(jnp.less),
    "leq": _relational(jnp.less_equal),
}

BOOLEAN_OPS = frozenset({"and", "or", "xor", "not", "implies", "eq", "neq", "gt", "geq", "lt", "leq"})

_INFIX = {"plus": "+", "minus": "-", "times": "*", "divide": "/", "power": "^"}
_RELATION_TEXT = {"eq": "==", "neq": "!=", "gt": ">", "geq": ">=", "lt": "<", "leq": "<="}


def evaluate(expr: Expr, env: Mapping[str, object], t: object = 0.0):
    """Evaluate `expr` with `jax.numpy`, looking symbols up in `env` (traceable under `jit`/`grad`).

    **Arguments:**

    - `expr`: the expression tree.
    - `env`: a mapping from symbol name to a scalar (a Python float or a JAX array).
    - `t`: the value of `time`.

    **Returns:** a scalar JAX array (boolean for relations and logic, floating otherwise).

    **Raises:** `KeyError` naming the symbol if it is not in `env`.
    """
    if isinstance(expr, Num):
        return jnp.asarray(expr.value, dtype=jnp.result_type(float))
    if isinstance(expr, Bool):
        return jnp.asarray(expr.value)
    if isinstance(expr, Sym):
        return env[expr.name]
    if isinstance(expr, Time):
        return t
    if isinstance(expr, Call):
        return OPERATORS[expr.op](*(evaluate(a, env, t) for a in expr.args))
    if isinstance(expr, Piecewise):
        out = evaluate(expr.otherwise, env, t) if expr.otherwise is not None else jnp.nan
        # Build from the last piece backwards so the first true condition wins, as MathML requires.
        for value, cond in reversed(expr.pieces):
            out = jnp.where(_b(evaluate(cond, env, t)), _f(evaluate(value, env, t)), _f(out))
        return out
    raise TypeError(f"not an expression node: {expr!r}")


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `expr`."""
    if isinstance(expr, Call):
        return expr.args
    if isinstance(expr, Piecewise):
        kids = [e for pair in expr.pieces for e in pair]
        return tuple(kids + ([expr.otherwise] if expr.otherwise is not None else []))
    return ()


def walk(expr: Expr):
    """Yield `expr` and every node below it, depth first."""
    yield expr
    for c in children(expr):
        yield from walk(c)


def symbols(expr: Expr) -> frozenset[str]:
    """The set of symbol names `expr` refers to."""
    return frozenset(n.name for n in walk(expr) if isinstance(n, Sym))


def symbols_through(expr: Expr, rules: Mapping[str, Expr]) -> frozenset[str]:
    """The symbols `expr` reads, directly or through the assignment `rules` (variable -> expression) of the
    symbols it reads, transitively: what a value computed from `expr` changes with."""
    seen: set[str] = set()
    todo = set(symbols(expr))
    while todo:
        v = todo.pop()
        if v not in seen:
            seen.add(v)
            todo |= set(symbols(rules[v])) if v in rules else set()
    return frozenset(seen)


def uses_time(expr: Expr) -> bool:
    """Whether `expr` refers to `time` directly."""
    return any(isinstance(n, Time) for n in walk(expr))


def substitute(expr: Expr, mapping: Mapping[str, Expr]) -> Expr:
    """Replace symbols by expressions (used to inline function definitions and rename local parameters)."""
    if isinstance(expr, Sym):
        return mapping.get(expr.name, expr)
    if isinstance(expr, Call):
        return Call(expr.op, tuple(substitute(a, mapping) for a in expr.args))
    if isinstance(expr, Piecewise):
        pieces = tuple((substitute(v, mapping), substitute(c, mapping)) for v, c in expr.pieces)
        other = substitute(expr.otherwise, mapping) if expr.otherwise is not None else None
        return Piecewise(pieces, other)
    return expr


def to_string(expr: Expr) -> str:
    """Infix text of `expr`, for messages and documentation (not for evaluation)."""
    if isinstance(expr, Num):
        v = expr.value
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(expr, Bool):
        return "true" if expr.value else "false"
    if isinstance(expr, Sym):
        return expr.name
    if isinstance(expr, Time):
        return "time"
    if isinstance(expr, Piecewise):
        parts = [f"{to_string(v)} if {to_string(c)}" for v, c in expr.pieces]
        if expr.otherwise is not None:
            parts.append(f"otherwise {to_string(expr.otherwise)}")
        return "piecewise(" + ", ".join(parts) + ")"
    if isinstance(expr, Call):
        args = [to_string(a) for a in expr.args]
        if expr.op == "minus" and len(args) == 1:
            return f"-({args[0]})"
        if expr.op in _INFIX and len(args) >= 2:
            return "(" + f" {_INFIX[expr.op]} ".join(args) + ")"
        if expr.op in _RELATION_TEXT and len(args) == 2:
            return f"({args[0]} {_RELATION_TEXT[expr.op]} {args[1]})"
        return f"{expr.op}(" + ", ".join(args) + ")"
    raise TypeError(f"not an expression node: {expr!r}")


def times(*factors: Expr) -> Expr:
    """A product node, flattening nested products and dropping factors of exactly 1."""
    flat: list[Expr] = []
    for f in factors:
        if isinstance(f, Call) and f.op == "times":
            flat.extend(f.args)
        elif not (isinstance(f, Num) and f.value == 1.0):
            flat.append(f)
    if not flat:
        return Num(1.0)
    return flat[0] if len(flat) == 1 else Call("times", tuple(flat))


class DependencyCycle(ValueError):
    """Assignments that read each other in a cycle; `names` lists the variables left unordered."""

    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(", ".join(names))


def dependency_order(assignments: Sequence[tuple[str, Expr]]) -> tuple[tuple[str, Expr], ...]:
    """Order `(variable, expression)` pairs so that each comes after those it reads (Kahn's algorithm,
    keeping the given order among those ready at once).

    **Raises:** `DependencyCycle` naming the variables of a cycle (an algebraic loop).
    """
    pending = dict(assignments)
    order: list[tuple[str, Expr]] = []
    while pending:
        ready = [v for v, e in pending.items() if not (symbols(e) & (set(pending) - {v}))]
        if not ready:
            raise DependencyCycle(sorted(pending))
        for v in ready:
            order.append((v, pending.pop(v)))
    return tuple(order)

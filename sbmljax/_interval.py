"""Interval bounds of SBML math over a time window, for thinning (extrande's propensity bound).

Between two reaction firings the counts are fixed, so a propensity is a function of time alone. Evaluating
its expression tree with interval arithmetic (Moore 1966), `time` ranging over `[t_lo, t_hi]`, gives an
enclosure `[lo, hi]` of its values over the window; `hi` is the bound extrande thins against. Sub-trees that
do not depend on time (directly or through an assignment rule) are evaluated as points, so any operator may
appear there; an operator that has no interval rule here, applied to a time-dependent argument, is refused
before the run (`unboundable`). Where an enclosure is not finite (a division by an interval holding 0,
`ln` of one reaching 0, an overflow), `explain` names the sub-expression, eagerly, for the error message.

Enclosures are as exact as the floating-point evaluation of the end points (no outward rounding): the
simulator inflates the bound by a relative 1e-9, far above float64 rounding, and stops with an error if a
propensity is ever found above it.

**Reference:** R. E. Moore, *Interval Analysis*, Prentice-Hall (1966).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax.numpy as jnp
import jax.scipy.special as jsp

from ._expr import BOOLEAN_OPS, Call, Expr, Num, Piecewise, Sym, Time, evaluate, symbols, to_string, walk


class Interval(NamedTuple):
    """A numeric enclosure `[lo, hi]` (scalar arrays)."""

    lo: Any
    hi: Any


class Truth(NamedTuple):
    """A boolean enclosure: whether the condition may be true, and whether it may be false, in the window."""

    may_true: Any
    may_false: Any


Bound = Interval | Truth

_INCREASING: dict[str, Callable] = {
    "exp": jnp.exp,
    "ln": jnp.log,
    "floor": jnp.floor,
    "ceiling": jnp.ceil,
    "sinh": jnp.sinh,
    "tanh": jnp.tanh,
    "arctan": jnp.arctan,
    "arcsinh": jnp.arcsinh,
    "arcsin": jnp.arcsin,
    "arccosh": jnp.arccosh,
    "arctanh": jnp.arctanh,
}
_DECREASING: dict[str, Callable] = {"arccos": jnp.arccos}
# Reciprocal and ratio forms: bounded through `divide`, finite wherever the divisor's enclosure avoids 0.
_RATIOS: dict[str, Callable[[Expr], tuple[Expr, Expr]]] = {
    "tan": lambda a: (Call("sin", (a,)), Call("cos", (a,))),
    "sec": lambda a: (Num(1.0), Call("cos", (a,))),
    "csc": lambda a: (Num(1.0), Call("sin", (a,))),
    "cot": lambda a: (Call("cos", (a,)), Call("sin", (a,))),
    "sech": lambda a: (Num(1.0), Call("cosh", (a,))),
    "csch": lambda a: (Num(1.0), Call("sinh", (a,))),
    "coth": lambda a: (Call("cosh", (a,)), Call("sinh", (a,))),
}
_INVERSE_RECIPROCAL = {"arcsec": "arccos", "arccsc": "arcsin", "arccot": "arctan", "arcsech": "arccosh"}
_OTHER = frozenset(
    {
        "plus",
        "minus",
        "times",
        "divide",
        "power",
        "root",
        "log",
        "abs",
        "min",
        "max",
        "sin",
        "cos",
        "cosh",
        "quotient",
        "rem",
        "factorial",
    }
)
BOUNDED_OPS = (
    frozenset(_INCREASING)
    | frozenset(_DECREASING)
    | frozenset(_RATIOS)
    | frozenset(_INVERSE_RECIPROCAL)
    | _OTHER
    | BOOLEAN_OPS
)
"""Operators with an interval rule (applied to time-dependent arguments)."""


def depends_on_time(expr: Expr, time_symbols: frozenset[str]) -> bool:
    """Whether `expr` reads `time`, directly or through one of `time_symbols` (time-dependent rules)."""
    return any(isinstance(n, Time) for n in walk(expr)) or bool(symbols(expr) & time_symbols)


def unboundable(expr: Expr, time_symbols: frozenset[str]) -> list[str]:
    """Sub-expressions applying an operator without an interval rule to a time-dependent argument."""
    out: list[str] = []

    def visit(e: Expr) -> None:
        if not depends_on_time(e, time_symbols):
            return
        if isinstance(e, Call):
            if e.op not in BOUNDED_OPS:
                out.append(f"'{e.op}' in {to_string(e)}")
                return
            if e.op == "root" and len(e.args) == 2 and depends_on_time(e.args[0], time_symbols):
                out.append(f"a time-dependent root degree in {to_string(e)}")
                return
        for c in _kids(e):
            visit(c)

    visit(expr)
    return out


def _kids(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, Call):
        return e.args
    if isinstance(e, Piecewise):
        return tuple(x for pair in e.pieces for x in pair) + ((e.otherwise,) if e.otherwise is not None else ())
    return ()


def _num(b: Bound) -> Interval:
    if isinstance(b, Truth):  # a boolean in arithmetic is 0 or 1
        return Interval(jnp.where(b.may_false, 0.0, 1.0), jnp.where(b.may_true, 1.0, 0.0))
    return Interval(jnp.asarray(b.lo, dtype=float), jnp.asarray(b.hi, dtype=float))


def _truth(b: Bound) -> Truth:
    if isinstance(b, Interval):  # a number as a condition is "not zero"
        zero_only = (b.lo == 0) & (b.hi == 0)
        return Truth(~zero_only, (b.lo <= 0) & (b.hi >= 0))
    return b


def _point(v) -> Bound:
    v = jnp.asarray(v)
    if v.dtype == bool:
        return Truth(v, ~v)
    return Interval(v, v)


def _hull(values: list) -> Interval:
    lo = values[0]
    hi = values[0]
    for v in values[1:]:
        lo, hi = jnp.minimum(lo, v), jnp.maximum(hi, v)
    return Interval(lo, hi)


def _mul(a: Interval, b: Interval) -> Interval:
    # 0 × ∞ is 0 in interval arithmetic (the factor 0 is exact), not NaN.
    products = [jnp.where((x == 0) | (y == 0), 0.0, x * y) for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    return _hull(products)


def _recip(b: Interval) -> Interval:
    holds_zero = (b.lo <= 0) & (b.hi >= 0)
    return Interval(jnp.where(holds_zero, -jnp.inf, 1.0 / b.hi), jnp.where(holds_zero, jnp.inf, 1.0 / b.lo))


def _div(a: Interval, b: Interval) -> Interval:
    return _mul(a, _recip(b))


def _add(a: Interval, b: Interval) -> Interval:
    return Interval(a.lo + b.lo, a.hi + b.hi)


def _neg(a: Interval) -> Interval:
    return Interval(-a.hi, -a.lo)


def _abs(a: Interval) -> Interval:
    lo = jnp.where(a.lo >= 0, a.lo, jnp.where(a.hi <= 0, -a.hi, 0.0))
    return Interval(lo, jnp.maximum(jnp.abs(a.lo), jnp.abs(a.hi)))


def _sin(a: Interval) -> Interval:
    two_pi = 2.0 * math.pi
    wide = (a.hi - a.lo) >= two_pi
    peak = math.pi / 2 + two_pi * jnp.ceil((a.lo - math.pi / 2) / two_pi)  # first maximum at or after lo
    trough = -math.pi / 2 + two_pi * jnp.ceil((a.lo + math.pi / 2) / two_pi)
    s_lo, s_hi = jnp.sin(a.lo), jnp.sin(a.hi)
    hi = jnp.where(wide | (peak <= a.hi), 1.0, jnp.maximum(s_lo, s_hi))
    lo = jnp.where(wide | (trough <= a.hi), -1.0, jnp.minimum(s_lo, s_hi))
    return Interval(lo, hi)


def _power(base: Interval, expo_expr: Expr, expo: Interval) -> Interval:
    if isinstance(expo_expr, Num) and float(expo_expr.value).is_integer():
        n = int(expo_expr.value)
        if n == 0:
            return Interval(jnp.ones_like(base.lo), jnp.ones_like(base.hi))
        m = abs(n)
        if m % 2 == 0:
            mag = _abs(base)
            out = Interval(mag.lo**m, mag.hi**m)
        else:
            out = Interval(base.lo**m, base.hi**m)
        return out if n > 0 else _recip(out)
    if isinstance(expo_expr, Num):  # a non-integer power needs a non-negative base (NaN below 0, as jnp.power)
        e = expo_expr.value
        lo, hi = jnp.power(base.lo, e), jnp.power(base.hi, e)
        return Interval(lo, hi) if e > 0 else Interval(hi, lo)
    # General: x^y = exp(y·ln x) for x ≥ 0; a base that may be negative has no bound here (NaN).
    ln = Interval(jnp.log(base.lo), jnp.log(base.hi))
    prod = _mul(expo, ln)
    out = Interval(jnp.exp(prod.lo), jnp.exp(prod.hi))
    neg = base.lo < 0
    return Interval(jnp.where(neg, jnp.nan, out.lo), jnp.where(neg, jnp.nan, out.hi))


def _compare(op: str, a: Interval, b: Interval) -> Truth:
    if op in ("gt", "geq"):
        a, b = b, a
        op = "lt" if op == "gt" else "leq"
    if op == "lt":
        return Truth(a.lo < b.hi, a.hi >= b.lo)
    if op == "leq":
        return Truth(a.lo <= b.hi, a.hi > b.lo)
    overlap = (a.lo <= b.hi) & (b.lo <= a.hi)
    single = (a.lo == a.hi) & (b.lo == b.hi) & (a.lo == b.lo)
    eq = Truth(overlap, ~single)
    return eq if op == "eq" else Truth(eq.may_false, eq.may_true)


def _logic(op: str, args: list[Truth]) -> Truth:
    if op == "not":
        return Truth(args[0].may_false, args[0].may_true)
    if op == "implies":
        return _logic("or", [Truth(args[0].may_false, args[0].may_true), args[1]])
    if op == "and":
        out = Truth(jnp.asarray(True), jnp.asarray(False))
        for a in args:
            out = Truth(out.may_true & a.may_true, out.may_false | a.may_false)
        return out
    if op == "or":
        out = Truth(jnp.asarray(False), jnp.asarray(True))
        for a in args:
            out = Truth(out.may_true | a.may_true, out.may_false & a.may_false)
        return out
    out = Truth(jnp.asarray(False), jnp.asarray(True))  # xor
    for a in args:
        out = Truth(
            (out.may_true & a.may_false) | (out.may_false & a.may_true),
            (out.may_true & a.may_true) | (out.may_false & a.may_false),
        )
    return out


class _Bounder:
    """Evaluates enclosures of expressions for one state and window (recursively, at trace time)."""

    def __init__(
        self,
        env: Mapping[str, object],
        intervals: Mapping[str, Bound],
        window: Interval,
        t_point,
        time_symbols: frozenset[str],
        report: list[str] | None = None,
    ):
        self.env, self.intervals, self.window, self.t_point = env, intervals, window, t_point
        self.time_symbols, self.report = time_symbols, report
        self.rule_reasons: dict[str, str] = {}
        self._tdep: dict[int, bool] = {}

    def time_dependent(self, e: Expr) -> bool:
        key = id(e)
        if key not in self._tdep:
            if isinstance(e, Time):
                self._tdep[key] = True
            elif isinstance(e, Sym):
                self._tdep[key] = e.name in self.time_symbols
            else:
                self._tdep[key] = any(self.time_dependent(c) for c in _kids(e))
        return self._tdep[key]

    def __call__(self, e: Expr) -> Bound:
        if not self.time_dependent(e):
            return _point(evaluate(e, self.env, self.t_point))
        if isinstance(e, Time):
            return self.window
        if isinstance(e, Sym):
            out = self.intervals[e.name]
            if self.report is not None and not self.report and e.name in self.rule_reasons:
                self.report.append(f"assignment rule '{e.name}': {self.rule_reasons[e.name]}")
            return out
        if isinstance(e, Piecewise):
            return self._piecewise(e)
        assert isinstance(e, Call)
        out = self._call(e)
        if self.report is not None and isinstance(out, Interval) and not self.report:
            finite = bool(jnp.isfinite(out.lo)) and bool(jnp.isfinite(out.hi))
            if not finite:
                args = [_num(self(a)) for a in e.args]
                if all(bool(jnp.isfinite(a.lo)) and bool(jnp.isfinite(a.hi)) for a in args):
                    shown = ", ".join(f"[{float(a.lo):.6g}, {float(a.hi):.6g}]" for a in args)
                    why = (
                        "divides by an interval that contains 0"
                        if e.op == "divide" or e.op in _RATIOS
                        else "has no finite bound"
                    )
                    self.report.append(f"{to_string(e)} {why} (its arguments range over {shown})")
        return out

    def _piecewise(self, e: Piecewise) -> Interval:
        # The hull of every piece that may be selected somewhere in the window; a missing `otherwise` (NaN in
        # SBML) adds nothing: a propensity evaluated NaN stops the run where it occurs.
        reachable = jnp.asarray(True)
        lo, hi = jnp.asarray(jnp.inf), jnp.asarray(-jnp.inf)
        for value, cond in e.pieces:
            c = _truth(self(cond))
            take = reachable & c.may_true
            v = _num(self(value))
            lo, hi = jnp.where(take, jnp.minimum(lo, v.lo), lo), jnp.where(take, jnp.maximum(hi, v.hi), hi)
            reachable = reachable & c.may_false
        if e.otherwise is not None:
            v = _num(self(e.otherwise))
            lo, hi = jnp.where(reachable, jnp.minimum(lo, v.lo), lo), jnp.where(reachable, jnp.maximum(hi, v.hi), hi)
        return Interval(lo, hi)

    def _call(self, e: Call) -> Bound:
        op = e.op
        if op in BOOLEAN_OPS:
            if op in ("and", "or", "xor", "not", "implies"):
                return _logic(op, [_truth(self(a)) for a in e.args])
            nums = [_num(self(a)) for a in e.args]
            if op == "neq":
                return _compare(op, nums[0], nums[1])
            holds = Truth(jnp.asarray(True), jnp.asarray(False))
            for a, b in zip(nums[:-1], nums[1:]):  # chained relations: a < b < c
                holds = _logic("and", [holds, _compare(op, a, b)])
            return holds
        if op in _RATIOS:
            num, den = _RATIOS[op](e.args[0])
            return _div(_num(self(num)), _num(self(den)))
        if op in _INVERSE_RECIPROCAL:
            return self(Call(_INVERSE_RECIPROCAL[op], (Call("divide", (Num(1.0), e.args[0])),)))
        args = [_num(self(a)) for a in e.args]
        if op in _INCREASING:
            f = _INCREASING[op]
            return Interval(f(args[0].lo), f(args[0].hi))
        if op in _DECREASING:
            f = _DECREASING[op]
            return Interval(f(args[0].hi), f(args[0].lo))
        if op == "plus":
            out = Interval(jnp.asarray(0.0), jnp.asarray(0.0))
            for a in args:
                out = _add(out, a)
            return out
        if op == "times":
            out = Interval(jnp.asarray(1.0), jnp.asarray(1.0))
            for a in args:
                out = _mul(out, a)
            return out
        if op == "minus":
            return _neg(args[0]) if len(args) == 1 else _add(args[0], _neg(args[1]))
        if op == "divide":
            return _div(args[0], args[1])
        if op == "power":
            return _power(args[0], e.args[1], args[1])
        if op == "root":
            deg, x = (args[0], args[1]) if len(args) == 2 else (Interval(2.0, 2.0), args[0])
            from ._expr import OPERATORS

            return Interval(OPERATORS["root"](deg.lo, x.lo), OPERATORS["root"](deg.lo, x.hi))
        if op == "log":
            base, x = args
            return _div(Interval(jnp.log(x.lo), jnp.log(x.hi)), Interval(jnp.log(base.lo), jnp.log(base.hi)))
        if op == "abs":
            return _abs(args[0])
        if op in ("min", "max"):
            f = jnp.minimum if op == "min" else jnp.maximum
            lo, hi = args[0].lo, args[0].hi
            for a in args[1:]:
                lo, hi = f(lo, a.lo), f(hi, a.hi)
            return Interval(lo, hi)
        if op == "sin":
            return _sin(args[0])
        if op == "cos":
            return _sin(_add(args[0], Interval(math.pi / 2, math.pi / 2)))
        if op == "cosh":
            m = _abs(args[0])
            return Interval(jnp.cosh(m.lo), jnp.cosh(m.hi))
        if op == "quotient":  # trunc(a/b), and trunc is non-decreasing
            q = _div(args[0], args[1])
            return Interval(jnp.trunc(q.lo), jnp.trunc(q.hi))
        if op == "rem":  # fmod(a, b) has a's sign and |fmod| < |b|
            m = _abs(args[1]).hi
            a = args[0]
            return Interval(jnp.where(a.lo >= 0, 0.0, -m), jnp.where(a.hi <= 0, 0.0, m))
        if op == "factorial":  # Γ(x+1) is log-convex: its maximum over an interval is at an end
            f_lo, f_hi = jnp.exp(jsp.gammaln(args[0].lo + 1.0)), jnp.exp(jsp.gammaln(args[0].hi + 1.0))
            hi = jnp.where(args[0].lo < 0, jnp.nan, jnp.maximum(f_lo, f_hi))
            return Interval(jnp.minimum(jnp.minimum(f_lo, f_hi), 0.8856031944108887), hi)
        raise ValueError(f"no interval rule for operator {op!r}")  # `unboundable` refuses these first


def rule_bounds(bounder: _Bounder, rules, time_symbols: frozenset[str]) -> None:
    """Fill `bounder.intervals` with the enclosures of the time-dependent assignment rules, in order (with
    the reason of each one that has no finite enclosure, when `bounder` reports)."""
    intervals = dict(bounder.intervals)
    bounder.intervals = intervals
    report = bounder.report
    for v, e in rules:
        if v in time_symbols:
            if report is not None:
                bounder.report = []
            intervals[v] = bounder(e)
            if report is not None and bounder.report:
                bounder.rule_reasons[v] = bounder.report[0]
    bounder.report = report


def _setup(net, x, p, t_lo, t_hi, report=None) -> _Bounder:
    plan = net.plan
    tsyms = net.time_dependent_rules
    env = plan.base_env(x, p)
    for v, e in plan.rules:  # time-independent rules as points, at any time
        if v not in tsyms:
            env[v] = evaluate(e, env, t_lo)
    window = Interval(jnp.asarray(t_lo, dtype=float), jnp.asarray(t_hi, dtype=float))
    bounder = _Bounder(env, {}, window, t_lo, tsyms, report)
    rule_bounds(bounder, plan.rules, tsyms)
    return bounder


def channel_bounds(net, x, p, t_lo, t_hi):
    """An upper bound of every channel's propensity over `t ∈ [t_lo, t_hi]`, counts `x` held fixed.

    Time-independent channels get their value; the others the upper end of their enclosure (`inf` or NaN
    where none is finite). Traceable under `jit` and `vmap` (over the window).
    """
    plan = net.plan
    bounder = _setup(net, x, p, t_lo, t_hi)
    factor = Interval(jnp.asarray(plan.model.extent_factor), jnp.asarray(plan.model.extent_factor))
    if not plan.channel_laws:
        return jnp.zeros((0,), dtype=float)
    return jnp.stack([jnp.asarray(_mul(_num(bounder(e)), factor).hi, dtype=float) for e in plan.channel_laws])


def explain(net, x, p, t_lo: float, t_hi: float) -> list[tuple[str, str]]:
    """`(reaction, why)` for each channel with no finite bound over `[t_lo, t_hi]` (eager, for messages)."""
    plan = net.plan
    out = []
    for k, e in enumerate(plan.channel_laws):
        report: list[str] = []
        bounder = _setup(net, x, p, t_lo, t_hi, report)
        b = _num(bounder(e))
        if not (bool(jnp.isfinite(b.hi)) and bool(jnp.isfinite(b.lo))):
            why = report[0] if report else f"its rate law {to_string(e)} has no finite bound"
            out.append((net.channel_of_reaction(k), why))
    return out

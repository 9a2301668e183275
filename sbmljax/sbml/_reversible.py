"""Split the net rate law of a reversible reaction into forward and backward propensities.

A stochastic simulator needs one non-negative propensity per direction. SBML states a reversible reaction's
net rate, e.g. `compartment * (kf*A*B - kr*C)`. When the law has the form `forward − backward` where both
sides are products of non-negative factors (optionally under a common factor or divisor), it is split as
COPASI's "convert to irreversible" does (Hoops et al. 2006). Any other form is refused, since the split is
then not determined by the law.
"""

from __future__ import annotations

from .._expr import Bool, Call, Expr, Num, Sym, times


def is_nonnegative_product(e: Expr) -> bool:
    """Whether `e` is a product/quotient/power of symbols and non-negative constants.

    Symbols (species, parameters, compartments) are taken to be non-negative; a negative parameter value is
    caught at run time as a negative propensity.
    """
    if isinstance(e, Num):
        return e.value >= 0
    if isinstance(e, Sym):
        return True
    if isinstance(e, Bool):
        return False
    if isinstance(e, Call):
        if e.op in ("times", "divide"):
            return all(is_nonnegative_product(a) for a in e.args)
        if e.op == "power":
            return is_nonnegative_product(e.args[0])
        if e.op == "exp":
            return True
        if e.op == "plus":
            return all(is_nonnegative_product(a) for a in e.args)
    return False


def split_net_rate(e: Expr) -> tuple[Expr, Expr] | None:
    """Split `forward − backward` into its two sides, or return `None` if `e` is not of that form."""
    if isinstance(e, Call):
        if e.op == "minus" and len(e.args) == 2:
            f, b = e.args
            if is_nonnegative_product(f) and is_nonnegative_product(b):
                return f, b
            return None
        if e.op == "times":
            # Exactly one factor may be the difference; the rest multiply both sides.
            diffs = [i for i, a in enumerate(e.args) if not is_nonnegative_product(a)]
            if len(diffs) != 1:
                return None
            inner = split_net_rate(e.args[diffs[0]])
            if inner is None:
                return None
            others = [a for i, a in enumerate(e.args) if i != diffs[0]]
            return times(*others, inner[0]), times(*others, inner[1])
        if e.op == "divide" and len(e.args) == 2 and is_nonnegative_product(e.args[1]):
            inner = split_net_rate(e.args[0])
            if inner is None:
                return None
            return Call("divide", (inner[0], e.args[1])), Call("divide", (inner[1], e.args[1]))
    return None

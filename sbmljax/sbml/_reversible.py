"""Read a reversible-flagged reaction's rate law: a net rate to split, or one propensity as written.

A stochastic simulator needs one non-negative propensity per direction. SBML states a reversible reaction's
net rate, e.g. `compartment * (kf*A*B - kr*C)`; but model editors (Antimony, for one, writes every `->` as
`reversible="true"`) set the flag on laws that are not net rates at all, such as the dimerisation propensity
`kd*P*(P-1)/2` or `piecewise(0.5*X, X > 20, 0.1*X)`.

The rule, as a kineticist reads a law (and as COPASI's "convert to irreversible" splits one, Hoops et al.
2006), is applied by `read_reversible`:

- The law is split only when it is a genuine net rate: a top-level difference `forward − backward` of
  non-negative terms, possibly under common non-negative factors or divisors (the compartment, a
  volume), where the forward term (with those common factors) reads at least one reactant species of the
  reaction (unless it has none) and the backward term reads at least one product species. A difference
  whose subtracted term reads no product (`(P - 1)` in `k*P*(P-1)/2`, the constant in `k1*A - k2` for a
  reaction without products) is not a direction of this reaction.
- Any other law is the reaction's forward propensity as written, which is what libRoadRunner and GillesPy2
  simulate. The model's notes say so; a law that turns negative at run time is caught by the simulators'
  run-time check, which names the reaction, the time and the state.
"""

from __future__ import annotations

import dataclasses

from .._expr import Bool, Call, Expr, Num, Sym, symbols, times


def is_nonnegative_product(e: Expr) -> bool:
    """Whether `e` is a product/quotient/power/sum of symbols and non-negative constants.

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


def _difference(e: Expr) -> tuple[Expr, Expr] | None:
    """`e` as `forward − backward` with non-negative sides, common non-negative factors and divisors
    distributed over both, or `None` if it is not of that form."""
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
            inner = _difference(e.args[diffs[0]])
            if inner is None:
                return None
            others = [a for i, a in enumerate(e.args) if i != diffs[0]]
            return times(*others, inner[0]), times(*others, inner[1])
        if e.op == "divide" and len(e.args) == 2 and is_nonnegative_product(e.args[1]):
            inner = _difference(e.args[0])
            if inner is None:
                return None
            return Call("divide", (inner[0], e.args[1])), Call("divide", (inner[1], e.args[1]))
    return None


NOT_A_DIFFERENCE = "it is not a difference forward − backward"


def _has_top_level_difference(e: Expr) -> bool:
    """Whether a binary `minus` appears in `e` under products and quotients only."""
    if isinstance(e, Call):
        if e.op == "minus" and len(e.args) == 2:
            return True
        if e.op in ("times", "divide"):
            return any(_has_top_level_difference(a) for a in e.args)
    return False


@dataclasses.dataclass(frozen=True)
class ReversibleReading:
    """How a reversible-flagged law is simulated: `backward is None` means `forward` is the law as written,
    and `why` then says why it was not split (`""` when it was)."""

    forward: Expr
    backward: Expr | None
    why: str = ""


def read_reversible(law: Expr, reactants: set[str], products: set[str]) -> ReversibleReading:
    """Split a reversible-flagged reaction's law into forward and backward propensities, or keep it whole.

    **Arguments:**

    - `law`: the kinetic law.
    - `reactants`, `products`: the reaction's reactant and product species ids.

    **Returns:** a `ReversibleReading` (see the module docstring for the rule).

    **Reference:** S. Hoops et al., "COPASI — a COmplex PAthway SImulator", Bioinformatics 22:3067 (2006)
    (the split of a net rate into two irreversible reactions).
    """
    if is_nonnegative_product(law):
        return ReversibleReading(law, None, NOT_A_DIFFERENCE)
    split = _difference(law)
    if split is None:
        if not _has_top_level_difference(law):
            return ReversibleReading(law, None, NOT_A_DIFFERENCE)
        return ReversibleReading(law, None, "it is not one difference of non-negative terms under common factors")
    forward, backward = split
    if not symbols(backward) & products:
        return ReversibleReading(law, None, "its subtracted term reads no product species")
    if reactants and not symbols(forward) & reactants:
        return ReversibleReading(law, None, "its first term reads no reactant species")
    return ReversibleReading(forward, backward)

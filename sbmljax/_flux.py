"""Which reactions' kinetic laws are deterministic fluxes rather than propensities (issue 13).

A stochastic simulator reads a kinetic law as a propensity: a rate at which the reaction fires, non-negative,
and zero when a reactant is used up. Curated repositories hold ODE models whose laws are fluxes of the
reaction-rate equations instead, and two forms cannot be propensities:

- **A net rate**: a reaction flagged irreversible whose law has the form that a reversible-flagged one is split
  at (`sbmljax.sbml._reversible.read_reversible`): a difference `forward − backward` of non-negative terms under
  common non-negative factors (`V·(kf·A·A − kb·D)`), the forward term reading a reactant and the backward one a
  product. Such a law is negative whenever the backward term is the larger: the reaction then runs backwards,
  which the ODE does and no firing of the reaction as written can. Other differences are not net rates of the
  reaction and are left to the run-time check: `k·P·(P−1)/2` (the dimerisation propensity), `(1 − g)·k·A` with
  `g` a fraction that is not a product of the reaction.
- **A law that does not vanish with a reactant**: it reads no reactant the reaction consumes (directly or
  through assignment rules), e.g. `g → ∅` at the constant rate `F`. The ODE drains `g` at that rate whatever
  its value; a propensity would have to stop at zero.

The exact methods read every law as a propensity and stop at run time when one is negative or a firing drives
a count below zero, naming the reaction and the state. The hybrid method runs these reactions in its ODE at all
times (their species are continuous and not clipped at zero: they are variables of the modeller's ODE), and
`method="auto"` chooses the hybrid method for a model that has one. This is the reading of Haseltine & Rawlings
(2002) and of the partitioned methods that follow them: reactions that the reaction-rate equations describe
belong to the continuous part; a net rate is the reaction-rate equations' description of a reversible pair
(COPASI splits it into two reactions only when it is told the law is reversible, Hoops et al. 2006).

References: E. L. Haseltine, J. B. Rawlings, J. Chem. Phys. 117:6959 (2002). S. Hoops et al., Bioinformatics
22:3067 (2006). D. T. Gillespie, J. Phys. Chem. 81:2340 (1977) (propensities: the probability rate of one
firing, which vanishes when a reactant is absent).
"""

from __future__ import annotations

from ._expr import symbols_through, to_string
from ._model import Model
from .sbml._reversible import read_reversible


def flux_reactions(model: Model) -> dict[str, str]:
    """The reactions whose laws are fluxes, not propensities (module docstring): reaction id → why.

    **Arguments:**

    - `model`: the loaded model.

    **Returns:** a dict in the model's reaction order; empty when every law can be read as a propensity.
    """
    rules = dict(model.assignment_rules)
    fixed = {s.id for s in model.species if s.boundary_condition or s.constant}

    out: dict[str, str] = {}
    for r in model.reactions:
        if r.backward is not None:
            continue  # split into two channels, each a propensity
        reactants, products = {s for s, _ in r.reactants}, {s for s, _ in r.products}
        net = read_reversible(r.forward, reactants, products)
        if net.backward is not None:
            out[r.id] = (
                f"its law is a net rate, negative where {to_string(net.backward)} exceeds {to_string(net.forward)}"
            )
            continue
        consumed = sorted(s for s, c in r.net_change().items() if c < 0 and s not in fixed)
        unread = [s for s in consumed if s not in symbols_through(r.forward, rules)]
        if unread:
            out[r.id] = f"its law does not read its reactant '{unread[0]}', so it does not vanish when that runs out"
    return out

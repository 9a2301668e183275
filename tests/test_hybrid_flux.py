"""Kinetic laws that are fluxes, not propensities (`sbmljax._flux`): which are, and how each method treats them.

The exact methods stop at run time naming the reaction and the state; `auto` chooses the hybrid method, which
runs those reactions in its ODE, so that a model of them alone is its reaction-rate equations.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import sbml_model

import sbmljax
import sbmljax.reference
from sbmljax._flux import flux_reactions
from sbmljax.errors import SimulationError


def _model(reactions: list[tuple[str, str, str]], species: dict[str, float] | None = None, **kw) -> sbmljax.Model:
    species = species or {"A": 10, "B": 10, "C": 10, "D": 10, "P": 10, "S": 10, "g": 10}
    params = {"k": 1.0, "kf": 1.0, "kb": 0.5, "F": 2.0}
    return sbmljax.load_sbml(sbml_model(species, params, reactions, **kw))


def test_net_rates_and_laws_that_ignore_a_reactant_are_fluxes() -> None:
    flux = flux_reactions(
        _model(
            [
                ("net", "2 S -> D", "kf*S*S - kb*D"),  # a net rate (BIOMD0000000093's v17)
                ("vol", "A -> B", "c*(kf*A - kb*B)"),  # under a common factor
                ("drain", "g -> 0", "F"),  # does not read its reactant (BIOMD0000000224)
                ("dimer", "2 P -> C", "k*P*(P-1)/2"),  # the dimerisation propensity: a number subtracted
                ("sat", "A -> C", "(1 - g)*k*A"),  # g is no product of the reaction: not its net rate
                ("mm", "S -> P", "k*S/(1 + S)"),  # Michaelis–Menten, reads its reactant
                ("cat", "A + C -> B + C", "k*A"),  # C is a catalyst: not consumed
            ]
        )
    )
    assert list(flux) == ["net", "vol", "drain"], flux
    assert "net rate" in flux["net"] and "reactant 'g'" in flux["drain"]


def test_a_reversible_reaction_split_into_two_channels_is_not_a_flux() -> None:
    text = sbml_model({"A": 10, "B": 10}, {"kf": 1.0, "kb": 0.5}, [("r", "A -> B", "kf*A - kb*B")])
    m = sbmljax.load_sbml(text.replace('reversible="false"', 'reversible="true"'))
    assert m.reactions[0].backward is not None and flux_reactions(m) == {}


# A net rate negative at the start (D0 = 100, S0 = 0), a production of g and a constant drain of g (F < k1).
FLUXES = [("net", "2 S -> D", "kf*S*S - kb*D"), ("make", "0 -> g", "k1"), ("drain", "g -> 0", "F")]
FLUX_SPECIES = {"S": 0, "D": 100, "g": 0}
FLUX_PARAMS = {"kf": 0.01, "kb": 0.5, "k1": 3.0, "F": 2.0}


def test_the_exact_methods_stop_at_a_negative_net_rate_naming_the_reaction() -> None:
    m = sbmljax.load_sbml(sbml_model(FLUX_SPECIES, FLUX_PARAMS, FLUXES))
    with pytest.raises(SimulationError, match="reaction 'net'") as e:
        sbmljax.simulate(m, [0.0, 1.0], n_trajectories=2, seed=0, method="direct")
    assert e.value.reaction == "net" and e.value.state is not None and e.value.state["D"] == 100


def test_auto_runs_flux_laws_as_the_reaction_rate_equations() -> None:
    # Every species is changed by a flux reaction, so the hybrid method is the ODE here, at counts of 0–200
    # (where the partition by population would keep them discrete): the net rate runs backwards (D → 2 S)
    # and g grows at k1 − F.
    m = sbmljax.load_sbml(sbml_model(FLUX_SPECIES, FLUX_PARAMS, FLUXES))
    t = np.array([0.0, 0.5, 2.0, 5.0])
    tr = sbmljax.simulate(m, t, n_trajectories=2, seed=0, method="auto")
    assert tr.method == "hybrid" and "reaction 'net'" in tr.notes[0] and "flux" in tr.notes[0], tr.notes[0]
    ref = sbmljax.reference.ode(m, None, t).values
    np.testing.assert_allclose(tr.counts, np.broadcast_to(ref, tr.counts.shape), rtol=1e-3, atol=1e-2)
    assert tr.counts[0, -1, 0] > 0 and tr.counts[0, -1, 1] < 100, "the net rate ran backwards"

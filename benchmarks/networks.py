"""Generated SBML networks for benchmarks: a sparse ring and a random sparse network."""

from __future__ import annotations

import numpy as np


def _sbml(
    species: dict[str, int], reactions: list[tuple[str, dict[str, int], dict[str, int], str]], params: dict[str, float]
) -> str:
    sp = "".join(
        f'<species id="{s}" compartment="c" initialAmount="{v}" hasOnlySubstanceUnits="true" '
        f'boundaryCondition="false" constant="false"/>'
        for s, v in species.items()
    )
    ps = "".join(f'<parameter id="{k}" value="{v}" constant="true"/>' for k, v in params.items())

    def refs(side: dict[str, int]) -> str:
        return "".join(
            f'<speciesReference species="{s}" stoichiometry="{n}" constant="true"/>' for s, n in side.items()
        )

    rx = []
    for rid, lhs, rhs, law in reactions:
        terms = "".join(f"<ci>{t}</ci>" for t in law.split("*"))
        math = f'<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/>{terms}</apply></math>'
        body = (f"<listOfReactants>{refs(lhs)}</listOfReactants>" if lhs else "") + (
            f"<listOfProducts>{refs(rhs)}</listOfProducts>" if rhs else ""
        )
        rx.append(f'<reaction id="{rid}" reversible="false">{body}<kineticLaw>{math}</kineticLaw></reaction>')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">'
        '<model id="generated" substanceUnits="item" extentUnits="item" timeUnits="second">'
        '<listOfCompartments><compartment id="c" size="1" spatialDimensions="3" constant="true"/></listOfCompartments>'
        f"<listOfSpecies>{sp}</listOfSpecies><listOfParameters>{ps}</listOfParameters>"
        f"<listOfReactions>{''.join(rx)}</listOfReactions></model></sbml>"
    )


def ring(n_species: int = 100, molecules: int = 1000) -> str:
    """`X_i → X_{i+1}` and `X_i → X_{i−1}` (indices mod n), every rate constant 1: 2n first-order reactions.

    Each species starts with `molecules` molecules. Every reaction changes two species and each species is
    read by two reactions, so a firing affects 4 of the 2n propensities.
    """
    species = {f"X{i}": molecules for i in range(n_species)}
    reactions = []
    for i in range(n_species):
        reactions.append((f"R{i}_up", {f"X{i}": 1}, {f"X{(i + 1) % n_species}": 1}, f"k*X{i}"))
        reactions.append((f"R{i}_down", {f"X{i}": 1}, {f"X{(i - 1) % n_species}": 1}, f"k*X{i}"))
    return _sbml(species, reactions, {"k": 1.0})


def random_network(n_species: int = 100, n_reactions: int = 200, molecules: int = 500, seed: int = 0) -> str:
    """A random sparse network of conversions `A → B` and bindings `A + B → C` with rate constants ~1/molecules."""
    rng = np.random.default_rng(seed)
    species = {f"S{i}": molecules for i in range(n_species)}
    reactions = []
    for r in range(n_reactions):
        a, b, c = rng.choice(n_species, size=3, replace=False)
        if rng.random() < 0.5:
            reactions.append((f"R{r}", {f"S{a}": 1}, {f"S{b}": 1}, f"k1*S{a}"))
        else:
            reactions.append((f"R{r}", {f"S{a}": 1, f"S{b}": 1}, {f"S{c}": 1}, f"k2*S{a}*S{b}"))
    return _sbml(species, reactions, {"k1": 1.0, "k2": 1.0 / molecules})

"""Amounts, concentrations and units → molecule counts and propensities (exact conversions)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sbmljax
from sbmljax._compile._network import compile_network
from sbmljax._expr import AVOGADRO
from sbmljax.errors import InfeasibleSimulationError, InitialStateError, UnsupportedSBMLFeatureError

L3 = '<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">'


def doc(units: str, species: str, law: str, size: float = 1.0, model_attrs: str = "", extra_units: str = "") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>{L3}
<model id="m" {model_attrs}>
{f"<listOfUnitDefinitions>{units}{extra_units}</listOfUnitDefinitions>" if units or extra_units else ""}
<listOfCompartments><compartment id="V" size="{size}" spatialDimensions="3" constant="true"/></listOfCompartments>
<listOfSpecies>{species}</listOfSpecies>
<listOfParameters><parameter id="k" value="0.5" constant="true"/></listOfParameters>
<listOfReactions><reaction id="r" reversible="false">
<listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/></listOfReactants>
<kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML">{law}</math></kineticLaw></reaction></listOfReactions>
</model></sbml>"""


KA = "<apply><times/><ci>k</ci><ci>A</ci></apply>"
MMOL = '<unitDefinition id="mmol"><listOfUnits><unit kind="mole" exponent="1" scale="-3" multiplier="1"/></listOfUnits></unitDefinition>'
MICRO = '<unitDefinition id="umol"><listOfUnits><unit kind="mole" exponent="1" scale="-6" multiplier="1"/></listOfUnits></unitDefinition>'


def state_and_propensity(model: sbmljax.Model) -> tuple[np.ndarray, np.ndarray]:
    with jax.enable_x64(True):  # internals: no public entry point scopes them here
        net = compile_network(model)
        x0, p = net.initial_state(net.p_default)
        a = net.propensities(x0, p, jnp.asarray(0.0))
        return np.asarray(x0), np.asarray(a)


def test_amount_species_counts_are_amounts_in_items() -> None:
    sp = '<species id="A" compartment="V" initialAmount="100" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>'
    m = sbmljax.load_sbml(doc("", sp, KA, size=2.0, model_attrs='substanceUnits="item" extentUnits="item"'))
    x, a = state_and_propensity(m)
    assert x[0] == 100 and a[0] == pytest.approx(50.0)  # compartment size does not enter an amount law


def test_concentration_species_in_law_is_amount_over_size() -> None:
    sp = '<species id="A" compartment="V" initialAmount="100" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>'
    m = sbmljax.load_sbml(doc("", sp, KA, size=2.0, model_attrs='substanceUnits="item" extentUnits="item"'))
    x, a = state_and_propensity(m)
    assert x[0] == 100
    assert a[0] == pytest.approx(0.5 * 100 / 2.0)  # [A] = 50 per unit volume


def test_initial_concentration_becomes_concentration_times_size() -> None:
    sp = '<species id="A" compartment="V" initialConcentration="10" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>'
    m = sbmljax.load_sbml(doc("", sp, KA, size=2.5, model_attrs='substanceUnits="item" extentUnits="item"'))
    x, a = state_and_propensity(m)
    assert x[0] == pytest.approx(25.0)
    assert a[0] == pytest.approx(0.5 * 10)


def test_millimole_amounts_convert_exactly_to_molecules() -> None:
    sp = '<species id="A" compartment="V" initialAmount="2e-18" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>'
    m = sbmljax.load_sbml(doc(MMOL, sp, KA, model_attrs='substanceUnits="mmol" extentUnits="mmol"'))
    x, a = state_and_propensity(m)
    assert x[0] == pytest.approx(2e-18 * 1e-3 * AVOGADRO, rel=1e-14)
    # law value 0.5 * A (mmol/s) → events/s: multiply by molecules per mmol
    assert a[0] == pytest.approx(0.5 * x[0], rel=1e-14)
    assert m.species[0].count_factor == pytest.approx(1e-3 * AVOGADRO)


def test_micromolar_concentration_in_femtolitres() -> None:
    sp = '<species id="A" compartment="V" initialConcentration="1.2" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>'
    vka = "<apply><times/><ci>V</ci><ci>k</ci><ci>A</ci></apply>"  # a proper law: extent per time
    m = sbmljax.load_sbml(doc(MICRO, sp, vka, size=4e-12, model_attrs='substanceUnits="umol" extentUnits="umol"'))
    x, a = state_and_propensity(m)
    expected = 1.2 * 4e-12 * 1e-6 * AVOGADRO  # µmol/L × L × mol/µmol × molecules/mol ≈ 2.9e6
    assert x[0] == pytest.approx(expected, rel=1e-14)
    assert a[0] == pytest.approx(0.5 * expected, rel=1e-12)  # first order: a = k·n, whatever the units


def test_substance_units_item_reads_numbers_as_counts() -> None:
    sp = '<species id="A" compartment="V" initialAmount="30" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>'
    m = sbmljax.load_sbml(
        doc(MMOL, sp, KA, model_attrs='substanceUnits="mmol" extentUnits="mmol"'), substance_units="item"
    )
    x, _ = state_and_propensity(m)
    assert x[0] == 30


def test_mass_units_are_refused_with_the_reason() -> None:
    sp = '<species id="A" compartment="V" initialAmount="1" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>'
    m = sbmljax.load_sbml(doc("", sp, KA, model_attrs='substanceUnits="gram" extentUnits="gram"'))
    with pytest.raises(UnsupportedSBMLFeatureError, match="mass"):
        sbmljax.simulate(m, [0.0, 1.0], seed=0)


def test_mole_amounts_at_litre_scale_are_refused_up_front() -> None:
    sp = '<species id="A" compartment="V" initialAmount="1" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>'
    m = sbmljax.load_sbml(doc("", sp, KA, model_attrs='substanceUnits="mole" extentUnits="mole"'))
    with pytest.raises(InfeasibleSimulationError, match=r"6\.02e\+23 molecules.*tau_leap.*substance_units='item'"):
        sbmljax.simulate(m, [0.0, 1.0], seed=0)


def test_undeclared_units_auto_counts_with_a_note_and_mole_converts(data_dir) -> None:
    path = data_dir / "biomodels" / "BIOMD0000000035.xml"  # L2V3, no substance units declared
    auto = sbmljax.load_sbml(path)
    assert all(s.count_factor == 1.0 for s in auto.species)
    assert any("mole" in n for n in auto.notes)
    as_moles = sbmljax.load_sbml(path, substance_units="mole")
    assert all(s.count_factor == pytest.approx(AVOGADRO) for s in as_moles.species)
    with pytest.raises(InfeasibleSimulationError):
        sbmljax.simulate(as_moles, [0.0, 1.0], seed=0)


def test_converted_counts_are_rounded_with_a_note(data_dir) -> None:
    m = sbmljax.load_sbml(data_dir / "biomodels" / "BIOMD0000000009.xml")  # µM in 4e-12 L
    x, _ = state_and_propensity(m)
    e1 = m.species_ids.index("E1")
    assert x[e1] == pytest.approx(3e-5 * 4e-12 * 1e-6 * AVOGADRO, rel=1e-12)  # 72.26… molecules
    from sbmljax._ensemble import prepare

    with jax.enable_x64(True):  # prepare is internal: simulate scopes it
        prep = prepare(m, [0.0, 1e-3], n_trajectories=1)  # short span: feasible
    assert float(prep.x0[e1]) == 72.0
    assert any("'E1' rounded from 72.2" in n for n in prep.notes)


def test_non_integer_counts_without_conversion_are_refused(data_dir) -> None:
    m = sbmljax.load_sbml(data_dir / "biomodels" / "BIOMD0000000005.xml")  # dimensionless concentrations
    with pytest.raises(InitialStateError, match="'CP' starts with 0.75 molecules"):
        sbmljax.simulate(m, [0.0, 1.0], seed=0)

"""The SBML support matrix (`sbmljax._support`) against the code: every construct is exercised.

Each construct of the table is covered by one of:

- a test here decorated `@exercises(key, ...)`: a refused construct must be refused with the table's error
  type and reason; a supported one must load and simulate as the table says;
- `ELSEWHERE`: tests in other files that exercise it (checked to exist);
- `UNTESTED`: the reason no test can reach it (kept short).

`test_every_construct_is_covered` fails when a construct is added to the table without any of these.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import libsbml
import numpy as np
import pytest

import sbmljax
from sbmljax import errors
from sbmljax._expr import Sym, evaluate
from sbmljax._support import CATEGORIES, CONSTRUCTS, render_markdown
from sbmljax.sbml._mathml import UnsupportedMath, convert, convert_function_definition

HERE = Path(__file__).parent
T = np.array([0.0, 1.0])

EXERCISED: dict[str, list[str]] = {}

ELSEWHERE: dict[str, tuple[str, ...]] = {
    "math": ("test_mathml.py::test_compiled_math_matches_roadrunner",),
    "distrib_math": ("test_sbml_suite.py::test_distrib_case_is_refused",),
    "substance_units": (
        "test_units.py::test_millimole_amounts_convert_exactly_to_molecules",
        "test_units.py::test_micromolar_concentration_in_femtolitres",
    ),
    "undeclared_units": ("test_units.py::test_undeclared_units_auto_counts_with_a_note_and_mole_converts",),
    "species_kinds": (
        "test_simulate.py::test_boundary_species_are_output_and_unchanged",
        "test_units.py::test_concentration_species_in_law_is_amount_over_size",
    ),
    "rounded_counts": ("test_units.py::test_converted_counts_are_rounded_with_a_note",),
    "parameters": (
        "test_simulate.py::test_parameter_override_changes_dynamics",
        "test_simulate.py::test_local_parameters_are_addressed_as_reaction_dot_param",
    ),
    "assignment_rules": ("test_simulate.py::test_assignment_rule_species_is_output",),
    "kinetic_laws": ("test_simulate.py::test_birth_death_mean_and_variance_match_analytic",),
    "events": ("test_sbml_suite.py::test_dsmts_case_passes",),  # DSMTS 00028, 00029, 00032, 00033 have events
}
"""Constructs exercised by tests in other files: key → `file::test` names."""

UNTESTED: dict[str, str] = {
    "undefined_units": "libsbml's consistency check refuses a reference to an undefined unit first (SBMLReadError)",
    "algebraic_loop": "libsbml's consistency check refuses cyclic assignment rules first (SBMLReadError)",
}
"""Constructs no test reaches, with the reason."""


def exercises(*keys: str) -> Callable:
    """Mark a test as exercising constructs of the table."""

    def mark(fn: Callable) -> Callable:
        for key in keys:
            EXERCISED.setdefault(key, []).append(fn.__name__)
        return fn

    return mark


# -- documents --------------------------------------------------------------------------------------------
def mathml(formula: str) -> str:
    ast_ = libsbml.parseL3Formula(formula)
    assert ast_ is not None, libsbml.getLastParseL3Error()
    text = libsbml.writeMathMLToString(ast_)
    return text[text.index("<math") :]


def species(sid: str, amount: float, *, units: str = "", compartment: str = "c", hosu: bool = True) -> str:
    unit = f' substanceUnits="{units}"' if units else ""
    return (
        f'<species id="{sid}" compartment="{compartment}" initialAmount="{amount}"{unit} '
        f'hasOnlySubstanceUnits="{str(hosu).lower()}" boundaryCondition="false" constant="false"/>'
    )


def reaction(rid: str, reactants: str, products: str, law: str | None, *, attrs: str = "", ref_attrs: str = "") -> str:
    def refs(side: str) -> str:
        return "".join(
            f'<speciesReference species="{s}" stoichiometry="1" constant="true"{ref_attrs}/>' for s in side.split()
        )

    body = (f"<listOfReactants>{refs(reactants)}</listOfReactants>" if reactants else "") + (
        f"<listOfProducts>{refs(products)}</listOfProducts>" if products else ""
    )
    kl = f"<kineticLaw>{mathml(law)}</kineticLaw>" if law is not None else ""
    return f'<reaction id="{rid}" reversible="false"{attrs}>{body}{kl}</reaction>'


def event(
    eid: str, trigger: str, assignments: dict[str, str], *, attrs: str = "", trigger_attrs: str = "", extra: str = ""
) -> str:
    ea = "".join(f'<eventAssignment variable="{v}">{mathml(f)}</eventAssignment>' for v, f in assignments.items())
    return (
        f'<event id="{eid}" useValuesFromTriggerTime="true"{attrs}>'
        f'<trigger initialValue="true" persistent="true"{trigger_attrs}>{mathml(trigger)}</trigger>{extra}'
        f"<listOfEventAssignments>{ea}</listOfEventAssignments></event>"
    )


def document(
    *,
    species_: str = "",
    parameters: str = '<parameter id="k" value="1" constant="true"/>',
    reactions: str = "",
    units: str = "",
    functions: str = "",
    compartments: str = '<compartment id="c" size="1" spatialDimensions="3" constant="true"/>',
    initial_assignments: str = "",
    rules: str = "",
    events: str = "",
    model_attrs: str = 'substanceUnits="item" extentUnits="item" timeUnits="second"',
    sbml_attrs: str = "",
    level: tuple[int, int] = (3, 2),
) -> str:
    """An SBML Level 3 document; each argument is the content of one `listOf…` (empty lists are left out)."""
    species_ = species_ or species("A", 10)
    reactions = reactions if reactions else reaction("r", "A", "", "k*A")
    lv, vv = level

    def lst(name: str, content: str) -> str:
        return f"<listOf{name}>{content}</listOf{name}>" if content else ""

    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sbml xmlns="http://www.sbml.org/sbml/level{lv}/version{vv}/core" level="{lv}" version="{vv}"{sbml_attrs}>'
        f'<model id="m" {model_attrs}>'
        + lst("FunctionDefinitions", functions)
        + lst("UnitDefinitions", units)
        + lst("Compartments", compartments)
        + lst("Species", species_)
        + lst("Parameters", parameters)
        + lst("InitialAssignments", initial_assignments)
        + lst("Rules", rules)
        + lst("Reactions", reactions)
        + lst("Events", events)
        + "</model></sbml>"
    )


def simulate(text: str, t=T, **kw) -> sbmljax.Trajectories:
    kw.setdefault("n_trajectories", 2)
    return sbmljax.simulate(sbmljax.load_sbml(text), t, seed=0, **kw)


def assert_refused(key: str, run: Callable[[], object], **fields: object) -> str:
    """`run()` raises the construct's error type with the construct's reason (fields filled in)."""
    c = CONSTRUCTS[key]
    with pytest.raises(getattr(errors, c.error)) as info:
        run()
    message = " ".join(str(info.value).split())
    assert c.why(**fields) in message, message
    return message


def assert_unsupported_math(key: str, run: Callable[[], object]) -> None:
    with pytest.raises(UnsupportedMath) as info:
        run()
    assert info.value.key == key and info.value.reason.startswith(CONSTRUCTS[key].reason.split("{")[0])


# -- the table itself --------------------------------------------------------------------------------------
def test_table_is_well_formed() -> None:
    for c in CONSTRUCTS.values():
        assert c.category in CATEGORIES
        if c.error:
            assert issubclass(getattr(errors, c.error), errors.SbmlJaxError), c.key
        if c.status == "refused":
            assert c.error and c.reason, c.key
    assert set(CATEGORIES) == {c.category for c in CONSTRUCTS.values()}


def test_rendered_matrix_has_one_row_per_construct() -> None:
    text = render_markdown()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Construct")]
    assert len(rows) == len(CONSTRUCTS)
    assert "{" not in text  # placeholders are shown as ‹field›
    for c in CONSTRUCTS.values():
        assert all(f"‹{f}›" in text for f in c.fields), c.key


def _test_names(filename: str) -> set[str]:
    tree = ast.parse((HERE / filename).read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def test_every_construct_is_covered() -> None:
    for key, tests in ELSEWHERE.items():
        assert key in CONSTRUCTS, f"ELSEWHERE names unknown construct {key!r}"
        for ref in tests:
            filename, name = ref.split("::")
            assert name in _test_names(filename), f"{ref} (for {key!r}) does not exist"
    for key in list(EXERCISED) + list(UNTESTED):
        assert key in CONSTRUCTS, f"unknown construct {key!r}"
    missing = set(CONSTRUCTS) - set(EXERCISED) - set(ELSEWHERE) - set(UNTESTED)
    assert not missing, f"constructs no test exercises (add a test or an UNTESTED reason): {sorted(missing)}"
    assert not set(UNTESTED) & (set(EXERCISED) | set(ELSEWHERE)), "a tested construct is still marked UNTESTED"


def test_run_time_message_matches_the_table() -> None:
    from sbmljax._results import RESULTS

    messages = dict(enumerate(RESULTS._index_to_message))
    assert messages[int(RESULTS.non_integer_count._value)] == CONSTRUCTS["event_non_integer"].reason


# -- document ----------------------------------------------------------------------------------------------
L1 = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level1" level="1" version="2"><model name="m">
<listOfCompartments><compartment name="c" volume="1"/></listOfCompartments>
<listOfSpecies><species name="A" compartment="c" initialAmount="10" boundaryCondition="false"/></listOfSpecies>
<listOfParameters><parameter name="k" value="0"/></listOfParameters>
<listOfReactions><reaction name="r" reversible="false"><listOfReactants><speciesReference species="A"/>
</listOfReactants><kineticLaw formula="k*A"/></reaction></listOfReactions></model></sbml>"""


@exercises("levels")
def test_levels(models_dir) -> None:
    for path in ("sir.xml", "BIOMD0000000012.xml"):  # L3V2 and L2V1
        sbmljax.load_sbml(models_dir / path)
    m = sbmljax.load_sbml(L1)
    assert (m.level, m.version) == (1, 2)  # what the file declares, though it is read through L2V4
    assert any("Level 1 Version 2 was converted" in n for n in m.notes)
    assert np.all(sbmljax.simulate(m, T, seed=0).counts[0, :, 0] == 10)
    assert simulate(document(level=(3, 1), reactions=L3V1_REACTION)).counts.shape == (2, 2, 1)


L3V1_REACTION = reaction("r", "A", "", "k*A", attrs=' fast="false"')  # L3V1 requires `fast`
LAYOUT = 'xmlns:layout="http://www.sbml.org/sbml/level3/version1/layout/version1" layout:required="false"'
COMP = 'xmlns:comp="http://www.sbml.org/sbml/level3/version1/comp/version1" comp:required="true"'


@exercises("layout_render", "package")
def test_packages() -> None:
    simulate(document(level=(3, 1), reactions=L3V1_REACTION, sbml_attrs=" " + LAYOUT))
    text = document(level=(3, 1), reactions=L3V1_REACTION, sbml_attrs=" " + COMP)
    assert_refused("package", lambda: simulate(text), package="comp")


# -- math ------------------------------------------------------------------------------------------------
@exercises("function_definition")
def test_function_definitions_are_inlined() -> None:
    fd = f'<functionDefinition id="f">{mathml("lambda(x, c, 2*c*x)")}</functionDefinition>'
    m = sbmljax.load_sbml(document(functions=fd, reactions=reaction("r", "A", "", "f(A, k)")))
    # libsbml writes the substituted `(2*c)*x` as one n-ary product, evaluated left to right all the same.
    assert m.summary()["reactions"][0]["rate"] == "(2 * k * A)"


@exercises("delay", "rate_of")
def test_delay_and_rate_of() -> None:
    message = assert_refused("delay", lambda: simulate(document(reactions=reaction("r", "A", "", "k*delay(A, 1)"))))
    assert "reaction 'r' kineticLaw (delay)" in message and "Barrio et al. 2006" in message  # element and why
    assert_refused("rate_of", lambda: simulate(document(reactions=reaction("r", "A", "", "k*A + 0*rateOf(k)"))))


@exercises("missing_math")
def test_element_without_math() -> None:
    ia = '<initialAssignment symbol="k"/>'
    assert_refused("missing_math", lambda: simulate(document(initial_assignments=ia)))


@exercises("unknown_function", "function_arity", "function_not_lambda", "lambda", "csymbol", "mathml_other")
def test_math_outside_what_sbml_allows() -> None:
    # libsbml's validation stops such documents first; the converter refuses them all the same.
    assert_unsupported_math("unknown_function", lambda: convert(libsbml.parseL3Formula("nofun(x)")))
    arity = libsbml.parseL3Formula("f(x, y)")
    assert_unsupported_math("function_arity", lambda: convert(arity, {"f": (("a",), Sym("a"))}))
    fd = libsbml.FunctionDefinition(3, 2)
    fd.setId("g")
    fd.setMath(libsbml.parseL3Formula("x + 1"))
    assert_unsupported_math("function_not_lambda", lambda: convert_function_definition(fd, {}))
    assert_unsupported_math("lambda", lambda: convert(libsbml.parseL3Formula("lambda(x, x + 1)")))
    node = libsbml.ASTNode(libsbml.AST_CSYMBOL_FUNCTION)
    node.setName("mystery")
    assert_unsupported_math("csymbol", lambda: convert(node))
    assert_unsupported_math("mathml_other", lambda: convert(libsbml.ASTNode(libsbml.AST_UNKNOWN)))


# -- compartments ----------------------------------------------------------------------------------------
@exercises("compartment", "compartment_size_not_constant")
def test_compartment_sizes() -> None:
    comp = '<compartment id="c" spatialDimensions="3" constant="true"/>'
    sp = '<species id="A" compartment="c" initialConcentration="5" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>'
    params = '<parameter id="k" value="0" constant="true"/><parameter id="v" value="2" constant="true"/>'
    ia = f'<initialAssignment symbol="c">{mathml("3*v")}</initialAssignment>'
    traj = simulate(document(compartments=comp, species_=sp, parameters=params, initial_assignments=ia))
    assert np.all(traj["A"] == 30)  # 5 per unit size × 6
    ia = f'<initialAssignment symbol="c">{mathml("A")}</initialAssignment>'
    text = document(compartments=comp, species_=species("A", 10), initial_assignments=ia)
    assert_refused("compartment_size_not_constant", lambda: simulate(text), symbol="'A'")


@exercises("variable_compartment", "compartment_rule", "variable_compartment_rate_rule", "variable_compartment_event")
def test_changing_compartments() -> None:
    """Sizes that change: honoured (the statistics are in test_variable_compartment.py), two cases refused."""
    comp = '<compartment id="c" size="1" spatialDimensions="3" constant="false"/>'
    sp = species("A", 10, hosu=False)
    assert simulate(document(compartments=comp, species_=sp)).counts.shape == (2, 2, 1)  # nothing changes it
    rule = f'<assignmentRule variable="c">{mathml("2 + time")}</assignmentRule>'
    traj = simulate(document(compartments=comp, species_=sp, rules=rule), method="extrande")
    assert traj.counts[0, 0, 0] == 10
    rated = '<species id="A" compartment="c" initialAmount="10" hasOnlySubstanceUnits="false" boundaryCondition="true" constant="false"/>'
    rate = f'<rateRule variable="c">{mathml("k")}</rateRule><rateRule variable="A">{mathml("k")}</rateRule>'
    text = document(compartments=comp, species_=rated, rules=rate, reactions=reaction("r", "", "", "k"))
    assert_refused("variable_compartment_rate_rule", lambda: simulate(text, method="hybrid"), compartment="c")
    text = document(compartments=comp, species_=sp, rules=rule, events=event("e", "time >= 0.5", {"A": "3"}))
    assert_refused("variable_compartment_event", lambda: simulate(text, method="hybrid"), compartment="c")


# -- species and units -----------------------------------------------------------------------------------
def _unit(uid: str, *units: str) -> str:
    return f'<unitDefinition id="{uid}"><listOfUnits>{"".join(units)}</listOfUnits></unitDefinition>'


def _u(kind: str, exponent: float = 1) -> str:
    return f'<unit kind="{kind}" exponent="{exponent}" scale="0" multiplier="1"/>'


@exercises("mass_units", "non_amount_units", "compound_units")
def test_units_that_are_not_molecule_counts() -> None:
    text = document(species_=species("A", 10, units="gram"))
    message = assert_refused("mass_units", lambda: simulate(text), unit="gram")
    assert CONSTRUCTS["mass_units"].fix in message
    text = document(species_=species("A", 10, units="litre"))
    assert_refused("non_amount_units", lambda: simulate(text), unit="litre")
    text = document(units=_unit("mm", _u("mole"), _u("metre")), species_=species("A", 10, units="mm"))
    assert_refused("compound_units", lambda: simulate(text), unit="mm")
    traj = sbmljax.simulate(sbmljax.load_sbml(text, substance_units="item"), T, seed=0)  # the way out
    assert traj.counts[0, 0, 0] == 10


@exercises("concentration_units")
def test_concentration_unit_definitions() -> None:
    """`nanoMolar` (nmol/L) on a concentration species in a 1e-13 L compartment (the model in nanomoles):
    10 nM is 10 × 1e-13 × 1e-9 × N_A = 602.2 molecules, rounded with a note; on an amount species it is refused."""
    nm = (
        '<unitDefinition id="nM"><listOfUnits><unit kind="mole" exponent="1" scale="-9" multiplier="1"/>'
        '<unit kind="litre" exponent="-1" scale="0" multiplier="1"/></listOfUnits></unitDefinition>'
        '<unitDefinition id="nmol"><listOfUnits><unit kind="mole" exponent="1" scale="-9" multiplier="1"/>'
        "</listOfUnits></unitDefinition>"
    )
    attrs = 'substanceUnits="nmol" extentUnits="nmol" timeUnits="second" volumeUnits="litre"'
    comp = '<compartment id="c" size="1e-13" spatialDimensions="3" constant="true"/>'
    conc = species("A", 10, units="nM", hosu=False).replace("initialAmount", "initialConcentration")
    law = reaction("r", "A", "", "k*A*c")  # extent per time: concentration × volume
    text = document(units=nm, species_=conc, model_attrs=attrs, compartments=comp, reactions=law)
    traj = simulate(text)
    assert traj.counts[0, 0, 0] == round(10 * 1e-13 * 1e-9 * 6.02214179e23) == 602
    assert any("rounded" in n for n in traj.notes)
    amount = species("A", 10, units="nM", hosu=True)
    text = document(units=nm, species_=amount, model_attrs=attrs, compartments=comp)
    assert_refused("concentration_units", lambda: simulate(text), unit="nM")


def _scaled_item(uid: str, multiplier: float) -> str:
    return _unit(uid, f'<unit kind="item" exponent="1" scale="0" multiplier="{multiplier}"/>')


@exercises("mixed_units", "conversion_factor")
def test_mixed_units_and_conversion_factors() -> None:
    # SBML's numeric semantics: A (items) -> B (dozens) at k·A per second changes A by −1 item and B by
    # +1 dozen = 12 molecules per unit of extent; with the extent in moles the law's numbers are unchanged.
    units = _scaled_item("dozen", 12) + _scaled_item("half", 0.5) + _scaled_item("m15", 1.5)
    sp = species("A", 40, units="item") + species("B", 0, units="dozen")
    law = reaction("r", "A", "B", "k*A")
    mole_extent = 'substanceUnits="item" extentUnits="mole" timeUnits="second"'
    text = document(units=units, species_=sp, reactions=law, model_attrs=mole_extent)
    model = sbmljax.load_sbml(text)
    assert model.reactions[0].products == (("B", 12.0),) and any("reaction 'r' moves species" in n for n in model.notes)
    t = np.array([0.0, 0.5, 1.0])
    traj = sbmljax.simulate(model, t, n_trajectories=4000, seed=0)
    a, b = traj.counts[:, :, 0], traj.counts[:, :, 1]
    assert np.all(b == 12 * (40 - a))
    mean = 40 * np.exp(-t[1:])  # A(t) ~ Binomial(40, e^{−kt}), k = 1
    z = (a[:, 1:].mean(0) - mean) / np.sqrt(mean * (1 - mean / 40) / 4000)
    assert np.all(np.abs(z) < 3), z
    # The finer unit sets the firing: A (items) -> H (half items) fires at k·A/2 and moves 2 A each time.
    half = document(
        units=units, species_=species("A", 40) + species("H", 0, units="half"), reactions=reaction("r", "A", "H", "k*A")
    )
    assert sbmljax.load_sbml(half).reactions[0].reactants == (("A", 2.0),)
    # 1.5 molecules per firing cannot be counted.
    odd = document(
        units=units, species_=species("A", 40) + species("M", 0, units="m15"), reactions=law.replace('"B"', '"M"')
    )
    assert_refused("mixed_units", lambda: simulate(odd), unit="m15 = 1.5×item", extent="item", reaction="r", change=1.5)
    # The hybrid method keeps M continuous: A (discrete here) fires as jumps, each adding 1.5 molecules of M.
    run = simulate(odd, method="hybrid", continuous_above=float("inf"), solver="tsit5")
    assert np.allclose(run.counts[:, :, 1], 1.5 * (40 - run.counts[:, :, 0]))
    attrs = 'substanceUnits="item" extentUnits="item" timeUnits="second" conversionFactor="cf"'
    params = '<parameter id="k" value="1" constant="true"/><parameter id="cf" value="2" constant="true"/>'
    assert_refused("conversion_factor", lambda: simulate(document(model_attrs=attrs, parameters=params)), factor="cf")


@exercises("non_integer_counts", "negative_counts")
def test_initial_counts() -> None:
    text = document(species_=species("A", 20.5))
    message = assert_refused("non_integer_counts", lambda: simulate(text))
    assert CONSTRUCTS["non_integer_counts"].fix in message
    assert_refused("non_integer_counts", lambda: simulate(text, np.array([0.0, 0.1]), method="tau_leap", tau=0.01))
    assert_refused("negative_counts", lambda: simulate(document(), initial={"A": -1}))


# -- parameters and rules ----------------------------------------------------------------------------------
@exercises("initial_assignments")
def test_initial_assignments_follow_parameter_overrides() -> None:
    params = '<parameter id="k" value="0" constant="true"/><parameter id="n" value="3" constant="true"/>'
    ia = f'<initialAssignment symbol="A">{mathml("2*n")}</initialAssignment>'
    text = document(parameters=params, initial_assignments=ia)
    assert simulate(text).counts[0, 0, 0] == 6
    assert simulate(text, params={"n": 5}).counts[0, 0, 0] == 10


@exercises("rate_rule", "algebraic_rule")
def test_rules_that_are_refused() -> None:
    params = '<parameter id="k" value="1" constant="false"/>'
    rule = f'<rateRule variable="k">{mathml("1")}</rateRule>'
    assert_refused("rate_rule", lambda: simulate(document(parameters=params, rules=rule)))
    rule = f"<algebraicRule>{mathml('k - 1')}</algebraicRule>"
    assert_refused("algebraic_rule", lambda: simulate(document(parameters=params, rules=rule)))


@exercises("reaction_rate_symbol")
def test_reaction_rate_symbol() -> None:
    # In a rule, a reaction's id is its kinetic law's value (inlined at import); in a kinetic law it is refused.
    params = '<parameter id="k" value="1" constant="true"/><parameter id="p" constant="false"/>'
    rule = f'<assignmentRule variable="p">{mathml("2*r")}</assignmentRule>'
    text = document(parameters=params, rules=rule)
    assert evaluate(dict(sbmljax.load_sbml(text).assignment_rules)["p"], {"k": 1.0, "A": 10.0}) == 20.0
    simulate(text)
    law = reaction("r", "A", "", "k*A") + reaction("s", "A", "", "0.5*r")
    assert_refused("reaction_rate_symbol", lambda: simulate(document(reactions=law)), reaction="r")


# -- reactions -------------------------------------------------------------------------------------------
@exercises("reversible")
def test_reversible_laws_split_or_run_as_written() -> None:
    # tests/test_tellurium.py holds the full table of law shapes and the statistics against libRoadRunner.
    def flagged(law: str) -> str:
        return document(
            species_=species("A", 10) + species("B", 0),
            parameters='<parameter id="k" value="1" constant="true"/><parameter id="kr" value="0.5" constant="true"/>',
            reactions=reaction("r", "A", "B", law).replace('reversible="false"', 'reversible="true"'),
        )

    m = sbmljax.load_sbml(flagged("c*(k*A - kr*B)"))
    assert m.reactions[0].backward is not None
    simulate(flagged("c*(k*A - kr*B)"))
    m = sbmljax.load_sbml(flagged("k*A*(A - 1)/2"))
    assert m.reactions[0].backward is None and any("as written" in n for n in m.notes)
    simulate(flagged("k*A*(A - 1)/2"))


@exercises("non_integer_stoichiometry")
def test_non_integer_stoichiometry() -> None:
    text = document(reactions=reaction("r", "A", "", "k*A").replace('stoichiometry="1"', 'stoichiometry="0.5"'))
    message = assert_refused("non_integer_stoichiometry", lambda: simulate(text), stoichiometry=0.5)
    assert "reaction 'r' reactant 'A'" in message and CONSTRUCTS["non_integer_stoichiometry"].fix in message


@exercises("time_dependent_propensity")
def test_time_dependent_propensity() -> None:
    text = document(reactions=reaction("r", "A", "", "k*A*time"))
    message = assert_refused("time_dependent_propensity", lambda: simulate(text))
    assert CONSTRUCTS["time_dependent_propensity"].fix in message
    simulate(text, method="tau_leap", epsilon=0.03)  # scope "exact"


@exercises("no_kinetic_law", "fast_reaction", "unset_stoichiometry", "variable_stoichiometry")
def test_reactions_that_are_refused() -> None:
    assert_refused("no_kinetic_law", lambda: simulate(document(reactions=reaction("r", "A", "", None))))
    fast = reaction("r", "A", "", "k*A", attrs=' fast="true"')
    assert_refused("fast_reaction", lambda: simulate(document(level=(3, 1), reactions=fast)))
    unset = reaction("r", "A", "", "k*A").replace(' stoichiometry="1"', "")
    assert_refused("unset_stoichiometry", lambda: simulate(document(reactions=unset)))
    var = reaction("r", "A", "", "k*A").replace(
        'stoichiometry="1" constant="true"', 'id="s" stoichiometry="1" constant="false"'
    )
    rule = f'<assignmentRule variable="s">{mathml("2")}</assignmentRule>'
    assert_refused("variable_stoichiometry", lambda: simulate(document(reactions=var, rules=rule)))
    params = '<parameter id="k" value="1" constant="true"/>'
    ev = event("e", "time >= 1", {"s": "2"})
    assert_refused("variable_stoichiometry", lambda: simulate(document(reactions=var, parameters=params, events=ev)))


L2_STOICH_MATH = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level2/version4" level="2" version="4"><model id="m">
<listOfCompartments><compartment id="c" size="1"/></listOfCompartments>
<listOfSpecies><species id="A" compartment="c" initialAmount="10" hasOnlySubstanceUnits="true"/></listOfSpecies>
<listOfParameters><parameter id="k" value="1"/></listOfParameters>
<listOfReactions><reaction id="r" reversible="false"><listOfReactants><speciesReference species="A">
<stoichiometryMath>MATH2</stoichiometryMath></speciesReference></listOfReactants>
<kineticLaw>MATHKA</kineticLaw></reaction></listOfReactions></model></sbml>"""


@exercises("stoichiometry_math")
def test_stoichiometry_math() -> None:
    text = L2_STOICH_MATH.replace("MATH2", mathml("2*k")).replace("MATHKA", mathml("k*A"))
    model = sbmljax.load_sbml(text)
    assert model.reactions[0].reactants == (("A", 2.0),)  # constant: evaluated when read
    text = L2_STOICH_MATH.replace("MATH2", mathml("A/5")).replace("MATHKA", mathml("k*A"))
    assert_refused("stoichiometry_math", lambda: simulate(text), symbol="A")


# -- events ----------------------------------------------------------------------------------------------
QUIET = '<parameter id="k" value="0" constant="true"/>'  # no reaction fires: only events change the state
T_EV = np.array([0.0, 4.0, 6.0])


def _events(*evs: str, initial_b: float = 0) -> sbmljax.Trajectories:
    text = document(species_=species("A", 10) + species("B", initial_b), parameters=QUIET, events="".join(evs))
    return simulate(text, T_EV)


@exercises("events", "event_attributes")
def test_event_semantics() -> None:
    # A time trigger fires at exactly t = 5.
    traj = _events(event("e", "time >= 5", {"A": "100"}))
    assert traj["A"][0].tolist() == [10, 10, 100]

    # Priority orders simultaneous events; with useValuesFromTriggerTime=false the values are computed at
    # execution: e2 (priority 2) first gives (10 + 1) × 2 = 22; swapped priorities give 10 × 2 + 1 = 21.
    def pair(p1: int, p2: int, uvftt: str) -> float:
        e1 = event("e1", "time >= 5", {"A": "A*2"}, extra=f"<priority>{mathml(str(p1))}</priority>")
        e2 = event("e2", "time >= 5", {"A": "A + 1"}, extra=f"<priority>{mathml(str(p2))}</priority>")
        e1, e2 = (e.replace('useValuesFromTriggerTime="true"', f'useValuesFromTriggerTime="{uvftt}"') for e in (e1, e2))
        return float(_events(e1, e2)["A"][0, -1])

    assert pair(1, 2, "false") == 22 and pair(2, 1, "false") == 21
    assert pair(1, 2, "true") == 20  # both computed at trigger time; e1 executes last

    # initialValue=false: a trigger true at t0 fires at t0; initialValue=true: it does not.
    fires = event("e", "A >= 0", {"B": "1"}, trigger_attrs="").replace('initialValue="true"', 'initialValue="false"')
    assert _events(fires)["B"][0, 0] == 1
    assert _events(event("e", "A >= 0", {"B": "1"}))["B"][0, -1] == 0

    # persistent=false: an event whose trigger turns false before it executes is dropped.
    first = event("hi", "time >= 5", {"A": "0"}, extra=f"<priority>{mathml('10')}</priority>")
    later = event("lo", "(A > 5) && (time >= 5)", {"B": "1"}, extra=f"<priority>{mathml('1')}</priority>")
    assert _events(first, later)["B"][0, -1] == 1
    assert _events(first, later.replace('persistent="true"', 'persistent="false"'))["B"][0, -1] == 0


@exercises("event_delay", "event_no_trigger", "event_time_trigger", "event_time_rule_trigger")
def test_events_that_are_refused() -> None:
    delayed = event("e", "time >= 1", {"A": "5"}, extra=f"<delay>{mathml('2')}</delay>")
    message = assert_refused("event_delay", lambda: _events(delayed))
    assert "event 'e'" in message and "delay SSA" in message
    no_trigger = (
        '<event id="e" useValuesFromTriggerTime="true"><listOfEventAssignments><eventAssignment variable="A">'
        + mathml("1")
        + "</eventAssignment></listOfEventAssignments></event>"
    )
    assert_refused("event_no_trigger", lambda: _events(no_trigger))
    assert_refused("event_time_trigger", lambda: _events(event("e", "time*time > 5", {"A": "1"})))
    params = QUIET + '<parameter id="p" constant="false"/>'
    rule = f'<assignmentRule variable="p">{mathml("2*time")}</assignmentRule>'
    text = document(parameters=params, rules=rule, events=event("e", "p > 5", {"A": "1"}))
    assert_refused("event_time_rule_trigger", lambda: simulate(text, T_EV))


@exercises("event_non_integer")
def test_event_assigning_a_non_integer_count() -> None:
    assert_refused("event_non_integer", lambda: _events(event("e", "time >= 1", {"A": "2.5"})))


# -- simulation limits ---------------------------------------------------------------------------------------
@exercises("huge_counts", "event_budget")
def test_simulation_limits() -> None:
    message = assert_refused("huge_counts", lambda: simulate(document(), initial={"A": 1e17}))
    assert CONSTRUCTS["huge_counts"].fix in message
    assert_refused("event_budget", lambda: simulate(document(), max_events=5), max_events=5)


def test_untested_constructs_are_stopped_by_libsbml_first() -> None:
    # What UNTESTED says: these documents never reach sbmljax's own refusal.
    undefined = document(species_=species("A", 10, units="nonexistent"))
    params = QUIET + '<parameter id="a" constant="false"/><parameter id="b" constant="false"/>'
    rules = f'<assignmentRule variable="a">{mathml("b")}</assignmentRule><assignmentRule variable="b">{mathml("a")}</assignmentRule>'
    for text in (undefined, document(parameters=params, rules=rules)):
        with pytest.raises(errors.SBMLReadError, match="consistency"):
            sbmljax.load_sbml(text)

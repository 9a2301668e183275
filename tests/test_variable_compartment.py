"""Compartments whose size changes, and species in mass units under a system size (issue 13).

SBML semantics (L3V2 §4.11.7): a species' amount changes only by reactions, and a concentration in math is
`amount / V(t)`. The test model grows its compartment as `V(t) = V0 e^{g t}` (by an assignment rule, or by the
rate rule `dV/dt = g V`) or doubles it at an event, and has two analytic channels:

- `A -> ∅` with law `k·[A]` (extent per time), so each molecule of A decays at `k / V(t)`: `A(T)` is
  binomial with survival `exp(-k ∫ 1/V dt)`;
- `∅ -> B` with law `kb·V` (B an amount): `B(T)` is Poisson with mean `kb ∫ V dt`.

Means are checked within 4 standard errors and variances within 4 standard errors of the sample variance
(`var · sqrt(2/(n-1))`, the normal approximation), fixed seeds.
"""

from __future__ import annotations

import libsbml
import numpy as np
import pytest

import sbmljax
import sbmljax.reference
from sbmljax.errors import UnsupportedSBMLFeatureError

K, G, V0, KB, A0, T_END = 1.0, 0.5, 2.0, 3.0, 200, 2.0


def mathml(formula: str) -> str:
    text = libsbml.writeMathMLToString(libsbml.parseL3Formula(formula))
    return text[text.index("<math") :]


def document(rules: str = "", events: str = "", species: str = "", concentration: bool = False) -> str:
    """The growing-compartment model; `rules` and `events` set the size of compartment `c`."""
    initial = f'initialConcentration="{A0 / V0}"' if concentration else f'initialAmount="{A0}"'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
<model id="growing" substanceUnits="item" extentUnits="item" timeUnits="second">
<listOfCompartments><compartment id="c" size="{V0}" spatialDimensions="3" constant="false"/></listOfCompartments>
<listOfSpecies>
<species id="A" compartment="c" {initial} hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>
<species id="B" compartment="c" initialAmount="0" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
{species}</listOfSpecies>
<listOfParameters><parameter id="k" value="{K}" constant="true"/><parameter id="g" value="{G}" constant="true"/>
<parameter id="V0" value="{V0}" constant="true"/><parameter id="kb" value="{KB}" constant="true"/></listOfParameters>
{f"<listOfRules>{rules}</listOfRules>" if rules else ""}
{f"<listOfEvents>{events}</listOfEvents>" if events else ""}
<listOfReactions>
<reaction id="decay" reversible="false"><listOfReactants><speciesReference species="A" stoichiometry="1" constant="true"/>
</listOfReactants><kineticLaw>{mathml("k*A")}</kineticLaw></reaction>
<reaction id="inflow" reversible="false"><listOfProducts><speciesReference species="B" stoichiometry="1" constant="true"/>
</listOfProducts><kineticLaw>{mathml("kb*c")}</kineticLaw></reaction>
</listOfReactions></model></sbml>"""


GROWTH_RULE = f'<assignmentRule variable="c">{mathml("V0*exp(g*time)")}</assignmentRule>'
GROWTH_RATE = f'<rateRule variable="c">{mathml("g*c")}</rateRule>'
DOUBLING = (
    '<event id="divide" useValuesFromTriggerTime="true"><trigger initialValue="false" persistent="true">'
    f'{mathml("time >= 1")}</trigger><listOfEventAssignments><eventAssignment variable="c">{mathml("2*c")}'
    "</eventAssignment></listOfEventAssignments></event>"
)
ALL_DISCRETE = dict(continuous_above=np.inf, discrete_below=np.inf)


def growth_moments() -> tuple[tuple[float, float], tuple[float, float]]:
    """`((mean, var) of A(T), (mean, var) of B(T))` for `V = V0 e^{g t}`."""
    survival = np.exp(-K / (V0 * G) * (1.0 - np.exp(-G * T_END)))
    b = KB * V0 * (np.exp(G * T_END) - 1.0) / G
    return (A0 * survival, A0 * survival * (1 - survival)), (b, b)


def doubling_moments() -> tuple[tuple[float, float], tuple[float, float]]:
    """The same for `V = V0` until t = 1, `2 V0` after (T = 2)."""
    survival = np.exp(-K * (1.0 / V0 + (T_END - 1.0) / (2 * V0)))
    b = KB * (V0 * 1.0 + 2 * V0 * (T_END - 1.0))
    return (A0 * survival, A0 * survival * (1 - survival)), (b, b)


def assert_moments(counts: np.ndarray, expected) -> None:
    n = counts.shape[0]
    for j, (mean, var) in enumerate(expected):
        x = counts[:, -1, j]
        z_mean = (x.mean() - mean) / np.sqrt(var / n)
        z_var = (x.var(ddof=1) - var) / (var * np.sqrt(2.0 / (n - 1)))
        assert abs(z_mean) < 4 and abs(z_var) < 4, (j, x.mean(), mean, x.var(ddof=1), var)


def test_the_ode_reference_reads_the_same_semantics() -> None:
    """libRoadRunner's solution equals the analytic means: the model says what the docstring says."""
    (a, _), (b, _) = growth_moments()
    for rules in (GROWTH_RULE, GROWTH_RATE):
        sol = sbmljax.reference.ode(sbmljax.load_sbml(document(rules)), None, [0.0, T_END])
        np.testing.assert_allclose(sol.values[-1], [a, b], rtol=1e-6)


def test_size_by_assignment_rule_extrande_matches_the_analytic_law() -> None:
    model = sbmljax.load_sbml(document(GROWTH_RULE))
    traj = sbmljax.simulate(model, [0.0, T_END], n_trajectories=2000, seed=3, method="extrande")
    assert_moments(traj.counts, growth_moments())


def test_size_by_assignment_rule_direct_refuses_a_time_dependent_propensity() -> None:
    model = sbmljax.load_sbml(document(GROWTH_RULE))
    with pytest.raises(UnsupportedSBMLFeatureError, match=r"'decay', 'inflow' depends on time.*extrande"):
        sbmljax.simulate(model, [0.0, T_END], seed=0, method="direct")


def test_size_by_rate_rule_hybrid_matches_the_analytic_law() -> None:
    """The size is a continuous variable of the hybrid method; every species discrete: exact jumps."""
    model = sbmljax.load_sbml(document(GROWTH_RATE))
    traj = sbmljax.simulate(model, [0.0, T_END], n_trajectories=1000, seed=4, method="hybrid", **ALL_DISCRETE)
    assert_moments(traj.counts, growth_moments())
    with pytest.raises(UnsupportedSBMLFeatureError, match="rateRule 'c'"):
        sbmljax.simulate(model, [0.0, T_END], seed=0, method="direct")


@pytest.mark.parametrize("method", ["direct", "nrm"])
def test_size_set_by_an_event_matches_the_analytic_law(method: str) -> None:
    """Amounts are unchanged at the event; concentrations (and the decay propensity) halve."""
    model = sbmljax.load_sbml(document(events=DOUBLING))
    traj = sbmljax.simulate(model, [0.0, T_END], n_trajectories=4000, seed=5, method=method)
    assert_moments(traj.counts, doubling_moments())


def test_initial_concentration_uses_the_size_at_t0() -> None:
    """`[A](0) = A0 / V0` in a compartment whose size is the rule's `V0 e^{g·0}` (the attribute says V0 too)."""
    import jax

    from sbmljax._compile._network import compile_network

    for rules in (GROWTH_RULE, GROWTH_RATE):
        with jax.enable_x64(True):  # as the entry points compile
            net = compile_network(sbmljax.load_sbml(document(rules, concentration=True)))
            x0, p = net.initial_state(net.p_default)
        assert float(x0[0]) == pytest.approx(A0, rel=1e-12)
        if rules is GROWTH_RATE:  # the size is the last entry of the parameter vector, after the free ones
            assert net.param_names[-1] == "c" and float(p[-1]) == V0


@pytest.mark.slow
def test_large_counts_follow_the_ode() -> None:
    """Hybrid with its default partition at 10^5 molecules: the mean within 1% of libRoadRunner's solution."""
    model = sbmljax.load_sbml(document(GROWTH_RULE).replace(f'initialAmount="{A0}"', 'initialAmount="100000"'))
    t = np.linspace(0.0, T_END, 5)
    traj = sbmljax.simulate(model, t, n_trajectories=4, seed=6, method="hybrid")
    ode = sbmljax.reference.ode(model, None, t).values
    np.testing.assert_allclose(traj.counts.mean(axis=0)[:, 0], ode[:, 0], rtol=0.01)


def test_constant_false_without_a_rule_or_event_keeps_its_size() -> None:
    """BIOMD0000000355's compartments: `constant="false"` that nothing changes, noted and simulated."""
    model = sbmljax.load_sbml(document())
    assert not model.unsupported
    assert any('declared constant="false" but no rule or event changes its size' in n for n in model.notes)
    traj = sbmljax.simulate(model, [0.0, T_END], n_trajectories=2000, seed=7, method="direct")
    survival = np.exp(-K * T_END / V0)
    b = KB * V0 * T_END
    assert_moments(traj.counts, ((A0 * survival, A0 * survival * (1 - survival)), (b, b)))


def test_what_is_not_implemented_is_refused_by_name() -> None:
    conc = '<species id="C" compartment="c" initialAmount="5" hasOnlySubstanceUnits="false" boundaryCondition="false" constant="false"/>'
    rules = GROWTH_RATE + f'<rateRule variable="C">{mathml("-k*C")}</rateRule>'
    model = sbmljax.load_sbml(document(rules, species=conc))
    with pytest.raises(UnsupportedSBMLFeatureError, match=r"rateRule 'C'.*V·d\[S\]/dt \+ \[S\]·dV/dt"):
        sbmljax.simulate(model, [0.0, 1.0], seed=0, method="hybrid")
    event = DOUBLING.replace('variable="c"', 'variable="A"')
    model = sbmljax.load_sbml(document(GROWTH_RULE, events=event))
    with pytest.raises(UnsupportedSBMLFeatureError, match=r"species 'A'.*event assignment to a concentration"):
        sbmljax.simulate(model, [0.0, 1.0], seed=0, method="hybrid")


# -- mass units ------------------------------------------------------------------------------------------
def _mass_document(extent: str = "mole") -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
<model id="mass" substanceUnits="mole" extentUnits="{extent}" timeUnits="second">
<listOfCompartments><compartment id="c" size="1" spatialDimensions="3" constant="true"/></listOfCompartments>
<listOfSpecies>
<species id="S" compartment="c" initialAmount="0.5" substanceUnits="gram" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
<species id="P" compartment="c" initialAmount="0" hasOnlySubstanceUnits="true" boundaryCondition="false" constant="false"/>
</listOfSpecies>
<listOfParameters><parameter id="k" value="2" constant="true"/></listOfParameters>
<listOfReactions><reaction id="use" reversible="false">
<listOfReactants><speciesReference species="S" stoichiometry="1" constant="true"/></listOfReactants>
<listOfProducts><speciesReference species="P" stoichiometry="1" constant="true"/></listOfProducts>
<kineticLaw>{mathml("k*S")}</kineticLaw></reaction></listOfReactions></model></sbml>"""


def test_mass_units_need_a_system_size_and_say_so() -> None:
    model = sbmljax.load_sbml(_mass_document())
    with pytest.raises(UnsupportedSBMLFeatureError, match=r"'gram' is a mass.*pass system_size=Ω"):
        sbmljax.simulate(model, [0.0, 1.0], seed=0)


@pytest.mark.parametrize("extent", ["mole", "gram"])
def test_mass_units_under_a_system_size_are_read_as_the_equations_read_them(extent: str) -> None:
    """Counts `value × Ω` for the gram species as for the mole one, propensity `Ω × law`: the mean of
    `S/Ω` is the model's ODE, `0.5 e^{-k t}`."""
    omega = 1000.0
    model = sbmljax.load_sbml(_mass_document(extent), system_size=omega)
    assert not model.unsupported
    assert any("mass units" in n for n in model.notes)
    traj = sbmljax.simulate(model, [0.0, 1.0], n_trajectories=2000, seed=8, method="direct")
    assert traj.counts[0, 0, 0] == 0.5 * omega
    p = np.exp(-2.0)
    s_moments = (0.5 * omega * p, 0.5 * omega * p * (1 - p))
    assert_moments(traj.counts, (s_moments, (0.5 * omega - s_moments[0], s_moments[1])))


@pytest.mark.slow  # a hybrid compilation, about a minute
def test_a_trigger_on_a_diluted_concentration_is_located_between_jumps() -> None:
    """All species discrete and nothing firing (k = kb = 0): only the rate-rule size moves `[A] = A / V(t)`, so
    the hybrid method must locate `[A] < 40` itself, at `V = A0 / 40`, i.e. `t = ln(A0 / (40 V0)) / g` (not at
    the next output time, 0.01 later)."""
    fire = (
        '<event id="flag" useValuesFromTriggerTime="true"><trigger initialValue="false" persistent="true">'
        f'{mathml("A < 40")}</trigger><listOfEventAssignments><eventAssignment variable="B">{mathml("floor(1000*time)")}'
        "</eventAssignment></listOfEventAssignments></event>"
    )
    text = document(GROWTH_RATE, events=fire).replace(f'id="k" value="{K}"', 'id="k" value="0"')
    text = text.replace(f'id="kb" value="{KB}"', 'id="kb" value="0"')
    assert 'value="0"' in text
    t_hit = np.log(A0 / (40 * V0)) / G
    t = np.array([0.0, t_hit - 0.01, t_hit + 0.01])
    traj = sbmljax.simulate(sbmljax.load_sbml(text), t, seed=0, method="hybrid", **ALL_DISCRETE)
    assert traj.counts[0, 1, 1] == 0  # B records the time the trigger fired, in thousandths
    assert abs(traj.counts[0, 2, 1] - 1000 * t_hit) <= 1.0, (traj.counts[0, 2, 1], 1000 * t_hit)


def test_an_observable_reading_a_changing_size_is_refused(tmp_path) -> None:
    """Observables read compartment sizes as constants: a size that changes is refused, not read at t0."""
    from sbmljax.data import Dataset, observables
    from sbmljax.errors import DataError

    path = tmp_path / "obs.csv"
    path.write_text("time,conc\n1,3\n")
    model = sbmljax.load_sbml(document(GROWTH_RULE))
    with pytest.raises(DataError, match="observable 'conc' reads compartment 'c', whose size changes"):
        observables(Dataset.from_csv(path, model, observables={"conc": "A / c"}), model)

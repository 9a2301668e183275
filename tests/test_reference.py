"""The libRoadRunner ODE reference: counts, units, parameters (global and local), sensitivities."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import DATA, MODELS
from helpers import birth_death_moments, sbml_model
from scipy.integrate import solve_ivp

import sbmljax
from sbmljax._compile._network import compile_network
from sbmljax._expr import AVOGADRO
from sbmljax.errors import ConfigError, InitialStateError, ParameterError
from sbmljax.reference import OdeSolution, ode, ode_sensitivities
from sbmljax.reference._runner import runner_for

DSMTS_00002 = DATA / "sbml-stochastic" / "00002" / "00002-sbml-l3v1.xml"
BIOMD9 = DATA / "biomodels" / "BIOMD0000000009.xml"


@pytest.fixture(scope="module")
def sir() -> sbmljax.Model:
    return sbmljax.load_sbml(MODELS / "sir.xml")


@pytest.fixture(scope="module")
def a_to_b() -> sbmljax.Model:
    return sbmljax.load_sbml(sbml_model({"A": 100, "B": 0}, {"k": 0.3}, [("r", "A -> B", "k * A")]))


@pytest.mark.parametrize("params", [None, {"c1": 2e-4, "c2": 0.05}])
def test_sir_matches_scipy_mass_action(sir, params) -> None:
    c1, c2 = (params or {}).get("c1", 1e-4), (params or {}).get("c2", 0.01)

    def rhs(_, y):
        s, i, _r = y
        return [-c1 * s * i, c1 * s * i - c2 * i, c2 * i]

    t = np.linspace(0, 250, 26)
    expected = solve_ivp(rhs, (0, 250), [999, 1, 0], t_eval=t, method="LSODA", rtol=1e-11, atol=1e-10).y.T
    sol = ode(sir, params, t)
    assert isinstance(sol, OdeSolution)
    assert sol.species == ("S", "I", "R") == sir.species_ids
    assert sol.values.shape == (26, 3) and sol.values.dtype == np.float64
    np.testing.assert_allclose(sol.values, expected, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(sol.values.sum(axis=1), 1000.0, rtol=1e-10)


def test_birth_death_mean_formula() -> None:
    model = sbmljax.load_sbml(MODELS / "birth_death.xml")
    t = np.array([0.0, 0.5, 3.0, 10.0, 40.0, 100.0])
    for params, initial, x0 in [(None, None, 0.0), ({"k1": 4.0, "k2": 0.5}, {"X": 30}, 30.0)]:
        k1, k2 = (params or {}).get("k1", 10.0), (params or {}).get("k2", 0.1)
        mean, _ = birth_death_moments(x0, k1, k2, t)
        np.testing.assert_allclose(ode(model, params, t, initial=initial)["X"], mean, rtol=1e-8, atol=1e-8)


def test_units_mole_based_concentrations_biomd9() -> None:
    # µM concentrations in a 4e-12 L compartment: K = 1.2 µM → 1.2e-6 · 4e-12 · N_A ≈ 2.9e6 molecules.
    model = sbmljax.load_sbml(BIOMD9)
    sol = ode(model, None, [0.0, 5.0])
    assert sol["K"][0] == pytest.approx(1.2e-6 * 4e-12 * AVOGADRO, rel=1e-12)
    assert sol["K"][0] == pytest.approx(2.89e6, rel=1e-3)
    with jax.enable_x64(True):
        net = compile_network(model)
        x0, p = net.initial_state(net.p_default)
        x0 = np.asarray(net.observe(x0, p, jnp.asarray(0.0)))
    np.testing.assert_allclose(sol.values[0], x0, rtol=1e-12, atol=1e-12)


def test_units_dynamics_biomd9_match_compiled_propensities() -> None:
    # The whole chain over time, not only at t = 0: sbmljax's propensities (counts, extent factor,
    # concentration semantics, split reversible laws) integrated by scipy must give roadrunner's counts.
    model = sbmljax.load_sbml(BIOMD9)
    t = np.array([0.0, 2.0, 10.0])
    with jax.enable_x64(True):
        net = compile_network(model)
        x0, p = net.initial_state(net.p_default)
        rhs = jax.jit(lambda x: net.stoich.T @ net.propensities(x, p, jnp.asarray(0.0)))
        jac = jax.jit(jax.jacfwd(lambda x: net.stoich.T @ net.propensities(x, p, jnp.asarray(0.0))))
        sol = solve_ivp(
            lambda _, x: np.asarray(rhs(jnp.asarray(x))),
            (0, 10),
            np.asarray(x0),
            t_eval=t,
            method="BDF",
            jac=lambda _, x: np.asarray(jac(jnp.asarray(x))),
            rtol=1e-10,
            atol=1e-6,
        )
    ours = ode(model, None, t)
    dynamic = [i for i, s in enumerate(model.species_ids) if s not in model.rule_targets()]
    np.testing.assert_allclose(ours.values[:, dynamic], sol.y.T[:, dynamic], rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("hosu, rate", [(True, 0.3), (False, 0.15)])
def test_compartment_size_two_gives_amounts_not_concentrations(hosu, rate) -> None:
    # `k * A` reads A as an amount (hOSU) or as the concentration amount / 2: the decay rate halves.
    model = sbmljax.load_sbml(
        sbml_model({"A": 100, "B": 0}, {"k": 0.3}, [("r", "A -> B", "k * A")], compartment_size=2.0, hosu=hosu)
    )
    t = np.array([0.0, 1.0, 4.0])
    sol = ode(model, None, t)
    np.testing.assert_allclose(sol["A"], 100 * np.exp(-rate * t), rtol=1e-8)
    np.testing.assert_allclose(sol["B"], 100 * (1 - np.exp(-rate * t)), rtol=1e-8, atol=1e-8)


def test_mole_substance_units_are_converted_to_counts() -> None:
    text = sbml_model({"A": 1e-20}, {"k": 0.2}, [("r", "A -> 0", "k * A")]).replace(
        'substanceUnits="item" extentUnits="item"', 'substanceUnits="mole" extentUnits="mole"'
    )
    model = sbmljax.load_sbml(text)
    t = np.array([0.0, 3.0])
    np.testing.assert_allclose(ode(model, None, t)["A"], 1e-20 * AVOGADRO * np.exp(-0.2 * t), rtol=1e-8)
    # An override is in molecules and comes back in molecules.
    np.testing.assert_allclose(ode(model, None, t, initial={"A": 500})["A"], 500 * np.exp(-0.2 * t), rtol=1e-8)


def test_local_parameter_override() -> None:
    # DSMTS 00002: X' = (Lambda − Mu) X with local Birth.Lambda = 0.1, Death.Mu = 0.11, X0 = 100.
    model = sbmljax.load_sbml(DSMTS_00002)
    t = np.linspace(0, 50, 6)
    np.testing.assert_allclose(ode(model, None, t)["X"], 100 * np.exp(-0.01 * t), rtol=1e-8)
    got = ode(model, {"Birth.Lambda": 0.2, "Death.Mu": 0.05}, t)["X"]
    np.testing.assert_allclose(got, 100 * np.exp(0.15 * t), rtol=1e-8)
    # The next call without overrides is back at the model's values (no state leaks between calls).
    np.testing.assert_allclose(ode(model, None, t)["X"], 100 * np.exp(-0.01 * t), rtol=1e-8)
    assert runner_for(model).promoted == {"Birth.Lambda": "Birth_Lambda", "Death.Mu": "Death_Mu"}


def test_local_parameter_promotion_avoids_global_id_clash() -> None:
    # A global `r_k` already exists, so libsbml promotes the local `r.k` to another id; the map must follow.
    text = sbml_model({"A": 100}, {"r_k": 5.0}, [("r", "A -> 0", "k * A")]).replace(
        "</kineticLaw>",
        '<listOfLocalParameters><localParameter id="k" value="0.1"/></listOfLocalParameters></kineticLaw>',
    )
    model = sbmljax.load_sbml(text)
    t = np.array([0.0, 2.0])
    np.testing.assert_allclose(ode(model, {"r.k": 0.4}, t)["A"], 100 * np.exp(-0.4 * t), rtol=1e-8)
    np.testing.assert_allclose(ode(model, {"r_k": 1.0}, t)["A"], 100 * np.exp(-0.1 * t), rtol=1e-8)
    assert runner_for(model).promoted["r.k"] not in ("r_k", None)


def test_initial_assignments_follow_parameters_without_leaking() -> None:
    extra = (
        '<listOfInitialAssignments><initialAssignment symbol="A"><math xmlns="http://www.w3.org/1998/Math/MathML">'
        "<apply><times/><ci>a0</ci><cn>2</cn></apply></math></initialAssignment></listOfInitialAssignments>"
    )
    model = sbmljax.load_sbml(
        sbml_model({"A": 1, "B": 0}, {"k": 0.3, "a0": 10}, [("r", "A -> B", "k * A")], extra=extra)
    )
    t = np.array([0.0, 1.0])
    for a0 in (10.0, 25.0, None, 7.0):
        params = None if a0 is None else {"a0": a0}
        expected = 2 * (10.0 if a0 is None else a0) * np.exp(-0.3 * t)
        np.testing.assert_allclose(ode(model, params, t)["A"], expected, rtol=1e-8)


def test_time_grids_t0_and_repeated_times(a_to_b) -> None:
    t = np.array([1.0, 1.0, 2.5, 7.0])
    sol = ode(a_to_b, None, t, t0=0.5)
    np.testing.assert_allclose(sol["A"], 100 * np.exp(-0.3 * (t - 0.5)), rtol=1e-8)
    np.testing.assert_allclose(ode(a_to_b, None, [0.0])["A"], [100.0])
    frame = sol.to_dataframe()
    assert list(frame.columns) == ["time", "A", "B"] and len(frame) == 4
    with pytest.raises(ConfigError, match="non-decreasing"):
        ode(a_to_b, None, [2.0, 1.0])
    with pytest.raises(ConfigError, match="before the start time"):
        ode(a_to_b, None, [0.0, 1.0], t0=0.5)


def test_bad_parameters_and_initial_counts(sir) -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'beta'.*c1, c2"):
        ode(sir, {"beta": 1.0}, [0.0, 1.0])
    with pytest.raises(ParameterError, match="'S' is a species"):
        ode(sir, {"S": 1.0}, [0.0, 1.0])
    with pytest.raises(ParameterError, match="not finite"):
        ode(sir, {"c1": float("nan")}, [0.0, 1.0])
    with pytest.raises(InitialStateError, match="unknown species 'Q'"):
        ode(sir, None, [0.0, 1.0], initial={"Q": 3})
    with pytest.raises(InitialStateError, match="'I'"):
        ode(sir, None, [0.0, 1.0], initial={"I": -1})
    with pytest.raises(ParameterError, match="unknown parameter 'beta'"):
        ode_sensitivities(sir, None, [0.0, 1.0], ["beta"])


def test_runner_is_cached_per_model_and_released_with_it(sir) -> None:
    import gc

    from sbmljax.reference._runner import _RUNNERS

    assert runner_for(sir) is runner_for(sir)
    other = sbmljax.load_sbml(MODELS / "sir.xml")
    assert runner_for(other) is not runner_for(sir)
    n = len(_RUNNERS)
    del other
    gc.collect()
    assert len(_RUNNERS) == n - 1


def test_sensitivities_first_order_analytic(a_to_b) -> None:
    # A → B at rate k A: B = A0 (1 − e^{−kt}), dB/dk = A0 t e^{−kt} = −dA/dk.
    t = np.linspace(0, 10, 11)
    values, sens = ode_sensitivities(a_to_b, {"k": 0.5}, t, ["k"])
    assert values.shape == (11, 2) and sens.shape == (11, 2, 1)
    analytic = 100 * t * np.exp(-0.5 * t)
    np.testing.assert_allclose(sens[:, 1, 0], analytic, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sens[:, 0, 0], -analytic, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(values[:, 1], 100 * (1 - np.exp(-0.5 * t)), rtol=1e-10, atol=1e-9)


def test_sensitivities_local_parameters_and_linear_means() -> None:
    # DSMTS 00002: X = 100 e^{(λ−μ)t}: dX/dλ = t X, dX/dμ = −t X.
    model = sbmljax.load_sbml(DSMTS_00002)
    t = np.array([0.0, 10.0, 30.0, 50.0])
    values, sens = ode_sensitivities(model, None, t, ["Birth.Lambda", "Death.Mu"])
    x = 100 * np.exp(-0.01 * t)
    np.testing.assert_allclose(sens[:, 0, 0], t * x, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(sens[:, 0, 1], -t * x, rtol=1e-6, atol=1e-7)
    # Birth–death: dE[X]/dk1 = (1 − e^{−k2 t}) / k2.
    bd = sbmljax.load_sbml(MODELS / "birth_death.xml")
    t = np.array([1.0, 5.0, 20.0])
    _, sens = ode_sensitivities(bd, None, t, ["k1"])
    np.testing.assert_allclose(sens[:, 0, 0], (1 - np.exp(-0.1 * t)) / 0.1, rtol=1e-6)

"""Every error path a user can hit gives a clear error naming the element and the reason."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from helpers import ALL_METHODS, sbml_model, unchecked

import sbmljax
from sbmljax.errors import (
    ConfigError,
    InitialStateError,
    NetworkError,
    ParameterError,
    SBMLReadError,
    SimulationError,
    UnsupportedSBMLFeatureError,
)

T = np.linspace(0.0, 10.0, 11)


def run(text: str, **kw):
    return sbmljax.simulate(sbmljax.load_sbml(text), T, seed=0, n_trajectories=kw.pop("n", 20), **kw)


# -- reading -----------------------------------------------------------------------------------------------
def test_malformed_xml_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text('<?xml version="1.0"?>\n<sbml>\n  <model id="m">\n</sbml>\n')
    with pytest.raises(SBMLReadError, match=r"bad\.xml:\d+: "):
        sbmljax.load_sbml(path)


def test_missing_and_empty_files(tmp_path) -> None:
    with pytest.raises(SBMLReadError, match="no such file"):
        sbmljax.load_sbml(tmp_path / "nope.xml")
    empty = tmp_path / "empty.xml"
    empty.write_text("")
    with pytest.raises(SBMLReadError, match="empty"):
        sbmljax.load_sbml(empty)


def test_non_sbml_xml_is_refused() -> None:
    with pytest.raises(SBMLReadError):
        sbmljax.load_sbml('<?xml version="1.0"?><html><body/></html>')


def test_consistency_error_reports_line() -> None:
    text = sbml_model({"A": 10}, {"k": 1}, [("r", "A -> B", "k*A")])  # B is not declared
    with pytest.raises(SBMLReadError, match=r"<string>:\d+: .*B"):
        sbmljax.load_sbml(text)


# -- unsupported constructs ---------------------------------------------------------------------------------
def _with(extra: str, law: str = "k*A") -> str:
    return sbml_model({"A": 10}, {"k": 1}, [("r", "A -> 0", law)], extra=extra)


def test_rate_rule_is_refused_naming_variable() -> None:
    extra = '<listOfRules><rateRule variable="k"><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>1</cn></math></rateRule></listOfRules>'
    text = _with(extra).replace(
        '<parameter id="k" value="1" constant="true"/>', '<parameter id="k" value="1" constant="false"/>'
    )
    with pytest.raises(UnsupportedSBMLFeatureError, match="rateRule 'k'"):
        run(text)


def test_algebraic_rule_is_refused() -> None:
    extra = '<listOfRules><algebraicRule><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><minus/><ci>k</ci><cn>1</cn></apply></math></algebraicRule></listOfRules>'
    text = _with(extra).replace(
        '<parameter id="k" value="1" constant="true"/>', '<parameter id="k" value="1" constant="false"/>'
    )
    with pytest.raises(UnsupportedSBMLFeatureError, match="algebraicRule"):
        run(text)


def _event_with_delay(delay: str | None) -> str:
    """A model whose event e1 sets A to 50 at t = 1, with `delay` as the delay's MathML (None: no `<delay>`)."""
    ev = (
        '<listOfEvents><event id="e1" useValuesFromTriggerTime="true"><trigger initialValue="false" persistent="true">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><geq/><csymbol encoding="text" '
        'definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>1</cn></apply></math></trigger>'
        + (f'<delay><math xmlns="http://www.w3.org/1998/Math/MathML">{delay}</math></delay>' if delay else "")
        + '<listOfEventAssignments><eventAssignment variable="A"><math xmlns="http://www.w3.org/1998/Math/MathML">'
        "<cn>50</cn></math></eventAssignment></listOfEventAssignments></event></listOfEvents>"
    )
    model = sbml_model({"A": 10}, {"k": 1, "d0": 0}, [("r", "A -> 0", "k*A")])
    return model.replace("</listOfReactions>", "</listOfReactions>" + ev)


def test_a_constant_zero_event_delay_is_no_delay() -> None:
    """SBML assumes a zero delay where none is given, so `<delay>0</delay>` (as exporters write it, e.g. in
    BIOMD0000000408) is the same event: the seeded ensemble equals the undelayed event's, bit for bit, and the
    event fires at t = 1."""
    times = np.linspace(0.0, 2.0, 5)
    plain = sbmljax.simulate(sbmljax.load_sbml(_event_with_delay(None)), times, n_trajectories=32, seed=4)
    for zero in ("<cn>0</cn>", "<cn>0.0</cn>", "<apply><minus/><cn>2</cn><cn>2</cn></apply>"):
        delayed = sbmljax.simulate(sbmljax.load_sbml(_event_with_delay(zero)), times, n_trajectories=32, seed=4)
        np.testing.assert_array_equal(np.asarray(delayed.counts), np.asarray(plain.counts))
    # at t = 1 (index 2) the event has just set A to 50 in every trajectory
    assert np.all(np.asarray(plain.counts)[:, 2, 0] == 50)


def test_a_delay_reading_a_parameter_is_refused_even_at_zero() -> None:
    """A delay that reads a parameter is not folded: rules, initial assignments or events could change it."""
    with pytest.raises(UnsupportedSBMLFeatureError, match="event 'e1'.*delay"):
        run(_event_with_delay("<ci>d0</ci>"))


def test_delay_in_kinetic_law_is_refused_naming_reaction() -> None:
    with pytest.raises(UnsupportedSBMLFeatureError, match=r"reaction 'r' kineticLaw \(delay\)"):
        run(_with("", law="k*delay(A, 1)"))


def test_delayed_event_is_refused() -> None:
    ev = (
        '<listOfEvents><event id="e1" useValuesFromTriggerTime="true"><trigger initialValue="false" persistent="true">'
        '<math xmlns="http://www.w3.org/1998/Math/MathML"><apply><geq/><csymbol encoding="text" '
        'definitionURL="http://www.sbml.org/sbml/symbols/time">t</csymbol><cn>1</cn></apply></math></trigger>'
        '<delay><math xmlns="http://www.w3.org/1998/Math/MathML"><cn>2</cn></math></delay>'
        '<listOfEventAssignments><eventAssignment variable="A"><math xmlns="http://www.w3.org/1998/Math/MathML">'
        "<cn>5</cn></math></eventAssignment></listOfEventAssignments></event></listOfEvents>"
    )
    with pytest.raises(UnsupportedSBMLFeatureError, match="event 'e1'.*delay"):
        run(
            sbml_model({"A": 10}, {"k": 1}, [("r", "A -> 0", "k*A")]).replace(
                "</listOfReactions>", "</listOfReactions>" + ev
            )
        )


def test_missing_kinetic_law_is_refused() -> None:
    text = _with("")
    start, end = text.index("<kineticLaw>"), text.index("</kineticLaw>") + len("</kineticLaw>")
    with pytest.raises(UnsupportedSBMLFeatureError, match="reaction 'r'.*no kinetic law"):
        run(text[:start] + text[end:])


def test_time_dependent_propensity_is_refused_for_exact_methods() -> None:
    with pytest.raises(UnsupportedSBMLFeatureError, match="'r'.*depends on time"):
        run(_with("", law="k*A*time"))


# -- initial state and parameters ---------------------------------------------------------------------------
def test_non_integer_initial_count_is_refused() -> None:
    with pytest.raises(InitialStateError, match="'A' starts with 2.5 molecules"):
        run(sbml_model({"A": 2.5}, {"k": 1}, [("r", "A -> 0", "k*A")]))


def test_negative_initial_count_is_refused() -> None:
    with pytest.raises(InitialStateError, match="'A'.*negative"):
        run(sbml_model({"A": -3}, {"k": 1}, [("r", "A -> 0", "k*A")]))


def test_unknown_parameter_lists_known_ones() -> None:
    with pytest.raises(ParameterError, match="unknown parameter 'kk'; the model's parameters are: k"):
        run(_with(""), params={"kk": 2.0})


def test_species_passed_as_parameter_points_to_initial() -> None:
    with pytest.raises(ParameterError, match="'A' is a species.*initial="):
        run(_with(""), params={"A": 2.0})


def test_non_finite_parameter_is_refused() -> None:
    with pytest.raises(ParameterError, match="not finite"):
        run(_with(""), params={"k": float("nan")})


def test_rule_defined_parameter_cannot_be_overridden(data_dir) -> None:
    m = sbmljax.load_sbml(data_dir / "biomodels" / "BIOMD0000000012.xml")
    with pytest.raises(ParameterError, match="'k_tl' is computed by an assignment rule"):
        sbmljax.simulate(m, T, seed=0, params={"k_tl": 1.0})


def test_unknown_method_and_bad_seed() -> None:
    with pytest.raises(ConfigError, match="unknown method 'gillespie'"):
        run(_with(""), method="gillespie")
    with unchecked(), pytest.raises(ConfigError, match="seed"):  # a float seed is outside the annotation
        sbmljax.simulate(sbmljax.load_sbml(_with("")), T, seed=1.5)


def test_unknown_symbol_in_law_is_a_network_error() -> None:
    text = _with("", law="k*A*Q")
    with pytest.raises((NetworkError, SBMLReadError), match="Q"):
        sbmljax.load_sbml(text)


# -- run time -----------------------------------------------------------------------------------------------
def test_negative_propensity_at_run_time_names_reaction_time_and_state() -> None:
    # A decays; the law of r, k*(A - 5), turns negative once A < 5.
    text = sbml_model({"A": 10, "B": 0}, {"k": 1}, [("d", "A -> 0", "k*A"), ("r", "0 -> B", "k*(A - 5)")])
    with pytest.raises(
        SimulationError,
        match=r"reaction 'r' has a negative propensity \(-1\) at t=[\d.e-]+ in trajectory \d+.*state A=4",
    ):
        run(text)


def test_nan_propensity_at_run_time() -> None:
    text = sbml_model({"A": 10, "B": 0}, {"k": 1}, [("d", "A -> 0", "k*A"), ("r", "0 -> B", "k*sqrt(A - 5)")])
    with pytest.raises(SimulationError, match="reaction 'r' has a NaN propensity"):
        run(text)


def test_step_limit_is_reported() -> None:
    text = sbml_model({"A": 0}, {"k": 100}, [("r", "0 -> A", "k")])
    with pytest.raises(SimulationError, match="took 50 steps"):
        run(text, max_steps=50)


# -- command line -------------------------------------------------------------------------------------------
def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sbmljax", *args], capture_output=True, text=True, cwd=cwd)


def test_cli_error_is_one_line_without_traceback_and_leaves_no_file(tmp_path, models_dir) -> None:
    out = tmp_path / "out.csv"
    r = _cli(
        "simulate", str(models_dir / "sir.xml"), "--t-end", "10", "--seed", "0", "--out", str(out), "--param", "c9=1"
    )
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sbmljax: error:") and "c9" in lines[0]
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert not list(tmp_path.iterdir())


def test_cli_malformed_sbml_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<sbml")
    r = _cli("info", str(bad))
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1 and "bad.xml" in r.stderr


def test_cli_debug_shows_traceback(tmp_path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<sbml")
    r = _cli("--debug", "info", str(bad))
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_cli_simulate_requires_seed(models_dir, tmp_path) -> None:
    r = _cli("simulate", str(models_dir / "sir.xml"), "--t-end", "10", "--out", str(tmp_path / "o.csv"))
    assert r.returncode == 2 and "--seed" in r.stderr


@pytest.mark.parametrize("method,options", ALL_METHODS, ids=[m for m, _ in ALL_METHODS])
def test_rate_law_that_does_not_vanish_is_caught_before_a_negative_count(method, options) -> None:
    # A is consumed at a constant rate k whatever its count: the law is wrong once A reaches 0.
    text = sbml_model({"A": 5}, {"k": 3.0}, [("drain", "A -> 0", "k")])
    with pytest.raises(
        SimulationError, match=r"reaction 'drain' has propensity 3 > 0 but firing it would make A negative"
    ) as info:
        run(text, method=method, **options)
    # The hybrid method runs the law as a flux in its ODE, which drives A below zero before it stops: said so.
    driven = "A was driven below zero by the hybrid method's ODE" in str(info.value)
    assert driven == (method == "hybrid"), str(info.value)

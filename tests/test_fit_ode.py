"""The least-squares ODE fit: recovery of known parameters, and the boarding-school influenza data."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS, REPO

import sbmljax
from sbmljax.data import EstimatedParameter, Problem, load_petab, problem_from_csv
from sbmljax.errors import DataError, ParameterError
from sbmljax.reference import OdeFit, fit_ode, ode

SCHOOL = REPO / "data" / "boarding_school"
N_PUPILS = 763


def synthetic_csv(path: Path, model, params, t, species) -> Path:
    frame = ode(model, params, t).to_dataframe()[["time", *species]]
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


@pytest.mark.parametrize(
    "model_file, truth, species",
    [
        ("sir.xml", {"c1": 1e-4, "c2": 0.01}, ["S", "I"]),
        ("birth_death.xml", {"k1": 10.0, "k2": 0.1}, ["X"]),
    ],
)
def test_recovers_known_parameters_from_three_times_off(tmp_path, model_file, truth, species) -> None:
    model = sbmljax.load_sbml(MODELS / model_file)
    path = synthetic_csv(tmp_path / "data.csv", model, truth, np.linspace(5, 200, 40), species)
    problem = problem_from_csv(model, path, list(truth))
    start = {k: 3 * v for k, v in truth.items()}
    fit = fit_ode(problem, start=start)
    assert isinstance(fit, OdeFit) and fit.success and fit.start == start
    for k, v in truth.items():
        assert fit.params[k] == pytest.approx(v, rel=1e-2), (k, fit)
        assert fit.params[k] == pytest.approx(v, rel=1e-6)  # exact data: far better than the 1 % asked
    assert fit.n_data == 40 * len(species) and fit.n_evaluations >= fit.nfev > 0
    assert not fit.noise_known and any("residual variance" in n for n in fit.notes)


def test_boarding_school_influenza() -> None:
    problem = load_petab(SCHOOL / "problem.yaml")
    fit = fit_ode(problem)
    beta, gamma = fit.params["beta"], fit.params["gamma"]
    r0 = beta * N_PUPILS / gamma
    # Delta method on the log10 scales: log10 R0 = log10 beta − log10 gamma + log10 N.
    c = fit.covariance
    se_r0 = r0 * math.log(10) * math.sqrt(c[0, 0] + c[1, 1] - 2 * c[0, 1])
    print(
        f"\nboarding school ODE fit: beta = {beta:.4g} ± {fit.standard_errors['beta']:.2g} /pupil/day, "
        f"gamma = {gamma:.4g} ± {fit.standard_errors['gamma']:.2g} /day, R0 = beta·N/gamma = {r0:.3f} ± {se_r0:.2f}; "
        f"cost {fit.cost:.3f}, residual scale {fit.residual_scale:.3f}, {fit.n_evaluations} ODE solves"
    )
    assert fit.success and fit.noise_known and fit.notes == ()
    assert 3.0 < r0 < 4.5  # published SIR estimates for these data lie between about 3 and 4
    assert 1 / gamma == pytest.approx(2.25, abs=0.3)  # mean time confined to bed: about two days
    assert 0.7 < fit.residual_scale < 1.5  # sigma = 18 pupils describes the misfit
    assert fit.standard_errors["beta"] / beta < 0.05 and fit.standard_errors["gamma"] / gamma < 0.1
    # The fit does not depend on the start.
    again = fit_ode(problem, start={"beta": 6e-3, "gamma": 1.5})
    assert again.params["beta"] == pytest.approx(beta, rel=1e-5) and again.params["gamma"] == pytest.approx(
        gamma, rel=1e-5
    )


def test_refusals(tmp_path) -> None:
    problem = load_petab(SCHOOL / "problem.yaml")
    with pytest.raises(ParameterError, match="start value 1 of 'beta' is outside its bounds"):
        fit_ode(problem, start={"beta": 1.0})
    with pytest.raises(ParameterError, match="'sigma'.*not estimated"):
        fit_ode(problem, start={"sigma": 1.0})
    school = Path(shutil.copytree(SCHOOL, tmp_path / "school"))
    par = school / "parameters.tsv"
    par.write_text(par.read_text().replace("\t18\t0", "\t18\t1"))
    with pytest.raises(ParameterError, match="noise SD of observable 'obs_I' depends on estimated parameter"):
        fit_ode(load_petab(school / "problem.yaml"))
    # Noise SDs for some observables and not for others cannot be weighted consistently.
    model = problem.model
    p_known = problem_from_csv(model, _csv(tmp_path / "a.csv", "time,I\n1,3\n2,8\n"), ["beta"], noise_sd=2.0)
    p_unknown = problem_from_csv(model, _csv(tmp_path / "b.csv", "time,I\n1,3\n2,8\n"), ["beta"])
    mixed = Problem(
        model, p_known.datasets + p_unknown.datasets, (EstimatedParameter("beta", 2e-3, 1e-5, 0.1, "log10"),)
    )
    with pytest.raises(DataError, match="noise SDs for every observable or for none"):
        fit_ode(mixed)


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path

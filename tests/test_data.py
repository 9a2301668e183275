"""Datasets, the quick CSV form, observables in JAX, and PEtab problems (the bundled boarding-school data)."""

from __future__ import annotations

import shutil
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from conftest import MODELS, REPO

import sbmljax
from sbmljax.data import (
    Dataset,
    EstimatedParameter,
    Problem,
    load_petab,
    noise_model,
    observables,
    parse_formula,
    problem_from_csv,
    write_parameter_table,
)
from sbmljax.errors import DataError, ParameterError

SCHOOL = REPO / "data" / "boarding_school"
COUNTS = [3, 8, 26, 76, 225, 298, 258, 233, 189, 128, 68, 29, 14, 4]


@pytest.fixture(scope="module")
def sir() -> sbmljax.Model:
    return sbmljax.load_sbml(MODELS / "sir.xml")


@pytest.fixture
def school(tmp_path) -> Path:
    """A private copy of the boarding-school problem, to break."""
    return Path(shutil.copytree(SCHOOL, tmp_path / "school"))


def petab_lint_errors(yaml: Path) -> bool:
    """petab's own verdict (`True` if errors), with petab's pandas deprecation warnings silenced."""
    import warnings

    import petab.v1

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module=r"petab(\.|$)")
        return petab.v1.lint_problem(petab.v1.Problem.from_yaml(str(yaml)))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- quick CSV form ------------------------------------------------------------------------------------------


def test_csv_round_trip(tmp_path, sir) -> None:
    path = write(tmp_path / "obs.csv", "time,I,S\n0,1,999\n5.5,,990\n10,12,NaN\n")
    d = Dataset.from_csv(path, sir, noise_sd=2.0)
    assert d.name == "obs" and d.observable_ids == ("I", "S") and d.n_measurements == 4
    np.testing.assert_array_equal(d.times, [0.0, 5.5, 10.0])
    np.testing.assert_array_equal(d.values, [[1, 999], [np.nan, 990], [12, np.nan]])
    assert d.times.dtype == np.float64 and not d.values.flags.writeable
    again = tmp_path / "again.csv"
    d.to_dataframe().to_csv(again, index=False)
    d2 = Dataset.from_csv(again, sir, noise_sd=2.0)
    np.testing.assert_array_equal(d2.times, d.times)
    np.testing.assert_array_equal(d2.values, d.values)
    sd = noise_model(d2, sir)(np.zeros((3, 3)), {})
    np.testing.assert_array_equal(np.asarray(sd), np.full((3, 2), 2.0))


def test_csv_declared_observables(tmp_path, sir) -> None:
    path = write(tmp_path / "total.csv", "time,infected_or_removed\n1,3\n2,5\n")
    d = Dataset.from_csv(path, sir, observables={"infected_or_removed": "I + R"})
    counts = np.array([[990.0, 4.0, 6.0], [980.0, 7.0, 13.0]])
    np.testing.assert_allclose(np.asarray(observables(d, sir)(counts, {})), [[10.0], [20.0]])


@pytest.mark.parametrize(
    "text, match",
    [
        ("time,I,Q\n0,1,2\n", r"obs\.csv: column 'Q' is not a species"),
        ("time,I\n0,1\n1,x7\n", r"obs\.csv: row 2 \(line 3\), column 'I': 'x7' is not a number"),
        ("time,I\n0,1\n2,3\n1,4\n", r"obs\.csv: row 3 \(line 4\), column 'time': times must be strictly increasing"),
        ("time,I\n0,1\n0,3\n", r"row 2 \(line 3\), column 'time': times must be strictly increasing"),
        ("time,I\n-1,1\n", r"row 1 \(line 2\), column 'time': negative time"),
        ("time,I\n,1\n", r"row 1 \(line 2\), column 'time': '' is not a number"),
        ("I,S\n1,2\n", r"obs\.csv: no 'time' column"),
        ("time,I,I\n0,1,1\n", r"column 'I' appears twice"),
        ("time,I\n0,1,5\n", r"row 1 \(line 2\) has 3 cells"),
        ("time,I\n0,inf\n", r"column 'I': 'inf' is not finite"),
        ("time,I\n", r"no data rows"),
    ],
)
def test_csv_errors_name_file_row_and_column(tmp_path, sir, text, match) -> None:
    with pytest.raises(DataError, match=match):
        Dataset.from_csv(write(tmp_path / "obs.csv", text), sir)


def test_csv_missing_file(tmp_path, sir) -> None:
    with pytest.raises(DataError, match=r"nothere\.csv: no such file"):
        Dataset.from_csv(tmp_path / "nothere.csv", sir)


# -- observables ---------------------------------------------------------------------------------------------


def test_observables_are_jax_functions_of_counts_and_parameters(tmp_path, sir) -> None:
    path = write(tmp_path / "scaled.csv", "time,seen\n1,3\n2,5\n")
    d = Dataset.from_csv(path, sir, observables={"seen": "scale * I + c1 * 0"})
    f = observables(d, sir)
    counts = jnp.array([[[990.0, 4.0, 6.0], [980.0, 7.0, 13.0]]] * 5)  # (N, T, S) ensemble
    out = f(counts, {"scale": 0.5})
    assert out.shape == (5, 2, 1) and out.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(out[0, :, 0]), [2.0, 3.5])
    with jax.enable_x64(True):  # the parameter is the test's own JAX array
        grad = jax.grad(lambda s: f(counts, {"scale": s}).sum())(jnp.asarray(0.5))
    assert float(grad) == pytest.approx(5 * (4.0 + 7.0))
    np.testing.assert_allclose(np.asarray(jax.jit(f)(counts, {"scale": 0.5})), np.asarray(out))
    with pytest.raises(ParameterError, match="'scale'"):
        f(counts, {})


def test_observable_reading_unknown_symbol_is_refused_by_problem(tmp_path, sir) -> None:
    path = write(tmp_path / "typo.csv", "time,seen\n1,3\n")
    d = Dataset.from_csv(path, sir, observables={"seen": "Ii"})
    with pytest.raises(DataError, match="observable 'seen' reads 'Ii'"):
        Problem(sir, (d,), (EstimatedParameter("c1", 1e-4, 1e-6, 1e-2, "log10"),))


def test_formula_parsing() -> None:
    assert parse_formula("2 * x**2", "here") == parse_formula("2 * x^2", "here")
    # PEtab's log is the natural logarithm.
    assert float(sbmljax._expr.evaluate(parse_formula("log(x)", "here"), {"x": np.e})) == pytest.approx(1.0)
    with pytest.raises(DataError, match="here: cannot parse formula '2 \\*'"):
        parse_formula("2 *", "here")


# -- PEtab ---------------------------------------------------------------------------------------------------


def test_boarding_school_petab_loads_and_lints_clean() -> None:
    assert petab_lint_errors(SCHOOL / "problem.yaml") is False
    problem = load_petab(SCHOOL / "problem.yaml")
    assert problem.notes == ()
    assert problem.estimated_ids == ("beta", "gamma")
    beta, gamma = problem.estimated
    assert (beta.scale, beta.nominal, gamma.scale, gamma.nominal) == ("log10", 2e-3, "log10", 0.5)
    assert dict(problem.fixed) == {"sigma": 18.0}
    (d,) = problem.datasets
    np.testing.assert_array_equal(d.times, np.arange(1.0, 15.0))
    np.testing.assert_array_equal(d.values[:, 0], COUNTS)
    assert d.observable_ids == ("obs_I",) and d.observables[0].noise_formula == "sigma"
    assert problem.model.time_units == "day"
    assert [s.initial_amount for s in problem.model.species] == [762.0, 1.0, 0.0]
    assert problem.model_parameters(d, {"beta": 3e-3}) == {"beta": 3e-3, "gamma": 0.5}
    # Problems travel to worker processes.
    import pickle

    again = pickle.loads(pickle.dumps(problem))
    np.testing.assert_array_equal(again.datasets[0].values, d.values)


def test_petab_missing_column_names_the_file(school) -> None:
    meas = school / "measurements.tsv"
    meas.write_text(meas.read_text().replace("measurement\t", "measurment\t", 1))
    with pytest.raises(
        DataError, match=r"measurements\.tsv: the measurement table lacks required column\(s\) 'measurement'"
    ):
        load_petab(school / "problem.yaml")


def test_petab_non_numeric_cell_names_row_and_column(school) -> None:
    meas = school / "measurements.tsv"
    meas.write_text(meas.read_text().replace("\t225\t", "\tmany\t"))
    with pytest.raises(
        DataError, match=r"measurements\.tsv: row 5 \(line 6\), column 'measurement': 'many' is not a number"
    ):
        load_petab(school / "problem.yaml")


def test_petab_unsupported_features_are_refused_with_position(school) -> None:
    obs = school / "observables.tsv"
    obs.write_text(obs.read_text().replace("\tnormal", "\tcauchy"))
    with pytest.raises(DataError, match=r"observables\.tsv: row 1 \(line 2\), column 'noiseDistribution': .*'cauchy'"):
        load_petab(school / "problem.yaml")
    shutil.copy(SCHOOL / "observables.tsv", obs)
    par = school / "parameters.tsv"
    par.write_text(par.read_text().replace("log10\t0.01", "ln\t0.01"))
    with pytest.raises(DataError, match=r"parameters\.tsv: row 2 \(line 3\), column 'parameterScale': scale 'ln'"):
        load_petab(school / "problem.yaml")


def test_petab_lint_errors_are_raised_naming_the_file(school) -> None:
    meas = school / "measurements.tsv"
    meas.write_text(meas.read_text().replace("obs_I\tschool\t3\t", "obs_I\tnowhere\t3\t"))
    with pytest.raises(DataError, match=r"PEtab lint found .*measurements\.tsv: .*nowhere"):
        load_petab(school / "problem.yaml")


def test_petab_missing_files(school) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_petab(school / "nope.yaml")
    (school / "conditions.tsv").unlink()
    with pytest.raises(
        DataError, match=r"conditions\.tsv: no such file \(the condition file listed in .*problem\.yaml\)"
    ):
        load_petab(school / "problem.yaml")


def test_petab_conditions_and_noise_parameters(school) -> None:
    (school / "conditions.tsv").write_text("conditionId\tI\tgamma\nschool\t5\t0.4\n")
    obs = school / "observables.tsv"
    obs.write_text(obs.read_text().replace("\tsigma\t", "\tnoiseParameter1_obs_I\t"))
    lines = (school / "measurements.tsv").read_text().splitlines()
    lines = [lines[0] + "\tnoiseParameters"] + [f"{line}\t{i}" for i, line in enumerate(lines[1:], start=1)]
    (school / "measurements.tsv").write_text("\n".join(lines) + "\n")
    par = school / "parameters.tsv"
    par.write_text(
        "\n".join(line for line in par.read_text().splitlines() if not line.startswith(("sigma", "gamma"))) + "\n"
    )
    problem = load_petab(school / "problem.yaml")
    (d,) = problem.datasets
    assert dict(d.initial) == {"I": 5.0} and dict(d.params) == {"gamma": 0.4}
    sd = np.asarray(noise_model(d, problem.model)(np.zeros((14, 3)), {}))
    np.testing.assert_array_equal(sd[:, 0], np.arange(1.0, 15.0))


def test_write_parameter_table_round_trip(school, tmp_path) -> None:
    problem = load_petab(school / "problem.yaml")
    out = school / "fitted.tsv"
    write_parameter_table(problem, {"beta": 2.1877e-3, "gamma": 0.44345}, out)
    table = pd.read_csv(out, sep="\t", index_col="parameterId")
    assert table.loc["beta", "nominalValue"] == 2.1877e-3 and table.loc["gamma", "nominalValue"] == 0.44345
    assert table.loc["sigma", "nominalValue"] == 18.0 and list(table.columns) == list(problem.parameter_table.columns)
    assert [p.name for p in school.iterdir() if p.name.endswith(".tmp")] == []
    # Other PEtab tools read it: the problem with the new table loads and lints clean.
    shutil.copy(out, school / "parameters.tsv")
    again = load_petab(school / "problem.yaml")
    assert again.nominal() == {"beta": 2.1877e-3, "gamma": 0.44345}
    assert petab_lint_errors(school / "problem.yaml") is False
    with pytest.raises(ParameterError, match="'sigma' is not an estimated parameter"):
        write_parameter_table(problem, {"sigma": 3.0}, tmp_path / "x.tsv")
    with pytest.raises(ParameterError, match="outside"):
        write_parameter_table(problem, {"beta": 5.0}, tmp_path / "x.tsv")


def test_problem_from_csv_and_its_parameter_table(tmp_path, sir) -> None:
    path = write(tmp_path / "sir.csv", "time,I\n10,2\n20,4\n")
    problem = problem_from_csv(sir, [path], ["c1", EstimatedParameter("c2", 0.01, 0.0, 1.0, "lin")])
    c1, c2 = problem.estimated
    assert c1.scale == "log10" and c1.nominal == 1e-4
    assert c1.lower == pytest.approx(1e-7) and c1.upper == pytest.approx(0.1) and c2.scale == "lin"
    write_parameter_table(problem, {"c1": 2e-4}, tmp_path / "params.tsv")
    table = pd.read_csv(tmp_path / "params.tsv", sep="\t", index_col="parameterId")
    assert table.loc["c1", "nominalValue"] == 2e-4 and table.loc["c2", "nominalValue"] == 0.01
    assert list(table["estimate"]) == [1, 1]
    with pytest.raises(ParameterError, match="unknown parameter 'beta'"):
        problem_from_csv(sir, path, ["beta"])
    with pytest.raises(ParameterError, match="log10 scale needs a positive lower bound"):
        EstimatedParameter("c2", 0.01, 0.0, 1.0, "log10")


def test_petab_observable_parameters(school) -> None:
    obs = school / "observables.tsv"
    obs.write_text(obs.read_text().replace("\tI\tlin", "\tobservableParameter1_obs_I * I\tlin"))
    meas = school / "measurements.tsv"
    lines = meas.read_text().splitlines()
    meas.write_text("\n".join([lines[0] + "\tobservableParameters"] + [f"{line}\t0.5" for line in lines[1:]]) + "\n")
    problem = load_petab(school / "problem.yaml")
    (d,) = problem.datasets
    counts = np.tile([700.0, 40.0, 23.0], (14, 1))
    np.testing.assert_allclose(np.asarray(observables(d, problem.model)(counts, {})), np.full((14, 1), 20.0))
    meas.write_text(meas.read_text().replace("\t0.5\n", "\t0.7\n", 1))
    with pytest.raises(
        DataError, match=r"row \d+ \(line \d+\), column 'observableParameters'.*must be the same in every"
    ):
        load_petab(school / "problem.yaml")

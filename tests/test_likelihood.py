"""The particle-filter log-likelihood and its gradient against the exact ones.

The exact log-likelihood of a small model comes from the forward algorithm over the full state space of
the chemical master equation: the distribution of the state is propagated between observation times with
the matrix exponential of the generator (`helpers.master_equation_step`: a dense `scipy.linalg.expm` per
interval length), multiplied by the
measurement density and renormalised, the log normalisers adding up. Its gradient is by central finite
differences of that deterministic function.

Tolerances: the filter's `log Ẑ` is the log of an unbiased estimate, biased low by about `Var/2` (Pitt et
al. 2012); the tests compare `value + stderr²/2` with the exact value within 3 standard errors (jackknife
over 8 replicate filters of 1,000 particles: with a few hundred particles per filter the jackknife
underestimates the spread of the skewed `Ẑ`). The gradient (Fisher identity over the particles' paths, consistent with
`O(1/N)` bias) is compared within 3 standard errors plus 5% of its size.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from helpers import load, master_equation_step, sbml_model
from scipy.special import gammaln
from scipy.stats import norm
from scipy.stats import poisson as poisson_dist

import sbmljax
from sbmljax._likelihood import ParticleLikelihood
from sbmljax._likelihood.api import as_likelihood_problem
from sbmljax.data import Dataset, Observable
from sbmljax.errors import ConfigError, DataError, LikelihoodError

TIMES = np.arange(1.0, 9.0)


def forward_loglik(Q: sp.csr_matrix, p0: np.ndarray, times: np.ndarray, g_of_k) -> float:
    """Exact log p(y_1..y_T) of a finite-state Markov jump process: `Q` the generator (rows sum to 0),
    `p0` the initial distribution at t=0, `g_of_k(k)` the vector of measurement densities over states."""
    p, t, ll = p0.copy(), 0.0, 0.0
    step = master_equation_step(Q)
    for k, tk in enumerate(times):
        p = step(p, tk - t)
        p = p * g_of_k(k)
        z = p.sum()
        ll += math.log(z)
        p /= z
        t = tk
    return ll


# --- immigration–death: 0 -> X (k1), X -> 0 (k2 X); normal noise SD 2 -------------------------------------

ID_MAX = 80
ID_X0 = 5
ID_SD = 2.0


def immigration_death():
    return load(
        sbml_model({"X": ID_X0}, {"k1": 10.0, "k2": 1.0}, [("birth", "0 -> X", "k1"), ("death", "X -> 0", "k2*X")])
    )


def id_generator(k1: float, k2: float) -> sp.csr_matrix:
    n = np.arange(ID_MAX + 1)
    up = np.where(n < ID_MAX, k1, 0.0)
    down = k2 * n
    Q = sp.diags([up[:-1], down[1:]], [1, -1], shape=(ID_MAX + 1, ID_MAX + 1)).tolil()
    Q.setdiag(-(up + down))
    return Q.tocsr()


def id_exact(k1: float, k2: float, y: np.ndarray) -> float:
    p0 = np.zeros(ID_MAX + 1)
    p0[ID_X0] = 1.0
    n = np.arange(ID_MAX + 1)
    return forward_loglik(
        id_generator(k1, k2), p0, TIMES, lambda k: np.ones(n.size) if np.isnan(y[k]) else norm.pdf(y[k], n, ID_SD)
    )


@pytest.fixture(scope="module")
def id_data():
    m = immigration_death()
    x = sbmljax.simulate(m, TIMES, seed=11).counts[0, :, 0]
    y = x + np.random.default_rng(5).normal(0.0, ID_SD, TIMES.size)
    y[3] = np.nan  # a missing measurement is skipped
    ds = Dataset("id", TIMES, (Observable.parse("X", "X", ID_SD),), y[:, None])
    return m, ds, y


# --- SIR, N = 40: S + I -> 2 I (beta S I / N), I -> R (gamma I); Poisson(rho I) reports -----------------

N_SIR = 40
I0 = 3


def sir():
    return load(
        sbml_model(
            {"S": N_SIR - I0, "I": I0, "R": 0},
            {"beta": 1.5, "gamma": 0.5, "N": N_SIR},
            [("infection", "S + I -> 2 I", "beta*S*I/N"), ("recovery", "I -> R", "gamma*I")],
        )
    )


def sir_states():
    return [(s, i) for s in range(N_SIR + 1) for i in range(N_SIR + 1 - s)]


def sir_generator(beta: float, gamma: float) -> sp.csr_matrix:
    states = sir_states()
    index = {st: j for j, st in enumerate(states)}
    rows, cols, vals = [], [], []
    for j, (s, i) in enumerate(states):
        inf, rec = beta * s * i / N_SIR, gamma * i
        if inf > 0:
            rows.append(j), cols.append(index[(s - 1, i + 1)]), vals.append(inf)
        if rec > 0:
            rows.append(j), cols.append(index[(s, i - 1)]), vals.append(rec)
        rows.append(j), cols.append(j), vals.append(-(inf + rec))
    n = len(states)
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


def sir_exact(beta: float, gamma: float, rho: float, y: np.ndarray) -> float:
    states = sir_states()
    p0 = np.zeros(len(states))
    p0[states.index((N_SIR - I0, I0))] = 1.0
    infected = np.array([i for _, i in states], dtype=float)
    return forward_loglik(sir_generator(beta, gamma), p0, TIMES, lambda k: poisson_dist.pmf(y[k], rho * infected))


@pytest.fixture(scope="module")
def sir_data():
    m = sir()
    x = sbmljax.simulate(m, TIMES, seed=4).counts[0, :, 1]
    y = np.random.default_rng(2).poisson(0.8 * x).astype(float)
    obs = Observable.parse("cases", "rho * I", None, distribution="poisson")
    ds = Dataset("sir", TIMES, (obs,), y[:, None])
    return m, ds, y


def _fd(f, x: np.ndarray, rel: float = 1e-4) -> np.ndarray:
    g = np.zeros_like(x)
    for j in range(x.size):
        h = rel * abs(x[j])
        e = np.zeros_like(x)
        e[j] = h
        g[j] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def _check(result, exact_value: float, exact_grad: np.ndarray) -> None:
    z = (result.value + result.stderr**2 / 2 - exact_value) / result.stderr
    assert abs(z) < 3, (result.value, result.stderr, exact_value)
    grad = np.array(list(result.grad.values()))
    se = np.array(list(result.grad_stderr.values()))
    assert np.all(np.abs(grad - exact_grad) < 3 * se + 0.05 * np.abs(exact_grad)), (grad, se, exact_grad)


@pytest.fixture(scope="module")
def id_filter(id_data):
    m, ds, _ = id_data
    problem, values, names = as_likelihood_problem(m, ds, {"k1": 10.0, "k2": 1.0}, None)
    return ParticleLikelihood(problem, names, values, n_particles=1000, replicates=8)


@pytest.fixture(scope="module")
def sir_filter(sir_data):
    m, ds, _ = sir_data
    problem, values, names = as_likelihood_problem(m, ds, {"beta": 1.5, "gamma": 0.5, "rho": 0.8}, None)
    return ParticleLikelihood(problem, names, values, n_particles=1000, replicates=8)


@pytest.mark.slow
@pytest.mark.parametrize("k1, k2", [(10.0, 1.0), (6.0, 0.8), (14.0, 1.5)])
def test_immigration_death_value_and_gradient_match_the_forward_algorithm(id_data, id_filter, k1, k2) -> None:
    y = id_data[2]
    res = id_filter.evaluate({"k1": k1, "k2": k2}, seed=1, grad=True)
    exact = id_exact(k1, k2, y)
    grad = _fd(lambda th: id_exact(th[0], th[1], y), np.array([k1, k2]))
    _check(res, exact, grad)


@pytest.mark.parametrize(
    "point",
    [
        {"beta": 1.5, "gamma": 0.5, "rho": 0.8},
        pytest.param({"beta": 1.2, "gamma": 0.4, "rho": 0.6}, marks=pytest.mark.slow),
        pytest.param({"beta": 2.0, "gamma": 0.7, "rho": 0.9}, marks=pytest.mark.slow),
    ],
)
def test_sir_poisson_reports_value_and_gradient_match_the_forward_algorithm(sir_data, sir_filter, point) -> None:
    y = sir_data[2]
    res = sir_filter.evaluate(point, seed=2, grad=True)
    exact = sir_exact(point["beta"], point["gamma"], point["rho"], y)
    grad = _fd(lambda th: sir_exact(*th, y), np.array([point["beta"], point["gamma"], point["rho"]]))
    _check(res, exact, grad)


def test_same_seed_same_result_and_quick_form_csv(tmp_path, id_data) -> None:
    m, ds, y = id_data
    path = tmp_path / "data.csv"
    rows = ["time,X"] + [f"{float(t)!r},{'' if np.isnan(v) else repr(float(v))}" for t, v in zip(TIMES, y)]
    path.write_text("\n".join(rows) + "\n")
    from_csv, _, _ = as_likelihood_problem(m, path, {}, ID_SD)
    (d,) = from_csv.datasets
    np.testing.assert_array_equal(d.values, ds.values)
    assert d.observables[0].describe() == ds.observables[0].describe()
    a = sbmljax.log_likelihood(m, path, {"k1": 10.0}, n_particles=50, seed=3, noise_sd=ID_SD)
    problem, values, names = as_likelihood_problem(m, path, {"k1": 10.0}, ID_SD)
    b = ParticleLikelihood(problem, names, values, n_particles=50).evaluate(seed=3)
    assert a.value == b.value and a.stderr == b.stderr
    assert math.isfinite(a.value) and a.stderr > 0


def test_bad_input_is_one_clear_error(tmp_path, id_data) -> None:
    m, ds, y = id_data
    with pytest.raises(DataError, match="noise of observable 'X' is unknown"):
        sbmljax.log_likelihood(m, Dataset("d", TIMES, (Observable.parse("X", "X"),), y[:, None]), seed=0)
    with pytest.raises(DataError, match=r"observable 'X' at time 1 \(row 1\): its noise formula '-1.0'"):
        sbmljax.log_likelihood(m, Dataset("d", TIMES, (Observable.parse("X", "X", -1.0),), y[:, None]), seed=0)
    neg = np.round(np.abs(np.nan_to_num(y)))
    neg[2] = -3
    counts = Observable.parse("X", "X", None, distribution="poisson")
    with pytest.raises(DataError, match=r"observable 'X' at time 3 \(row 3\): value -3; a poisson count model"):
        sbmljax.log_likelihood(m, Dataset("d", TIMES, (counts,), neg[:, None]), seed=0)
    far = np.full(TIMES.size, 5.0)
    far[4] = 400.0  # more reports than molecules: impossible under binomial reporting
    reports = Observable.parse("X", "X", 0.5, distribution="binomial")
    with pytest.raises(LikelihoodError, match=r"vanished at time 5 \(row 5; observed X = 400\)"):
        sbmljax.log_likelihood(m, Dataset("d", TIMES, (reports,), far[:, None]), seed=0, n_particles=100)
    bad = tmp_path / "bad.csv"
    bad.write_text("time,Y\n1,2\n")
    with pytest.raises(DataError, match="column 'Y' is not a species"):
        sbmljax.log_likelihood(m, bad, seed=0, noise_sd=1.0)


def test_observation_densities_match_scipy() -> None:
    import jax.numpy as jnp
    from scipy import stats

    from sbmljax._likelihood.observation import log_density

    y, h, s = 7.0, 5.5, 1.3
    cases = {
        ("normal", "lin"): stats.norm.logpdf(y, h, s),
        ("laplace", "lin"): stats.laplace.logpdf(y, h, s),
        ("normal", "log"): stats.lognorm.logpdf(y, s, scale=h),
        ("normal", "log10"): stats.norm.logpdf(np.log10(y), np.log10(h), s) - np.log(y * np.log(10)),
        ("laplace", "log"): stats.laplace.logpdf(np.log(y), np.log(h), s) - np.log(y),
        ("poisson", "lin"): stats.poisson.logpmf(y, h),
        ("negative_binomial", "lin"): stats.nbinom.logpmf(y, s, s / (s + h)),
        ("binomial", "lin"): stats.binom.logpmf(y, 12, 0.4),
    }
    import jax

    with jax.enable_x64(True):  # the densities are called directly here, outside an entry point's scope
        for (dist, trafo), want in cases.items():
            hh, ss = (12.0, 0.4) if dist == "binomial" else (h, s)
            got = float(log_density(dist, trafo, jnp.float64(y), jnp.float64(hh), jnp.float64(ss)))
            assert got == pytest.approx(want, rel=1e-9), (dist, trafo)
        assert float(log_density("binomial", "lin", 13.0, 12.0, 0.4)) == -np.inf
    assert gammaln(1.0) == 0.0  # scipy's convention, shared with jax


def _write_cli_inputs(tmp_path, id_data):
    m, ds, y = id_data
    model = tmp_path / "id.xml"
    model.write_text(
        sbml_model({"X": ID_X0}, {"k1": 10.0, "k2": 1.0}, [("birth", "0 -> X", "k1"), ("death", "X -> 0", "k2*X")])
    )
    data = tmp_path / "data.csv"
    data.write_text(
        "time,X\n" + "".join(f"{t!r},{'' if np.isnan(v) else repr(v)}\n" for t, v in zip(TIMES.tolist(), y.tolist()))
    )
    return model, data


def test_cli_loglik_errors_are_one_line_and_leave_no_file(tmp_path, id_data, capsys) -> None:
    from sbmljax._cli import main

    model, data = _write_cli_inputs(tmp_path, id_data)
    out = tmp_path / "ll.json"
    code = main(["loglik", str(model), str(data), "--seed", "1", "--out", str(out)])  # no --noise-sd
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert err.count("\n") == 1 and "noise of observable 'X' is unknown" in err
    code = main(["loglik", str(model), str(data), "--seed", "1", "--noise-sd", "2", "--param", "nope=1"])
    assert code == 1 and "unknown parameter 'nope'" in capsys.readouterr().err
    argv = ["loglik", str(model), str(data), "--seed", "1", "--noise-sd", "2", "--param", "k1=10", "k2=1"]
    code = main([*argv, "--resample-threshold", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists() and err.count("\n") == 1 and "resample_threshold = 2.0" in err


@pytest.mark.slow
def test_cli_loglik_prints_and_writes_json(tmp_path, id_data, capsys) -> None:
    import json

    from sbmljax._cli import main

    model, data = _write_cli_inputs(tmp_path, id_data)
    out = tmp_path / "ll.json"
    args = ["loglik", str(model), str(data), "--param", "k1=8", "--particles", "100", "--seed", "2", "--noise-sd", "2"]
    assert main([*args, "--grad", "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    written = json.loads(out.read_text())
    assert printed == written and math.isfinite(written["value"]) and set(written["grad"]) == {"k1"}


def test_cli_runs_the_binomial_leap_filter_and_refuses_misplaced_methods(tmp_path, id_data, capsys) -> None:
    """`loglik --method binomial_leap --tau` is the Python API's leap filter, number for number; `fit --method`
    chooses the likelihood's filter and is a one-line error with a moment loss or as a bare `--tau`."""
    import json

    from sbmljax._cli import main

    model, data = _write_cli_inputs(tmp_path, id_data)
    out = tmp_path / "ll.json"
    args = ["loglik", str(model), str(data), "--param", "k1=8", "k2=1", "--particles", "50", "--replicates", "2"]
    assert main([*args, "--seed", "2", "--noise-sd", "2", "--method", "binomial_leap", "--tau", "0.5"]) == 0
    printed = json.loads(capsys.readouterr().out)
    m, ds, _ = id_data
    api = sbmljax.log_likelihood(
        str(model), [str(data)], {"k1": 8.0, "k2": 1.0}, n_particles=50, replicates=2, seed=2, noise_sd=2.0,
        method=sbmljax.BinomialLeaping(tau=0.5),
    )  # fmt: skip
    assert printed["method"] == "binomial_leap" and (printed["value"], printed["stderr"]) == (api.value, api.stderr)
    fit_args = ["fit", str(model), str(data), "--free", "k1=8", "--seed", "1", "--out", str(out), "--n", "10"]
    for extra, message in (
        (["--loss", "mean_sse", "--method", "direct"], "--method and --tau choose the particle filter"),
        (["--tau", "0.5"], "--tau needs --method"),
    ):
        assert main([*fit_args, *extra]) == 1 and not out.exists()
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err


def test_petab_distributions_and_transformations_are_read_and_moment_losses_refuse_them(tmp_path) -> None:
    import shutil

    from conftest import REPO

    from sbmljax.data import load_petab

    school = Path(shutil.copytree(REPO / "data" / "boarding_school", tmp_path / "school"))
    table = school / "observables.tsv"
    original = table.read_text()
    table.write_text(original.replace("\tlin\tsigma\tnormal", "\tlog10\tsigma\tlaplace"))
    (o,) = load_petab(school / "problem.yaml").datasets[0].observables
    assert (o.distribution, o.transformation) == ("laplace", "log10")
    table.write_text(original.replace("\tlin\tsigma\tnormal", "\tlin\tsigma\tpoisson"))  # an sbmljax extension
    problem = load_petab(school / "problem.yaml")
    assert problem.datasets[0].observables[0].distribution == "poisson"
    with pytest.raises(DataError, match="observable 'obs_I' has lin-scale poisson noise.*use loss='likelihood'"):
        sbmljax.fit(problem, loss="mean_sse", seed=0, iterations=1)
    table.write_text(original.replace("\tlin\tsigma\tnormal", "\tlog\tsigma\tpoisson"))
    with pytest.raises(DataError, match="column 'observableTransformation': a poisson count model takes the 'lin'"):
        load_petab(school / "problem.yaml")


FIT_TIMES = np.arange(0.5, 6.01, 0.5)


def _fit_data():
    """Immigration–death relaxing from X = 40: informative about both rates (an exact MLE inside the bounds)."""
    m = immigration_death()
    x = sbmljax.simulate(m, FIT_TIMES, seed=11, initial={"X": 40}).counts[0, :, 0]
    y = x + np.random.default_rng(5).normal(0.0, ID_SD, FIT_TIMES.size)

    def exact(k1, k2):
        p0 = np.zeros(ID_MAX + 1)
        p0[40] = 1.0
        n = np.arange(ID_MAX + 1)
        return forward_loglik(id_generator(k1, k2), p0, FIT_TIMES, lambda k: norm.pdf(y[k], n, ID_SD))

    ds = Dataset("relax", FIT_TIMES, (Observable.parse("X", "X", ID_SD),), y[:, None], initial={"X": 40.0})
    return m, ds, exact


@pytest.mark.slow
def test_fit_by_likelihood_from_far_off_reaches_the_exact_maximum() -> None:
    from scipy.optimize import minimize

    m, ds, exact = _fit_data()
    best = minimize(lambda th: -exact(*np.exp(th)), np.log([10.0, 1.0]), method="Nelder-Mead")
    fit = sbmljax.fit(
        m, [ds], {"k1": 10.0 * 2.5, "k2": 1.0 / 2.5}, loss="likelihood", n_trajectories=200, seed=0, iterations=150
    )
    assert fit.loss == "likelihood" and fit.estimator == "path_score"
    reached = exact(fit.params["k1"], fit.params["k2"])
    assert reached > -best.fun - 1.0, (fit.params, np.exp(best.x), reached, -best.fun)


def test_if2_from_far_off_reaches_the_exact_maximum() -> None:
    """IF2 (no gradients) from 2.5× off both rates ends within 1 log-likelihood unit of the exact maximum."""
    from scipy.optimize import minimize

    m, ds, exact = _fit_data()
    best = minimize(lambda th: -exact(*np.exp(th)), np.log([10.0, 1.0]), method="Nelder-Mead")
    res = sbmljax.if2(
        m, ds, {"k1": 10.0 * 2.5, "k2": 1.0 / 2.5}, seed=0, n_particles=500, iterations=40, rw_sd=0.05, replicates=4
    )
    reached = exact(res.params["k1"], res.params["k2"])
    assert reached > -best.fun - 1.0, (res.params, np.exp(best.x), reached, -best.fun)
    # the reported log-likelihood at the estimate agrees with the exact one (value + its Jensen bias)
    assert abs(res.loglik + res.loglik_stderr**2 / 2 - reached) < 3 * res.loglik_stderr + 0.3
    assert len(res.trace_loglik) == 40 and set(res.trace) == {"k1", "k2"}
    # `resample_threshold` is the evaluation filters' alone: the same seed walks the same swarm to the same
    # estimate, and the log-likelihood there (resampled at every observation) still agrees with the exact one
    every = sbmljax.if2(
        m,
        ds,
        {"k1": 10.0 * 2.5, "k2": 1.0 / 2.5},
        seed=0,
        n_particles=500,
        iterations=40,
        rw_sd=0.05,
        replicates=4,
        resample_threshold=1.0,
    )
    assert every.params == res.params and every.trace_loglik == res.trace_loglik and every.loglik != res.loglik
    assert abs(every.loglik + every.loglik_stderr**2 / 2 - reached) < 3 * every.loglik_stderr + 0.3
    for call in (sbmljax.if2, lambda *a, **k: sbmljax.profile(*a[:2], "k1", [5.0, 10.0, 15.0, 20.0], a[2], **k)):
        with pytest.raises(sbmljax.errors.ConfigError, match="resample_threshold"):
            call(m, ds, {"k1": 10.0, "k2": 1.0}, seed=0, resample_threshold=1.5)


def test_if2_chains_from_a_box_keep_the_best_end_point() -> None:
    """IF2 with several chains (pomp's global search): starts drawn from a box, every end point evaluated by
    replicate filters, the best kept; it reaches the exact maximum within 1 unit, like one good chain."""
    from scipy.optimize import minimize

    m, ds, exact = _fit_data()
    best = minimize(lambda th: -exact(*np.exp(th)), np.log([10.0, 1.0]), method="Nelder-Mead")
    free = {"k1": (25.0, 1.0, 100.0), "k2": (0.4, 0.05, 10.0)}
    box = {"k1": (2.0, 50.0), "k2": (0.1, 5.0)}
    res = sbmljax.if2(
        m, ds, free, seed=0, n_particles=300, iterations=30, rw_sd=0.05, replicates=4, chains=3, starts=box
    )
    assert len(res.chains) == 3 and not any(c["failed"] for c in res.chains)
    for c in res.chains:  # log-uniform draws inside the box, distinct per chain
        assert 2.0 <= c["start"]["k1"] <= 50.0 and 0.1 <= c["start"]["k2"] <= 5.0
        assert len(c["trace_loglik"]) == 30
    assert len({c["start"]["k1"] for c in res.chains}) == 3
    assert res.loglik == max(c["loglik"] for c in res.chains) and res.params in [c["params"] for c in res.chains]
    reached = exact(res.params["k1"], res.params["k2"])
    assert reached > -best.fun - 1.0, (res.params, np.exp(best.x), reached, -best.fun)
    # an explicit list of starts: one chain each, in order
    two = sbmljax.if2(
        m, ds, free, seed=1, n_particles=100, iterations=2, starts=[{"k1": 5.0}, {"k2": 2.0}], evaluate=False
    )
    assert [c["start"] for c in two.chains] == [{"k1": 5.0, "k2": 0.4}, {"k1": 25.0, "k2": 2.0}]
    assert math.isnan(two.loglik)
    with pytest.raises(sbmljax.errors.ConfigError, match="within the bounds"):
        sbmljax.if2(m, ds, free, seed=0, iterations=1, chains=2, starts={"k1": (0.5, 50.0)})
    with pytest.raises(sbmljax.errors.ConfigError, match="give chains"):
        sbmljax.if2(m, ds, free, seed=0, iterations=1, starts=box)
    with pytest.raises(sbmljax.errors.ConfigError, match="not estimated"):
        sbmljax.if2(m, ds, free, seed=0, iterations=1, starts=[{"k3": 1.0}])


def _two_series():
    """Two independent immigration–death series simulated at the truth k1 = 10, k2 = 1 under different
    conditions (initial counts 40 and 0): the relaxation informs k2, the growth k1 / k2. The exact joint
    log-likelihood is the sum of each series' forward algorithm (`which` picks the series)."""
    m = immigration_death()
    series = []
    for x0, seed, noise_seed in ((40, 11, 5), (0, 12, 6)):
        x = sbmljax.simulate(m, FIT_TIMES, seed=seed, initial={"X": x0}).counts[0, :, 0]
        y = x + np.random.default_rng(noise_seed).normal(0.0, ID_SD, FIT_TIMES.size)
        obs = (Observable.parse("X", "X", ID_SD),)
        series.append((Dataset(f"from{x0}", FIT_TIMES, obs, y[:, None], initial={"X": float(x0)}), x0, y))

    def exact(k1, k2, which=(0, 1)):
        n = np.arange(ID_MAX + 1)
        total = 0.0
        for i in which:
            _, x0, y = series[i]
            p0 = np.zeros(ID_MAX + 1)
            p0[x0] = 1.0
            total += forward_loglik(id_generator(k1, k2), p0, FIT_TIMES, lambda k, y=y: norm.pdf(y[k], n, ID_SD))
        return total

    return m, [d for d, _, _ in series], exact


def test_if2_over_two_datasets_reaches_their_joint_exact_maximum() -> None:
    """Panel IF2 (Bretó, Ionides & King 2020): two independent series under different initial conditions,
    filtered in turn by one parameter swarm per iteration, from 2.5× off both rates. The estimate's exact
    joint log-likelihood (the sum of the two forward algorithms) is within 1 unit of the joint maximum and
    above that of either series' own maximum (the fit uses both); the reported log-likelihood agrees with
    the exact one (value plus its Jensen bias, within 3 standard errors plus 0.3). Over seeds 0–5 the
    estimate ended 0.006–0.52 units below the joint maximum."""
    from scipy.optimize import minimize

    from sbmljax._likelihood.if2_setup import unit_masks
    from sbmljax.data import EstimatedParameter, Problem

    m, (a, b), exact = _two_series()

    def argmax(which):
        r = minimize(lambda th: -exact(*np.exp(th), which), np.log([10.0, 1.0]), method="Nelder-Mead")
        return np.exp(r.x)

    joint = exact(*argmax((0, 1)))
    alone = max(exact(*argmax(which)) for which in ((0,), (1,)))  # 1.02 and 2.12 units below `joint`
    res = sbmljax.if2(
        m, [a, b], {"k1": 25.0, "k2": 0.4}, seed=0, n_particles=500, iterations=40, rw_sd=0.05, replicates=4
    )
    reached = exact(res.params["k1"], res.params["k2"])
    assert reached > joint - 1.0 and reached > alone, (res.params, reached, joint, alone)
    assert abs(res.loglik + res.loglik_stderr**2 / 2 - reached) < 3 * res.loglik_stderr + 0.3
    assert len(res.trace_loglik) == 40
    # each dataset's own log-likelihood at the estimate, in the order given; they sum to the total
    assert len(res.per_dataset) == 2 and res.per_dataset == res.chains[0]["per_dataset"]
    assert abs(sum(res.per_dataset) - res.loglik) < 1e-9 * abs(res.loglik)
    # several chains over several datasets: the same loop, one vmapped iteration per dataset
    two = sbmljax.if2(
        m, [a, b], {"k1": 25.0, "k2": 0.4}, seed=1, n_particles=50, iterations=2, chains=2, evaluate=False
    )
    assert len(two.chains) == 2 and all(len(c["trace_loglik"]) == 2 for c in two.chains)
    assert two.per_dataset == () and math.isnan(two.loglik)  # evaluate=False: nothing evaluated
    # a parameter only one dataset's observable reads is that dataset's own: perturbed only while it is filtered
    shifted = Dataset("shifted", FIT_TIMES, (Observable.parse("X", "X + off", ID_SD),), b.values, initial=b.initial)
    est = (
        EstimatedParameter("k1", 10.0, 1.0, 100.0, "log10"),
        EstimatedParameter("k2", 1.0, 0.1, 10.0, "log10"),
        EstimatedParameter("off", 0.0, -5.0, 5.0),
    )
    masks = unit_masks(Problem(m, (a, shifted), est))
    assert [mk.tolist() for mk in masks] == [[True, True, False], [True, True, True]]


def test_if2_filters_honour_each_datasets_condition() -> None:
    """Condition parameters reach IF2's filters as they reach `log_likelihood`'s: the birth rate is `k1 s`
    with `s` a condition parameter (1 in one dataset, 2 in the other). With `rw_sd = 0` the swarm stays at
    the start, so each iteration's perturbed-filter log-likelihood is a filter estimate at that point: their
    log-mean-exp (plus its Jensen bias) matches the exact joint value within 3 standard errors plus 0.3, and
    ignoring the condition would miss it by far."""
    from sbmljax._likelihood.api import logmeanexp_jackknife

    m = load(
        sbml_model(
            {"X": 0}, {"k1": 10.0, "k2": 1.0, "s": 1.0}, [("birth", "0 -> X", "k1*s"), ("death", "X -> 0", "k2*X")]
        )
    )
    obs = (Observable.parse("X", "X", ID_SD),)
    data, ys = [], []
    for scale, seed in ((1.0, 31), (2.0, 32)):
        x = sbmljax.simulate(m, FIT_TIMES, seed=seed, params={"s": scale}).counts[0, :, 0]
        y = x + np.random.default_rng(seed).normal(0.0, ID_SD, FIT_TIMES.size)
        data.append(Dataset(f"s{scale:g}", FIT_TIMES, obs, y[:, None], params={"s": scale}))
        ys.append(y)

    def exact(scales) -> float:
        p0 = np.zeros(ID_MAX + 1)
        p0[0] = 1.0
        n = np.arange(ID_MAX + 1)
        return sum(
            forward_loglik(id_generator(10.0 * sc, 1.0), p0, FIT_TIMES, lambda k, y=y: norm.pdf(y[k], n, ID_SD))
            for sc, y in zip(scales, ys)
        )

    res = sbmljax.if2(
        m, data, {"k1": 10.0, "k2": 1.0}, seed=0, n_particles=300, iterations=12, rw_sd=0.0, evaluate=False
    )
    assert res.params == {"k1": 10.0, "k2": 1.0}
    value, se = logmeanexp_jackknife(np.asarray(res.trace_loglik))
    assert abs(value + se**2 / 2 - exact((1.0, 2.0))) < 3 * se + 0.3, (value, se, exact((1.0, 2.0)))
    assert exact((1.0, 1.0)) < exact((1.0, 2.0)) - 10


def _profile_data():
    """Immigration–death decaying from X = 60, 32 observations with noise SD 1: the truth k1 = 10, k2 = 1."""
    times = np.arange(0.25, 8.01, 0.25)
    m = immigration_death()
    x = sbmljax.simulate(m, times, seed=21, initial={"X": 60}).counts[0, :, 0]
    y = x + np.random.default_rng(7).normal(0.0, 1.0, times.size)

    def exact(k1, k2):
        p0 = np.zeros(ID_MAX + 1)
        p0[60] = 1.0
        n = np.arange(ID_MAX + 1)
        return forward_loglik(id_generator(k1, k2), p0, times, lambda k: norm.pdf(y[k], n, 1.0))

    ds = Dataset("decay", times, (Observable.parse("X", "X", 1.0),), y[:, None], initial={"X": 60.0})
    return m, ds, exact


def test_mcap_smoother_takes_unknown_errors_and_refuses_degenerate_points() -> None:
    """MCAP's quadratic: a point whose standard error is NaN (a replicate's likelihood underflowed) counts as the
    least certain point, not an exact one, so the fit is that of the same points with that error; fewer than 4
    distinct values is a clear FitError (it was numpy's `LinAlgError: Singular matrix`)."""
    from sbmljax._likelihood.profile import mcap
    from sbmljax.errors import FitError

    psi = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    ll = -((psi - 1.0) ** 2) + np.array([0.0, 0.05, -0.03, 0.02, 0.0])
    se = np.array([0.1, 0.2, np.nan, 0.1, 0.1])
    got = mcap(psi, ll, se)
    want = mcap(psi, ll, np.array([0.1, 0.2, 0.2, 0.1, 0.1]))
    assert got["coef"] == want["coef"] and got["interval"] == want["interval"]
    assert got["interval"][0] < 1.0 < got["interval"][1]
    with pytest.raises(FitError, match="4 distinct values"):
        mcap(np.array([1.0, 1.0, 2.0, 2.0, 3.0]), np.array([-1.0, -1.1, -0.5, -0.6, -1.0]), np.full(5, 0.1))


@pytest.mark.slow
def test_profile_interval_covers_the_truth_and_matches_the_exact_profile() -> None:
    """Synthetic recovery: data simulated at k2 = 1; the MCAP interval of k2's profile (k1 maximised by IF2)
    covers the truth, and holds the grid points inside the exact profile's interval (forward algorithm,
    k1 maximised), without being much wider."""
    from scipy.optimize import minimize_scalar

    m, ds, exact = _profile_data()

    def exact_profile(k2: float) -> float:  # k1 maximised
        return -minimize_scalar(lambda lk1: -exact(math.exp(lk1), k2), bounds=(0, 5), method="bounded").fun

    # The grid brackets the exact interval of these data (which move with the simulator's random stream): nine
    # points from 1.3x below its lower end to 1.3x above its upper end, located on a coarse exact profile first.
    coarse = np.geomspace(0.3, 3.0, 25)
    values = np.array([exact_profile(k2) for k2 in coarse])
    held = coarse[values > values.max() - 1.92]
    grid = [float(v) for v in np.geomspace(held.min() / 1.3, held.max() * 1.3, 9)]
    prof = sbmljax.profile(
        m, ds, "k2", grid, {"k1": 10.0, "k2": 1.0}, seed=3, n_particles=300, iterations=25, rw_sd=0.05, replicates=4
    )
    assert len(prof.loglik) == len(grid) and all(np.isfinite(prof.stderr))
    lo, hi = prof.interval
    assert lo < 1.0 < hi, prof
    exact_values = [exact_profile(k2) for k2 in grid]
    top = max(exact_values)
    inside = [k2 for k2, v in zip(grid, exact_values) if v > top - 1.92]
    assert lo <= min(inside) and max(inside) <= hi, (prof.interval, inside)
    assert lo > grid[0] and hi < grid[-1], (prof.interval, grid)  # not much wider than the exact interval
    # the profile values agree with the exact ones within their errors plus the maximisation's shortfall
    gap = np.asarray(exact_values) - np.asarray(prof.loglik)
    assert np.all(gap > -3 * np.asarray(prof.stderr) - 0.3) and np.median(gap) < 1.0, gap


@pytest.mark.slow
def test_fit_from_an_if2_start_reports_the_log_likelihood_at_the_estimate() -> None:
    """fit(loss="likelihood", start="if2"): IF2 first, then gradient refinement; the result carries the
    log-likelihood at the estimate with its standard error, within 1 unit of the exact maximum."""
    from scipy.optimize import minimize

    m, ds, exact = _fit_data()
    best = minimize(lambda th: -exact(*np.exp(th)), np.log([10.0, 1.0]), method="Nelder-Mead")
    fit = sbmljax.fit(
        m,
        [ds],
        {"k1": 10.0 * 2.5, "k2": 1.0 / 2.5},
        loss="likelihood",
        start="if2",
        if2_options={"iterations": 40, "rw_sd": 0.05, "n_particles": 500},
        n_trajectories=200,
        learning_rate=0.01,
        seed=0,
        iterations=40,
    )
    assert fit.if2 is not None and fit.start == {"k1": 25.0, "k2": 0.4}
    reached = exact(fit.params["k1"], fit.params["k2"])
    assert reached > -best.fun - 1.0, (fit.params, np.exp(best.x), reached, -best.fun)
    assert fit.loglik is not None and fit.loglik_stderr is not None
    assert abs(fit.loglik + fit.loglik_stderr**2 / 2 - reached) < 3 * fit.loglik_stderr + 0.3
    with pytest.raises(sbmljax.errors.ConfigError, match="loss='likelihood'"):
        sbmljax.fit(m, [ds], {"k1": 10.0}, start="if2", loss="mean_sse", seed=0)


def test_filtered_distribution_matches_the_forward_algorithm(id_data) -> None:
    """`ParticleLikelihood.filtered`: the weighted particles' mean at each observation time against the exact
    filtering mean E[X_k | y_1..k] (forward algorithm), within 4 of its Monte Carlo errors plus 0.2."""
    m, ds, y = id_data
    problem, values, names = as_likelihood_problem(m, ds, {"k1": 10.0, "k2": 1.0}, None)
    pl = ParticleLikelihood(problem, names, values, n_particles=2000, replicates=1)
    (series,) = pl.filtered(seed=4)
    assert series.mean.shape == (TIMES.size, 1) and series.observables == ("X",)
    assert np.all(series.lower <= series.mean) and np.all(series.mean <= series.upper)
    n = np.arange(ID_MAX + 1)
    p = np.zeros(ID_MAX + 1)
    p[ID_X0] = 1.0
    step, t = master_equation_step(id_generator(10.0, 1.0)), 0.0
    for k, tk in enumerate(TIMES):
        p = step(p, tk - t)
        if not np.isnan(y[k]):
            p = p * norm.pdf(y[k], n, ID_SD)
        p /= p.sum()
        t = tk
        sd = math.sqrt(p @ n**2 - (p @ n) ** 2)
        assert abs(series.mean[k, 0] - p @ n) < 4 * sd / math.sqrt(2000 / 4) + 0.2, (k, series.mean[k, 0], p @ n)


# --- pure death: X -> 0 (k X); binomial leaping is exact for it at any step -----------------------------------

DEATH_X0 = 60


def death_exact(k: float, y: np.ndarray) -> float:
    n = np.arange(DEATH_X0 + 1)
    Q = sp.diags([k * n[1:]], [-1], shape=(n.size, n.size)).tolil()
    Q.setdiag(-k * n)
    p0 = np.zeros(n.size)
    p0[DEATH_X0] = 1.0
    return forward_loglik(Q.tocsr(), p0, TIMES, lambda j: norm.pdf(y[j], n, ID_SD))


def test_binomial_leap_filter_on_pure_death_matches_the_forward_algorithm() -> None:
    # X → 0 alone with a constant rate: a leap's Binomial(x, 1 − e^{−k h}) is the exact transition law, so the
    # fixed-step filter (its particles in lockstep, `advance_lockstep`) must give the exact likelihood; a step of
    # a whole interval puts the early draws in the sampler's rejection branch (n·q ≈ 24), later ones in inversion.
    m = load(sbml_model({"X": DEATH_X0}, {"k": 0.5}, [("death", "X -> 0", "k*X")]))
    x = sbmljax.simulate(m, TIMES, seed=3).counts[0, :, 0]
    y = x + np.random.default_rng(9).normal(0.0, ID_SD, TIMES.size)
    ds = Dataset("death", TIMES, (Observable.parse("X", "X", ID_SD),), y[:, None])
    for k in (0.5, 0.35):
        res = sbmljax.log_likelihood(m, ds, {"k": k}, seed=4, method=sbmljax.BinomialLeaping(tau=1.0))
        z = (res.value + res.stderr**2 / 2 - death_exact(k, y)) / res.stderr
        assert abs(z) < 3, (k, res.value, res.stderr, death_exact(k, y))


def test_if2_chains_with_the_binomial_leap_reach_the_exact_maximum() -> None:
    """IF2 with the fixed-step leap (pomp's recipe in `bench_likelihood.py --methods binomial_leap`), two
    chains in lockstep from 2.5× either side of the truth: on a pure death process the leap is the exact law,
    so the best end lies within 1 unit of the forward algorithm's maximum and its score within 3 SE."""
    from scipy.optimize import minimize_scalar

    m = load(sbml_model({"X": DEATH_X0}, {"k": 0.5}, [("death", "X -> 0", "k*X")]))
    x = sbmljax.simulate(m, TIMES, seed=3).counts[0, :, 0]
    y = x + np.random.default_rng(9).normal(0.0, ID_SD, TIMES.size)
    ds = Dataset("death", TIMES, (Observable.parse("X", "X", ID_SD),), y[:, None])
    best = minimize_scalar(lambda lk: -death_exact(float(np.exp(lk)), y), bounds=(-4.0, 1.0), method="bounded")
    res = sbmljax.if2(
        m,
        ds,
        {"k": 0.5},
        seed=0,
        n_particles=200,
        iterations=20,
        rw_sd=0.05,
        replicates=4,
        method=sbmljax.BinomialLeaping(tau=1.0),
        starts=[{"k": 1.25}, {"k": 0.2}],
    )
    reached = death_exact(res.params["k"], y)
    assert res.method == "binomial_leap" and len(res.chains) == 2
    assert reached > -best.fun - 1.0, (res.params, np.exp(best.x), reached, -best.fun)
    assert abs(res.loglik + res.loglik_stderr**2 / 2 - reached) < 3 * res.loglik_stderr + 0.3


def test_fit_refines_the_best_of_several_leap_if2_chains_by_the_exact_gradient() -> None:
    """fit(start="if2") as a global search (`bench_likelihood.py --recipe gradient`): IF2 by the leap from two
    starts 2.5x either side, the better scored end refined by the exact filter's gradient; the estimate lies
    within 1 unit of the forward algorithm's maximum, and `replicates` without several chains is refused."""
    from scipy.optimize import minimize_scalar

    m = load(sbml_model({"X": DEATH_X0}, {"k": 0.5}, [("death", "X -> 0", "k*X")]))
    x = sbmljax.simulate(m, TIMES, seed=3).counts[0, :, 0]
    y = x + np.random.default_rng(9).normal(0.0, ID_SD, TIMES.size)
    ds = Dataset("death", TIMES, (Observable.parse("X", "X", ID_SD),), y[:, None])
    best = minimize_scalar(lambda lk: -death_exact(float(np.exp(lk)), y), bounds=(-4.0, 1.0), method="bounded")
    leap = sbmljax.BinomialLeaping(tau=1.0)
    options = {"iterations": 20, "rw_sd": 0.05, "n_particles": 200, "method": leap, "replicates": 4}
    fit = sbmljax.fit(
        m,
        [ds],
        {"k": 0.5},
        loss="likelihood",
        start="if2",
        if2_options={**options, "starts": [{"k": 1.25}, {"k": 0.2}]},
        n_trajectories=200,
        learning_rate=0.01,
        iterations=10,
        seed=0,
    )
    assert fit.if2 is not None and len(fit.if2["chains"]) == 2 and np.isfinite(fit.if2["loglik"])
    assert fit.if2["params"] in [c["params"] for c in fit.if2["chains"]]
    reached = death_exact(fit.params["k"], y)
    assert reached > -best.fun - 1.0, (fit.params, np.exp(best.x), reached, -best.fun)
    with pytest.raises(sbmljax.errors.ConfigError, match="chains or starts"):
        sbmljax.fit(m, [ds], {"k": 0.5}, loss="likelihood", start="if2", if2_options=options, seed=0)


def test_resample_threshold_moves_the_variance_not_the_value(id_data) -> None:
    """`resample_threshold` 1 (resample at every observation, pomp's rule) and 0 (never: sequential importance
    sampling) both estimate the forward algorithm's likelihood within 3 standard errors (plus the log's
    `stderr²/2` bias); 1 resamples at least at each of the 7 observed times (at the missing one the weights stay
    equal, where rounding decides `ESS < N`) and 0 never; the default is 0.5, bitwise; a threshold outside [0, 1] is one clear error."""
    m, ds, y = id_data
    exact = id_exact(10.0, 1.0, y)
    kw = dict(n_particles=1000, replicates=8, seed=3)
    for threshold, fewest, most in [(1.0, 7 * 8, 8 * 8), (0.0, 0, 0)]:
        res = sbmljax.log_likelihood(m, ds, {"k1": 10.0, "k2": 1.0}, resample_threshold=threshold, **kw)
        z = (res.value + res.stderr**2 / 2 - exact) / res.stderr
        assert abs(z) < 3, (threshold, res.value, res.stderr, exact)
        assert fewest <= res.resampled <= most, (threshold, res.resampled)
    half = sbmljax.log_likelihood(m, ds, {"k1": 10.0, "k2": 1.0}, resample_threshold=0.5, **kw)
    default = sbmljax.log_likelihood(m, ds, {"k1": 10.0, "k2": 1.0}, **kw)
    assert (half.value, half.stderr, half.resampled) == (default.value, default.stderr, default.resampled)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ConfigError, match="resample_threshold"):
            sbmljax.log_likelihood(m, ds, {"k1": 10.0, "k2": 1.0}, resample_threshold=bad, **kw)


def test_smoothed_paths_match_the_forward_backward_algorithm(id_data) -> None:
    """`sbmljax.smoothed_paths`: the mean of paths drawn by tracing the filters' genealogies, at each observation
    time, against the exact smoothing mean E[X_k | y_1..K] (forward–backward over the full state space), within
    4 jackknife standard errors over the filters plus 0.05 (where the filtering mean misses by more); the observables are the paths' X; the draws are the
    same for the same seed; at the last time each draw is its own particle far more often than at the first
    (path degeneracy, reported by `distinct`)."""
    m, ds, y = id_data
    kw = dict(n_particles=500, replicates=24, seed=6)
    (sp_,) = sbmljax.smoothed_paths(m, ds, {"k1": 10.0, "k2": 1.0}, n_paths=2000, **kw)
    assert sp_.states.shape == (2000, TIMES.size, 1) and sp_.species == ("X",) and sp_.observables == ("X",)
    np.testing.assert_array_equal(sp_.values, sp_.states)
    assert sp_.distinct[-1] > sp_.distinct[0]
    n = np.arange(ID_MAX + 1)
    g = [np.ones(n.size) if np.isnan(v) else norm.pdf(v, n, ID_SD) for v in y]
    fwd, bwd = master_equation_step(id_generator(10.0, 1.0)), master_equation_step(id_generator(10.0, 1.0).T)
    alpha, p, t = [], np.zeros(n.size), 0.0
    p[ID_X0] = 1.0
    for k, tk in enumerate(TIMES):
        p = fwd(p, tk - t) * g[k]
        p /= p.sum()
        alpha.append(p)
        t = tk
    beta = np.ones(n.size)
    exact = np.empty(TIMES.size)
    for k in range(TIMES.size - 1, -1, -1):
        if k < TIMES.size - 1:
            beta = bwd(g[k + 1] * beta, TIMES[k + 1] - TIMES[k])
            beta /= beta.max()
        s = alpha[k] * beta
        exact[k] = (s / s.sum()) @ n
    x = sp_.states[:, :, 0]
    mean = x.mean(axis=0)
    loo = np.array([x[sp_.replicate != r].mean(axis=0) for r in range(24)])
    se = np.sqrt(23 * np.mean((loo - loo.mean(axis=0)) ** 2, axis=0))
    assert np.all(np.abs(mean - exact) < 4 * se + 0.05), (mean, exact, se)
    # the test tells smoothing from filtering: the filtering means E[X_k | y_1..k] miss by more somewhere
    filtering = np.array([a @ n for a in alpha])
    assert np.any(np.abs(filtering - exact) > 4 * se + 0.05), (filtering, exact, se)
    (again,) = sbmljax.smoothed_paths(m, ds, {"k1": 10.0, "k2": 1.0}, n_paths=2000, **kw)
    np.testing.assert_array_equal(again.states, sp_.states)

"""Tau-leaping: convergence to the exact process as the step shrinks, and no negative counts ever."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import birth_death_moments, sbml_model

import sbmljax
from sbmljax.errors import ConfigError

T = np.linspace(0.0, 10.0, 11)
N = 2000


@pytest.fixture(scope="module")
def birth_death() -> sbmljax.Model:
    # Large enough (X ≈ 1000) that leaps, not the SSA fallback, do the work.
    return sbmljax.load_sbml(
        sbml_model({"X": 0}, {"k1": 500.0, "k2": 0.5}, [("b", "0 -> X", "k1"), ("d", "X -> 0", "k2*X")])
    )


@pytest.fixture(scope="module")
def dimerisation() -> sbmljax.Model:
    return sbmljax.load_sbml(
        sbml_model(
            {"P": 2000, "P2": 0},
            {"k1": 5e-5, "k2": 0.05},
            [("f", "2 P -> P2", "k1*P*(P-1)/2"), ("r", "P2 -> 2 P", "k2*P2")],
        )
    )


def _errors(traj, mean, sd) -> tuple[float, float]:
    """Largest relative error of the ensemble mean and SD over t > 0."""
    m_err = np.max(np.abs(traj.mean()[1:] - mean[1:]) / mean[1:])
    s_err = np.max(np.abs(traj.std()[1:] - sd[1:]) / sd[1:])
    return float(m_err), float(s_err)


def test_adaptive_birth_death_converges_to_analytic_moments(birth_death) -> None:
    mean, var = birth_death_moments(0, 500.0, 0.5, T)
    errs = {}
    for eps in (0.3, 0.1, 0.03, 0.01):
        traj = sbmljax.simulate(birth_death, T, n_trajectories=N, seed=1, method="tau_leap", epsilon=eps)
        errs[eps] = _errors(traj, mean[:, None], np.sqrt(var)[:, None])
        print(f"epsilon={eps}: relative mean error {errs[eps][0]:.4f}, SD error {errs[eps][1]:.3f}")
    m = [errs[e][0] for e in (0.3, 0.1, 0.03)]
    assert m[0] > m[1] > m[2], errs  # the bias shrinks with epsilon
    # Statistical floor at n=2000: SE of the mean ≈ 0.1% of it, of the SD ≈ 1.6%.
    assert errs[0.01][0] < 0.005 and errs[0.01][1] < 0.06, errs


def test_adaptive_dimerisation_converges_to_exact_ssa(dimerisation) -> None:
    exact = sbmljax.simulate(dimerisation, T, n_trajectories=N, seed=2)
    errs = {}
    for eps in (0.3, 0.1, 0.03):
        traj = sbmljax.simulate(dimerisation, T, n_trajectories=N, seed=3, method="tau_leap", epsilon=eps)
        errs[eps] = _errors(traj, exact.mean(), exact.std())
        print(f"epsilon={eps}: relative mean error {errs[eps][0]:.4f}, SD error {errs[eps][1]:.3f}")
    assert errs[0.3][0] > errs[0.1][0] > errs[0.03][0], errs
    assert errs[0.03][0] < 0.01 and errs[0.03][1] < 0.08, errs


def test_fixed_tau_converges(birth_death) -> None:
    mean, _ = birth_death_moments(0, 500.0, 0.5, T)
    errs = []
    for tau in (0.5, 0.1, 0.02):
        traj = sbmljax.simulate(birth_death, T, n_trajectories=N, seed=4, method="tau_leap", tau=tau)
        errs.append(float(np.max(np.abs(traj.mean()[1:, 0] - mean[1:]) / mean[1:])))
    print("fixed tau relative mean errors", errs)
    assert errs[0] > errs[1] > errs[2] and errs[2] < 0.01


@pytest.mark.parametrize("options", [{"epsilon": 0.5}, {"tau": 5.0}])
def test_never_negative_with_small_populations(options) -> None:
    # Fast consumption of a few molecules: naive leaping would overshoot below zero.
    text = sbml_model(
        {"A": 6, "B": 4, "C": 0},
        {"k": 3.0, "d": 2.0},
        [("bind", "A + B -> C", "k*A*B"), ("decay", "C -> 0", "d*C"), ("loss", "2 A -> 0", "d*A*(A-1)")],
    )
    m = sbmljax.load_sbml(text)
    traj = sbmljax.simulate(m, np.linspace(0, 5, 21), n_trajectories=500, seed=5, method="tau_leap", **options)
    assert traj.counts.min() >= 0
    np.testing.assert_array_equal(traj.counts, np.round(traj.counts))


def test_options_are_checked(birth_death) -> None:
    with pytest.raises(ConfigError, match="exactly one of tau"):
        sbmljax.simulate(birth_death, T, seed=0, method="tau_leap")
    with pytest.raises(ConfigError, match="epsilon must be in"):
        sbmljax.simulate(birth_death, T, seed=0, method="tau_leap", epsilon=2.0)
    with pytest.raises(ConfigError):
        sbmljax.simulate(birth_death, T, seed=0, method="direct", tau=0.1)


@pytest.mark.parametrize("lam", [0.0, 0.3, 4.0, 9.99, 10.0, 55.0, 2.5e4])
def test_poisson_sampler_matches_the_distribution(lam: float) -> None:
    """The tau-leaping sampler (inversion below λ = 10, PTRS above) is Poisson: a chi-square test on its
    histogram at the 0.1% level (fixed seed), plus mean and variance within 4 standard errors."""
    import jax
    import jax.numpy as jnp
    from scipy import stats

    from sbmljax._poisson import poisson
    from sbmljax._prng import seed_stream

    n = 100_000
    with jax.enable_x64(True):  # as tau-leaping runs it (an internal function: no entry point scopes it)
        lams = jnp.full(n, lam)
        x = np.asarray(jax.jit(lambda k, lam: poisson(seed_stream(k), lam)[0])(jax.random.key(7), lams))
    assert np.all(x == np.round(x)) and x.min() >= 0
    if lam == 0.0:
        assert np.all(x == 0)
        return
    assert abs(x.mean() - lam) < 4 * np.sqrt(lam / n)
    assert abs(x.var() - lam) < 4 * lam * np.sqrt(2 / n + 1 / (lam * n))
    ks = np.arange(int(x.min()), int(x.max()) + 1)
    expected = stats.poisson.pmf(ks, lam) * n
    observed = np.bincount((x - ks[0]).astype(int), minlength=len(ks))
    # Pool bins with expected count < 5 into the neighbouring ones (the test's validity condition).
    edges, acc = [], 0.0
    for i, e in enumerate(expected):
        acc += e
        if acc >= 5:
            edges.append(i + 1)
            acc = 0.0
    edges[-1] = len(ks)
    exp_b = np.add.reduceat(expected, [0, *edges[:-1]])
    obs_b = np.add.reduceat(observed, [0, *edges[:-1]])
    exp_b *= obs_b.sum() / exp_b.sum()
    chi2 = float(np.sum((obs_b - exp_b) ** 2 / exp_b))
    assert stats.chi2.sf(chi2, len(exp_b) - 1) > 1e-3, (lam, chi2, len(exp_b))


def test_poisson_sampler_uses_a_supplied_uniform() -> None:
    """With the inversion uniform supplied, small rates are a monotone function of it (and of nothing else)."""
    import jax
    import jax.numpy as jnp

    from sbmljax._poisson import poisson
    from sbmljax._prng import seed_stream

    with jax.enable_x64(True):
        u = jnp.linspace(0.0, 0.999, 50)
        a = np.asarray(poisson(seed_stream(jax.random.key(0)), jnp.full(50, 3.0), u)[0])
        b = np.asarray(poisson(seed_stream(jax.random.key(1)), jnp.full(50, 3.0), u)[0])
    assert np.array_equal(a, b) and np.all(np.diff(a) >= 0) and a[0] == 0


def test_poisson_sampler_returns_nan_for_a_non_finite_rate() -> None:
    """A NaN or infinite rate gives NaN (never a rejection loop that cannot end), the others are unaffected."""
    import jax
    import jax.numpy as jnp

    from sbmljax._poisson import poisson
    from sbmljax._prng import seed_stream

    with jax.enable_x64(True):
        x = np.asarray(poisson(seed_stream(jax.random.key(0)), jnp.array([np.nan, np.inf, 0.0, 50.0]))[0])
    assert np.isnan(x[0]) and np.isnan(x[1]) and x[2] == 0 and 20 < x[3] < 90

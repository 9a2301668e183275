"""Binomial tau-leaping: its sampler's law (chi-square), moments close to the exact process at a small step, no
negative counts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from helpers import birth_death_moments, sbml_model

import sbmljax
from sbmljax._binomial import _SMALL, _inversion, binomial
from sbmljax._ensemble import parameter_vector, prepare
from sbmljax._likelihood.lockstep import advance_lockstep
from sbmljax._prng import seed_stream
from sbmljax._solve import solve
from sbmljax.errors import ConfigError

T = np.linspace(0.0, 10.0, 11)
N = 2000


@pytest.mark.parametrize(
    ("n", "p"),
    # both branches and the cut between them (n·q = 63.6 inversion, 64 BTRS), means 10-64 (inversion since the
    # cut moved from 10), p > 1/2 (symmetry), n = 1
    [(5, 0.3), (30, 0.2), (200, 0.4), (1000, 0.97), (763, 0.01), (49, 0.2), (100, 0.1), (20, 0.5), (1, 0.7)]
    + [(159, 0.4), (160, 0.4), (763, 0.06), (120, 0.25), (400, 0.89), (2000, 0.2)],
)
def test_binomial_sampler_chi_square(n, p) -> None:
    m = 20000
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.key(1), m)
        draw = jax.vmap(lambda k: binomial(seed_stream(k), jnp.float64(n), jnp.float64(p))[0])
        k = np.asarray(jax.jit(draw)(keys))
    lo, hi = int(st.binom.ppf(1e-3, n, p)), int(st.binom.ppf(1 - 1e-3, n, p))
    mid = np.arange(lo, hi + 1)
    obs = np.array([np.sum(k < lo), *[np.sum(k == e) for e in mid], np.sum(k > hi)])
    pr = np.array([st.binom.cdf(lo - 1, n, p), *st.binom.pmf(mid, n, p), st.binom.sf(hi, n, p)])
    keep = pr * m > 5
    chi = float((((obs[keep] - m * pr[keep]) ** 2) / (m * pr[keep])).sum())
    assert st.chi2.sf(chi, keep.sum() - 1) > 1e-3, chi
    assert k.min() >= 0 and k.max() <= n


def test_birth_death_small_step_matches_analytic() -> None:
    model = sbmljax.load_sbml(
        sbml_model({"X": 0}, {"k1": 50.0, "k2": 0.5}, [("b", "0 -> X", "k1"), ("d", "X -> 0", "k2*X")])
    )
    mean, var = birth_death_moments(0, 50.0, 0.5, T)
    traj = sbmljax.simulate(model, T, n_trajectories=N, seed=5, method="binomial_leap", tau=0.01)
    m, s = traj.mean()[1:, 0], traj.std()[1:, 0]
    z = np.abs(m - mean[1:]) / np.sqrt(var[1:] / N)
    assert np.max(z) < 4.0, z  # the suite's mean criterion (|Z| < 3 per point; 4 over 10 points)
    assert np.max(np.abs(s - np.sqrt(var[1:])) / np.sqrt(var[1:])) < 0.08


def test_sir_small_step_matches_exact_direct() -> None:
    model = sbmljax.load_sbml(
        sbml_model(
            {"S": 95, "I": 5, "R": 0},
            {"beta": 0.3, "gamma": 0.1},
            [("inf", "S + I -> 2 I", "beta*S*I/100"), ("rec", "I -> R", "gamma*I")],
        )
    )
    t = np.linspace(0.0, 30.0, 7)
    exact = sbmljax.simulate(model, t, n_trajectories=N, seed=6)
    leap = sbmljax.simulate(model, t, n_trajectories=N, seed=7, method="binomial_leap", tau=0.02)
    a, b = leap.mean()[1:], exact.mean()[1:]
    se = np.sqrt((leap.std()[1:] ** 2 + exact.std()[1:] ** 2) / N)
    assert np.max(np.abs(a - b) / se) < 4.0
    assert np.max(np.abs(leap.std()[1:] - exact.std()[1:]) / exact.std()[1:]) < 0.1


def test_never_negative_with_large_step_and_shared_reactant() -> None:
    # Two channels consume A and a step far longer than A's lifetime: bounds are sequential.
    model = sbmljax.load_sbml(
        sbml_model(
            {"A": 6, "B": 4, "C": 0},
            {"k1": 5.0, "k2": 3.0},
            [("r1", "A + B -> C", "k1*A*B"), ("r2", "A -> 0", "k2*A")],
        )
    )
    traj = sbmljax.simulate(model, T, n_trajectories=500, seed=8, method="binomial_leap", tau=5.0)
    assert np.min(traj.counts) >= 0
    assert traj.counts[:, -1, 0].mean() < 1  # A is consumed (the leaps fire), never below zero


def test_needs_a_fixed_step() -> None:
    with pytest.raises(ConfigError, match="tau"):
        sbmljax.simulate(
            sbmljax.load_sbml(sbml_model({"X": 1}, {"k": 1.0}, [("d", "X -> 0", "k*X")])),
            T,
            seed=1,
            method="binomial_leap",
        )


@pytest.mark.parametrize(
    ("n", "q"), [(5, 0.3), (30, 0.2), (763, 0.01), (49, 0.2), (12, 0.5), (2000, 0.004), (159, 0.4), (763, 0.08)]
)
def test_inversion_is_the_exact_quantile(n, q) -> None:
    # The inversion branch (n·q < 64) returns the binomial quantile of its uniform: compare with scipy's at
    # uniforms away from the CDF's jumps (where rounding may legitimately pick either side).
    u = np.random.default_rng(0).random(5000)
    cdf = st.binom.cdf(np.arange(n + 1), n, q)
    u = u[np.min(np.abs(u[:, None] - cdf[None, :]), axis=1) > 1e-12]
    with jax.enable_x64(True):
        k = np.asarray(jax.jit(_inversion)(jnp.asarray(u), jnp.full(u.shape, float(n)), jnp.full(u.shape, q)))
    np.testing.assert_array_equal(k, st.binom.ppf(u, n, q))


def test_pooled_rejection_under_vmap_equals_each_trajectory_alone() -> None:
    # Under `vmap` the BTRS tries pool the pending proposals of all trajectories (`rejection_pooled`'s batching
    # rule); each trajectory must still get, bitwise, the draws and the stream it gets alone (`rejection`),
    # also under a second vmap (replicate filters) and with an unbatched argument.
    b = 40
    rs = np.random.default_rng(1)
    with jax.enable_x64(True):
        n = jnp.asarray(np.stack([rs.integers(0, 700, b), rs.integers(0, 300, b), rs.integers(0, 300, b)], 1), float)
        p = jnp.asarray(rs.uniform(0.0, 1.0, (b, 3)))
        keys = jax.random.split(jax.random.key(0), (2, b))

        def one(key, n, p):
            k, s = binomial(seed_stream(key), n, p)
            return k, jnp.stack([s.s0, s.s1, s.s2, s.s3])

        alone = [jax.jit(one)(keys[r, i], n[i], p[0]) for r in range(2) for i in range(b)]
        pooled = jax.jit(jax.vmap(jax.vmap(one, (0, 0, None)), (0, None, None)))(keys, n, p[0])
    for j in range(2):
        np.testing.assert_array_equal(np.asarray(pooled[j]).reshape(2 * b, -1), np.stack([a[j] for a in alone]))
    q = np.minimum(np.asarray(p[0]), 1.0 - np.asarray(p[0]))
    assert np.mean(np.asarray(n) * q >= _SMALL) > 0.2  # the rejection branch is exercised


def test_log1mp_gives_the_same_draws() -> None:
    # The leap passes log(1 − p) = −r for p = 1 − e^{−r} instead of the sampler's log1p(−p): P(K = 0) moves in
    # its last bits only, so the draws (both branches, p on both sides of 1/2) and the streams stay the same.
    rs = np.random.default_rng(3)
    with jax.enable_x64(True):
        n = jnp.asarray(rs.integers(0, 800, (2000, 3)), float)
        r = jnp.asarray(np.exp(rs.uniform(-9.0, 1.5, (2000, 3))))
        p = -jnp.expm1(-r)
        keys = jax.random.split(jax.random.key(5), 2000)

        def one(key, n, p, r, given):
            k, s = binomial(seed_stream(key), n, p, log1mp=-r if given else None)
            return k, jnp.stack([s.s0, s.s1, s.s2, s.s3])

        plain = jax.jit(jax.vmap(lambda *a: one(*a, False)))(keys, n, p, r)
        given = jax.jit(jax.vmap(lambda *a: one(*a, True)))(keys, n, p, r)
    for a, b in zip(plain, given, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    nq = np.asarray(n) * np.minimum(np.asarray(p), 1.0 - np.asarray(p))
    assert np.mean(nq >= _SMALL) > 0.1 and np.mean((nq < _SMALL) & (np.asarray(p) > 0.5) & (np.asarray(n) > 0)) > 0.01


def test_lockstep_particles_equal_the_general_loop() -> None:
    # The filter steps a fixed-step method's particles on one shared clock: the states equal `solve`'s, bitwise.
    model = sbmljax.load_sbml(
        sbml_model(
            {"S": 95, "I": 5, "R": 0},
            {"beta": 2.0, "gamma": 0.5},
            [("inf", "S + I -> 2 I", "beta*S*I/100"), ("rec", "I -> R", "gamma*I")],
        )
    )
    with jax.enable_x64(True):
        prep = prepare(model, np.array([0.0, 3.0]), method="binomial_leap", tau=0.1)
        x0, p = prep.net.initial_state(parameter_vector(prep.net, {}), 0.0)
        xs = jnp.broadcast_to(x0, (64, x0.shape[0]))
        ps = jnp.broadcast_to(p, (64, p.shape[0]))
        keys = jax.random.split(jax.random.key(3), 64)
        t0, t1 = jnp.float64(0.7), jnp.float64(2.35)
        x, status, t = advance_lockstep(prep.net, prep.sim, xs, ps, keys, t0, t1)
        sol = jax.vmap(lambda xi, ki: solve(prep.net, prep.sim, t1[None], xi, p, ki, t0=t0, block=16))(xs, keys)
    np.testing.assert_array_equal(np.asarray(x), np.asarray(sol.x))
    np.testing.assert_array_equal(np.asarray(status), np.asarray(sol.status))
    np.testing.assert_array_equal(np.asarray(t), np.asarray(sol.t))
    assert np.ptp(np.asarray(x)[:, 1]) > 0  # the particles differ

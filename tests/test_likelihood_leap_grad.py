"""The particle filter's likelihood gradient with the binomial leap, against the leap chain's exact gradient.

With a fixed step `h` on the observation grid, `BinomialLeaping` is a discrete-time Markov chain on the
counts: each step draws every consuming channel `K_j ~ Binomial(n_j, 1 − e^{−a_j h / n₀_j})` (in channel
order, `n_j` what the previous channels left of the reactants when two channels share one) and every inflow
`K_j ~ Poisson(a_j h)`. `leap_forward` runs the forward algorithm over that chain's full (small) state space,
so its log-likelihood is exact for what the filter simulates, and its central finite differences are the
exact gradient. The filter's gradient (Fisher's identity over the particles' ancestral paths, each path's
score the sum of its draws' `∇θ log P(K | x)`; Poyiadjis, Doucet & Singh 2011) is consistent with `O(1/N)`
bias; it is compared within 3 standard errors plus 5% of its size, as in `test_likelihood.py`.

Cases: `X → 0`, `X → Y` (both consume X: the sequential bound), observed in X and Y with normal noise; and
immigration–death `0 → X`, `X → 0` (an inflow's Poisson draw), observed with Poisson noise. Measured
(2026-12-02, seeds as below): filter − exact = −0.66, +0.82, +0.38, +1.77 SE (shared reactant, two points)
and −0.72, −1.69 SE (inflow). A score that ignored the sequential bound (the second channel's `n` taken as
the bound before the step) is 100 SE off for `c2` here, and fails `test_step_log_density_is_the_draws_log_pmf`.
Cost: about 28 s CPU for the file (most of it compiling three filters).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from helpers import load, sbml_model
from scipy.stats import binom, norm, poisson

import sbmljax
from sbmljax.data import Dataset, Observable
from sbmljax.errors import EstimatorError

H = 0.5
TIMES = np.arange(1.0, 6.0)
SD = 1.5
X0 = 20
ID_TOP = 45  # immigration–death truncation: P(X > 45) is below 1e-12 at these rates
REPS, N = 8, 2000


def leap_forward(x0, channels, h, times, log_g, top=None) -> float:
    """Exact log p(y) of the binomial-leap chain by the forward algorithm over its reachable states.

    `channels`: `(nu, need, a)` per channel in the model's order, `nu` the net count change (a tuple over
    species), `need` the counts one firing consumes (all zero for an inflow), `a(x)` the propensity. Poisson
    draws are truncated where the state would pass `top` (their remaining mass is below 1e-12 here)."""

    def step(x):
        x = np.asarray(x, float)
        n0 = [
            min((math.floor(x[i] / c) for i, c in enumerate(need) if c > 0), default=math.inf)
            for _, need, _ in channels
        ]
        dist = {(tuple(x), tuple(x)): 1.0}  # (what is left to consume, the new state) → probability
        for (nu, need, a), nb in zip(channels, n0):
            aj = a(x)
            new: dict = {}
            for (xr, xn), pr in dist.items():
                if math.isinf(nb):  # an inflow
                    ks = np.arange(0, top - xn[0] + 1)
                    pk = poisson.pmf(ks, aj * h)
                else:
                    n = min((math.floor(xr[i] / c) for i, c in enumerate(need) if c > 0), default=0)
                    ks = np.arange(n + 1)
                    pk = binom.pmf(ks, n, -math.expm1(-aj * h / max(nb, 1))) if n > 0 else np.ones(1)
                for k, q in zip(ks, pk):
                    if q == 0.0:
                        continue
                    key = (
                        tuple(r - k * c for r, c in zip(xr, need)),
                        tuple(v + k * d for v, d in zip(xn, nu)),
                    )
                    new[key] = new.get(key, 0.0) + pr * q
            dist = new
        out: dict = {}
        for (_, xn), pr in dist.items():
            out[xn] = out.get(xn, 0.0) + pr
        return out

    p, t, ll = {tuple(float(v) for v in x0): 1.0}, 0.0, 0.0
    cache: dict = {}
    for k, tk in enumerate(times):
        for _ in range(round((tk - t) / h)):
            nxt: dict = {}
            for x, pr in p.items():
                if x not in cache:
                    cache[x] = step(x)
                for xn, q in cache[x].items():
                    nxt[xn] = nxt.get(xn, 0.0) + pr * q
            p = nxt
        p = {x: pr * math.exp(log_g(k, np.asarray(x))) for x, pr in p.items()}
        z = sum(p.values())
        ll += math.log(z)
        p = {x: pr / z for x, pr in p.items()}
        t = tk
    return ll


def fd_gradient(f, theta: dict[str, float], rel: float = 1e-4) -> dict[str, float]:
    out = {}
    for name, v in theta.items():
        e = rel * v
        out[name] = (f({**theta, name: v + e}) - f({**theta, name: v - e})) / (2 * e)
    return out


# --- X -> 0 (k X), X -> Y (c2 X): both consume X, so the second is drawn from what the first left ----------


def shared_model():
    return load(
        sbml_model({"X": X0, "Y": 0}, {"k": 0.3, "c2": 0.2}, [("death", "X -> 0", "k*X"), ("conv", "X -> Y", "c2*X")])
    )


Y_SHARED = np.array([[13.0, 2.0], [10.0, 4.0], [6.0, 5.0], [4.0, 6.0], [3.0, 6.0]])


def shared_exact(th: dict[str, float]) -> float:
    channels = [
        ((-1, 0), (1, 0), lambda x: th["k"] * x[0]),
        ((-1, 1), (1, 0), lambda x: th["c2"] * x[0]),
    ]
    return leap_forward((X0, 0), channels, H, TIMES, lambda k, x: float(norm.logpdf(Y_SHARED[k], x, SD).sum()))


# --- immigration–death: 0 -> X (b), X -> 0 (d X); Poisson counts of X ---------------------------------------

Y_ID = np.array([[6.0], [9.0], [7.0], [11.0], [8.0]])


def id_model():
    return load(sbml_model({"X": 3}, {"b": 5.0, "d": 0.6}, [("birth", "0 -> X", "b"), ("death", "X -> 0", "d*X")]))


def id_exact(th: dict[str, float]) -> float:
    channels = [((1,), (0,), lambda x: th["b"]), ((-1,), (1,), lambda x: th["d"] * x[0])]
    # the observed count ~ Poisson(X + 0.5): the offset keeps X = 0 possible
    return leap_forward((3,), channels, 1.0, TIMES, lambda k, x: float(poisson.logpmf(Y_ID[k, 0], x[0] + 0.5)), ID_TOP)


def _check(model, ds, point, exact_f, seed, tau=H):
    exact_ll = exact_f(point)
    exact_g = fd_gradient(exact_f, point)
    res = sbmljax.log_likelihood(
        model, ds, point, n_particles=N, replicates=REPS, seed=seed, method=sbmljax.BinomialLeaping(tau=tau), grad=True
    )
    assert res.grad is not None and res.grad_stderr is not None
    # the value: the filter simulates the leap chain, so its log-likelihood is the forward algorithm's
    z_value = (res.value + res.stderr**2 / 2 - exact_ll) / res.stderr
    assert abs(z_value) < 3, (point, res.value, res.stderr, exact_ll)
    for name, g in exact_g.items():
        err = res.grad[name] - g
        print(
            f"{point} {name}: filter {res.grad[name]:.4f} ± {res.grad_stderr[name]:.4f}, exact {g:.4f}, z {err / res.grad_stderr[name]:+.2f}"
        )
        assert abs(err) < 3 * res.grad_stderr[name] + 0.05 * abs(g), (
            point,
            name,
            res.grad[name],
            res.grad_stderr[name],
            g,
        )


@pytest.mark.parametrize("point", [{"k": 0.3, "c2": 0.2}, {"k": 0.15, "c2": 0.35}])
def test_leap_gradient_with_a_shared_reactant_matches_the_leap_chain(point) -> None:
    obs = (Observable.parse("X", "X", SD), Observable.parse("Y", "Y", SD))
    ds = Dataset("shared", TIMES, obs, Y_SHARED)
    start = time.process_time()
    _check(shared_model(), ds, point, shared_exact, seed=5)
    print(f"CPU {time.process_time() - start:.1f} s")


def test_leap_gradient_of_an_inflow_matches_the_leap_chain() -> None:
    obs = (Observable.parse("X", "X + 0.5", distribution="poisson"),)
    ds = Dataset("immigration_death", TIMES, obs, Y_ID)
    start = time.process_time()
    _check(id_model(), ds, {"b": 5.0, "d": 0.6}, id_exact, seed=7, tau=1.0)
    print(f"CPU {time.process_time() - start:.1f} s")


def test_gradient_refusals_name_the_reason() -> None:
    """Poisson tau-leaping has no tractable path law (adaptive steps, rejected leaps): its gradient is refused
    with the reason and the leap that is supported; the leap's gradient keeps the events' refusal, and
    `fit(loss="likelihood")`'s objective accepts the leap and refuses tau-leaping alike."""
    from test_likelihood_events import SWITCH_F, SWITCH_T, _data, _event, _model

    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import as_likelihood_problem
    from sbmljax._likelihood.objective import LikelihoodObjective
    from sbmljax.errors import ConfigError

    m = id_model()
    ds = Dataset("immigration_death", TIMES, (Observable.parse("X", "X + 0.5", distribution="poisson"),), Y_ID)
    with pytest.raises(EstimatorError, match=r"'tau_leap' has none.*rejected leaps.*BinomialLeaping\(tau=\.\.\.\)"):
        sbmljax.log_likelihood(
            m, ds, {"b": 5.0}, n_particles=10, replicates=2, seed=0, method=sbmljax.TauLeaping(tau=0.1), grad=True
        )
    problem, _, _ = as_likelihood_problem(m, ds, {"b": 5.0}, None)
    with pytest.raises(ConfigError, match="loss='likelihood' needs the likelihood gradient.*'tau_leap' has none"):
        LikelihoodObjective(problem, {"b": 5.0}, n_particles=10, method=sbmljax.TauLeaping(tau=0.1))
    LikelihoodObjective(problem, {"b": 5.0}, n_particles=10, method=sbmljax.BinomialLeaping(tau=1.0))

    # an event whose trigger reads a differentiated parameter: refused with the leap as with exact methods
    me = _model(_event("switch", "time >= t_on", [("f", str(SWITCH_F))]), {"t_on": SWITCH_T}, variable=("f",))
    dse, _ = _data(me, 11)
    problem, values, names = as_likelihood_problem(me, dse, {"k1": 10.0, "t_on": SWITCH_T}, None)
    pl = ParticleLikelihood(
        problem, names, values, n_particles=20, replicates=2, method=sbmljax.BinomialLeaping(tau=0.25)
    )
    with pytest.raises(EstimatorError, match="event 'switch'.*t_on"):
        pl.evaluate(seed=0, grad=True)


def test_step_log_density_is_the_draws_log_pmf() -> None:
    """`step_log_density` against scipy's binomial and Poisson log-pmfs of one leap's draws, up to a constant
    free of the parameters (differences between two parameter vectors), and its derivative against their
    central differences: the sequential bound (the second channel drawn from what the first left), a channel
    that fired nothing, an inflow, and a channel with nothing left to consume (which contributes nothing)."""
    import jax
    import jax.numpy as jnp

    from sbmljax._compile._network import compile_network
    from sbmljax._prng import seed_stream
    from sbmljax._simulator.binomial_leap import LeapState

    with jax.enable_x64(True):  # as the public entry points compute
        _step_log_density_cases(jax, jnp, compile_network, seed_stream, LeapState)


def _step_log_density_cases(jax, jnp, compile_network, seed_stream, LeapState) -> None:
    leap = sbmljax.BinomialLeaping(tau=H).with_firings()

    def states(x, K, n):
        before = leap.init(net, jnp.asarray(0.0), jnp.asarray(x, float), None, seed_stream(jax.random.key(0)))
        after = LeapState(
            t=jnp.asarray(H),
            x=before.x,
            status=before.status,
            fired=before.fired,
            count=before.count,
            rng=before.rng,
            K=jnp.asarray(K, float),
            n=jnp.asarray(n, float),
            h=jnp.asarray(H),
        )
        return before, after

    def check(p_of, exact, x, K, n, th1, th2):
        before, after = states(x, K, n)
        got = [float(leap.step_log_density(net, before, after, p_of(th))) for th in (th1, th2)]
        assert got[1] - got[0] == pytest.approx(exact(th2) - exact(th1), rel=1e-10, abs=1e-10)
        for i in range(len(th1)):
            e = 1e-6
            up, dn = list(th1), list(th1)
            up[i] += e
            dn[i] -= e
            _, d = jax.jvp(
                lambda pp: leap.step_log_density(net, before, after, pp), (p_of(th1),), (p_of(np.eye(len(th1))[i]),)
            )
            assert float(d) == pytest.approx((exact(up) - exact(dn)) / (2 * e), rel=1e-6, abs=1e-8)

    net = compile_network(shared_model())
    order = list(net.plan.param_names)

    def p_shared(th):
        return jnp.asarray([dict(zip(("k", "c2"), th))[name] for name in order], float)

    def shared_pmf(x, K, n):
        def f(th):
            k, c2 = th
            return float(
                binom.logpmf(K[0], n[0], -math.expm1(-k * H))
                + (binom.logpmf(K[1], n[1], -math.expm1(-c2 * H)) if n[1] else 0.0)
            )

        return f

    for x, K, n in (((20, 0), (3, 2), (20, 17)), ((20, 3), (4, 0), (20, 16)), ((5, 1), (5, 0), (5, 0))):
        check(p_shared, shared_pmf(x, K, n), x, K, n, [0.3, 0.2], [0.15, 0.35])

    net = compile_network(id_model())
    order = list(net.plan.param_names)

    def p_id(th):
        return jnp.asarray([dict(zip(("b", "d"), th))[name] for name in order], float)

    for x, K in (((7,), (3, 2)), ((4,), (0, 0))):

        def f(th, x=x, K=K):
            b, d = th
            return float(poisson.logpmf(K[0], b * H) + binom.logpmf(K[1], x[0], -math.expm1(-d * H)))

        check(p_id, f, x, K, (0, x[0]), [5.0, 0.6], [3.0, 0.9])

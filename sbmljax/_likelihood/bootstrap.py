"""The bootstrap particle filter (Gordon, Salmond & Smith 1993) over exact stochastic simulations.

`N` particles start at the model's initial state. For each observation time `t_k` (one step of a
`lax.scan`), every particle is simulated from `t_{k−1}` to `t_k` by the chosen method (vmapped over
particles, each with its own key), weighted by the measurement density `g(y_k | x)`, and the likelihood
estimate grows by the weighted mean of `g`: `Ẑ = Π_k Σ_i W^i_{k−1} g(y_k | x^i_k)` (computed in logs with
log-sum-exp). When the effective sample size `1 / Σ (W^i)²` falls below `threshold · N` the particles are
resampled systematically (Carpenter, Clifford & Fearnhead 1999), which keeps `Ẑ` unbiased (Del Moral 2004).
Restarting a simulator at each observation time is exact: the process is Markov in its counts.

**SBML events.** With events the Markov state is more than the counts: each particle also carries its
parameter vector (events may assign parameters) and its triggers' values at the last instant (an event fires
on a false → true change of its trigger). Both travel with the particle across observation times and are
copied with it when it is resampled; each interval continues the particle with `solve(..., ev0=)`, which
applies the same event machinery (`sbmljax._compile._events`) as an uninterrupted simulation and does not
re-evaluate the events at the restart, so an event fires once, at its time, whatever the observation grid.
The initial events (`initialValue`) are executed once, at `t0`, before the first interval.

**Score.** With `score=True` each particle also carries `α = ∇θ log p(x_{0:k}, y_{1:k})` of its ancestral
path: the path score of the jump process (the `_PathScore` accumulator of the score-function estimator,
`Σ ∇ log a_{k_j} − ∫ ∇a₀`), or with the binomial leap the score of its Euler-binomial draws (`_LeapScore`,
`Σ_steps ∇ log P(K | x)`), plus `∇θ log g(y_k | x_k)` by automatic differentiation, copied with the particle
when it is resampled. By Fisher's identity `∇θ log p(y_{1:T}) = E[∇θ log p(x, y) | y]`, so
`Σ_i W^i_T α^i_T` estimates the gradient of the log-likelihood (Poyiadjis, Doucet & Singh 2011, the
"path-space" O(N) estimator). It is consistent with `O(1/N)` bias; its variance grows with the number of
observations, as resampling degenerates the ancestral paths.

**References:** N. J. Gordon, D. J. Salmond, A. F. M. Smith, IEE Proc. F 140:107–113 (1993); J. Carpenter,
P. Clifford, P. Fearnhead, IEE Proc. Radar Sonar Navig. 146:2–7 (1999); G. Poyiadjis, A. Doucet,
S. S. Singh, "Particle approximations of the score and observed information matrix in state space models
with application to parameter estimation", Biometrika 98:65–80 (2011).
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._compile._events import CompiledEvents
from .._compile._network import CompiledNetwork
from .._estimator.score import path_score
from .._results import RESULTS, status_code
from .._simulator import AbstractSimulator
from .._solve import solve
from .lockstep import advance_lockstep
from .observation import ObservationModel


class FilterOutput(eqx.Module):
    """One filter's result; the `*_at` fields are the first observation index where it happened, or −1."""

    loglik: Float[Array, ""]
    grad: Float[Array, " m"]
    vanished_at: Int[Array, ""]  # every weight was zero
    bad_noise_at: Int[Array, ""]  # a noise value was not usable (SD ≤ 0, probability outside (0, 1])
    failed_at: Int[Array, ""]  # a particle's simulation failed
    fail_status: Int[Array, ""]
    fail_t: Float[Array, ""]
    fail_x: Float[Array, " species"]
    # with SBML events, the failing particle's own parameter vector (events may have assigned some); else None
    fail_p: Float[Array, " params"] | None
    bad_grad_at: Int[Array, ""]  # a weighted particle's score was not finite
    resampled: Int[Array, ""]  # how many times the particles were resampled
    min_ess: Float[Array, ""]
    # with record=True: the particles at each observation time and their normalised log-weights after
    # weighting by that observation (the filtering distribution p(x_k | y_1..k)), and the ancestor indices
    # chosen after it (particle i at time k+1 descends from particle ancestors[k, i] at time k); else None
    states: Float[Array, "times n species"] | None = None
    logw: Float[Array, "times n"] | None = None
    ancestors: Int[Array, "times n"] | None = None


def systematic_resample(key: PRNGKeyArray, w: Float[Array, " n"]) -> Int[Array, " n"]:
    """Ancestor indices by systematic resampling: one uniform `U`, points `(U + i)/N` on the weights' CDF
    (Carpenter, Clifford & Fearnhead 1999): the lowest-variance standard scheme, O(N)."""
    n = w.shape[0]
    u = (jax.random.uniform(key, (), dtype=jnp.float64) + jnp.arange(n, dtype=jnp.float64)) / n
    cdf = jnp.cumsum(w)
    cdf = cdf / cdf[-1]
    return jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n - 1).astype(jnp.int32)


def event_assigned(net: CompiledNetwork, events: CompiledEvents | None) -> jax.Array | bool:
    """Mask of the parameters some SBML event assigns (`False` without events): those a filter's particle
    carries as its own, the rest follow the parameters being evaluated (IF2 perturbs them per particle)."""
    if events is None:
        return False
    n_p = len(net.plan.param_names)
    idx = np.asarray(events.plan.p_index).ravel()
    mask = np.zeros(n_p, dtype=bool)
    mask[idx[idx < n_p]] = True
    return jnp.asarray(mask)


def bootstrap_filter(
    net: CompiledNetwork,
    sim: AbstractSimulator,
    obs: ObservationModel,
    initial: Callable[[Float[Array, " m"]], tuple[jax.Array, jax.Array]],
    theta: Float[Array, " m"],
    key: PRNGKeyArray,
    *,
    n_particles: int,
    t0: float,
    block: int,
    threshold: float | Float[Array, ""],
    score: bool,
    record: bool = False,
    events: CompiledEvents | None = None,
) -> FilterOutput:
    """Run one bootstrap filter (traceable; see the module docstring).

    **Arguments:**

    - `net`, `sim`: the compiled network and the simulator.
    - `obs`: the measurement model of the dataset (its times are the observation times).
    - `initial`: `theta → (x0, p)`, the initial counts and full parameter vector.
    - `theta`: the parameter values passed to `obs` and `initial` (the differentiated ones with `score`).
    - `key`: this filter's key; particle `i` in interval `k` uses `split(fold_in(key, k))`'s `i`-th key, which seeds
      that particle's random-number stream (`sbmljax._prng`) for the interval; the resampling uniform comes from the
      same interval key (one `jax.random` draw per observation, off the per-event path).
    - `n_particles`, `t0`, `block`: particles, the start time, steps per iteration of the loop's inner `scan`.
    - `threshold`: resample when the effective sample size is below `threshold · n_particles`.
    - `score`: also estimate `∇θ log p(y)` (Fisher identity over the particles' ancestral paths).
    - `record`: also return the weighted particles at each observation and the ancestors chosen after it
      (`states`, `logw`, `ancestors`: the genealogy `sbmljax._likelihood.smoothing` traces).
    - `events`: the model's compiled SBML events (`None` if it has none): each particle then carries its
      parameters and trigger values (the module docstring). The parameters no event assigns are `theta`'s;
      the gradient needs events whose expressions do not depend on `theta` (`event_gradient_refusal`).
    """
    n = n_particles
    x0, p = initial(theta)
    m = theta.shape[0]
    acc = None
    if score:
        dp = jax.jacfwd(lambda th: initial(th)[1])(theta).T  # (m, params): ∂p/∂θ
        sim, acc = path_score(sim, net, dp)  # the leap's keeps its draws in its state

    assigned = event_assigned(net, events)

    def log_g(th, x, k, pp=None):
        # a parameter an event assigned is the particle's own; the others follow th (for the gradient)
        p_th = initial(th)[1]
        return obs.log_g(x, p_th if pp is None else jnp.where(assigned, pp, p_th), k, th)

    # a fixed-step method's particles share one clock (`advance_lockstep`); the path score needs `solve`'s loop,
    # and so do events (the lockstep loop does not evaluate them)
    lockstep = sim.fixed_step() is not None and not score and events is None
    minus1 = jnp.asarray(-1, dtype=jnp.int32)
    ev_carry = {}
    failed0, status0, x_fail0 = minus1, jnp.asarray(0, dtype=jnp.int32), jnp.zeros_like(x0)
    if events is not None:
        # the events at t0 are deterministic given (x0, p): executed once here, for every particle
        x0, p0, ev0, st0 = events.initial(net, x0, p, jnp.asarray(t0, dtype=jnp.float64), sim.exact)
        bad0 = st0 != RESULTS.successful
        failed0 = jnp.where(bad0, 0, -1).astype(jnp.int32)
        status0 = jnp.where(bad0, status_code(st0), 0).astype(jnp.int32)
        x_fail0 = jnp.where(bad0, x0, 0.0)
        ev_carry = dict(
            p=jnp.broadcast_to(p0, (n, p0.shape[0])), ev=jnp.broadcast_to(ev0, (n, ev0.shape[0])), fail_p=p0
        )
    carry0 = dict(
        t=jnp.asarray(t0, dtype=jnp.float64),
        x=jnp.broadcast_to(x0, (n, x0.shape[0])),
        logw=jnp.full((n,), -jnp.log(n)),
        alpha=jnp.zeros((n, m)),
        ll=jnp.asarray(0.0),
        vanished=minus1,
        bad_noise=minus1,
        failed=failed0,
        fail_status=status0,
        fail_t=jnp.asarray(t0 if events is not None else 0.0, dtype=jnp.float64),
        fail_x=x_fail0,
        resampled=jnp.asarray(0, dtype=jnp.int32),
        min_ess=jnp.asarray(float(n)),
        **ev_carry,
    )

    def interval(c: dict, k):
        t_k = obs.times[k]
        k_prop, k_res = jax.random.split(jax.random.fold_in(key, k))

        def advance(xi, ki):
            sol = solve(net, sim, t_k[None], xi, p, ki, t0=c["t"], block=block, accumulator=acc)
            return sol.x, sol.status, sol.t, sol.extra

        def advance_events(xi, pi, ei, ki):
            sol = solve(net, sim, t_k[None], xi, pi, ki, t0=c["t"], events=events, ev0=ei, block=block, accumulator=acc)
            return sol.x, sol.status, sol.t, sol.extra, sol.p, sol.ev

        keys = jax.random.split(k_prop, n)
        pp = evs = None
        if lockstep:
            x, status, t_end = advance_lockstep(
                net, sim, c["x"], jnp.broadcast_to(p, (n, p.shape[0])), keys, c["t"], t_k
            )
            dalpha = None
        elif events is not None:
            x, status, t_end, dalpha, pp, evs = jax.vmap(advance_events)(c["x"], c["p"], c["ev"], keys)
        else:
            x, status, t_end, dalpha = jax.vmap(advance)(c["x"], keys)
        failed_now = status != status_code(RESULTS.successful)
        first_fail = jnp.argmax(failed_now)
        new_fail = (c["failed"] < 0) & jnp.any(failed_now)
        if events is None:
            g, ok = jax.vmap(lambda xi: log_g(theta, xi, k))(x)
        else:
            g, ok = jax.vmap(lambda xi, pi: log_g(theta, xi, k, pi))(x, pp)
        g = jnp.where(jnp.isnan(g), -jnp.inf, g)
        a = c["logw"] + g
        inc = logsumexp(a)
        alive = jnp.isfinite(inc)
        logw = jnp.where(alive, a - inc, -jnp.log(n))
        alpha = c["alpha"]
        if score:
            if events is None:
                dg = jax.vmap(lambda xi: jax.grad(lambda th: log_g(th, xi, k)[0])(theta))(x)
            else:
                dg = jax.vmap(lambda xi, pi: jax.grad(lambda th: log_g(th, xi, k, pi)[0])(theta))(x, pp)
            alpha = alpha + dalpha + dg
        w = jnp.exp(logw)
        ess = 1.0 / jnp.sum(w**2)
        resample = ess < threshold * n
        anc = jnp.where(resample, systematic_resample(k_res, w), jnp.arange(n, dtype=jnp.int32))
        out = dict(
            t=t_k,
            x=x[anc],
            logw=jnp.where(resample, -jnp.log(n), logw),
            alpha=alpha[anc],
            ll=c["ll"] + inc,
            vanished=jnp.where((c["vanished"] < 0) & ~alive, k, c["vanished"]),
            bad_noise=jnp.where((c["bad_noise"] < 0) & ~jnp.all(ok), k, c["bad_noise"]),
            failed=jnp.where(new_fail, k, c["failed"]),
            fail_status=jnp.where(new_fail, status[first_fail], c["fail_status"]),
            fail_t=jnp.where(new_fail, t_end[first_fail], c["fail_t"]),
            fail_x=jnp.where(new_fail, x[first_fail], c["fail_x"]),
            resampled=c["resampled"] + resample.astype(jnp.int32),
            min_ess=jnp.minimum(c["min_ess"], ess),
        )
        if pp is not None and evs is not None:  # with events: the particle's parameters and triggers go with it
            out.update(p=pp[anc], ev=evs[anc], fail_p=jnp.where(new_fail, pp[first_fail], c["fail_p"]))
        return out, ((x, logw, anc) if record else None)

    c, ys = jax.lax.scan(interval, carry0, jnp.arange(obs.times.shape[0], dtype=jnp.int32))
    w = jnp.exp(c["logw"])
    weighted = w[:, None] * jnp.where(w[:, None] > 0, c["alpha"], 0.0)
    finite = jnp.all(jnp.isfinite(weighted))
    return FilterOutput(
        loglik=c["ll"],
        grad=jnp.sum(weighted, axis=0),
        vanished_at=c["vanished"],
        bad_noise_at=c["bad_noise"],
        failed_at=c["failed"],
        fail_status=c["fail_status"],
        fail_t=c["fail_t"],
        fail_x=c["fail_x"],
        fail_p=c.get("fail_p"),
        bad_grad_at=jnp.where(finite, -1, obs.times.shape[0] - 1).astype(jnp.int32),
        resampled=c["resampled"],
        min_ess=c["min_ess"],
        states=ys[0] if record else None,
        logw=ys[1] if record else None,
        ancestors=ys[2] if record else None,
    )

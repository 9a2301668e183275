"""One IF2 iteration, traceable and jitted: the perturbed bootstrap filter whose particles carry their own
parameters (`if2_iteration`), and the same for independent chains at once (`if2_chains_iteration`).

The algorithm, its cooling schedule and its references are in `sbmljax._likelihood.if2`'s module docstring;
`sbmljax._likelihood.if2_run` drives these iterations.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float, Int, Key, PRNGKeyArray

from .._results import RESULTS, status_code
from .._solve import solve
from .bootstrap import event_assigned, systematic_resample
from .dataset_filter import map_grouped
from .lockstep import advance_lockstep

SCALES = {"lin": 0, "log": 1, "log10": 2}


def from_scale(s: jax.Array, codes: jax.Array) -> jax.Array:
    return jnp.where(codes == 0, s, jnp.where(codes == 1, jnp.exp(s), 10.0**s))


class IF2Swarm(eqx.Module):
    """What one IF2 iteration leaves: the particles' parameters on the estimation scale and diagnostics."""

    scaled: Float[Array, "n m"]
    loglik: Float[Array, ""]  # log-likelihood of the perturbed filter (not of the swarm mean)
    vanished: Int[Array, ""]  # observations at which every weight vanished (the particles were kept)
    failed_at: Int[Array, ""]  # first observation where a particle's simulation failed, or −1


@eqx.filter_jit
def if2_iteration(
    f_initial,
    sim,
    obs,
    scaled: Float[Array, "n m"],
    codes: Int[Array, " m"],
    lower: Float[Array, " m"],
    upper: Float[Array, " m"],
    sd: Float[Array, " m"],
    iteration: Int[Array, ""],
    cooling: Float[Array, ""],
    key: PRNGKeyArray,
    block: int,
    events=None,
) -> IF2Swarm:
    """One IF2 iteration (traceable; `sbmljax._likelihood.if2`'s module docstring): perturb, simulate, weight
    and resample at each observation. `iteration` and `cooling` are traced, so every iteration reuses one
    compilation. With SBML `events` each particle also carries the parameters events assign and its trigger
    values, as in the bootstrap filter (`sbmljax._likelihood.bootstrap`); the initial events run once per
    particle at `t0`."""
    n = scaled.shape[0]
    n_obs = obs.times.shape[0]
    net = f_initial.net

    def lin(s):
        return from_scale(s, codes)

    x0 = jax.vmap(lambda s: f_initial(lin(s))[0])(scaled)
    assigned = event_assigned(net, events)
    ev_carry = {}
    failed0 = jnp.asarray(-1, dtype=jnp.int32)
    if events is not None:
        t0 = jnp.asarray(f_initial.t0, dtype=jnp.float64)
        p0 = jax.vmap(lambda s: f_initial(lin(s))[1])(scaled)
        x0, p0, ev0, st0 = jax.vmap(lambda xi, pi: events.initial(net, xi, pi, t0, sim.exact))(x0, p0)
        failed0 = jnp.where(jnp.any(st0 != RESULTS.successful), 0, -1).astype(jnp.int32)
        ev_carry = dict(p=p0, ev=ev0)

    def interval(c, k):
        t_k = obs.times[k]
        k_rw, k_prop, k_res = jax.random.split(jax.random.fold_in(key, k), 3)
        factor = cooling ** ((k + iteration * n_obs).astype(jnp.float64) / (50.0 * n_obs))
        s = c["s"] + (factor * sd)[None, :] * jax.random.normal(k_rw, c["s"].shape, dtype=jnp.float64)
        s = jnp.clip(s, lower[None, :], upper[None, :])
        theta = jax.vmap(lin)(s)
        p = jax.vmap(lambda th: f_initial(th)[1])(theta)
        if events is not None:  # the parameters an event assigned stay the particle's own
            p = jnp.where(assigned, c["p"], p)

        def advance(xi, pi, ki):
            sol = solve(net, sim, t_k[None], xi, pi, ki, t0=c["t"], block=block)
            return sol.x, sol.status

        def advance_events(xi, pi, ei, ki):
            sol = solve(net, sim, t_k[None], xi, pi, ki, t0=c["t"], events=events, ev0=ei, block=block)
            return sol.x, sol.status, sol.p, sol.ev

        keys = jax.random.split(k_prop, n)
        if events is not None:
            x, status, p, evs = jax.vmap(advance_events)(c["x"], p, c["ev"], keys)
        elif sim.fixed_step() is not None:  # a fixed-step method's particles share one clock
            x, status, _ = advance_lockstep(net, sim, c["x"], p, keys, c["t"], t_k)
        else:
            x, status = jax.vmap(advance)(c["x"], p, keys)
        g, _ = jax.vmap(lambda xi, pi, th: obs.log_g(xi, pi, k, th))(x, p, theta)
        g = jnp.where(jnp.isnan(g), -jnp.inf, g)
        inc = logsumexp(g) - jnp.log(n)
        alive = jnp.isfinite(inc)
        w = jnp.where(alive, jnp.exp(g - jnp.where(alive, inc + jnp.log(n), 0.0)), 1.0 / n)
        anc = systematic_resample(k_res, w)
        bad = jnp.any(status != status_code(RESULTS.successful))
        out = dict(
            t=t_k,
            x=x[anc],
            s=s[anc],
            ll=c["ll"] + jnp.where(alive, inc, 0.0),
            vanished=c["vanished"] + (~alive).astype(jnp.int32),
            failed=jnp.where((c["failed"] < 0) & bad, k, c["failed"]),
        )
        if events is not None:
            out.update(p=p[anc], ev=evs[anc])
        return out, None

    carry0 = dict(
        t=jnp.asarray(f_initial.t0, dtype=jnp.float64),
        x=x0,
        s=scaled,
        ll=jnp.asarray(0.0),
        vanished=jnp.asarray(0, dtype=jnp.int32),
        failed=failed0,
        **ev_carry,
    )
    c, _ = jax.lax.scan(interval, carry0, jnp.arange(n_obs, dtype=jnp.int32))
    return IF2Swarm(scaled=c["s"], loglik=c["ll"], vanished=c["vanished"], failed_at=c["failed"])


@eqx.filter_jit
def if2_chains_iteration(
    f_initial,
    sim,
    obs,
    scaled: Float[Array, "chains n m"],
    codes: Int[Array, " m"],
    lower: Float[Array, " m"],
    upper: Float[Array, " m"],
    sd: Float[Array, " m"],
    iteration: Int[Array, ""],
    cooling: Float[Array, ""],
    keys: Key[Array, " chains"],
    block: int,
    events=None,
) -> IF2Swarm:
    """One IF2 iteration of independent chains at once (`if2_iteration` vmapped over the leading axis of
    `scaled` and `keys`): each chain resamples only among its own particles. On a CPU the chains run vmapped in
    groups of about `GROUP_PARTICLES` particles, in turn (`map_grouped`: the cost per particle grows with the
    batch; the results are the same)."""

    def one(args):
        s, k = args
        return if2_iteration(f_initial, sim, obs, s, codes, lower, upper, sd, iteration, cooling, k, block, events)

    return map_grouped(one, (scaled, keys), scaled.shape[1])

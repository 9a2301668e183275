"""Iterated filtering, IF2 (Ionides, Nguyen, Atchadé, Stoev & King 2015): maximum likelihood by particle
filters whose particles carry their own parameters.

Each particle `j` holds a parameter vector `θ_j` on the estimation scale (PEtab's `lin`/`log`/`log10`).
One IF2 iteration is one bootstrap filter over the data in which, before every observation interval,
each particle's parameters take a Gaussian random-walk step of SD `σ_i · c^((k + mK)/(50K))` (iteration
`m`, observation `k` of `K`: geometric cooling with `c` = `cooling`, the fraction the SD falls to after 50
iterations, pomp's `cooling.fraction.50`), are clipped to the bounds, and are resampled with the states.
The swarm that ends one iteration starts the next; as the perturbations cool, it concentrates near the
maximum of the likelihood (the theorem of Ionides et al. 2015: IF2 climbs the likelihood of the data
smoothed over the random walk, which converges to the likelihood as `σ → 0`). The estimate is the swarm's
mean on the estimation scale after the last iteration.

Particles are vmapped and one iteration is one jitted `lax.scan` over observation intervals, as in the
bootstrap filter; the parameters only enter through each particle's own parameter vector, so any
simulator (exact or tau-leaping) runs underneath. Resampling is systematic at every observation (IF2
relies on it to select parameters).

Several datasets (independent replicate series, or PEtab conditions, each with its own initial counts
and condition parameters) are independent units whose log-likelihoods add. One iteration then filters
them in turn, as panel IF2 does (panelPomp's `mif2`; Bretó, Ionides & King 2020): the swarm that ends one
dataset's perturbed filter starts the next one's (its particles' states start afresh from that dataset's
initial state), so every shared parameter is perturbed and selected through all datasets, and the
swarm's mean after the last dataset of the last iteration is the estimate. Each dataset's filter cools
by the iteration number as a single dataset's does (pomp's `mif2` on one unit with `.ndone` iterations
done, as panelPomp calls it), and a parameter read only by one dataset's observable or noise formulas
(a unit-specific parameter) is perturbed only while that dataset is filtered. The log-likelihood of
an iteration is the sum of the datasets' perturbed-filter log-likelihoods.

**References:** E. L. Ionides, D. Nguyen, Y. Atchadé, S. Stoev, A. A. King, "Inference for dynamic and
latent variable models via iterated, perturbed Bayes maps", PNAS 112:719–724 (2015); C. Bretó,
E. L. Ionides, A. A. King, "Panel data analysis via mechanistic models", J. Amer. Statist. Assoc.
115:1178–1188 (2020) (panel IF2).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp
from jaxtyping import Array, Float, Int, Key, PRNGKeyArray

from .._config import x64
from .._results import RESULTS, status_code
from .._solve import solve
from ..errors import ConfigError, LikelihoodError, UnsupportedSBMLFeatureError
from .api import DEFAULT_REPLICATES, ParticleLikelihood
from .bootstrap import event_assigned, systematic_resample
from .dataset_filter import DatasetFilter
from .lockstep import advance_lockstep

_SCALES = {"lin": 0, "log": 1, "log10": 2}


def _from_scale(s: jax.Array, codes: jax.Array) -> jax.Array:
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
    """One IF2 iteration (traceable; the module docstring): perturb, simulate, weight and resample at each
    observation. `iteration` and `cooling` are traced, so every iteration reuses one compilation. With SBML
    `events` each particle also carries the parameters events assign and its trigger values, as in the
    bootstrap filter (`sbmljax._likelihood.bootstrap`); the initial events run once per particle at `t0`."""
    n = scaled.shape[0]
    n_obs = obs.times.shape[0]
    net = f_initial.net

    def lin(s):
        return _from_scale(s, codes)

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
    `scaled` and `keys`): each chain resamples only among its own particles."""

    def one(s, k):
        return if2_iteration(f_initial, sim, obs, s, codes, lower, upper, sd, iteration, cooling, k, block, events)

    return jax.vmap(one)(scaled, keys)


@dataclasses.dataclass(frozen=True)
class IF2Result:
    """The result of `sbmljax.if2`.

    **Attributes:**

    - `params`: the estimate (linear scale): the swarm's mean on the estimation scale after the last iteration.
    - `loglik`, `loglik_stderr`: the log-likelihood at `params` by `replicates` independent bootstrap
      filters (`sbmljax.log_likelihood`), with its jackknife standard error; NaN if `evaluate=False`.
    - `trace`: parameter id → the swarm mean per iteration (linear scale); `trace_loglik`: each
      iteration's perturbed-filter log-likelihood, summed over the datasets (noisy, and below the likelihood at the mean while the
      perturbations are large).
    - `swarm_sd`: parameter id → the final swarm's SD on the estimation scale.
    - `n_particles`, `iterations`, `method`, `wall_time_s` (the iterations, without the final evaluation).
    - `per_dataset`: the evaluated log-likelihood of each dataset at `params`, in the order given (they sum to
      `loglik`; empty if `evaluate=False` or the chain failed): with several datasets, which ones the estimate fits.
    - `chains`: one dict per chain (`start`, `params`, `loglik`, `loglik_stderr`, `per_dataset`, `trace_loglik`,
      `failed`),
      in the order of the starts; `params`, `trace` and `swarm_sd` above are those of the best chain (the
      highest evaluated log-likelihood; with `evaluate=False`, the highest last-iteration filter
      log-likelihood). One entry for a single chain.
    """

    params: dict[str, float]
    loglik: float
    loglik_stderr: float
    trace: dict[str, list[float]]
    trace_loglik: list[float]
    swarm_sd: dict[str, float]
    n_particles: int
    iterations: int
    method: str
    wall_time_s: float
    chains: tuple[dict, ...] = ()
    per_dataset: tuple[float, ...] = ()


def _rw_sds(problem, rw_sd: float | Mapping[str, float]) -> np.ndarray:
    ids = problem.estimated_ids
    if isinstance(rw_sd, Mapping):
        unknown = sorted(set(rw_sd) - set(ids))
        if unknown:
            raise ConfigError(f"rw_sd names parameters that are not estimated: {unknown} (estimated: {list(ids)})")
        sd = np.array([float(rw_sd.get(k, 0.0)) for k in ids])
    else:
        sd = np.full(len(ids), float(rw_sd))
    if np.any(~np.isfinite(sd)) or np.any(sd < 0):
        raise ConfigError(f"rw_sd must be finite and ≥ 0, got {rw_sd!r}")
    # `rw_sd` is a relative step (natural-log units, as pomp's rw.sd on log-transformed rates): divide by
    # ln 10 on a log10 scale; a lin-scale parameter steps by `rw_sd` × a tenth of its bounds' width (for a
    # probability in [0.05, 1] about pomp's logit step near 0.9)
    for i, p in enumerate(problem.estimated):
        if p.scale == "log10":
            sd[i] /= math.log(10.0)
        elif p.scale == "lin":
            sd[i] *= (p.upper - p.lower) / 10.0
    return sd


@x64
def if2(
    model,
    data,
    free_params: Mapping[str, object] | None = None,
    *,
    seed: int,
    n_particles: int = 1000,
    iterations: int = 50,
    rw_sd: float | Mapping[str, float] = 0.02,
    cooling: float = 0.5,
    method="direct",
    noise_sd: float | None = None,
    replicates: int = 2 * DEFAULT_REPLICATES,
    evaluate: bool = True,
    block: int | None = None,
    chains: int | None = None,
    starts: Sequence[Mapping[str, float]] | Mapping[str, tuple[float, float]] | None = None,
) -> IF2Result:
    """Maximum likelihood by iterated filtering (IF2): a robust global search that needs no gradient.

    The estimated parameters random-walk with every particle of a bootstrap filter (SD `rw_sd` on their
    estimation scale per observation, cooled geometrically to `cooling` × after 50 iterations), and the
    swarm that survives resampling moves towards the maximum of the likelihood. Use it as the start of
    `fit(..., loss="likelihood", start="if2")`, which refines it by the path-score gradient, or alone.

    **Arguments:**

    - `model`, `data`, `free_params`: as `sbmljax.fit`: a PEtab problem (`model`, or `model=None` and
      `data` a PEtab problem; `free_params` may override start values), or a model with one or more
      datasets (a quick-form CSV path, a `Dataset`, or a list of these) and `free_params` id → start
      value or `(start, lower, upper)`. Several datasets are independent units whose log-likelihoods add:
      each iteration filters them in turn with one parameter swarm (panel IF2, see the module docstring).
    - `seed`: integer seed; the same seed gives the same result.
    - `n_particles`: particles of each iteration's filter.
    - `iterations`: IF2 iterations (one filter each).
    - `rw_sd`: random-walk SD per observation (a number, or id → SD; 0 holds a parameter fixed): a relative
      step for `log`/`log10`-scale parameters (natural-log units, as pomp's `rw.sd` on log-transformed
      rates), and relative to a tenth of the bounds' width for `lin`-scale ones.
    - `cooling`: the factor the SD falls to after 50 iterations (pomp's `cooling.fraction.50`).
    - `method`: the simulator between observations (`"direct"`, `"nrm"`, `"tau_leap"` or an instance).
    - `noise_sd`: the known Gaussian SD of quick-form CSV data.
    - `replicates`: independent filters of `n_particles` for the log-likelihood at the estimate.
    - `evaluate`: compute that log-likelihood (`False`: `loglik` is NaN).
    - `chains`, `starts`: independent chains run at once (vmapped), as pomp's lessons search: `starts` a
      list of start values (id → value; one chain each), or a box (id → `(low, high)`) from which `chains`
      starts are drawn at random (log-uniformly on a `log`/`log10` scale, uniformly on `lin`; the other
      parameters start at their start values); `chains` alone runs that many chains from the same start.
      Each chain's end point is evaluated by `replicates` filters and the best one is returned
      (`IF2Result.chains` lists them all). A chain whose weights all vanish in its last iteration is
      marked failed and skipped; it is an error only if every chain fails.

    **Returns:** an `IF2Result`.

    **Raises:** `ConfigError` (bad settings), `DataError`, `ParameterError`,
    `SimulationError` (a particle's simulation failed), `LikelihoodError` (every weight vanished at an
    observation in the last iteration, or in more than half of all observation steps).

    **References:** E. L. Ionides, D. Nguyen, Y. Atchadé, S. Stoev, A. A. King, PNAS 112:719–724 (2015);
    C. Bretó, E. L. Ionides, A. A. King, J. Amer. Statist. Assoc. 115:1178–1188 (2020) (several datasets).
    """
    from .._fit import as_problem

    if not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if iterations < 1 or n_particles < 2:
        raise ConfigError(f"need iterations ≥ 1 and n_particles ≥ 2, got {iterations}, {n_particles}")
    if not 0 < cooling <= 1:
        raise ConfigError(f"cooling must be in (0, 1], got {cooling}")
    if model is None:
        model, data = data, None
    problem, start = as_problem(
        model, None if data is None else (data if isinstance(data, list) else [data]), free_params, noise_sd=noise_sd
    )
    return run_if2(
        problem,
        start,
        seed=int(seed),
        n_particles=n_particles,
        iterations=iterations,
        rw_sd=rw_sd,
        cooling=cooling,
        method=method,
        replicates=replicates,
        evaluate=evaluate,
        block=block,
        chains=chains,
        starts=starts,
    )


def _chain_starts(problem, start, starts, chains, seed) -> list[dict[str, float]] | None:
    """The start values of each chain (linear scale), or None for the classic single chain."""
    if chains is not None and (not isinstance(chains, (int, np.integer)) or chains < 1):
        raise ConfigError(f"chains must be a positive integer, got {chains!r}")
    if starts is None:
        return None if chains in (None, 1) else [dict(start) for _ in range(int(chains))]
    ids = problem.estimated_ids
    est = {p.id: p for p in problem.estimated}
    if isinstance(starts, Mapping):  # a box
        unknown = sorted(set(starts) - set(ids))
        if unknown:
            raise ConfigError(f"starts names parameters that are not estimated: {unknown} (estimated: {list(ids)})")
        if chains is None:
            raise ConfigError("starts is a box (id → (low, high)): give chains, the number of starts to draw")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), 23]))
        lo_hi = {}
        for k, bounds in starts.items():
            p = est[k]
            try:
                lo, hi = (float(b) for b in bounds)
            except (TypeError, ValueError):
                raise ConfigError(f"starts['{k}'] must be (low, high), got {bounds!r}") from None
            if not (p.lower <= lo <= hi <= p.upper):
                raise ConfigError(
                    f"starts['{k}'] = ({lo:g}, {hi:g}) must lie within the bounds [{p.lower:g}, {p.upper:g}] of '{k}'"
                )
            lo_hi[k] = (p.to_scale(lo), p.to_scale(hi))
        out = []
        for _ in range(int(chains)):
            draw = {k: est[k].from_scale(float(rng.uniform(a, b))) for k, (a, b) in lo_hi.items()}
            out.append({**start, **draw})
        return out
    items = list(starts)
    if not items or not all(isinstance(x, Mapping) for x in items):
        raise ConfigError("starts must be a list of start values (id → value) or a box (id → (low, high))")
    if chains is not None and chains != len(items):
        raise ConfigError(f"chains = {chains} but {len(items)} starts are given")
    out = []
    for x in items:
        unknown = sorted(set(x) - set(ids))
        if unknown:
            raise ConfigError(f"starts names parameters that are not estimated: {unknown} (estimated: {list(ids)})")
        v = {**start, **{k: float(val) for k, val in x.items()}}
        off = [k for k in x if not est[k].lower <= v[k] <= est[k].upper]
        if off:
            raise ConfigError(f"start values {[(k, v[k]) for k in off]} are outside their bounds")
        out.append(v)
    return out


def _unit_masks(problem) -> list[np.ndarray]:
    """Which estimated parameters each dataset's likelihood depends on: every model parameter (the
    simulation reads it) and the parameters of that dataset's observable and noise formulas. A parameter
    only one dataset reads is that unit's specific parameter in the sense of panel IF2: it is perturbed
    only while that dataset is filtered (Bretó, Ionides & King 2020)."""
    model_params = set(problem.model.parameter_values())
    out = []
    for d in problem.datasets:
        read = set().union(*(o.symbols() for o in d.observables))
        out.append(np.array([k in model_params or k in read for k in problem.estimated_ids]))
    return out


def _unit_roots(seed: int, n_units: int) -> list[PRNGKeyArray]:
    """Each dataset's root key (iteration `m` folds in `m`): the first dataset's is the seed's own, so that
    one dataset draws exactly the stream it always did; the others are independent streams."""
    roots = [jax.random.key(int(seed))]
    for u in range(1, n_units):
        roots.append(jax.random.key(int(np.random.SeedSequence([int(seed), 29, u]).generate_state(1)[0])))
    return roots


def _refuse_assigned_estimates(model, ids) -> None:
    """IF2 perturbs each estimated parameter per particle before every interval; a parameter an SBML event
    assigns is the particle's state once the event fired, and the two cannot both hold."""
    for ev in model.events:
        hit = sorted({a.variable for a in ev.assignments} & set(ids))
        if hit:
            raise UnsupportedSBMLFeatureError(
                f"{model.source}: event '{ev.id}' assigns the estimated parameter(s) {hit}; IF2 perturbs estimated "
                "parameters as each particle's own, which an event assignment would overwrite. Estimate another "
                "parameter (e.g. the one the event's assigned value is computed from)"
            )


@x64
def run_if2(
    problem,
    start: Mapping[str, float],
    *,
    seed: int,
    n_particles: int,
    iterations: int,
    rw_sd: float | Mapping[str, float],
    cooling: float,
    method,
    replicates: int,
    evaluate: bool,
    block: int | None = None,
    chains: int | None = None,
    starts: Sequence[Mapping[str, float]] | Mapping[str, tuple[float, float]] | None = None,
) -> IF2Result:
    """`if2` on a normalised `Problem` and start values (linear scale).

    One loop serves one chain (`if2_iteration`) and several (`if2_chains_iteration`, vmapped; each chain's
    end point evaluated by replicate filters and the best kept, pomp's global search), and one dataset or
    several: each iteration filters the datasets in turn, the swarm that ends one dataset starting the next
    (panel IF2, Bretó, Ionides & King 2020; see the module docstring)."""
    chain_starts = _chain_starts(problem, start, starts, chains, seed)
    multi = chain_starts is not None
    starts_used = chain_starts if chain_starts is not None else [dict(start)]
    k_chains = len(starts_used)
    ids = problem.estimated_ids
    values = {**problem.fixed, **problem.nominal(), **{k: float(v) for k, v in start.items()}}
    pl = ParticleLikelihood(
        problem, ids, values, n_particles=n_particles, replicates=replicates, method=method, block=block
    )
    filters: list[DatasetFilter] = pl.filters
    for f in filters:
        if f.events is not None:
            _refuse_assigned_estimates(problem.model, ids)
    several = len(filters) > 1
    est = problem.estimated
    codes = jnp.asarray([_SCALES[p.scale] for p in est], dtype=jnp.int32)
    lo, hi = (jnp.asarray(b, dtype=jnp.float64) for b in problem.scaled_bounds())
    sd_all = _rw_sds(problem, rw_sd)
    sds = [jnp.asarray(np.where(mask, sd_all, 0.0), dtype=jnp.float64) for mask in _unit_masks(problem)]
    roots = _unit_roots(seed, len(filters))
    s0 = np.array([[p.to_scale(c[p.id]) for p in est] for c in starts_used])
    if multi:
        swarm = jnp.broadcast_to(jnp.asarray(s0, dtype=jnp.float64)[:, None, :], (k_chains, n_particles, len(est)))
    else:
        swarm = jnp.broadcast_to(jnp.asarray(s0[0], dtype=jnp.float64), (n_particles, len(est)))
    traces: list[dict[str, list[float]]] = [{k: [] for k in ids} for _ in range(k_chains)]
    trace_ll: list[list[float]] = [[] for _ in range(k_chains)]
    vanished = np.zeros(k_chains, dtype=np.int64)
    v_now = np.zeros(k_chains, dtype=np.int64)
    step: Callable[..., IF2Swarm] = if2_chains_iteration if multi else if2_iteration
    t_start = time.perf_counter()
    for m in range(iterations):
        lls = np.zeros(k_chains)
        v_now = np.zeros(k_chains, dtype=np.int64)
        for u, f in enumerate(filters):
            k_u = jax.random.fold_in(roots[u], m)
            if multi:
                keys = jax.vmap(lambda c, k_u=k_u: jax.random.fold_in(k_u, c))(jnp.arange(k_chains))
            else:
                keys = k_u
            out = step(
                f.initial,
                f.sim,
                f.obs,
                swarm,
                codes,
                lo,
                hi,
                sds[u],
                jnp.asarray(m, dtype=jnp.int32),
                jnp.asarray(float(cooling), dtype=jnp.float64),
                keys,
                f.block,
                events=f.events,
            )
            failed_at = np.atleast_1d(np.asarray(out.failed_at))
            if np.any(failed_at >= 0):
                c = int(np.argmax(failed_at >= 0))
                scaled = np.asarray(out.scaled[c] if multi else out.scaled)
                # rerun the plain filter at the swarm mean to name the failing reaction and state
                mean = {p.id: p.from_scale(float(v)) for p, v in zip(est, scaled.mean(axis=0))}
                pl.evaluate(mean, seed=int(seed))
                where = (f" of chain {c}" if multi else "") + (f", dataset '{f.dataset.name}'" if several else "")
                raise LikelihoodError(
                    f"{problem.source}: a particle's simulation failed in IF2 iteration {m}{where} (observation "
                    f"{int(failed_at[c]) + 1}); narrow the bounds or lower rw_sd",
                    time=float(f.dataset.times[int(failed_at[c])]),
                )
            swarm = out.scaled
            lls += np.atleast_1d(np.asarray(out.loglik))
            v_now += np.atleast_1d(np.asarray(out.vanished))
        means = np.asarray(swarm).mean(axis=1) if multi else np.asarray(swarm).mean(axis=0)[None]
        for c in range(k_chains):
            for p, v in zip(est, means[c]):
                traces[c][p.id].append(p.from_scale(float(v)))
            trace_ll[c].append(float(lls[c]))
        vanished += v_now
    wall = time.perf_counter() - t_start
    n_obs = sum(f.dataset.times.size for f in filters)
    too_often = vanished > iterations * n_obs / 2
    if not multi and v_now[0]:
        raise LikelihoodError(
            f"{problem.source}: every particle's weight vanished at {int(v_now[0])} observation(s) in the "
            "last IF2 iteration: use more particles, other start values, or a larger noise scale"
        )
    if not multi and too_often[0]:
        raise LikelihoodError(
            f"{problem.source}: every particle's weight vanished at {int(vanished[0])} of {iterations * n_obs} "
            "observation steps of IF2: use more particles or other start values"
        )
    failed = (v_now > 0) | too_often
    if np.all(failed):
        raise LikelihoodError(
            f"{problem.source}: in every one of {k_chains} IF2 chains the particles' weights vanished (in the last "
            "iteration or in more than half of all observation steps): use more particles or other starts"
        )
    final = np.asarray(swarm) if multi else np.asarray(swarm)[None]
    rows: list[dict] = []
    ends: list[dict[str, float]] = []
    end_ll: list[float] = []
    ses: list[float] = []
    score: list[float] = []
    for c in range(k_chains):
        params = {p.id: p.from_scale(float(v)) for p, v in zip(est, final[c].mean(axis=0))}
        per: tuple[float, ...] = ()
        ll, se = math.nan, math.nan
        if evaluate and not failed[c]:
            entropy = [int(seed), 2, c] if multi else [int(seed), 2]
            res = pl.evaluate(params, seed=int(np.random.SeedSequence(entropy).generate_state(1)[0]))
            ll, se = res.value, res.stderr
            per = tuple(map(float, res.per_dataset))
        ends.append(params)
        end_ll.append(ll)
        ses.append(se)
        score.append(-math.inf if failed[c] else (ll if evaluate else trace_ll[c][-1]))
        rows.append(
            {
                "start": {k: float(starts_used[c][k]) for k in ids},
                "params": params,
                "loglik": ll,
                "loglik_stderr": se,
                "per_dataset": per,
                "trace_loglik": trace_ll[c],
                "failed": bool(failed[c]),
            }
        )
    best = int(np.argmax(np.asarray(score)))
    return IF2Result(
        params=ends[best],
        loglik=end_ll[best],
        loglik_stderr=ses[best],
        trace=traces[best],
        trace_loglik=trace_ll[best],
        swarm_sd={p.id: float(v) for p, v in zip(est, final[best].std(axis=0))},
        n_particles=n_particles,
        iterations=iterations,
        method=pl.method,
        wall_time_s=wall,
        chains=tuple(rows),
        per_dataset=rows[best]["per_dataset"],
    )


__all__ = ["IF2Result", "if2", "run_if2"]

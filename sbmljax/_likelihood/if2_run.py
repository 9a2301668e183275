"""The IF2 loop: iterations over the datasets (panel IF2) and chains, the failure checks, the evaluation of each
chain's end point, and `IF2Result` (Ionides et al. 2015; Bretó, Ionides & King 2020; the algorithm is described in
`sbmljax._likelihood.if2`'s module docstring).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._config import x64
from ..errors import LikelihoodError
from .api import ParticleLikelihood
from .dataset_filter import DEFAULT_RESAMPLE_THRESHOLD, DatasetFilter
from .if2_kernel import SCALES, IF2Swarm, if2_chains_iteration, if2_iteration
from .if2_setup import chain_starts, refuse_assigned_estimates, rw_sds, unit_masks, unit_roots


@dataclasses.dataclass(frozen=True)
class IF2Result:
    """The result of `sbmljax.if2`.

    **Attributes:**

    - `params`: the estimate (linear scale): the swarm's mean on the estimation scale after the last iteration.
    - `loglik`, `loglik_stderr`: the log-likelihood at `params` by `replicates` independent bootstrap
      filters (`sbmljax.log_likelihood`), with its jackknife standard error; NaN if `evaluate=False`.
    - `trace`: parameter id → the swarm mean per iteration (linear scale); `trace_loglik`: each
      iteration's perturbed-filter log-likelihood, summed over the datasets (noisy, and below the likelihood at
      the mean while the perturbations are large).
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
    resample_threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
) -> IF2Result:
    """`if2` on a normalised `Problem` and start values (linear scale).

    One loop serves one chain (`if2_iteration`) and several (`if2_chains_iteration`, vmapped; each chain's
    end point evaluated by replicate filters and the best kept, pomp's global search), and one dataset or
    several: each iteration filters the datasets in turn, the swarm that ends one dataset starting the next
    (panel IF2, Bretó, Ionides & King 2020; see `sbmljax._likelihood.if2`'s module docstring)."""
    per_chain = chain_starts(problem, start, starts, chains, seed)
    multi = per_chain is not None
    starts_used = per_chain if per_chain is not None else [dict(start)]
    k_chains = len(starts_used)
    ids = problem.estimated_ids
    values = {**problem.fixed, **problem.nominal(), **{k: float(v) for k, v in start.items()}}
    # The threshold is the evaluation filters' (`pl.evaluate`): the IF2 iterations resample at every observation.
    pl = ParticleLikelihood(
        problem,
        ids,
        values,
        n_particles=n_particles,
        replicates=replicates,
        method=method,
        block=block,
        resample_threshold=resample_threshold,
    )
    filters: list[DatasetFilter] = pl.filters
    for f in filters:
        if f.events is not None:
            refuse_assigned_estimates(problem.model, ids)
    several = len(filters) > 1
    est = problem.estimated
    codes = jnp.asarray([SCALES[p.scale] for p in est], dtype=jnp.int32)
    lo, hi = (jnp.asarray(b, dtype=jnp.float64) for b in problem.scaled_bounds())
    sd_all = rw_sds(problem, rw_sd)
    sds = [jnp.asarray(np.where(mask, sd_all, 0.0), dtype=jnp.float64) for mask in unit_masks(problem)]
    roots = unit_roots(seed, len(filters))
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


__all__ = ["IF2Result", "run_if2"]

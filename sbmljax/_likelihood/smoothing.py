"""Smoothed paths: latent trajectories drawn from `p(x_{1:K} | y_{1:K})` by tracing the particle filter's
genealogy (Kitagawa 1996; pomp's `filter_traj`).

A bootstrap filter's particles at the last observation time, each with its ancestors back through every
resampling, are weighted draws of whole paths from the smoothing distribution: a path drawn by its final
weight is, as the particle count grows, a draw from `p(x_{1:K} | y_{1:K})`, and it is exactly the proposal
of particle independent Metropolis–Hastings (Andrieu, Doucet & Holenstein 2010). Several independent filters
are pooled by weighting each filter with its likelihood estimate `Ẑ_r` (unbiased, so the pooled draw is
importance sampling over filters, consistent as the particles or filters grow).

What the draws show, unlike the filtering distribution: the states at early times given *all* the data
(e.g. the susceptibles, never observed, before the epidemic peaked). What they cost in accuracy: resampling
makes the ancestral paths coalesce, so at early times the draws of one filter share few distinct ancestors
(path degeneracy); `SmoothedPaths.distinct` reports how many distinct particles the draws hold at each time,
and more replicate filters, not more draws, widen it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

import numpy as np

from .._model import Model
from .dataset_filter import DEFAULT_RESAMPLE_THRESHOLD


@dataclasses.dataclass(frozen=True)
class SmoothedPaths:
    """One dataset's paths drawn from the smoothing distribution (`ParticleLikelihood.smoothed`).

    - `times`: the observation times; `species` and `observables`: the ids of the last axes.
    - `states`: `(paths, times, species)` molecule counts; `values`: `(paths, times, observables)` the
      observables on them.
    - `replicate`: the filter each path came from; `distinct`: per time, how many distinct particles the drawn
      paths pass through (path degeneracy: few at early times means the draws there repeat a few ancestors).
    """

    dataset: str
    times: np.ndarray
    species: tuple[str, ...]
    observables: tuple[str, ...]
    states: np.ndarray
    values: np.ndarray
    replicate: np.ndarray
    distinct: np.ndarray


def trace_paths(
    states: np.ndarray, logw: np.ndarray, ancestors: np.ndarray, loglik: np.ndarray, n_paths: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw `n_paths` ancestral paths from recorded filters (Kitagawa 1996's genealogy tracing).

    **Arguments:** for `R` filters of `N` particles over `K` observation times, `states` `(R, K, N, S)` (the
    particles at each time before resampling), `logw` `(R, K, N)` (their normalised log-weights),
    `ancestors` `(R, K, N)` (particle `i` at `k + 1` descends from `ancestors[r, k, i]` at `k`), `loglik`
    `(R,)` (each filter's log-likelihood estimate); `seed` for the host-side draws.

    **Returns:** `(paths, replicate, distinct)`: `paths` `(n_paths, K, S)`, the filter of each path, and the
    number of distinct `(filter, particle)` pairs the paths pass through at each time.

    A filter is chosen with probability `Ẑ_r / Σ Ẑ`, then its last-time particle by its weight, then the
    ancestors back to the first time.
    """
    rng = np.random.default_rng(seed)
    r_count, k_count, _, _ = states.shape
    pz = np.exp(loglik - np.max(loglik))
    reps = rng.choice(r_count, size=n_paths, p=pz / pz.sum())
    idx = np.empty((n_paths, k_count), dtype=np.int64)
    for j, r in enumerate(reps):
        w = np.exp(logw[r, -1] - np.max(logw[r, -1]))
        idx[j, -1] = rng.choice(w.size, p=w / w.sum())
    for k in range(k_count - 2, -1, -1):
        idx[:, k] = ancestors[reps, k, idx[:, k + 1]]
    paths = states[reps[:, None], np.arange(k_count)[None, :], idx]
    distinct = np.array([len(set(zip(reps.tolist(), idx[:, k].tolist()))) for k in range(k_count)])
    return paths, reps, distinct


def smoothed_paths(
    model: Model | str | os.PathLike | None,
    data,
    params: Mapping[str, float] | None = None,
    *,
    seed: int,
    n_paths: int = 100,
    n_particles: int = 1000,
    replicates: int = 8,
    method="direct",
    noise_sd: float | None = None,
    resample_threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
) -> list[SmoothedPaths]:
    """Latent paths of a stochastic model given time-series data, drawn from the smoothing distribution
    `p(x_{t_1..t_K} | y_{1..K})` by particle filtering and genealogy tracing (pomp's `filter_traj`).

    **Arguments:** `model`, `data`, `params`, `n_particles`, `method`, `noise_sd`, `resample_threshold`: as
    `sbmljax.log_likelihood`; `replicates`: independent filters whose genealogies are pooled (each weighted by
    its likelihood estimate: more filters, fewer repeated ancestors at early times); `n_paths`: paths per
    dataset; `seed`: integer seed (the same seed gives the same paths).

    **Returns:** one `SmoothedPaths` per dataset: `states` `(n_paths, times, species)` counts at the observation
    times, `values` the observables on them, `distinct` the distinct particles the paths pass through per time.

    **Raises:** as `sbmljax.log_likelihood`; `ConfigError` for `n_paths < 1`.

    **References:** G. Kitagawa, J. Comput. Graph. Stat. 5:1–25 (1996); C. Andrieu, A. Doucet, R. Holenstein,
    J. R. Stat. Soc. B 72:269–342 (2010); A. A. King, D. Nguyen, E. L. Ionides, J. Stat. Softw. 69(12) (2016)
    (pomp's `filter_traj`).
    """
    from .api import particle_likelihood

    settings = dict(
        n_particles=n_particles, replicates=replicates, method=method, resample_threshold=resample_threshold
    )
    pl = particle_likelihood(model, data, params, seed=seed, noise_sd=noise_sd, **settings)
    return pl.smoothed(seed=int(seed), n_paths=n_paths)

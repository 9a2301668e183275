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

from collections.abc import Mapping, Sequence

import numpy as np

from .._config import x64
from ..errors import ConfigError
from .api import DEFAULT_REPLICATES
from .dataset_filter import DEFAULT_RESAMPLE_THRESHOLD
from .if2_run import IF2Result, run_if2


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
    resample_threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
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
    - `method`: the simulator between observations (`"direct"`, `"nrm"`, `"tau_leap"` or an instance; e.g.
      `BinomialLeaping(tau=1/12)`, pomp's Euler-binomial step, its particles advanced in lockstep).
    - `noise_sd`: the known Gaussian SD of quick-form CSV data.
    - `replicates`: independent filters of `n_particles` for the log-likelihood at the estimate.
    - `evaluate`: compute that log-likelihood (`False`: `loglik` is NaN).
    - `resample_threshold`: the effective-sample-size fraction below which those evaluation filters resample
      (see `sbmljax.log_likelihood`). IF2's own iterations resample at every observation whatever it is: the
      perturbed parameters are carried by the particles, and resampling is how the swarm moves towards the
      maximum (Ionides et al. 2015, Algorithm 1).
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
        resample_threshold=resample_threshold,
    )


__all__ = ["IF2Result", "if2", "run_if2"]

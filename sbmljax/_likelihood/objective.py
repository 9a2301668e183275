"""`LikelihoodObjective`: the negative particle-filter log-likelihood as `fit`'s objective (`loss="likelihood"`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .._estimator.score import path_score_refusal
from .._objective import AbstractObjective, Evaluation
from ..data import Problem
from .api import DEFAULT_REPLICATES, ParticleLikelihood
from .dataset_filter import DEFAULT_RESAMPLE_THRESHOLD


class LikelihoodObjective(AbstractObjective):
    """`−log p(data | θ)` by bootstrap particle filters, with its gradient by the path score (Fisher
    identity; see `sbmljax.log_likelihood`), for every estimated parameter on the linear scale.

    Each evaluation runs fresh filters (seeds derived from `(seed, iteration)`), so the iterates of a
    stochastic-gradient fit see independent noise. The gradient is consistent with `O(1/n_particles)` bias
    (Poyiadjis, Doucet & Singh 2011); `stderr` is the jackknife error of the value over the replicate filters.

    **Arguments:**

    - `problem`: the estimation problem (datasets add their log-likelihoods).
    - `start`: start values of the estimated parameters (linear scale).
    - `n_particles`: particles per filter; `replicates`: independent filters per evaluation.
    - `method`: an exact simulator (`"direct"`, `"nrm"`), or `BinomialLeaping(tau)` (the gradient of the leap
      chain's likelihood, by the score of its Euler-binomial draws): one whose paths' score is known.
    - `seed`: not used (each evaluation derives its seed from `fit`'s `(seed, iteration)`); accepted so that
      every objective is built alike.
    """

    name = "likelihood"
    estimator = "path_score"

    def __init__(
        self,
        problem: Problem,
        start: Mapping[str, float],
        *,
        n_particles: int = 1000,
        method="direct",
        seed: int | None = None,
        replicates: int = DEFAULT_REPLICATES,
        resample_threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
    ):
        self.problem = problem
        values = {**problem.fixed, **problem.nominal(), **{k: float(v) for k, v in start.items()}}
        self.ids = problem.estimated_ids
        self.likelihood = ParticleLikelihood(
            problem,
            self.ids,
            values,
            n_particles=n_particles,
            replicates=replicates,
            method=method,
            resample_threshold=resample_threshold,
        )
        why = path_score_refusal(self.likelihood.filters[0].prep.sim)
        if why is not None:
            from ..errors import ConfigError

            raise ConfigError(f"loss='likelihood' needs the likelihood gradient: {why}")
        self.per_evaluation = n_particles * replicates * len(problem.datasets)

    def evaluate(self, values: Mapping[str, float], seed: int, iteration: int) -> Evaluation:
        s = int(np.random.SeedSequence([int(seed), int(iteration), 15]).generate_state(1)[0])
        res = self.likelihood.evaluate({k: float(values[k]) for k in self.ids}, seed=s, grad=True)
        grad = res.grad or {}
        return Evaluation(
            value=-res.value,
            stderr=res.stderr,
            grad={k: -float(grad[k]) for k in self.ids},
            n_simulations=self.per_evaluation,
        )

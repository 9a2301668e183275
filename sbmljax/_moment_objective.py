"""The moment-loss objective: a loss of simulated ensembles against data (`sbmljax._loss`), its gradient
estimated through the simulation by a gradient estimator (`sbmljax._estimator`).

Datasets that share a simulation (same times, condition and observables: replicates) form one term; each
evaluation simulates every term afresh (a pilot ensemble first for losses that need moments) and sums the
terms' values and gradients.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ._ensemble import UNLIMITED_STEPS, parameter_vector, raise_failures, run_ensemble, trajectory_keys
from ._estimator import AbstractGradientEstimator
from ._estimator.base import GradProblem
from ._grad import build_problem
from ._loss import AbstractLoss, DataTerm, data_term, pilot_moments
from ._model import Model
from ._objective import AbstractObjective, Evaluation
from .data import Dataset, Problem
from .errors import ConfigError


def derived_seed(seed: int, *parts: int) -> int:
    """An independent seed for `(seed, *parts)` (iteration, dataset, stream), via NumPy's `SeedSequence`."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


@dataclasses.dataclass(frozen=True, eq=False)
class _Term:
    """Everything about one dataset that stays fixed during a fit."""

    data: DataTerm
    grad: GradProblem  # at the start values
    model_ids: tuple[str, ...]
    loss_ids: tuple[str, ...]
    fixed_model: dict[str, float]  # model parameters this dataset sets without estimating them


def _condition_key(d: Dataset) -> tuple:
    """Datasets with equal keys share one simulation per iteration (replicates of one experiment)."""
    obs = tuple((o.id, str(o.expr)) for o in d.observables)
    return (d.times.tobytes(), obs, tuple(sorted(d.initial.items())), tuple(sorted(d.params.items())))


def _terms(problem: Problem, est: AbstractGradientEstimator, start: Mapping[str, float], n: int) -> list[_Term]:
    model_params = set(problem.model.parameter_values())
    groups: dict[tuple, list[Dataset]] = {}
    for d in problem.datasets:
        groups.setdefault(_condition_key(d), []).append(d)
    out = []
    for members in groups.values():
        d = members[0]
        model_ids = tuple(i for i in problem.estimated_ids if i in model_params)
        loss_ids = tuple(i for i in problem.estimated_ids if i not in model_params)
        fixed_all = {**problem.fixed, **d.params}
        fixed_model = {k: v for k, v in fixed_all.items() if k in model_params and k not in model_ids}
        fixed_other = {k: v for k, v in fixed_all.items() if k not in model_params}
        term = data_term(members, problem.model, fixed_other)
        grad = build_problem(
            _placeholder(term, problem.model),
            problem.model,
            {k: start[k] for k in model_ids},
            d.times,
            estimator=est,
            n_trajectories=n,
            loss_params={k: start[k] for k in loss_ids},
            initial=d.initial,
            fixed=fixed_model,
        )
        out.append(_Term(term, grad, model_ids, loss_ids, fixed_model))
    return out


def _placeholder(term: DataTerm, model: Model):
    """The loss `build_problem` starts with; pilot-weighted losses replace it every iteration."""
    from ._loss import ExpectedSquaredError

    return ExpectedSquaredError().trajectory_loss(term, None)


def jax_observe(gp, counts, p):
    """Recorded counts `(N, T, S)` with rule-defined species filled in."""
    return jax.vmap(lambda c: gp.observe(c, p))(jnp.asarray(counts))


class MomentObjective(AbstractObjective):
    """A moment loss of `n_trajectories`-trajectory ensembles, its gradient from `estimator`.

    **Reference:** the losses and their unbiased (or stated-bias) gradients are documented in
    `sbmljax._loss`; the estimators in `sbmljax._estimator`.
    """

    def __init__(
        self,
        problem: Problem,
        start: Mapping[str, float],
        *,
        loss: AbstractLoss,
        estimator: AbstractGradientEstimator,
        n_trajectories: int,
    ):
        if estimator.name == "nrm_pathwise":
            raise ConfigError(
                "nrm_pathwise cannot fit losses of counts (it misses the jump contribution); choose another estimator"
            )
        self.name = loss.name
        self.estimator = estimator.name
        self.loss = loss
        self.gradient_estimator = estimator
        self.n = n_trajectories
        self.terms = _terms(problem, estimator, start, n_trajectories)
        for t in self.terms:
            estimator.check(t.grad)

    def evaluate(self, values: Mapping[str, float], seed: int, iteration: int) -> Evaluation:
        total, total_se2, grad, sims = 0.0, 0.0, dict.fromkeys(values, 0.0), 0
        for d, term in enumerate(self.terms):
            v, se, g, n_s = self._term(term, values, seed, iteration, d)
            total += v
            total_se2 += se**2
            sims += n_s
            for k, gv in g.items():
                grad[k] += float(gv)
        stderr = math.sqrt(total_se2) if math.isfinite(total_se2) else None
        return Evaluation(total, stderr, grad, sims)

    def _term(self, term: _Term, values: Mapping[str, float], seed: int, it: int, d: int):
        """Loss value, its standard error, the gradient (dict) and the simulations used, for one term."""
        loss, n = self.loss, self.n
        gp = term.grad
        theta_model = [values[k] for k in term.model_ids]
        theta = np.array(theta_model + [values[k] for k in term.loss_ids])
        p_free = parameter_vector(gp.net, {**term.fixed_model, **dict(zip(term.model_ids, theta_model))})
        gp = gp.at(theta, p_free, None if loss.pilot else loss.trajectory_loss(term.data, None))
        sims = 0
        moments = None
        params_now = dict(zip(term.model_ids + term.loss_ids, theta))
        if loss.pilot:
            x0, p = gp.initial(gp.theta[: gp.n_model])
            sol = run_ensemble(
                gp.prep, trajectory_keys(derived_seed(seed, it, d, 1), n), x0=x0, p=p, block=gp.prep.sim.default_block
            )
            raise_failures(gp.prep, sol, UNLIMITED_STEPS)
            counts = np.asarray(jax_observe(gp, sol.counts, p))
            moments = pilot_moments(term.data, counts, params_now)
            gp = gp.at(theta, p_free, loss.trajectory_loss(term.data, moments))
            sims += n
        losses, grads, n_sims = self.gradient_estimator.samples(gp, trajectory_keys(derived_seed(seed, it, d, 0), n))
        sims += n_sims
        value = loss.value(term.data, moments) if loss.pilot else float(np.mean(losses))
        value_se = float(np.std(losses, ddof=1) / math.sqrt(len(losses))) if not loss.pilot else float("nan")
        grad = dict(zip(gp.names, grads.mean(axis=0)))
        return value, value_se, grad, sims

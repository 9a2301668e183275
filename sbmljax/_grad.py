"""`value_and_grad` and `grad`: gradients of expected losses through stochastic simulation."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

import jax.numpy as jnp
import numpy as np

from ._config import x64
from ._ensemble import as_model, parameter_vector, prepare, trajectory_keys
from ._estimator import ESTIMATORS, AbstractGradientEstimator, GradProblem, GradResult
from ._model import Model
from ._registry import instantiate
from .errors import ConfigError, EstimatorError, ParameterError


def make_estimator(estimator: str | AbstractGradientEstimator, **options) -> AbstractGradientEstimator:
    """The estimator for an `estimator=` string (with its options), or `estimator` itself."""
    return instantiate(estimator, ESTIMATORS, AbstractGradientEstimator, "estimator", options)


def build_problem(
    loss_fn,
    model: Model,
    params: Mapping[str, float],
    t_eval,
    *,
    estimator: AbstractGradientEstimator,
    n_trajectories: int,
    loss_params: Mapping[str, float] | None = None,
    initial: Mapping[str, float] | None = None,
    t0: float = 0.0,
    max_events: float | None = None,
    fixed: Mapping[str, float] | None = None,
) -> GradProblem:
    """Check a gradient request and build the `GradProblem` (shared by `value_and_grad` and `fit`);
    `fixed` sets other model parameters without differentiating them."""
    if not callable(loss_fn):
        raise ConfigError("loss_fn must be a function (counts, params) -> scalar")
    if not params and not loss_params:
        raise ParameterError("params is empty: name at least one parameter to differentiate")
    kwargs = {} if max_events is None else {"max_events": max_events}
    all_params = {**(fixed or {}), **params}
    prep = prepare(
        model,
        t_eval,
        method=estimator.simulator(),
        params=all_params,
        initial=initial,
        t0=t0,
        n_trajectories=n_trajectories,
        **kwargs,
    )
    free = prep.net.free_names
    model_names = tuple(params)
    clash = set(model_names) & set(loss_params or {})
    if clash:
        raise ParameterError(f"{sorted(clash)} given both as model parameters and as loss parameters")
    for name in loss_params or {}:
        if name in free:
            raise ParameterError(f"loss parameter '{name}' is a model parameter; pass it in params= instead")
    loss_values = [float(v) for v in (loss_params or {}).values()]
    if not all(math.isfinite(v) for v in loss_values):
        raise ParameterError("loss_params must be finite")
    p_free = parameter_vector(prep.net, all_params)
    theta = np.array([float(params[n]) for n in model_names] + loss_values, dtype=np.float64)
    return GradProblem(
        prep=prep,
        loss_fn=loss_fn,
        names=model_names + tuple(loss_params or {}),
        theta=jnp.asarray(theta),
        n_model=len(model_names),
        model_index=tuple(free.index(n) for n in model_names),
        p_free=p_free,
    )


@x64
def value_and_grad(
    loss_fn,
    model: Model | str | os.PathLike,
    params: Mapping[str, float],
    t_eval,
    *,
    n_trajectories: int,
    seed: int | np.integer,
    estimator: str | AbstractGradientEstimator = "score",
    loss_params: Mapping[str, float] | None = None,
    fixed: Mapping[str, float] | None = None,
    initial: Mapping[str, float] | None = None,
    t0: float = 0.0,
    **options,
) -> GradResult:
    """Estimate `E[loss]` and its gradient with respect to model (and loss) parameters.

    Naive autodiff through an exact SSA returns zero: which reaction fires is an integer choice. Each
    estimator here gives an honest answer with a stated bias and a standard error; see the estimator classes
    for bias, variance and cost, and the docs' "Choosing a gradient estimator" page for measured comparisons.

    **Arguments:**

    - `loss_fn`: `loss_fn(counts, params) -> scalar` in JAX, with `counts` one trajectory's `(len(t_eval),
      n_species)` counts (species in `model.species_ids` order) and `params` a dict of the differentiated
      parameters' values.
    - `model`: a `Model` (or path).
    - `params`: model parameter id → value to differentiate at; other parameters keep the model's values.
    - `t_eval`: output times.
    - `n_trajectories`: trajectories (coupled pairs for `"cfd"`/`"fd_crn"`) per estimate.
    - `seed`: integer seed (same seed, same estimate).
    - `estimator`: `"score"` (unbiased), `"cfd"` (coupled finite differences, `h=`), `"fd_crn"` (finite
      differences with common random numbers, `h=`), `"tau_pathwise"` (reparameterised tau-leaping, `tau=`,
      `noise=`), `"nrm_pathwise"` (derivatives of NRM event times), or an estimator instance.
    - `loss_params`: parameters the loss alone uses (e.g. an observable's scale factor), id → value; they are
      differentiated too.
    - `fixed`: other model parameter values to use, not differentiated (a condition of the experiment).
    - `initial`: species id → initial count override; `t0`: start time.
    - `**options`: the estimator's options.

    **Returns:** a `GradResult` with `.value`, `.grad` and `.stderr` (dicts by parameter id), and provenance.
    """
    if not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if n_trajectories < 2:
        raise ConfigError(f"n_trajectories must be at least 2 (standard errors need two samples), got {n_trajectories}")
    est = make_estimator(estimator, **options)
    problem = build_problem(
        loss_fn,
        as_model(model),
        params,
        t_eval,
        estimator=est,
        n_trajectories=n_trajectories,
        loss_params=loss_params,
        initial=initial,
        t0=t0,
        fixed=fixed,
    )
    est.check(problem)
    start = time.perf_counter()
    losses, grads, n_sims = est.samples(problem, trajectory_keys(seed, n_trajectories))
    elapsed = time.perf_counter() - start
    if not np.all(np.isfinite(losses)):
        raise EstimatorError("the loss is not finite for some trajectories (check loss_fn for log(0), division by 0)")
    if not np.all(np.isfinite(grads)):
        raise EstimatorError(f"the {est.name} gradient is not finite for some trajectories")
    n = grads.shape[0]
    se = grads.std(axis=0, ddof=1) / math.sqrt(n)
    return GradResult(
        value=float(losses.mean()),
        value_stderr=float(losses.std(ddof=1) / math.sqrt(losses.shape[0])),
        grad={name: float(g) for name, g in zip(problem.names, grads.mean(axis=0))},
        stderr={name: float(s) for name, s in zip(problem.names, se)},
        estimator=est.name,
        unbiased=est.unbiased,
        bias=est.bias(problem),
        n_trajectories=int(n_trajectories),
        n_simulations=int(n_sims),
        wall_time_s=elapsed,
        samples=grads,
    )


def grad(loss_fn, model, params, t_eval, **kwargs) -> dict[str, float]:
    """`value_and_grad(...).grad`: the gradient estimate alone, as a dict by parameter id."""
    return value_and_grad(loss_fn, model, params, t_eval, **kwargs).grad

"""Pathwise derivatives of Next Reaction Method event times, with the random numbers held fixed."""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Key

from .._ensemble import UNLIMITED_STEPS, raise_failures
from .._results import RESULTS, status_code
from .._simulator import AbstractSimulator
from .._simulator.nrm import NextReaction, event_path
from .._solve import solve
from ..errors import ConfigError, EstimatorError
from .base import AbstractGradientEstimator, GradProblem


class NRMPathwise(AbstractGradientEstimator):
    """Derivatives through the Next Reaction Method with its unit-rate exponentials held fixed.

    In the NRM each event time is `t_next = t + (P_k − T_k)/a_k(θ)`: with the random numbers fixed, event
    times are differentiable in `θ` while the order of events is locally constant. So:

    - `observable="events"`: `loss_fn(path, params)` receives an `EventPath` of the first `n_events` events
      (`path.times`, `path.counts` after each event, `path.channels`). For losses of event times — the
      time of the k-th event, a first-passage time read off `path.counts` — the pathwise derivative is the
      derivative of the expected loss wherever the event order does not change with `θ` almost surely
      (e.g. a single channel, or a first-passage time). **Bias:** none in that case.
    - `observable="counts"` (default): `loss_fn(counts, params)` as for every estimator. Counts at fixed
      times are piecewise constant in `θ` (they jump when an event crosses an output time), so their
      pathwise derivative is zero almost surely: the estimate contains only the direct term `E[∂ℓ/∂θ]`
      and **misses the jump contribution**. It is biased (typically badly) and is offered to show exactly
      that; a warning says so.

    - **Variance:** low (pathwise).
    - **Cost:** one NRM simulation per sample with `m` forward-mode tangents (`"counts"`), or a reverse pass
      through `n_events` NRM steps (`"events"`).

    **References:** D. F. Anderson, J. Chem. Phys. 127:214107 (2007) (the internal-time NRM); P. Glasserman,
    "Gradient Estimation via Perturbation Analysis" (Kluwer 1991) (infinitesimal perturbation analysis and
    when it is unbiased).
    """

    observable: Literal["counts", "events"] = eqx.field(default="counts", static=True)
    n_events: int | None = eqx.field(default=None, static=True)

    name: ClassVar[str] = "nrm_pathwise"
    unbiased: ClassVar[bool] = False

    def __check_init__(self):
        if self.observable not in ("counts", "events"):
            raise ConfigError(f"observable must be 'counts' or 'events', got {self.observable!r}")
        if self.observable == "events" and (self.n_events is None or self.n_events < 1):
            raise ConfigError("observable='events' needs n_events= (how many events the loss reads)")

    def simulator(self) -> AbstractSimulator:
        return NextReaction()

    def check(self, problem: GradProblem) -> None:
        if self.observable == "events" and problem.prep.model.events:
            raise EstimatorError("observable='events' does not support models with SBML events")
        if self.observable == "counts":
            warnings.warn(
                "nrm_pathwise with a loss of counts at fixed times misses the jump contribution: the estimate is "
                "only E[dloss/dtheta] with the path held fixed (biased). Use it for losses of event times "
                "(observable='events'), or another estimator.",
                UserWarning,
                stacklevel=4,
            )

    def bias(self, problem: GradProblem) -> str:
        if self.observable == "events":
            return "none for losses of event times whose event order is locally constant in theta; see docs"
        return "misses the jump contribution: only the direct term E[dloss/dtheta] (biased for losses of counts)"

    def samples(self, problem: GradProblem, keys: Key[Array, " trajectories"]) -> tuple[np.ndarray, np.ndarray, int]:
        if self.observable == "events":
            assert self.n_events is not None  # __check_init__ requires it for observable="events"
            losses, grads = _event_value_and_grad(self.n_events, problem, keys)
            return np.asarray(losses), np.asarray(grads), keys.shape[0]
        grads, losses, sols = _counts_value_and_jac(problem, keys)
        sols = jax.tree.map(np.asarray, sols)
        if np.any(sols.status != status_code(RESULTS.successful)):
            raise_failures(problem.prep, sols, UNLIMITED_STEPS)
        return np.asarray(losses), np.asarray(grads), keys.shape[0]


@eqx.filter_jit
def _event_value_and_grad(n_events: int, problem: GradProblem, keys: Key[Array, " trajectories"]):
    m, prep = problem.n_model, problem.prep

    def loss_events(th, key):
        x0, p = problem.initial(th[:m])
        return problem.loss(event_path(problem.net, x0, p, key, n_events, prep.t0), th)

    return jax.vmap(jax.value_and_grad(loss_events), in_axes=(None, 0))(problem.theta, keys)


@eqx.filter_jit
def _counts_value_and_jac(problem: GradProblem, keys: Key[Array, " trajectories"]):
    m, prep = problem.n_model, problem.prep
    t_eval = jnp.asarray(prep.t_eval)

    def loss_counts(th, key):
        x0, p = problem.initial(th[:m])
        sol = solve(problem.net, NextReaction(), t_eval, x0, p, key, t0=prep.t0, events=prep.events)
        loss = problem.loss(problem.observe(sol.counts, p), th)
        return loss, (loss, sol)

    grads, (losses, sols) = jax.vmap(jax.jacfwd(loss_counts, has_aux=True), in_axes=(None, 0))(problem.theta, keys)
    return grads, losses, sols

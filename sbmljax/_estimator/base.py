"""The gradient-estimator contract, the problem it solves, and the result it returns.

A problem is: a model, the parameters `θ` to differentiate (model parameters, and optionally parameters the
loss alone uses, such as an observable's scale factor), output times, and a loss `ℓ(X(t_eval), θ)` of one
trajectory. The target is `∇θ E[ℓ]`. An estimator returns one gradient sample per trajectory (or per
coupled pair), so the standard error is the sample standard deviation over `√N`; for a biased estimator
that is its statistical error only, and its docstring states the bias.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Key

from .._ensemble import Prepared
from .._simulator import AbstractSimulator
from .._simulator.nrm import EventPath
from ..errors import EstimatorError

LossFn = Callable[[Any, Mapping[str, Float[Array, ""]]], Float[Array, ""]]
"""`loss_fn(counts, params)`: counts `(times, species)`, or an `EventPath` for `NRMPathwise(observable="events")`."""


class GradProblem(eqx.Module):
    """A checked gradient request (built by `sbmljax.value_and_grad` and reused by `sbmljax.fit`).

    `names` lists every differentiated parameter: first the model's (`n_model` of them, at positions
    `model_index` of the free-parameter vector), then the loss-only ones; `theta` holds their values. A
    pytree: `theta`, `p_free` and array fields of `loss_fn` (an `eqx.Module` loss) are traced, so jitted
    estimator code is compiled once per model and loss structure, not once per parameter value.
    """

    prep: Prepared = eqx.field(static=True)
    loss_fn: LossFn
    names: tuple[str, ...] = eqx.field(static=True)
    theta: Float[Array, " n"]
    n_model: int = eqx.field(static=True)
    model_index: tuple[int, ...] = eqx.field(static=True)
    p_free: Float[Array, " free"]

    def at(self, theta, p_free=None, loss_fn=None) -> GradProblem:
        """This problem at other parameter values (and optionally another loss)."""
        new = eqx.tree_at(lambda z: z.theta, self, jnp.asarray(theta, dtype=jnp.float64))
        if p_free is not None:
            new = eqx.tree_at(lambda z: z.p_free, new, jnp.asarray(p_free, dtype=jnp.float64))
        if loss_fn is not None:
            new = eqx.tree_at(lambda z: z.loss_fn, new, loss_fn)
        return new

    @property
    def net(self):
        return self.prep.net

    def initial(self, theta_model: Float[Array, " m"]) -> tuple[jax.Array, jax.Array]:
        """Initial counts and full parameter vector at the model parameters `theta_model`."""
        p_free = self.p_free.at[jnp.asarray(self.model_index, dtype=jnp.int32)].set(theta_model)
        return self.net.initial_state(p_free, self.prep.t0)

    def observe(
        self, counts: Float[Array, "times species"], p: Float[Array, " params"]
    ) -> Float[Array, "times species"]:
        """Recorded counts with species defined by assignment rules filled in."""
        if not self.net.plan.rule_species:
            return counts
        t = jnp.asarray(self.prep.t_eval)
        return jax.vmap(self.net.observe, in_axes=(0, None, 0))(counts, p, t)

    def loss(self, counts: Float[Array, "times species"] | EventPath, theta: Float[Array, " n"]) -> Float[Array, ""]:
        """The user's loss of one trajectory's (observed) counts at differentiated parameters `theta` (of its
        `EventPath` for `NRMPathwise(observable="events")`)."""
        params = {n: theta[i] for i, n in enumerate(self.names)}
        out = jnp.asarray(self.loss_fn(counts, params))
        if out.shape != ():
            raise EstimatorError(f"loss_fn must return a scalar, got shape {out.shape}")
        return out

    def direct_term(self, counts, theta) -> Float[Array, " n"]:
        """`∂ℓ/∂θ` with the trajectory held fixed (the part of the gradient every estimator shares)."""
        return jax.grad(self.loss, argnums=1)(counts, theta)


@eqx.filter_jit
def losses_and_direct(problem: GradProblem, counts, p, theta) -> tuple[jax.Array, jax.Array]:
    """Per-trajectory losses and direct terms `∂ℓ/∂θ` of recorded counts `(N, T, S)` (jitted once per problem
    structure)."""

    def one(c):
        c = problem.observe(c, p)
        return problem.loss(c, theta), problem.direct_term(c, theta)

    return jax.vmap(one)(counts)


@dataclasses.dataclass(frozen=True)
class GradResult:
    """An estimate of `E[ℓ]` and `∇θ E[ℓ]` with standard errors.

    **Attributes:** `value`, `value_stderr`; `grad` and `stderr` (dicts by parameter id; for a biased
    estimator `stderr` is the statistical error only, see `bias`); `estimator`, `unbiased`, `bias` (a
    statement of the estimator's bias with its settings); `n_trajectories`; `n_simulations` (paths simulated,
    a coupled pair counting two); `wall_time_s`; `samples` (`(N, P)` per-trajectory gradient samples).
    """

    value: float
    value_stderr: float
    grad: dict[str, float]
    stderr: dict[str, float]
    estimator: str
    unbiased: bool
    bias: str
    n_trajectories: int
    n_simulations: int
    wall_time_s: float
    samples: np.ndarray = dataclasses.field(repr=False)

    def as_array(self) -> np.ndarray:
        """The gradient as an array in the order of `grad`."""
        return np.asarray(list(self.grad.values()))


class AbstractGradientEstimator(eqx.Module):
    """A way to estimate `∇θ E[ℓ(X)]` from simulations.

    Subclasses are final, set `name` (the `estimator=` string) and `unbiased`, implement `samples`, and
    document bias, variance, cost and the reference they implement.
    """

    name: ClassVar[str]
    unbiased: ClassVar[bool]

    @abc.abstractmethod
    def samples(self, problem: GradProblem, keys: Key[Array, " trajectories"]) -> tuple[np.ndarray, np.ndarray, int]:
        """Per-sample losses `(N,)`, gradient samples `(N, P)`, and the number of paths simulated."""

    @abc.abstractmethod
    def simulator(self) -> AbstractSimulator:
        """The simulator whose checks the problem must pass (and that simulates it, unless the estimator
        couples two copies)."""

    @abc.abstractmethod
    def bias(self, problem: GradProblem) -> str:
        """A one-line statement of the bias with these settings ("none" for unbiased estimators)."""

    def check(self, problem: GradProblem) -> None:
        """Refuse problems this estimator cannot handle (raises `EstimatorError`)."""
        del problem


def initial_counts_depend_on(problem: GradProblem) -> bool:
    """Whether the initial counts change with the model parameters (exact-path estimators cannot follow)."""
    if problem.n_model == 0:
        return False
    jac = jax.jacfwd(lambda th: problem.initial(th)[0])(problem.theta[: problem.n_model])
    return bool(jnp.any(jac != 0))

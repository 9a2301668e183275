"""Pathwise gradients through fixed-step tau-leaping with reparameterised increments."""

from __future__ import annotations

import functools
import math
from typing import ClassVar, Literal

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.ad_checkpoint import checkpoint_name
from jaxtyping import Array, Float, Key, PRNGKeyArray

from .._compile._network import CompiledNetwork
from .._poisson import poisson
from .._prng import seed_stream
from .._simulator import AbstractSimulator
from .._simulator.tau_leap import TauLeaping
from ..errors import ConfigError, EstimatorError
from .base import AbstractGradientEstimator, GradProblem


def step_grid(t0: float, t_eval: np.ndarray, tau: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leap start times and lengths (each ≤ `tau`, every output time hit exactly), and the step index after
    which each output time is reached (`-1`: the initial state)."""
    starts, dts, marks, t_prev = [], [], [], t0
    for t in t_eval:
        n = max(int(math.ceil((t - t_prev) / tau - 1e-12)), 0)
        if n:
            starts += [t_prev + i * (t - t_prev) / n for i in range(n)]
            dts += [(t - t_prev) / n] * n
        marks.append(len(dts) - 1)
        t_prev = t
    return np.asarray(starts, dtype=np.float64), np.asarray(dts, dtype=np.float64), np.asarray(marks, dtype=np.int64)


def _safe_sqrt(v):
    """`sqrt(v)` with a zero (not infinite) derivative at 0: a channel that cannot fire adds no noise."""
    pos = v > 0
    return jnp.where(pos, jnp.sqrt(jnp.where(pos, v, 1.0)), 0.0)


def _clip(x):
    """Counts clipped at zero with a straight-through derivative (the clip is rare and of size O(1))."""
    return x + jax.lax.stop_gradient(jnp.maximum(x, 0.0) - x)


class TauPathwise(AbstractGradientEstimator):
    """Reverse-mode gradients through fixed-step tau-leaping, with the randomness reparameterised.

    Each leap of length `τ` (shortened to land on output times) adds `νᵀK` with `λ = a(x, θ)·τ` and

    - `noise="poisson"`: `K = λ + stop_gradient(Poisson(λ) − λ)`, the straight-through estimator: exact Poisson
      samples forward, `∂K/∂θ = ∂λ/∂θ` backward;
    - `noise="gaussian"`: `K = λ + √λ·z`, `z ~ N(0, 1)` (the chemical Langevin increment), differentiable as is.

    Counts are clipped at zero with a straight-through derivative. Gradients are `jax.grad` through a
    `lax.scan`, one per trajectory (vmapped), with `jax.checkpoint` on segments of `checkpoint` leaps: the
    states are recomputed in the backward pass rather than stored, so memory per trajectory is
    `O((n_steps/checkpoint + checkpoint) · S + n_steps · R)` floats (the random draws, `R` per leap, are
    kept: redrawing them would double the cost of Poisson sampling) instead of `O(n_steps · (S + R))` and
    more for the intermediates.

    - **Bias:** the tau-leaping discretisation, `O(τ)` in the moments. The straight-through Poisson gradient
      follows how the *mean* increment `λ` depends on `θ` but not how the noise amplitude does: for a loss
      of the mean it is the exact gradient of the leaping mean (for linear networks), for a loss of the
      spread (e.g. a squared error, whose expectation contains the variance) it misses `∂Var/∂θ`. The
      Gaussian form is the exact gradient of the chemical Langevin leap, noise amplitude included, itself an
      approximation of the jump process. Neither is unbiased for the jump process; the Gaussian form's bias
      vanishes as counts grow and `τ` shrinks.
    - **Variance:** low (pathwise): no `1/h` or score terms.
    - **Cost:** one fixed-step leaping simulation plus its reverse pass (≈ 2–3 forward leaps).

    **References:** D. T. Gillespie, J. Chem. Phys. 115:1716 (2001) (tau-leaping), J. Chem. Phys. 113:297
    (2000) (chemical Langevin equation); Y. Bengio, N. Léonard, A. Courville, "Estimating or propagating
    gradients through stochastic neurons", arXiv:1308.3432 (2013) (straight-through estimator).
    """

    tau: float = eqx.field(default=0.1, static=True)
    noise: Literal["poisson", "gaussian"] = eqx.field(default="poisson", static=True)
    checkpoint: int = eqx.field(default=32, static=True)
    chunk: int = eqx.field(default=1024, static=True)

    name: ClassVar[str] = "tau_pathwise"
    unbiased: ClassVar[bool] = False

    def __check_init__(self):
        if not self.tau > 0:
            raise ConfigError(f"tau must be positive, got {self.tau}")
        if self.noise not in ("poisson", "gaussian"):
            raise ConfigError(f"noise must be 'poisson' or 'gaussian', got {self.noise!r}")
        if self.checkpoint < 1:
            raise ConfigError(f"checkpoint must be at least 1, got {self.checkpoint}")

    def simulator(self) -> AbstractSimulator:
        return TauLeaping(tau=self.tau)

    def check(self, problem: GradProblem) -> None:
        if problem.prep.model.events:
            raise EstimatorError(
                "the model has SBML events, which tau_pathwise does not support; use 'score' or 'fd_crn'"
            )

    def bias(self, problem: GradProblem) -> str:
        return f"tau-leaping with tau={self.tau} ({self.noise} increments): O(tau) discretisation bias, see docs"

    def path(self, net: CompiledNetwork, x0, p, key: PRNGKeyArray, grid) -> Float[Array, "times species"]:
        """Counts at the output times of one differentiable leaping path (`grid` from `step_grid`)."""
        starts, dts, marks = grid
        n = dts.shape[0]
        seg = self.checkpoint
        n_seg = max(-(-n // seg), 1)
        pad = n_seg * seg - n
        # Padding leaps have length 0: they change nothing.
        dts_p = jnp.concatenate([jnp.asarray(dts), jnp.zeros(pad)]).reshape(n_seg, seg)
        starts_p = jnp.concatenate([jnp.asarray(starts), jnp.zeros(pad)]).reshape(n_seg, seg)

        def leap(c, inp):
            x, rng = c
            dt, t = inp
            a = jnp.maximum(net.propensities(x, p, t), 0.0)
            lam = a * dt
            if self.noise == "poisson":
                draw, rng = poisson(rng, jax.lax.stop_gradient(lam))
                K = lam + jax.lax.stop_gradient(checkpoint_name(draw.astype(lam.dtype), "draws") - lam)
            else:
                z, rng = rng.normals(lam.shape[0])
                K = lam + _safe_sqrt(lam) * checkpoint_name(z.astype(lam.dtype), "draws")
            x = _clip(x + K @ net.stoich)
            return (x, rng), x

        # Recompute each segment in the backward pass, but keep its random draws: Poisson sampling is most of
        # a leap's cost, and the draws are R numbers per leap.
        @functools.partial(jax.checkpoint, policy=jax.checkpoint_policies.save_only_these_names("draws"))
        def segment(x, inp):
            return jax.lax.scan(leap, x, inp)

        _, xs = jax.lax.scan(segment, (x0, seed_stream(key)), (dts_p, starts_p))
        xs = xs.reshape(n_seg * seg, -1)
        all_x = jnp.concatenate([x0[None, :], xs])
        return all_x[jnp.asarray(marks) + 1]

    def samples(self, problem: GradProblem, keys: Key[Array, " trajectories"]) -> tuple[np.ndarray, np.ndarray, int]:
        grid = step_grid(problem.prep.t0, problem.prep.t_eval, self.tau)
        parts = [
            _tau_value_and_grad(self, problem, grid, keys[i : i + self.chunk])
            for i in range(0, keys.shape[0], self.chunk)
        ]
        losses = np.concatenate([np.asarray(v) for v, _ in parts])
        grads = np.concatenate([np.asarray(g) for _, g in parts])
        return losses, grads, keys.shape[0]


@eqx.filter_jit
def _tau_value_and_grad(est: TauPathwise, problem: GradProblem, grid: tuple, keys: Key[Array, " trajectories"]):
    """Per-trajectory loss and gradient (compiled once per estimator, problem structure and time grid)."""
    m = problem.n_model

    def loss_of(theta, key):
        x0, p = problem.initial(theta[:m])
        counts = problem.observe(est.path(problem.net, x0, p, key, grid), p)
        return problem.loss(counts, theta)

    return jax.vmap(jax.value_and_grad(loss_of), in_axes=(None, 0))(problem.theta, keys)

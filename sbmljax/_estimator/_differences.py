"""Shared machinery of the finite-difference estimators (`cfd`, `fd_crn`): perturbed pairs per parameter."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Key

from .._ensemble import UNLIMITED_STEPS, raise_failures, run_ensemble
from .._simulator import AbstractSimulator
from .._simulator.coupled import SplitCoupledDirect
from .._simulator.direct import GillespieDirect
from ..errors import ConfigError
from .base import AbstractGradientEstimator, GradProblem, losses_and_direct


def steps(problem: GradProblem, h: float) -> np.ndarray:
    """Absolute difference steps: `h·|θ_j|` (or `h` for a parameter at 0)."""
    theta = np.asarray(problem.theta[: problem.n_model])
    return np.where(theta != 0, h * np.abs(theta), h)


def _losses(problem: GradProblem, counts, p, theta) -> tuple[np.ndarray, np.ndarray]:
    losses, direct = losses_and_direct(problem, jnp.asarray(counts), p, jnp.asarray(theta))
    return np.asarray(losses), np.asarray(direct)


def difference_samples(
    problem: GradProblem, keys: Key[Array, " trajectories"], *, h: float, centered: bool, coupled: bool
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-sample losses and gradients from one perturbed pair of paths per sample and model parameter.

    Pairs are coupled by the split coupling (`coupled=True`) or share their random numbers (common random
    numbers). Loss-only parameters get the direct derivative on the pair's paths, averaged.
    """
    m, theta = problem.n_model, np.asarray(problem.theta)
    n = keys.shape[0]
    grads = np.zeros((n, theta.shape[0]))
    values = np.zeros(n)
    direct = np.zeros((n, theta.shape[0]))
    S = len(problem.net.species_ids)
    sims = 0
    for j, step in enumerate(steps(problem, h)):
        lo, hi = theta.copy(), theta.copy()
        if centered:
            lo[j] -= step / 2
            hi[j] += step / 2
        else:
            hi[j] += step
        x_lo, p_lo = problem.initial(jnp.asarray(lo[:m]))
        x_hi, p_hi = problem.initial(jnp.asarray(hi[:m]))
        if coupled:
            sim: AbstractSimulator = SplitCoupledDirect(n_species=S, n_params=int(p_lo.shape[0]))
            sol = run_ensemble(
                problem.prep,
                keys,
                x0=jnp.concatenate([x_lo, x_hi]),
                p=jnp.concatenate([p_lo, p_hi]),
                sim=sim,
                block=sim.default_block,
            )
            raise_failures(problem.prep, sol, UNLIMITED_STEPS)
            c_lo, c_hi = sol.counts[:, :, :S], sol.counts[:, :, S:]
        else:
            sim = problem.prep.sim
            sol_lo = run_ensemble(problem.prep, keys, x0=x_lo, p=p_lo, sim=sim, block=sim.default_block)
            sol_hi = run_ensemble(problem.prep, keys, x0=x_hi, p=p_hi, sim=sim, block=sim.default_block)
            raise_failures(problem.prep, sol_lo, UNLIMITED_STEPS)
            raise_failures(problem.prep, sol_hi, UNLIMITED_STEPS)
            c_lo, c_hi = sol_lo.counts, sol_hi.counts
        sims += 2 * n
        l_lo, d_lo = _losses(problem, c_lo, p_lo, lo)
        l_hi, d_hi = _losses(problem, c_hi, p_hi, hi)
        grads[:, j] = (l_hi - l_lo) / step
        values += (l_lo + l_hi) / 2 if centered else l_lo
        direct += (d_lo + d_hi) / 2
    if m == 0:  # only loss parameters: simulate at θ once
        x0, p = problem.initial(jnp.asarray(theta[:0]))
        sim = problem.prep.sim
        sol = run_ensemble(problem.prep, keys, x0=x0, p=p, sim=sim, block=sim.default_block)
        raise_failures(problem.prep, sol, UNLIMITED_STEPS)
        sims += n
        values, direct = _losses(problem, sol.counts, p, theta)
    else:
        values /= m
        direct /= m
    grads[:, m:] = direct[:, m:]
    return values, grads, sims


class AbstractFiniteDifference(AbstractGradientEstimator):
    """Differences of paths at `θ ± h_j/2·e_j` (`centered`, default) or `θ` and `θ + h_j e_j`, with
    `h_j = h·|θ_j|`; subclasses say whether the pair is `coupled` (split coupling) or shares random numbers."""

    h: eqx.AbstractVar[float]
    centered: eqx.AbstractVar[bool]
    coupled: ClassVar[bool]

    def __check_init__(self):
        if not 0 < self.h < 1:
            raise ConfigError(f"h (relative step) must be in (0, 1), got {self.h}")

    def simulator(self) -> AbstractSimulator:
        return GillespieDirect()

    def bias(self, problem: GradProblem) -> str:
        kind = "O(h^2), centered" if self.centered else "O(h), forward"
        hs = ", ".join(f"{n}: {s:.3g}" for n, s in zip(problem.names, steps(problem, self.h)))
        return f"{kind} differences with relative step h={self.h} (absolute {hs})"

    def samples(self, problem: GradProblem, keys: Key[Array, " trajectories"]) -> tuple[np.ndarray, np.ndarray, int]:
        return difference_samples(problem, keys, h=self.h, centered=self.centered, coupled=self.coupled)

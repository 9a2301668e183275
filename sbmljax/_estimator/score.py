"""Likelihood-ratio (score-function) gradients of exact SSA paths."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Key

from .._compile._network import CompiledNetwork
from .._ensemble import UNLIMITED_STEPS, raise_failures, run_ensemble
from .._simulator import AbstractSimulator, BinomialLeaping
from .._simulator.direct import GillespieDirect
from .._solve import AbstractAccumulator
from ..errors import EstimatorError
from .base import AbstractGradientEstimator, GradProblem, initial_counts_depend_on, losses_and_direct


class _PathScore(AbstractAccumulator):
    """Accumulates `∇θ log p(path) = Σ_events ∇θ log a_k(x) − ∫ ∇θ a₀(x(s)) ds` along the path.

    `dp` holds `∂p/∂θ` (rows per differentiated model parameter) so that derivatives of the propensities
    follow parameters that enter through initial assignments too; one `jvp` per row.
    """

    dp: Float[Array, "m params"]
    net: CompiledNetwork

    def init(self, p):
        return jnp.zeros(self.dp.shape[0], dtype=jnp.float64)

    def update(self, acc, before, after, p):
        net = self.net
        x, t = before.x, before.t

        def prop(pp):
            return net.propensities(x, pp, t)

        a, da = jax.vmap(lambda v: jax.jvp(prop, (p,), (v,)), out_axes=(None, 0))(self.dp)  # da: (m, R)
        k = after.fired
        fired = k >= 0
        ks = jnp.maximum(k, 0)
        event = jnp.where(fired, da[:, ks] / jnp.where(a[ks] > 0, a[ks], 1.0), 0.0)
        # Between events the state is constant, so the integral is the step length times ∇a₀.
        return acc + event - (after.t - before.t) * jnp.sum(da, axis=1)


class _LeapScore(AbstractAccumulator):
    """Accumulates `∇θ log p(path)` of a binomial-leap chain: the sum over its steps of the derivative of
    `BinomialLeaping.step_log_density` (the Euler-binomial draws' log-density given the state before the
    step), one `jvp` per row of `dp = ∂p/∂θ` as in `_PathScore`. The bounds of the draws depend on the counts
    only, so this is the whole score of the chain's law in `θ` (its initial counts aside)."""

    dp: Float[Array, "m params"]
    net: CompiledNetwork
    sim: BinomialLeaping

    def init(self, p):
        return jnp.zeros(self.dp.shape[0], dtype=jnp.float64)

    def update(self, acc, before, after, p):
        def logd(pp):
            return self.sim.step_log_density(self.net, before, after, pp)

        _, d = jax.vmap(lambda v: jax.jvp(logd, (p,), (v,)), out_axes=(None, 0))(self.dp)
        return acc + d


def path_score_refusal(sim: AbstractSimulator) -> str | None:
    """Why the path score of `sim`'s paths is not available (`None` when it is): the exact methods (the jump
    process's density) and the binomial leap (its draws' density, `step_log_density`) have one. Poisson
    tau-leaping's does not in tractable form: its step sizes are chosen from the propensities (so they move
    with `θ`), its critical channels fire by exact steps, and a leap that would make a count negative is
    rejected and retried with a smaller step, so the law of what it returns is not the product of the Poisson
    draws' densities; the hybrid method integrates part of the system."""
    if sim.exact or isinstance(sim, BinomialLeaping):
        return None
    return (
        f"the likelihood gradient needs the score of the simulated paths' law (Fisher's identity); method "
        f"{sim.name!r} has none: its paths' law has no tractable density (adaptive, parameter-dependent steps "
        "or rejected leaps, or an integrated part): use an exact method ('direct', 'nrm') or the "
        "Euler-binomial leap BinomialLeaping(tau=...), whose draws' density is known"
    )


def path_score(
    sim: AbstractSimulator, net: CompiledNetwork, dp: Float[Array, "m params"]
) -> tuple[AbstractSimulator, AbstractAccumulator]:
    """The simulator to run and the accumulator of its paths' score `∇θ log p(path)` (`dp = ∂p/∂θ`): the jump
    process's (`_PathScore`) for an exact method, the leap chain's (`_LeapScore`, with a simulator whose state
    keeps its draws) for `BinomialLeaping`. Raises `EstimatorError` for the others (`path_score_refusal`).

    **References:** G. Poyiadjis, A. Doucet, S. S. Singh, Biometrika 98:65–80 (2011) (the score by Fisher's
    identity); T. Tian, K. Burrage, J. Chem. Phys. 121:10356 (2004) and A. Chatterjee, D. G. Vlachos,
    M. A. Katsoulakis, J. Chem. Phys. 122:024112 (2005) (the binomial leap).
    """
    why = path_score_refusal(sim)
    if why is not None:
        raise EstimatorError(why)
    if isinstance(sim, BinomialLeaping):
        leap = sim.with_firings()
        return leap, _LeapScore(dp=dp, net=net, sim=leap)
    return sim, _PathScore(dp=dp, net=net)


class ScoreFunction(AbstractGradientEstimator):
    """Score-function (likelihood-ratio) estimator for exact SSA paths.

    For a path of the jump process on `[0, T]` the log-likelihood is
    `log p = Σ_events log a_{k_i}(x_{i−1}) − ∫₀ᵀ a₀(x(s)) ds` (+ terms free of θ), so
    `∇θ E[ℓ] = E[(ℓ − b) ∇θ log p] + E[∇θ ℓ]` for any baseline `b` independent of the path. The score is
    accumulated online during a Gillespie direct simulation (no path storage); `b` is the leave-one-out mean
    of the other trajectories' losses, which keeps the estimator unbiased and removes most of the variance
    the mean loss would add.

    - **Bias:** none.
    - **Variance:** grows with the number of events (the score is a sum over all of them) and with the spread
      of the loss; best for short horizons, few events, or small parameter dimension.
    - **Cost:** one exact simulation per sample, plus `m` forward-mode derivatives of the propensities per
      event (`m` differentiated model parameters).
    - Refuses models whose initial counts depend on θ (the discrete initial state has no score).

    **References:** P. W. Glynn, "Likelihood ratio gradient estimation for stochastic systems", Commun. ACM
    33:75–84 (1990); S. Plyasunov, A. P. Arkin, "Efficient stochastic sensitivity analysis of discrete event
    systems", J. Comput. Phys. 221:724–738 (2007).
    """

    name: ClassVar[str] = "score"
    unbiased: ClassVar[bool] = True

    def check(self, problem: GradProblem) -> None:
        if initial_counts_depend_on(problem):
            raise EstimatorError(
                "the initial counts depend on a differentiated parameter; the score-function estimator cannot "
                "differentiate the (discrete) initial state — use estimator='cfd' or 'tau_pathwise'"
            )

    def simulator(self) -> AbstractSimulator:
        return GillespieDirect()

    def bias(self, problem: GradProblem) -> str:
        return "none (unbiased)"

    def samples(self, problem: GradProblem, keys: Key[Array, " trajectories"]) -> tuple[np.ndarray, np.ndarray, int]:
        m = problem.n_model
        theta = problem.theta
        x0, p = problem.initial(theta[:m])
        dp = jax.jacfwd(lambda th: problem.initial(th)[1])(theta[:m]).T if m else jnp.zeros((0, p.shape[0]))
        acc = _PathScore(dp=jnp.asarray(dp), net=problem.net)
        sim = problem.prep.sim
        sol = run_ensemble(problem.prep, keys, x0=x0, p=p, sim=sim, accumulator=acc, block=sim.default_block)
        raise_failures(problem.prep, sol, UNLIMITED_STEPS)
        losses_j, direct_j = losses_and_direct(problem, jnp.asarray(sol.counts), p, theta)
        losses, direct, score = np.asarray(losses_j), np.asarray(direct_j), np.asarray(sol.extra)
        n = losses.shape[0]
        if n < 2:
            raise EstimatorError("the score-function estimator needs at least 2 trajectories (leave-one-out baseline)")
        with np.errstate(invalid="ignore"):  # a non-finite loss is reported by the caller, with its context
            baseline = (losses.sum() - losses) / (n - 1)
        grads = direct.copy()
        grads[:, :m] += (losses - baseline)[:, None] * score
        return losses, grads, n

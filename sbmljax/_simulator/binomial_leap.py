"""Fixed-step binomial tau-leaping (Tian & Burrage 2004; Chatterjee et al. 2005), pomp's Euler-binomial step."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._binomial import binomial
from .._compile._network import CompiledNetwork
from .._poisson import poisson
from .._prng import Stream
from .._results import RESULTS
from ..errors import ConfigError
from .base import AbstractSimState, AbstractSimulator, SimState, idle_step, initial_sim_state, loop_fields
from .direct import propensities_ok


def _shared(net: CompiledNetwork) -> bool:
    """Whether some species is consumed by more than one channel (then the bounds must be sequential)."""
    return bool(((np.asarray(net.plan.stoich) < 0).sum(axis=0) > 1).any())


def _bound(nu: np.ndarray, x: Float[Array, " species"]) -> Float[Array, " channels"]:
    """`min_i ⌊x_i / |ν_ij|⌋` over the species channel `j` consumes (`inf` if none), from the stoichiometry's
    static pattern: each channel's few reactants are read directly, not masked out of every species (the
    masked `(channels, species)` minimum was a reduction of its own per leap; the values are the same)."""
    rows = [np.nonzero(row < 0)[0] for row in nu]
    width = max((len(r) for r in rows), default=0)
    out = jnp.full((nu.shape[0],), jnp.inf)
    for c in range(width):
        has = np.array([len(r) > c for r in rows])
        idx = np.array([r[c] if len(r) > c else 0 for r in rows])
        need = np.where(has, -nu[np.arange(nu.shape[0]), idx], 1.0)
        col = jnp.floor(x[idx] / jnp.asarray(need))
        out = jnp.minimum(out, col if has.all() else jnp.where(jnp.asarray(has), col, jnp.inf))
    return out


def _change(nu: np.ndarray, k: Float[Array, " channels"]) -> Float[Array, " species"]:
    """`νᵀk`, the count change of firing channel `j` `k_j` times, as a sum over each species' nonzero entries of
    the static stoichiometry: exact (integer products and sums far below 2⁵³), so the same as the matrix
    product, without a matrix multiplication per leap (which XLA runs as a library call of its own)."""
    if np.count_nonzero(nu) > 256:  # a large network: one matrix product traces smaller than the unrolled sums
        return k @ jnp.asarray(nu)
    cols = []
    for i in range(nu.shape[1]):
        (js,) = np.nonzero(nu[:, i])
        d = jnp.zeros((), jnp.float64)
        for j in js:
            d = d + k[j] * float(nu[j, i])
        cols.append(jnp.broadcast_to(d, ()))
    return jnp.stack(cols) if cols else jnp.zeros((0,), jnp.float64)


class LeapState(AbstractSimState):
    """A leap's state that also keeps its last step's draws, for the likelihood gradient's path score
    (`BinomialLeaping.step_log_density`): the draws `K` cannot be recovered from the count change `νᵀK`.

    `K` holds each channel's firings, `n` the binomial bound each consuming channel was drawn with (the
    sequential one when channels share a reactant; 0 for an inflow, and for a channel with nothing to consume)
    and `h` the step's length (0 before the first step)."""

    t: Float[Array, ""]
    x: Float[Array, " species"]
    status: RESULTS
    fired: Int[Array, ""]
    count: Int[Array, ""]
    rng: Stream
    K: Float[Array, " channels"]
    n: Float[Array, " channels"]
    h: Float[Array, ""]


class BinomialLeaping(AbstractSimulator):
    """Approximate stochastic simulation by fixed-step binomial tau-leaping; counts never go negative.

    Each step of length `h = min(tau, t_stop − t)` evaluates the propensities `a_j` at its start and fires
    channel `j`

    - `K_j ~ Binomial(n_j, 1 − exp(−a_j h / n_j))` times if it consumes a species, where `n_j` is how many
      times its reactants allow it to fire (`min_i ⌊x_i / |ν_ij|⌋` over the species it consumes), so that it
      can never consume more than is there;
    - `K_j ~ Poisson(a_j h)` times if it consumes nothing (an inflow).

    `a_j / n_j` is the channel's hazard per available reactant: for a channel consuming one molecule of one
    species (`S → …`, `S + I → 2 I`) the step is exactly pomp's Euler-binomial (`reulermultinom` with one
    outflow) with the rate frozen over the step, so the bsflu model matches pypomp's model step for step.
    When several channels consume the same species they are drawn in channel order, each bounded by what the
    previous ones left (Chatterjee et al. 2005); that order, like freezing the propensities over a step,
    introduces an O(h) bias in the law (the method is first-order weakly convergent, like Euler tau-leaping),
    which vanishes as `tau → 0`. It is exact in one case: a species consumed by one first-order channel alone
    with constant rate (a pure death) — the binomial with `1 − exp(−k h)` is that process's transition law.

    Cost per step: the update `νᵀK` over the stoichiometry's nonzero entries and `R` binomial draws
    (`sbmljax._binomial`: inversion below a mean of 64, BTRS above). No step-size control, no critical channels, no rejected leaps: every
    particle takes the same `⌈(t_stop − t)/tau⌉` steps, which is what makes it cheap inside a vmapped filter.

    **References:** T. Tian, K. Burrage, "Binomial leap methods for simulating stochastic chemical kinetics",
    J. Chem. Phys. 121:10356 (2004). A. Chatterjee, D. G. Vlachos, M. A. Katsoulakis, "Binomial distribution
    based τ-leap accelerated stochastic simulation", J. Chem. Phys. 122:024112 (2005). C. Bretó, D. He,
    E. L. Ionides, A. A. King, "Time series analysis via mechanistic models", Ann. Appl. Stat. 3:319 (2009)
    (pomp's Euler-multinomial step).
    """

    tau: float | None = eqx.field(default=None, static=True)
    # Keep each step's draws in the state (a `LeapState`) for `step_log_density`; the particle filter sets it
    # when it estimates the gradient (`with_firings`). Off, the state is the plain `SimState` and the step
    # traces exactly as it always did.
    firings: bool = eqx.field(default=False, static=True)

    exact: ClassVar[bool] = False
    name: ClassVar[str] = "binomial_leap"
    default_block: ClassVar[int] = 16

    def __check_init__(self):
        if self.tau is None or not self.tau > 0:
            raise ConfigError(f"binomial tau-leaping needs a positive fixed step tau= (e.g. 1/12), got {self.tau}")

    def fixed_step(self) -> float | None:
        return self.tau

    def with_firings(self) -> BinomialLeaping:
        """The same method whose state keeps each step's draws (`LeapState`), for `step_log_density`."""
        return BinomialLeaping(tau=self.tau, firings=True)

    def init(self, net: CompiledNetwork, t0, x0, p, rng) -> SimState | LeapState:
        del p
        if not self.firings:
            return initial_sim_state(t0, x0, rng)
        R = net.stoich.shape[0]
        zero = jnp.zeros((R,), jnp.float64)
        return LeapState(**loop_fields(t0, x0, rng), K=zero, n=zero, h=jnp.zeros((), jnp.float64))

    def _firings(
        self, net: CompiledNetwork, x, a, h, rng: Stream
    ) -> tuple[Float[Array, " channels"], Float[Array, " channels"], Float[Array, " channels"], Stream]:
        """The firings `K` of one leap, the reactant bound `n₀` at `x` (`inf` for an inflow), the bound `n` each
        binomial was drawn with (`n₀`, or the sequential one; 0 for an inflow) and the stream."""
        nu = np.asarray(net.plan.stoich)
        R = nu.shape[0]
        consumes = jnp.asarray(nu < 0)
        need = jnp.where(consumes, -jnp.asarray(nu), 1.0)
        inflow_np = ~(nu < 0).any(axis=1)
        inflow = jnp.asarray(inflow_np)
        u, rng = rng.uniforms(R)
        n0 = _bound(nu, x)

        # The Poisson draws for inflows (rate 0 elsewhere); skipped when the network has none (a static fact).
        if inflow_np.any():
            k_in, rng = poisson(rng, jnp.where(inflow, a * h, 0.0), u)
        else:
            k_in = jnp.zeros_like(a)
        if not _shared(net):
            n = jnp.where(inflow, 0.0, n0)
            r = a * h / jnp.maximum(n, 1.0)
            # p = 1 − e^{−r}, so log(1 − p) = −r exactly (no log1p in the sampler)
            prob = jnp.where(n > 0, -jnp.expm1(-r), 0.0)
            k_out, rng = binomial(rng, n, prob, u, log1mp=jnp.where(n > 0, -r, 0.0))
            return jnp.where(inflow, k_in, k_out), n0, n, rng

        # Sequential bounds (Chatterjee et al. 2005): channel j may only use what channels < j left.
        rate = a * h / jnp.maximum(jnp.where(inflow, 0.0, n0), 1.0)

        def bound(xx):
            return jnp.min(jnp.where(consumes, jnp.floor(xx[None, :] / need), jnp.inf), axis=1, initial=jnp.inf)

        def one(carry, j):
            xr, s = carry
            n = jnp.where(inflow[j], 0.0, bound(xr)[j])
            pos = n > 0
            k, s = binomial(s, n, jnp.where(pos, -jnp.expm1(-rate[j]), 0.0), u[j], log1mp=jnp.where(pos, -rate[j], 0.0))
            k = jnp.where(inflow[j], k_in[j], k)
            return (xr - k * jnp.where(consumes[j], need[j], 0.0), s), (k, n)

        (_, rng), (K, n) = jax.lax.scan(one, (x, rng), jnp.arange(R))
        return K, n0, n, rng

    def step(self, net: CompiledNetwork, state: SimState | LeapState, p, t_stop) -> SimState | LeapState:
        if net.stoich.shape[0] == 0:
            return idle_step(state, t_stop)
        x, t = state.x, state.t
        a = net.propensities(x, p, t)
        ok = propensities_ok(a)
        a = jnp.where(ok, a, 0.0)
        h = jnp.minimum(jnp.asarray(self.tau, jnp.float64), t_stop - t)
        K, n0, n, rng = self._firings(net, x, a, h, state.rng)
        x_new = x + _change(np.asarray(net.plan.stoich), K)
        # A propensity that stays positive with its reactant gone cannot be honoured by a bounded leap: `n₀ < 1`
        # is "some reactant below what one firing consumes" (`⌊x/ν⌋ < 1` iff `x < ν`; `inf` for an inflow).
        exhausted = jnp.any((a > 0) & (K == 0) & (n0 < 1.0))
        out = SimState(
            t=jnp.where(ok & ~exhausted, t + h, t),
            x=jnp.where(ok & ~exhausted, x_new, x),
            status=RESULTS.where(
                exhausted, RESULTS.negative_count, RESULTS.where(ok, state.status, RESULTS.bad_propensity)
            ),
            fired=jnp.asarray(-1, jnp.int32),
            count=jnp.where(ok, jnp.sum(K).astype(jnp.int64), 0),
            rng=rng,
        )
        if not self.firings:
            return out
        return LeapState(
            t=out.t, x=out.x, status=out.status, fired=out.fired, count=out.count, rng=out.rng, K=K, n=n, h=h
        )

    def step_log_density(
        self, net: CompiledNetwork, before: LeapState, after: LeapState, p: Float[Array, " params"]
    ) -> Float[Array, ""]:
        """`log P(K | x, p)` of the step from `before` to `after` (a `LeapState`, `with_firings`), up to terms
        free of `p`: the likelihood gradient's path score is its derivative in `p` (Fisher's identity over
        the filter's ancestral paths; Poyiadjis, Doucet & Singh 2011).

        With `r_j = a_j(x, p, t) h / max(n₀_j, 1)` and `q_j = 1 − e^{−r_j}` a consuming channel contributes
        `K_j log q_j + (n_j − K_j) log(1 − q_j) = K_j log q_j − (n_j − K_j) r_j` (the binomial coefficient is
        free of `p`: the bounds `n_j`, `n₀_j` depend on the counts only) and nothing when `n_j = 0`; an
        inflow contributes the Poisson `K_j log(a_j h) − a_j h`. The guards keep every term finite where it is
        zero (`K_j = 0` with `q_j = 0`), so that forward-mode derivatives through them are finite too.
        """
        nu = np.asarray(net.plan.stoich)
        inflow = jnp.asarray(~(nu < 0).any(axis=1))
        x, t, K, n, h = before.x, before.t, after.K, after.n, after.h
        a = net.propensities(x, p, t)
        a = jnp.where(propensities_ok(a), a, 0.0)
        n0 = _bound(nu, x)
        r = a * h / jnp.maximum(jnp.where(inflow, 0.0, n0), 1.0)
        fired = K > 0
        r_pos = jnp.where(fired, r, 1.0)  # K > 0 only where q > 0, i.e. r > 0
        out = jnp.where(fired, K * jnp.log(-jnp.expm1(-r_pos)), 0.0) - (n - K) * r
        out = jnp.where(n > 0, out, 0.0)
        ah = jnp.where(fired, a * h, 1.0)
        inflow_term = jnp.where(fired, K * jnp.log(ah), 0.0) - a * h
        return jnp.sum(jnp.where(inflow, inflow_term, out))

    def reset(self, net: CompiledNetwork, state: SimState, p) -> SimState:
        del net, p
        return state

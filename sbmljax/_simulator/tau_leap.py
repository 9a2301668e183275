"""Tau-leaping with Cao, Gillespie & Petzold's (2006) step selection and critical reactions."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from .._compile._network import CompiledNetwork
from .._poisson import poisson
from .._prng import Stream
from .._results import RESULTS
from ..errors import ConfigError
from .base import AbstractSimState, AbstractSimulator, idle_step, loop_fields
from .direct import propensities_ok, select_channel


class TauState(AbstractSimState):
    """Counts and time, plus `shrink`: the factor on the next candidate step after rejected leaps."""

    t: Float[Array, ""]
    x: Float[Array, " species"]
    status: RESULTS
    fired: Int[Array, ""]
    count: Int[Array, ""]
    rng: Stream
    shrink: Float[Array, ""]


@dataclasses.dataclass(frozen=True)
class _Orders:
    """Per species: the highest order of a reaction consuming it and its multiplicity there (Cao 2006 §IV)."""

    reactant: np.ndarray  # (S,) bool: consumed by some channel
    hor: np.ndarray  # (S,) highest order
    mult: np.ndarray  # (S,) molecules of the species that reaction needs


def _orders(net: CompiledNetwork) -> _Orders:
    plan = net.plan
    by_id = {r.id: r for r in plan.model.reactions}
    S = len(plan.species_ids)
    hor, mult = np.zeros(S, dtype=int), np.zeros(S, dtype=int)
    for cid, rid in zip(plan.channel_ids, plan.channel_reaction):
        r = by_id[rid]
        side = r.products if cid.endswith("__reverse") else r.reactants
        order = int(round(sum(s for _, s in side)))
        for sid, s in side:
            i = plan.species_index[sid]
            if order > hor[i] or (order == hor[i] and s > mult[i]):
                hor[i], mult[i] = order, int(round(s))
    consumed = (np.asarray(plan.stoich) < 0).any(axis=0)
    return _Orders(consumed & (hor > 0), hor, mult)


def _g(orders: _Orders, x: Float[Array, " species"]) -> Float[Array, " species"]:
    """Cao et al.'s g_i: how a relative change of x_i bounds the relative change of the propensities."""
    hor, mult = jnp.asarray(orders.hor), jnp.asarray(orders.mult)
    xm1 = jnp.maximum(x - 1.0, 1.0)
    xm2 = jnp.maximum(x - 2.0, 1.0)
    g = jnp.where(hor == 1, 1.0, 0.0)
    g = jnp.where((hor == 2) & (mult <= 1), 2.0, g)
    g = jnp.where((hor == 2) & (mult >= 2), 2.0 + 1.0 / xm1, g)
    g = jnp.where((hor >= 3) & (mult <= 1), 3.0, g)
    g = jnp.where((hor >= 3) & (mult == 2), 1.5 * (2.0 + 1.0 / xm1), g)
    g = jnp.where((hor >= 3) & (mult >= 3), 3.0 + 1.0 / xm1 + 2.0 / xm2, g)
    return jnp.maximum(g, 1.0)


class TauLeaping(AbstractSimulator):
    """Approximate stochastic simulation by Poisson tau-leaping, never producing negative counts.

    Each leap of length `τ` fires every non-critical channel `K_j ~ Poisson(a_j τ)` times. Choose exactly one
    of:

    - `tau`: a fixed candidate step;
    - `epsilon`: adaptive steps (Cao, Gillespie & Petzold 2006, eq. 33), bounding the expected relative
      change of every propensity by about `epsilon` per leap.

    Negative counts are prevented as in Cao et al. (2006): a channel that could exhaust a reactant within
    `n_critical` firings is *critical* and fires exactly (at most one critical firing per leap, at an
    exponential waiting time, as in the SSA); if a leap would still make a count negative it is rejected and
    the candidate step halved. When the candidate step falls below `ssa_factor / a₀` an exact SSA step is
    taken instead (leaping would not pay). Leaps also end exactly at output times and event times.

    Cost per leap: `O(R·S)` for the dense `νᵀK` update plus `R` Poisson draws. The draws use
    `sbmljax._poisson.poisson` (inversion below a mean of 10, PTRS above), not `jax.random.poisson`, which
    runs both of its rejection loops for every element: on SIR and birth–death, where most steps are SSA
    fallbacks that draw nothing, that made a step 7× cheaper.

    **References:** D. T. Gillespie, "Approximate accelerated stochastic simulation of chemically reacting
    systems", J. Chem. Phys. 115:1716 (2001). Y. Cao, D. T. Gillespie, L. R. Petzold, "Efficient step size
    selection for the tau-leaping simulation method", J. Chem. Phys. 124:044109 (2006).
    """

    tau: float | None = eqx.field(default=None, static=True)
    epsilon: float | None = eqx.field(default=None, static=True)
    n_critical: int = eqx.field(default=10, static=True)
    ssa_factor: float = eqx.field(default=10.0, static=True)

    exact: ClassVar[bool] = False
    name: ClassVar[str] = "tau_leap"
    # Few steps per loop iteration: a lane that has finished still runs the rest of its block, and a leap can
    # cost as much as thousands of SSA steps (ring of 200 channels, 3 leaps per trajectory: 16 took 3-5× as long
    # as 4; on SIR and birth-death 4 and 16 measured the same).
    default_block: ClassVar[int] = 4

    def __check_init__(self):
        if (self.tau is None) == (self.epsilon is None):
            raise ConfigError("tau-leaping needs exactly one of tau= (fixed step) or epsilon= (adaptive, e.g. 0.03)")
        if self.tau is not None and not self.tau > 0:
            raise ConfigError(f"tau must be positive, got {self.tau}")
        if self.epsilon is not None and not 0 < self.epsilon < 1:
            raise ConfigError(f"epsilon must be in (0, 1), got {self.epsilon}")
        if self.n_critical < 0:
            raise ConfigError(f"n_critical must be non-negative, got {self.n_critical}")

    def init(self, net: CompiledNetwork, t0, x0, p, rng: Stream) -> TauState:
        del net, p
        return TauState(**loop_fields(t0, x0, rng), shrink=jnp.asarray(1.0))

    def _candidate(self, net: CompiledNetwork, x, a_nc) -> Float[Array, ""]:
        if self.tau is not None:
            return jnp.asarray(self.tau, jnp.float64)
        orders: _Orders = net.plan.memo("tau_orders", lambda: _orders(net))  # type: ignore[assignment]
        nu = net.stoich
        mu = a_nc @ nu
        var = a_nc @ (nu * nu)
        bound = jnp.maximum(self.epsilon * x / _g(orders, x), 1.0)
        t1 = jnp.where(jnp.abs(mu) > 0, bound / jnp.abs(mu), jnp.inf)
        t2 = jnp.where(var > 0, bound**2 / var, jnp.inf)
        cand = jnp.where(jnp.asarray(orders.reactant), jnp.minimum(t1, t2), jnp.inf)
        return jnp.min(cand, initial=jnp.inf)

    def step(self, net: CompiledNetwork, state: TauState, p, t_stop) -> TauState:
        if net.stoich.shape[0] == 0:
            return idle_step(state, t_stop)
        # The step's three uniforms and the Poisson inversion uniforms (one per channel).
        u, rng = state.rng.uniforms(3 + net.stoich.shape[0])
        x, t = state.x, state.t
        a = net.propensities(x, p, t)
        ok = propensities_ok(a)
        a = jnp.where(ok, a, 0.0)
        a0 = jnp.sum(a)
        nu = net.stoich
        # Critical channels could exhaust a reactant within n_critical firings.
        per = jnp.where(nu < 0, jnp.floor(x[None, :] / jnp.where(nu < 0, -nu, 1.0)), jnp.inf)
        firings_left = jnp.min(per, axis=1, initial=jnp.inf)
        critical = (firings_left < self.n_critical) & (a > 0)
        # A channel that cannot fire even once yet has a positive propensity: its law does not vanish with
        # its reactant (rejecting its leaps would silently change the model).
        exhausted = jnp.any((a > 0) & (firings_left < 1))
        a_nc = jnp.where(critical, 0.0, a)
        a_c = jnp.where(critical, a, 0.0)
        tau1 = self._candidate(net, x, a_nc) * state.shrink
        use_ssa = tau1 < self.ssa_factor / a0

        # Exact SSA step (Gillespie 1977) when leaping would not pay.
        k_ssa, _ = select_channel(a, u[1])
        t_ssa = t - jnp.log1p(-u[0]) / a0
        fire_ssa = t_ssa <= t_stop

        # Leap: critical channels wait an exponential time, at most one fires.
        a0c = jnp.sum(a_c)
        tau2 = -jnp.log1p(-u[2]) / a0c
        span = t_stop - t
        tau = jnp.minimum(jnp.minimum(tau1, tau2), span)
        crit_fires = tau2 <= jnp.minimum(tau1, span)
        k_c, _ = select_channel(a_c, u[1])
        # An SSA step discards the leap, so it asks for no firings (the sampler's loop then does no work).
        K, rng = poisson(rng, jnp.where(use_ssa, 0.0, a_nc * tau), u[3:])
        K = K.at[k_c].add(jnp.where(crit_fires, 1.0, 0.0))
        x_leap = x + K @ nu
        reject = jnp.any(x_leap < 0)

        ssa_negative = (use_ssa & fire_ssa & jnp.any(x + nu[k_ssa] < 0)) | exhausted  # a law that does not vanish
        fire_ssa = fire_ssa & ~ssa_negative
        x_new = jnp.where(use_ssa, jnp.where(fire_ssa, x + nu[k_ssa], x), jnp.where(reject, x, x_leap))
        t_new = jnp.where(use_ssa, jnp.where(fire_ssa, t_ssa, t_stop), jnp.where(reject, t, t + tau))
        count = jnp.where(use_ssa, fire_ssa.astype(jnp.int64), jnp.where(reject, 0, jnp.sum(K).astype(jnp.int64)))
        shrink = jnp.where(~use_ssa & reject, state.shrink * 0.5, 1.0)
        return TauState(
            t=jnp.where(ok & ~ssa_negative, t_new, t),
            x=jnp.where(ok, x_new, x),
            status=RESULTS.where(
                ssa_negative, RESULTS.negative_count, RESULTS.where(ok, state.status, RESULTS.bad_propensity)
            ),
            fired=jnp.where(use_ssa & fire_ssa, k_ssa, -1).astype(jnp.int32),
            count=jnp.where(ok, count, 0),
            rng=rng,
            shrink=shrink,
        )

    def reset(self, net: CompiledNetwork, state: TauState, p) -> TauState:
        del net, p
        return state

"""Extrande: exact simulation with time-dependent propensities by thinning (Voliotis et al. 2016)."""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import Finding
from .._compile._network import CompiledNetwork
from .._expr import to_string
from .._interval import channel_bounds, explain, unboundable
from .._model import Unsupported
from .._prng import Stream
from .._results import RESULTS
from ..errors import ConfigError
from .base import AbstractSimulator, SimState, idle_step, initial_sim_state
from .direct import first_argmin, propensities_ok

BOUND_SLACK = 1e-9
"""Relative inflation of the interval bound: far above float64 rounding of its end points, harmless to
exactness (thinning is exact for any valid bound)."""


_bounds = eqx.filter_jit(channel_bounds)


class Extrande(AbstractSimulator):
    """Exact stochastic simulation with time-dependent propensities: extrande (thinning with a bound).

    Between firings the counts are fixed, so each propensity `aₖ(t)` is a function of time alone. Each step
    takes a look-ahead window `[t, t+L]` and an upper bound `B ≥ Σₖ aₖ(s)` for every `s` in it, obtained by
    interval arithmetic on the compiled rate laws (`sbmljax._interval`; time-independent channels count
    their value). It draws a candidate time `t + τ`, `τ ~ Exp(B)`; past the window, time moves to `t+L`
    and nothing fires. Otherwise channel `k` fires with probability `aₖ(t+τ)/B` and, with the remaining
    probability `1 − a₀(t+τ)/B`, the "extra" reaction fires, which changes nothing. This is Lewis–Shedler
    thinning of the inhomogeneous Poisson process of all firings, exact for any valid bound.

    **The window.** `L₀ = min(t_stop − t, horizon)`: the loop's `t_stop` is the next output time or event
    time, so a window never crosses an output or an event. A long window loosens the bound (a propensity
    growing like `eᵗ` over 100 time units) and a short one wastes steps, so each step bounds `windows`
    nested windows `L₀, L₀/4, L₀/16, …` and takes the one with the largest expected advance per step,
    `(1 − e^{−BL})/B`. The choice depends only on the state at the step's start, so exactness holds. A step
    whose bound is not finite on every window (a rate law diverging in time, a division by a time-dependent
    quantity reaching 0) stops the trajectory with `RESULTS.no_propensity_bound`; `prepare` checks the
    first window before the run and names the reaction and the sub-expression.

    Cost per step: two propensity evaluations (now and at the candidate) and `windows` interval evaluations
    of the time-dependent laws; the expected number of steps is the number of firings plus the extra
    (rejected) candidates plus the windows ended. With time-homogeneous propensities `B = a₀`, no candidate
    is rejected, and it samples the same law as the direct method (with a different random stream).

    **Reference:** M. Voliotis, P. Thomas, R. Grima, C. G. Bowsher, "Stochastic simulation of biomolecular
    networks in dynamic environments", PLoS Comput. Biol. 12:e1004923 (2016); P. A. W. Lewis, G. S. Shedler,
    "Simulation of nonhomogeneous Poisson processes by thinning", Naval Res. Logist. Q. 26:403–413 (1979).
    """

    horizon: float = math.inf
    windows: int = 4

    exact: ClassVar[bool] = True
    name: ClassVar[str] = "extrande"
    accepts: ClassVar[frozenset[str]] = frozenset({"time_dependent_propensity"})

    def __check_init__(self):
        if not self.horizon > 0:
            raise ConfigError(f"extrande: horizon must be positive, got {self.horizon}")
        if not (isinstance(self.windows, int) and self.windows >= 1):
            raise ConfigError(f"extrande: windows must be an integer of at least 1, got {self.windows}")

    def refusals(self, net: CompiledNetwork) -> list[Unsupported]:
        out = []
        for k, law in enumerate(net.plan.channel_laws):
            for what in unboundable(law, net.time_dependent_rules):
                rid = net.channel_of_reaction(k)
                out.append(
                    Unsupported(
                        f"reaction '{rid}' kineticLaw",
                        f"extrande needs an upper bound of the propensity over a time window and has no interval rule "
                        f"for {what} (law {to_string(law)})",
                    )
                )
        for v, e in net.plan.rules:
            if v in net.time_dependent_rules:
                for what in unboundable(e, net.time_dependent_rules):
                    out.append(
                        Unsupported(
                            f"assignment rule '{v}'",
                            f"extrande needs an upper bound of it over a time window and has no interval rule for {what}",
                        )
                    )
        return out

    def start_findings(self, net: CompiledNetwork, x0, p, t0: float, t_first: float) -> list[Finding]:
        """The reactions without a finite bound over the smallest first window (the run would stop at once)."""
        with jax.ensure_compile_time_eval():
            end = float(self.window_ends(jnp.asarray(t0, dtype=jnp.float64), jnp.asarray(t_first))[-1])
        # Compiled first (op by op, a large model's laws take seconds); the eager diagnosis only on failure.
        if bool(jnp.all(jnp.isfinite(_bounds(net, x0, p, jnp.asarray(t0), jnp.asarray(end))))):
            return []
        with jax.ensure_compile_time_eval():
            unbounded = explain(net, x0, p, t0, end)
        return [
            Finding(
                "time_dependent_propensity",
                f"reaction '{rid}' kineticLaw",
                f"extrande finds no finite upper bound of the propensity of reaction '{rid}' over t={t0:g}..{end:g} "
                f"(the first look-ahead window): {why}",
                reaction=rid,
                time=t0,
            )
            for rid, why in unbounded
        ]

    def init(self, net: CompiledNetwork, t0, x0, p, rng: Stream) -> SimState:
        del net, p
        return initial_sim_state(t0, x0, rng)

    def window_ends(self, t: Float[Array, ""], t_stop: Float[Array, ""]) -> Float[Array, " windows"]:
        """The candidate windows' ends: `min(t_stop, t + horizon)`, then a quarter of the length each time."""
        end0 = jnp.minimum(t + self.horizon, t_stop)
        shrink = jnp.asarray([4.0**-j for j in range(1, self.windows)], dtype=jnp.float64)
        return jnp.concatenate([end0[None], t + (end0 - t) * shrink])

    def step(self, net: CompiledNetwork, state: SimState, p, t_stop) -> SimState:
        if net.stoich.shape[0] == 0:
            return idle_step(state, t_stop)
        t, x = state.t, state.x
        rand, rng = state.rng.uniforms(2)  # the candidate time, then the channel (or the rejection)
        ends = self.window_ends(t, t_stop)
        bounds = jax.vmap(lambda end: jnp.sum(channel_bounds(net, x, p, t, end)))(ends) * (1.0 + BOUND_SLACK)
        lengths = ends - t
        advance = jnp.where(bounds > 0, -jnp.expm1(-bounds * lengths) / bounds, lengths)
        advance = jnp.where(jnp.isfinite(bounds), advance, -1.0)
        j = first_argmin(-advance)
        B, t_end = bounds[j], ends[j]
        bounded = jnp.isfinite(B)
        tau = -jnp.log1p(-rand[0]) / B  # B == 0: inf, the window ends with nothing fired
        t_cand = t + tau
        candidate = bounded & (t_cand <= t_end)
        a = net.propensities(x, p, jnp.where(candidate, t_cand, t))
        ok = propensities_ok(a)
        cs = jnp.cumsum(a)
        a0 = cs[-1]
        within = a0 <= B
        target = rand[1] * B
        k = jnp.minimum(jnp.sum(cs <= target), a.shape[0] - 1).astype(jnp.int32)
        fire = candidate & ok & within & (target < a0)
        x_new = x + net.stoich[k]
        negative = fire & jnp.any(x_new < 0)
        fire = fire & ~negative
        status = RESULTS.where(bounded & (~candidate | within), state.status, RESULTS.no_propensity_bound)
        status = RESULTS.where(~candidate | ok, status, RESULTS.bad_propensity)
        status = RESULTS.where(negative, RESULTS.negative_count, status)
        failed = ~bounded | (candidate & ~(ok & within)) | negative
        return SimState(
            t=jnp.where(failed, t, jnp.where(candidate, t_cand, t_end)),
            x=jnp.where(fire, x_new, x),
            status=status,
            fired=jnp.where(fire, k, -1).astype(jnp.int32),
            count=fire.astype(jnp.int64),
            rng=rng,
        )

    def reset(self, net: CompiledNetwork, state: SimState, p) -> SimState:
        del net, p
        return state

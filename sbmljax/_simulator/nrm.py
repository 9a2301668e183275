"""The Next Reaction Method (Gibson & Bruck 2000), in Anderson's internal-time form (Anderson 2007)."""

from __future__ import annotations

import math
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray

from .._compile._mass_action import build_graph
from .._compile._network import CompiledNetwork
from .._prng import Stream, seed_stream
from .._results import RESULTS
from .base import AbstractSimState, AbstractSimulator, idle_step, loop_fields
from .direct import first_argmin, propensities_ok


class NRMState(AbstractSimState):
    """Counts and time, plus per channel: internal time `T` as of time `s`, the propensity `a` since `s`,
    the next internal firing time `P`, the absolute putative firing time `tau`, and the parameter-only
    factor `consts` of product-form laws."""

    t: Float[Array, ""]
    x: Float[Array, " species"]
    status: RESULTS
    fired: Int[Array, ""]
    count: Int[Array, ""]
    T: Float[Array, " channels"]
    s: Float[Array, " channels"]
    a: Float[Array, " channels"]
    P: Float[Array, " channels"]
    tau: Float[Array, " padded"]
    block_min: Float[Array, " blocks"]
    consts: Float[Array, " channels"]
    rng: Stream


def _layout(R: int) -> tuple[int, int]:
    """`(blocks, width)` of the two-level minimum: √R blocks of √R channels."""
    width = max(1, int(math.ceil(math.sqrt(R))))
    return int(math.ceil(R / width)), width


def _padded(tau: Float[Array, " channels"]) -> Float[Array, " padded"]:
    """`tau` padded with `inf` to `blocks × width` (stored so, so that blocks are free reshapes)."""
    n_blocks, width = _layout(tau.shape[0])
    return jnp.pad(tau, (0, n_blocks * width - tau.shape[0]), constant_values=jnp.inf)


def _block_minima(tau_padded: Float[Array, " padded"], n_blocks: int) -> Float[Array, " blocks"]:
    return tau_padded.reshape(n_blocks, -1).min(axis=1)


def _next_channel(tau_padded: Float[Array, " padded"], block_min: Float[Array, " blocks"]) -> jax.Array:
    """The channel with the smallest putative time: the block with the smallest minimum, then the channel
    inside it — O(√R) work per event instead of a scan over all R channels."""
    width = tau_padded.shape[0] // block_min.shape[0]
    b = first_argmin(block_min)
    row = jax.lax.dynamic_slice(tau_padded, (b * width,), (width,))
    return (b * width + first_argmin(row)).astype(jnp.int32)


def _elapsed(a, t, s):
    """Internal time run since `s`: `a·(t − s)`, and exactly 0 for a silent channel even when `t = inf`
    (an event path past absorption) — written so that no NaN reaches a derivative."""
    live = a > 0
    return a * jnp.where(live, t - s, 0.0)


def _putative(t, T, P, a):
    """Absolute firing time `t + (P − T) / a` (never before `t`; `inf` for a silent channel)."""
    return jnp.where(a > 0, t + jnp.maximum(P - T, 0.0) / jnp.where(a > 0, a, 1.0), jnp.inf)


class NextReaction(AbstractSimulator):
    """Exact stochastic simulation by the Next Reaction Method.

    Each channel `k` runs a unit-rate Poisson process in its own internal time: `T_k` is the internal time
    elapsed, `P_k` the internal time of its next firing (`P_k − T_k ~ Exp(1)` fresh after each firing). With
    `a_k` constant since time `s_k`, channel `k` fires next at `τ_k = s_k + (P_k − T_k(s_k)) / a_k`. A step
    fires the channel with the smallest `τ_k`, adds `Exp(1)` to its `P_k`, and updates only the channels
    whose propensity changed: `T_j += a_j^old (t − s_j)`, `s_j = t`, new `a_j`, `τ_j = t + (P_j − T_j)/a_j`.
    Which channels change is the dependency graph, built once from the model; channels whose law is not of
    product form are re-evaluated after every event. Reaching `t_stop` first changes nothing but the clock.

    With the random numbers fixed, event times are differentiable functions of the parameters
    (`t_next = t + (P_k − T_k) / a_k(θ)`), so `jax.jvp`/`jax.jacfwd` through a simulation give pathwise
    derivatives of event times (the `nrm_pathwise` estimator).

    Cost per event: `O(D·W)` to update `D` dependent propensities of `W` factors each, an `O(C)` sparse state
    update, and a vectorised minimum over the `R` putative times (no per-channel law evaluation, no
    division over all channels); generic-form channels add their full evaluation.

    **References:** M. A. Gibson, J. Bruck, "Efficient exact stochastic simulation of chemical systems with
    many species and many channels", J. Phys. Chem. A 104:1876–1889 (2000). D. F. Anderson, "A modified next
    reaction method for simulating chemical systems with time dependent propensities and delays",
    J. Chem. Phys. 127:214107 (2007).
    """

    exact: ClassVar[bool] = True
    name: ClassVar[str] = "nrm"

    def init(self, net: CompiledNetwork, t0, x0, p, rng: Stream) -> NRMState:
        if net.stoich.shape[0] == 0:  # rules and events only: one padding slot that never fires
            none = jnp.zeros(0)
            return NRMState(
                **loop_fields(t0, x0, rng),
                T=none,
                s=none,
                a=none,
                P=none,
                tau=jnp.full(1, jnp.inf),
                block_min=jnp.full(1, jnp.inf),
                consts=none,
            )
        graph = build_graph(net)
        t0 = jnp.asarray(t0, jnp.float64)
        a = net.propensities(x0, p, t0)
        R = a.shape[0]
        P, rng = rng.exponentials(R)
        T = jnp.zeros(R)
        return NRMState(
            **loop_fields(t0, x0, rng, RESULTS.where(propensities_ok(a), RESULTS.successful, RESULTS.bad_propensity)),
            T=T,
            s=jnp.full(R, t0),
            a=a,
            P=P,
            tau=(tau := _padded(_putative(t0, T, P, a))),
            block_min=_block_minima(tau, _layout(R)[0]),
            consts=graph.constants(net, p),
        )

    def step(self, net: CompiledNetwork, state: NRMState, p, t_stop) -> NRMState:
        if net.stoich.shape[0] == 0:
            return idle_step(state, t_stop)
        graph = build_graph(net)
        k = jnp.minimum(_next_channel(state.tau, state.block_min), state.a.shape[0] - 1)
        t_next = state.tau[k]
        fire = (t_next <= t_stop) & jnp.isfinite(t_next)
        # Only the species channel k changes are read and written: a whole-vector check and select made XLA
        # copy `x` every step (docs/simulators.md, NRM on the ring).
        idx, val = graph.change_idx[k], graph.change_val[k]
        in_range = idx < state.x.shape[0]
        # A rate law that stays positive when a reactant runs out would drive its count below zero.
        negative = fire & jnp.any(in_range & (state.x[jnp.where(in_range, idx, 0)] + val < 0))
        fire = fire & ~negative
        t = jnp.where(fire, t_next, jnp.where(negative, state.t, t_stop))
        x = state.x.at[idx].add(jnp.where(fire, val, 0.0), mode="drop")
        # One Exp(1) per step, used only if the channel fires (a step that reaches t_stop wastes it: the
        # stream's position then depends on the output times, as the sample does anyway).
        e, rng = state.rng.exponential()
        P = state.P.at[k].add(jnp.where(fire, e, 0.0))
        # The fired channel (new P) and its dependents (new a) get new putative times.
        upd = jnp.concatenate([graph.dep_idx[k], k[None]])
        a_upd = jnp.where(upd < graph.dep_idx.shape[0], graph.propensities_of(x, state.consts, upd), 0.0)
        # Each array's new values are computed from its own gathered old values, so that XLA orders the gather
        # before the in-place scatter; a scatter whose values do not depend on the gather made XLA copy the
        # whole (lanes, R) array, twice, every step (`s` and `a` on the ring; docs/simulators.md). Hence `a`'s
        # fired entry is taken from `a_old` (`upd` ends with `k`), and `s`'s new value passes through `s_old`
        # (never NaN: `s` only ever holds clock values).
        a_old, s_old = state.a[upd], state.s[upd]
        a_upd = jnp.where(upd == k, jnp.where(graph.product[k], a_upd, a_old), a_upd)
        T_upd = state.T[upd] + _elapsed(a_old, t, s_old)
        s_upd = jnp.where(jnp.isnan(s_old), s_old, t)
        fields = (state.T, state.s, state.a, state.tau)
        T, s, a, tau = (
            f.at[upd].set(v, mode="drop")
            for f, v in zip(fields, (T_upd, s_upd, a_upd, _putative(t, T_upd, P[upd], a_upd)))
        )
        ok = jnp.all((a_upd >= 0) & jnp.isfinite(a_upd))
        if graph.generic:
            gen = jnp.asarray(graph.generic)
            a_gen = net.propensities(x, p, t)[gen]
            T_gen = T[gen] + _elapsed(a[gen], t, s[gen])
            T, s, a = T.at[gen].set(T_gen), s.at[gen].set(t), a.at[gen].set(a_gen)
            tau = tau.at[gen].set(_putative(t, T_gen, P[gen], a_gen))
            ok = ok & propensities_ok(a_gen)
            block_min = _block_minima(tau, state.block_min.shape[0])
        else:
            block_min = self._update_minima(state.block_min, tau, upd)
        # No masking when the step only reached t_stop: x and P are unchanged then, and re-deriving the
        # dependents' internal times at t is exact (lazy updates commute), so every field is already right.
        return NRMState(
            t=t,
            x=x,
            status=RESULTS.where(
                negative,
                RESULTS.negative_count,
                RESULTS.where(fire & ~ok, RESULTS.bad_propensity, state.status),
            ),
            fired=jnp.where(fire, k, -1).astype(jnp.int32),
            count=fire.astype(jnp.int64),
            T=T,
            s=s,
            a=a,
            P=P,
            tau=tau,
            block_min=block_min,
            consts=state.consts,
            rng=rng,
        )

    @staticmethod
    def _update_minima(block_min, tau, upd):
        """Re-derive the minima of the blocks holding the updated channels."""
        n_blocks = block_min.shape[0]
        rows = tau.reshape(n_blocks, -1)
        blocks = jnp.minimum(upd // rows.shape[1], n_blocks - 1)
        return block_min.at[blocks].set(rows[blocks].min(axis=1))

    def reset(self, net: CompiledNetwork, state: NRMState, p) -> NRMState:
        if net.stoich.shape[0] == 0:
            return state
        # An event changed x or p: bring every internal time up to now and re-derive every propensity; the
        # unit-rate processes carry over unchanged, which keeps the method exact.
        graph = build_graph(net)
        a = net.propensities(state.x, p, state.t)
        T = state.T + _elapsed(state.a, state.t, state.s)
        status = RESULTS.where(propensities_ok(a), state.status, RESULTS.bad_propensity)
        tau = _padded(_putative(state.t, T, state.P, a))
        return eqx.tree_at(
            lambda z: (z.T, z.s, z.a, z.tau, z.block_min, z.consts, z.status),
            state,
            (
                T,
                jnp.full_like(T, state.t),
                a,
                tau,
                _block_minima(tau, state.block_min.shape[0]),
                graph.constants(net, p),
                status,
            ),
        )


class EventPath(eqx.Module):
    """The first `n` reaction events of one path: `times (n,)` (`inf` for events after absorption),
    `counts (n, S)` after each event, and the `channels (n,)` that fired (`-1` after absorption)."""

    times: Float[Array, " n"]
    counts: Float[Array, "n species"]
    channels: Int[Array, " n"]


def event_path(net: CompiledNetwork, x0, p, key: PRNGKeyArray, n_events: int, t0=0.0) -> EventPath:
    """Simulate the first `n_events` events with the Next Reaction Method; differentiable in `p`.

    With the key fixed, event times are smooth functions of the parameters, so `jax.grad`/`jax.jacfwd` of a
    function of `times` give pathwise derivatives (a `lax.scan` of NRM steps, so reverse mode works).
    """
    sim = NextReaction()
    state = sim.init(net, jnp.asarray(t0, jnp.float64), x0, p, seed_stream(key))

    def body(st, _):
        st = sim.step(net, st, p, jnp.asarray(jnp.inf))
        return st, (st.t, st.x, st.fired)

    _, (times, counts, channels) = jax.lax.scan(body, state, None, length=n_events)
    return EventPath(times=times, counts=counts, channels=channels)

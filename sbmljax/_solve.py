"""The one simulation loop: steps a simulator, applies SBML events, records outputs.

Per trajectory, a `while_loop` runs blocks of `block` steps (`lax.scan`) until every output time is recorded,
the trajectory failed, or `max_steps` were taken. The random numbers come from the trajectory's stream
(`sbmljax._prng`), seeded from its key and carried in the simulator state, so the block size is a speed
setting only. The output buffer has one spare row: every step writes the row the previous step recorded (the
carried state, at row `idx - 1`), or the spare row if it recorded none, so the write is a fixed-shape
`dynamic_update_slice` and no step pays for masking the whole buffer (which dominates the cost of a naive JAX
SSA). Ensembles are `jax.vmap` over keys.
"""

from __future__ import annotations

import abc
import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray, PyTree

from ._compile._events import CompiledEvents
from ._compile._network import CompiledNetwork
from ._prng import seed_stream
from ._results import RESULTS, status_code
from ._simulator.base import AbstractSimulator

UNLIMITED_STEPS = 2**62
"""The per-trajectory step limit that means "none" (it fits the loops' int64 step counter)."""


class AbstractAccumulator(eqx.Module):
    """Something computed along a path, step by step, without storing the path."""

    @abc.abstractmethod
    def init(self, p: Float[Array, " params"]) -> PyTree:
        """The initial accumulated value."""

    @abc.abstractmethod
    def update(self, acc: PyTree, before: PyTree, after: PyTree, p: Float[Array, " params"]) -> PyTree:
        """Fold one step (from simulator state `before` to `after`) into `acc`."""


class Solution(eqx.Module):
    """One trajectory's result: counts at the output times, the final state and how the run ended."""

    counts: Float[Array, "times species"]
    t: Float[Array, ""]
    x: Float[Array, " species"]
    p: Float[Array, " params"]
    status: Int[Array, ""]  # the `RESULTS` item's code (`status_code`), for NumPy after the run
    steps: Int[Array, ""]
    firings: Int[Array, ""]  # reaction firings (SBML events are `events` elsewhere)
    extra: PyTree
    recorded: Int[Array, ""]  # output rows filled in; a failed trajectory leaves the rest unrecorded
    # the events' trigger values at the end (what `solve(..., ev0=)` continues from); None without events
    ev: PyTree = None


class _Carry(eqx.Module):
    state: PyTree
    p: Float[Array, " params"]
    idx: Int[Array, ""]
    buf: PyTree  # the output buffer, f64[times + 1, species]; None in `per_output`'s inner loop
    steps: Int[Array, ""]
    firings: Int[Array, ""]
    ev: PyTree
    acc: PyTree


def _where(pred, new: PyTree, old: PyTree) -> PyTree:
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), new, old)


_FROZEN = ("t", "x", "status")
"""The contract fields a finished trajectory keeps: what `Solution` reports. `fired`, `count` and `rng` are
left to run on (the loop masks the firing count itself, and a finished lane's stream is never read again):
masking them every step cost ~5% of a vmapped SIR step."""


def _freeze(act, new, old):
    """Keep a finished trajectory's time, counts and status (the `AbstractSimState` contract). Its other fields
    may go on changing harmlessly (a finished lane never resumes), which saves masking O(R) arrays every step."""
    values = tuple(_where(act, getattr(new, f), getattr(old, f)) for f in _FROZEN)
    return eqx.tree_at(lambda z: tuple(getattr(z, f) for f in _FROZEN), new, values)


def solve(
    net: CompiledNetwork,
    sim: AbstractSimulator,
    t_eval: Float[Array, " times"],
    x0: Float[Array, " species"],
    p: Float[Array, " params"],
    key: PRNGKeyArray,
    *,
    t0: Float[Array, ""] | float = 0.0,
    events: CompiledEvents | None = None,
    block: int = 128,
    max_steps: int = UNLIMITED_STEPS,
    accumulator: AbstractAccumulator | None = None,
    unroll: int = 1,
    per_output: bool = False,
    ev0: Bool[Array, " events"] | None = None,
) -> Solution:
    """Simulate one trajectory from `(t0, x0)` and record the counts at each time of `t_eval`.

    **Arguments:**

    - `net`, `sim`: the compiled network and the simulator.
    - `t_eval`: non-decreasing output times, all `>= t0`.
    - `x0`, `p`: initial counts and the full parameter vector.
    - `key`: the PRNG key of this trajectory; it seeds the trajectory's random-number stream.
    - `events`: compiled SBML events, or `None` if the model has none.
    - `block`: steps per iteration of the inner `scan` (speed only: the results do not depend on it).
    - `max_steps`: the trajectory stops with `RESULTS.max_steps_reached` after this many steps.
    - `accumulator`: optional `AbstractAccumulator`; its `update(acc, state_before, state_after, p)` runs after
      every step (before events) — the score-function estimator accumulates `∇ log p(path)` with it.
    - `unroll`: steps per iteration of the compiled inner loop (`lax.scan`'s `unroll`; speed only). A lone
      trajectory's steps are scalar operations whose cost is XLA's per-operation overhead, and unrolling 4
      steps cut it 1.5–1.8×; under `vmap` it made steps slower (larger fusions recompute shared values).
    - `per_output`: run the steps up to each recording in a `while_loop` of their own, whose carry holds the
      state but not the output buffer or the output times, and write the recorded row after it (speed only:
      the same steps, draws and results; `block` and `unroll` are then unused). For one trajectory, not under
      `vmap`: XLA's CPU runtime runs each operation of a while body as a call of its own, and this body has
      fewer of them (SIR 1.05 -> 0.40 us per step). With `xla_cpu_small_while_loop_byte_threshold` (1 kB by
      default) raised above the 1–2 kB the loop touches, XLA compiles it into one native loop; sbmljax does not
      set it (docs/simulators).
    - `ev0`: with `events`, the triggers' values at `t0` of a trajectory that is being continued (a previous
      `solve`'s `Solution.ev`, with its `x` and `p`): the events at `t0` were already executed there, so they are
      not evaluated again, and a trigger fires after `t0` only on a false → true change, as in one uninterrupted
      run (the particle filter continues each particle from one observation time to the next). `None`: a fresh
      start, where events fire at `t0` per their `initialValue`.

    **Returns:** a `Solution`. Failures are reported in `status`, never raised here (this runs under `jit`).
    """
    n_out = t_eval.shape[0]
    state = sim.init(net, jnp.asarray(t0, jnp.float64), x0, p, seed_stream(key))
    ev = None
    if events is not None and ev0 is not None:
        # A continued trajectory: the simulator state is rebuilt from (t0, x0, p), which loses nothing for the
        # jump-process methods (their waiting times are memoryless), and the trigger history is carried.
        ev = jnp.asarray(ev0, dtype=bool)
    elif events is not None:
        x, p, ev, status = events.initial(net, state.x, p, state.t, sim.exact)
        state = sim.reset(net, eqx.tree_at(lambda s: (s.x, s.status), state, (x, status)), p)
    acc = accumulator.init(p) if accumulator is not None else None
    buf = jnp.zeros((n_out + 1, x0.shape[0]), dtype=x0.dtype)
    zero = jnp.asarray(0, dtype=jnp.int64)
    carry = _Carry(state, p, jnp.asarray(0), buf, zero, zero, ev, acc)

    def active(c: _Carry):
        return (c.idx < n_out) & (c.state.status == RESULTS.successful) & (c.steps < max_steps)

    def advance(c: _Carry, t_out) -> tuple[_Carry, jax.Array]:
        """One step towards output time `t_out` (everything but the output write): the new carry (its
        buffer unchanged) and whether the step reached `t_out` (its counts are then the row to record)."""
        act = active(c)
        t_stop = t_out if events is None else jnp.minimum(t_out, events.next_time(net, c.state.x, c.p, c.state.t))
        new = sim.step(net, c.state, c.p, t_stop)
        acc = accumulator.update(c.acc, c.state, new, c.p) if accumulator is not None else c.acc
        p, ev = c.p, c.ev
        if events is not None:
            p_now = sim.loop_params(net, new, c.p)
            x, p, ev, status, changed = events.after_step(net, new.x, p_now, new.t, c.ev, sim.exact)
            # a failed step keeps its own status; else the events' (successful or their failure)
            status = RESULTS.where(new.status == RESULTS.successful, status, new.status)
            new = eqx.tree_at(lambda s: (s.x, s.status), new, (x, status))
            new = _where(changed, sim.reset(net, new, p), new)
        ok = new.status == RESULTS.successful
        rec = act & ok & (new.t >= t_out)
        out = _Carry(
            state=_freeze(act, new, c.state),
            # Without events p never changes: carrying it unmasked keeps it out of the per-lane state.
            p=c.p if events is None else jnp.where(act, p, c.p),
            idx=c.idx + rec.astype(c.idx.dtype),
            buf=c.buf,
            steps=c.steps + act.astype(c.steps.dtype),
            firings=c.firings + jnp.where(act, new.count, 0).astype(c.firings.dtype),
            ev=_where(act, ev, c.ev),
            acc=_where(act, acc, c.acc),
        )
        return out, rec

    def write_recorded(buf, c: _Carry, rec):
        # The row a step recorded, from the carry it left (a recording step leaves the lane active, so its frozen
        # counts are the row), at `idx - 1`; the spare row where it recorded none.
        return jax.lax.dynamic_update_slice(buf, c.state.x[None, :], (jnp.where(rec, c.idx - 1, n_out), 0))

    def one_step(cr: tuple[_Carry, jax.Array], _) -> tuple[tuple[_Carry, jax.Array], None]:
        # The row the previous step recorded (`rec`) is written here, from the carried state (a recording step
        # leaves the lane active, so its frozen counts are the row), not in the step that recorded it: there the
        # write's row and index were fusions that each recomputed the step's decision (fire, negative count,
        # reached the output time) from its inputs (XLA duplicates such producers into every consumer); here
        # they read two carried arrays. SIR's vmapped loop cost 0.90x per event, birth–death 0.97x
        # (docs/simulators "Where an event's time goes"). A lane that records nothing writes the spare row.
        c, rec = cr
        c = dataclasses.replace(c, buf=write_recorded(c.buf, c, rec))
        out, rec = advance(c, t_eval[jnp.minimum(c.idx, n_out - 1)])
        return (out, rec), None

    def block_body(c: _Carry) -> _Carry:
        (c, rec), _ = jax.lax.scan(one_step, (c, jnp.asarray(False)), None, length=block, unroll=unroll)
        return dataclasses.replace(c, buf=write_recorded(c.buf, c, rec))

    def to_next_output(c: _Carry) -> _Carry:
        # The steps up to the next recording, carrying neither the buffer nor the output times (`per_output`).
        # A step that records ends the inner loop, so each iteration here records at most one row.
        t_out = t_eval[jnp.minimum(c.idx, n_out - 1)]

        def body(inner: tuple[_Carry, jax.Array]) -> tuple[_Carry, jax.Array]:
            return advance(inner[0], t_out)

        inner, rec = jax.lax.while_loop(
            lambda inner: active(inner[0]) & ~inner[1], body, (dataclasses.replace(c, buf=None), jnp.asarray(False))
        )
        return dataclasses.replace(inner, buf=write_recorded(c.buf, inner, rec))

    carry = jax.lax.while_loop(active, to_next_output if per_output else block_body, carry)
    status = carry.state.status
    status = RESULTS.where((status == RESULTS.successful) & (carry.idx < n_out), RESULTS.max_steps_reached, status)
    return Solution(
        counts=carry.buf[:n_out],
        t=carry.state.t,
        x=carry.state.x,
        p=carry.p,
        status=status_code(status),
        steps=carry.steps,
        firings=carry.firings,
        extra=carry.acc,
        recorded=carry.idx,
        ev=carry.ev,
    )

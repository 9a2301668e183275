"""The contract every simulator implements.

A simulator advances one trajectory by one step: it fires at most one reaction (exact methods) or one leap
(tau-leaping), never past `t_stop`. If its next state change lies beyond `t_stop` it moves time to exactly
`t_stop` and changes nothing else; for an exact method that is valid because inter-event times are
exponential (memoryless), so an output time or an event time can interrupt a step without bias. The loop
that calls `step` (see `sbmljax._solve`) owns output recording, events and stopping; simulators hold no
output buffers.

Random numbers come from the trajectory's own stream (`sbmljax._prng.Stream`, xoshiro128++), carried in the
state as `rng`: `init` receives it, and `step` draws what it needs from `state.rng` and returns the advanced
stream. A trajectory's draws therefore depend on its key and its own history only — not on the loop's block
size, the batch or the chunk it runs in.
"""

# No `from __future__ import annotations`: equinox reads `AbstractVar` annotations as objects.
import abc
from typing import ClassVar, TypeVar

import equinox as eqx
import jax.numpy as jnp
from equinox import AbstractVar
from jaxtyping import Array, Float, Int, PyTree

from .._compile._network import CompiledNetwork
from .._model import Unsupported
from .._prng import Stream
from .._results import RESULTS


class AbstractSimState(eqx.Module):
    """The contract of every simulator's state: the fields the shared loop (`sbmljax._solve`) reads.

    `t` is the time, `x` the counts, `status` a `RESULTS` item, `fired` the channel the last step fired
    (`-1` when it fired none, or several at once as a leap does) and `count` how many reaction firings the
    last step made (0 or 1 for exact methods), `rng` the trajectory's random-number stream (the simulator draws
    from it and returns it advanced). The loop reads these fields, replaces `x` and `status` when an
    event fires, and freezes `t`, `x` and `status` once a trajectory is done. A simulator's state subclasses this and adds its
    own fields; equinox checks at class creation that every `AbstractVar` is given.
    """

    t: AbstractVar[Float[Array, ""]]
    x: AbstractVar[Float[Array, " species"]]
    status: AbstractVar[RESULTS]
    fired: AbstractVar[Int[Array, ""]]
    count: AbstractVar[Int[Array, ""]]
    rng: AbstractVar[Stream]


class SimState(AbstractSimState):
    """The state of a simulator that needs nothing beyond the contract (direct method, coupled pair)."""

    t: Float[Array, ""]
    x: Float[Array, " species"]
    status: RESULTS
    fired: Int[Array, ""]
    count: Int[Array, ""]
    rng: Stream


def loop_fields(t0, x0, rng: Stream, status: RESULTS = RESULTS.successful) -> dict:
    """The `AbstractSimState` fields of a trajectory at its start (nothing fired yet), with the loop's dtypes:
    every simulator's state is built from these plus its own fields."""
    return dict(
        t=jnp.asarray(t0, dtype=jnp.float64),
        x=jnp.asarray(x0, dtype=jnp.float64),
        status=status,
        fired=jnp.asarray(-1, dtype=jnp.int32),
        count=jnp.asarray(0, dtype=jnp.int64),
        rng=rng,
    )


def initial_sim_state(t0, x0, rng: Stream) -> SimState:
    """The initial state of a simulator that needs nothing beyond the contract."""
    return SimState(**loop_fields(t0, x0, rng))


_State = TypeVar("_State", bound=AbstractSimState)


def idle_step(state: _State, t_stop: Float[Array, ""]) -> _State:
    """The step of a network without reaction channels (rules and events only): nothing fires, and time moves
    to `t_stop`, where the loop applies the events. Simulators call it when `net.stoich` has no rows."""
    none = (jnp.asarray(-1, dtype=jnp.int32), jnp.asarray(0, dtype=jnp.int64))
    return eqx.tree_at(lambda s: (s.t, s.fired, s.count), state, (jnp.asarray(t_stop, dtype=jnp.float64), *none))


class AbstractSimulator(eqx.Module):
    """A stochastic simulation algorithm: `init`, `step`, `reset`.

    Subclasses are final and set `exact` (whether the method samples the chemical master equation exactly,
    so that exact-only checks apply), `name` (the `method=` string) and may set `default_block` (steps per
    iteration of the loop's inner `scan`: large for cheap exact steps, small for leaps, which are few; a speed
    setting only, the results do not depend on it).
    """

    exact: ClassVar[bool]
    name: ClassVar[str]
    default_block: ClassVar[int] = 128
    accepts: ClassVar[frozenset[str]] = frozenset()  # support-table constructs it honours beyond the table's scope

    @abc.abstractmethod
    def init(
        self,
        net: CompiledNetwork,
        t0: Float[Array, ""],
        x0: Float[Array, " species"],
        p: Float[Array, " params"],
        rng: Stream,
    ) -> PyTree:
        """The initial state: an `AbstractSimState` (a `SimState`, or a subclass with more fields) whose `rng` is
        `rng` advanced past whatever the initialisation drew."""

    @abc.abstractmethod
    def step(self, net: CompiledNetwork, state: PyTree, p: Float[Array, " params"], t_stop: Float[Array, ""]) -> PyTree:
        """Advance by at most one reaction (or one leap), never past `t_stop`, drawing from `state.rng`."""

    def refusals(self, net: CompiledNetwork) -> list[Unsupported]:
        """Constructs of `net` this method cannot honour beyond the support table's refusals (none by default;
        `prepare` raises the first)."""
        del net
        return []

    def start_findings(
        self,
        net: CompiledNetwork,
        x0: Float[Array, " species"],
        p: Float[Array, " params"],
        t0: float,
        t_first: float,
    ) -> list:
        """Reasons (`sbmljax._checks.Finding`s) this method cannot start from `x0` at `t0`, the first output
        time after `t0` being `t_first` (none by default; `prepare` raises the first, before the run)."""
        del net, x0, p, t0, t_first
        return []

    def fixed_step(self) -> float | None:
        """The step of a fixed-step method: from any state at time `t` its `step` moves to
        `t + min(h, t_stop − t)` (or fails), so trajectories started together step together and a batch can
        share one clock (the particle filter's `advance_lockstep`). `None` (the default): steps depend on the
        state."""
        return None

    def loop_params(self, net: CompiledNetwork, state: PyTree, p: Float[Array, " params"]) -> Float[Array, " params"]:
        """The parameter vector the loop's events read and assign after a step: `p` itself, unless the simulator
        moves parameters (the hybrid method integrates rate rules on parameters in its state)."""
        del net, state
        return p

    @abc.abstractmethod
    def reset(self, net: CompiledNetwork, state: PyTree, p: Float[Array, " params"]) -> PyTree:
        """Re-synchronise cached quantities after `x` or `p` changed outside `step` (an SBML event)."""

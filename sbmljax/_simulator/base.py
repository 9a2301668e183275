"""The contract every simulator implements.

A simulator advances one trajectory by one step: it fires at most one reaction (exact methods) or one leap
(tau-leaping), never past `t_stop`. If its next state change lies beyond `t_stop` it moves time to exactly
`t_stop` and changes nothing else; for an exact method that is valid because inter-event times are
exponential (memoryless), so an output time or an event time can interrupt a step without bias. The loop
that calls `step` (see `sbmljax._solve`) owns output recording, events and stopping; simulators hold no
output buffers.

Random numbers are drawn in blocks: `draw(key, n)` returns the randomness for `n` steps at once (one PRNG
call per block instead of per step, which is most of an SSA step's cost in JAX).
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float, Int, PRNGKeyArray, PyTree

from .._compile._network import CompiledNetwork
from .._model import Unsupported
from .._results import RESULTS


class SimState(eqx.Module):
    """The state every simulator's state has (as fields of the same names; extra fields may follow).

    `t` is the time, `x` the counts, `status` a `RESULTS` value, `fired` the channel the last step fired
    (`-1` when it fired none, or several at once as a leap does) and `count` how many reaction firings the
    last step made (0 or 1 for exact methods). The loop reads these fields and replaces `x` when an event
    fires.
    """

    t: Float[Array, ""]
    x: Float[Array, " species"]
    status: Int[Array, ""]
    fired: Int[Array, ""]
    count: Int[Array, ""]


def initial_sim_state(t0, x0) -> SimState:
    """The common part of a simulator's initial state."""
    return SimState(
        t=jnp.asarray(t0, dtype=jnp.float64),
        x=jnp.asarray(x0, dtype=jnp.float64),
        status=jnp.asarray(RESULTS.successful._value),
        fired=jnp.asarray(-1, dtype=jnp.int32),
        count=jnp.asarray(0, dtype=jnp.int64),
    )


class AbstractSimulator(eqx.Module):
    """A stochastic simulation algorithm: `init`, `draw`, `step`, `reset`.

    Subclasses are final and set `exact` (whether the method samples the chemical master equation exactly,
    so that exact-only checks apply), `name` (the `method=` string) and may set `default_block` (steps per
    block of random numbers: large for cheap exact steps, small for leaps, which are few).
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
        key: PRNGKeyArray,
    ) -> PyTree:
        """The initial state: a `SimState`, or a module with its fields and more."""

    @abc.abstractmethod
    def draw(self, key: PRNGKeyArray, n: int) -> PyTree:
        """Randomness for `n` steps, as a pytree with leading axis `n`."""

    @abc.abstractmethod
    def step(
        self, net: CompiledNetwork, state: PyTree, p: Float[Array, " params"], rand: PyTree, t_stop: Float[Array, ""]
    ) -> PyTree:
        """Advance by at most one reaction (or one leap), never past `t_stop`."""

    def refusals(self, net: CompiledNetwork) -> list[Unsupported]:
        """Constructs of `net` this method cannot honour beyond the support table's refusals (none by default;
        `prepare` raises the first)."""
        del net
        return []

    @abc.abstractmethod
    def reset(self, net: CompiledNetwork, state: PyTree, p: Float[Array, " params"]) -> PyTree:
        """Re-synchronise cached quantities after `x` or `p` changed outside `step` (an SBML event)."""

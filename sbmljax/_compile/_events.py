"""SBML events for the jump-process simulators.

Semantics honoured (SBML L3V2 §4.12), for events without delay:

- An event fires when its trigger goes from false to true. Between reactions the state is constant, so a
  trigger can only change when a reaction fires, an event fires, or time crosses a threshold. Triggers that
  compare `time` with a time-independent expression (`time >= 25`, `t_on < time`, `time > k*X`) are
  analysed at compile time: the loop stops the simulator at each such threshold (and at the next float after
  it, for strict comparisons), so time-triggered events fire at the exact time, not at the next reaction.
  Any other use of time in a trigger is refused.
- At `t0` the trigger's previous value is its `initialValue`; an event whose trigger holds at `t0` and whose
  `initialValue` is false fires at `t0`.
- Several events ready at one instant execute one at a time, highest `priority` first (events without a
  priority count as priority 0; ties go in document order, a deterministic choice the SBML spec leaves
  open). After each execution triggers are re-evaluated: newly true ones join the queue (cascades, bounded
  by `MAX_CASCADE`), and a queued non-persistent event whose trigger became false is dropped.
- `useValuesFromTriggerTime=true`: assignment values are computed when the trigger fires; otherwise when
  the event executes (they differ only when several events execute at one instant).
- Assignments to species set their amount (or concentration, per `hasOnlySubstanceUnits`); for exact methods
  an assignment that gives a non-integer molecule count stops the trajectory with an error.

Event delays are refused at import.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from .._expr import Call, Expr, Time, children, evaluate, symbols, uses_time
from .._model import Model, Unsupported
from .._results import RESULTS
from .._support import CONSTRUCTS
from ._network import CompiledNetwork

MAX_CASCADE = 1000
"""Most event executions at one instant before a trajectory stops with `RESULTS.event_cascade`."""

_RELATIONS = frozenset({"eq", "neq", "gt", "geq", "lt", "leq"})


def time_thresholds(trigger: Expr) -> list[Expr] | None:
    """Expressions whose value is a time at which `trigger` may change with the state held fixed.

    Returns `None` if the trigger uses time other than as one side of a comparison with a time-independent
    expression.
    """
    if isinstance(trigger, Time):
        return None
    if isinstance(trigger, Call) and trigger.op in _RELATIONS and len(trigger.args) == 2:
        a, b = trigger.args
        if isinstance(a, Time) and not uses_time(b):
            return [b]
        if isinstance(b, Time) and not uses_time(a):
            return [a]
    out: list[Expr] = []
    for child in children(trigger):
        sub = time_thresholds(child)
        if sub is None:
            return None
        out += sub
    return out


def event_refusals(model: Model, time_dependent_rules: frozenset[str]) -> list[Unsupported]:
    """Events the jump-process simulators cannot honour, with the reason (and the support table's key: the
    hybrid method accepts triggers that move with time, by root-finding)."""
    out = []
    for ev in model.events:
        if time_thresholds(ev.trigger) is None:
            c = CONSTRUCTS["event_time_trigger"]
            out.append(Unsupported(f"event '{ev.id}' trigger", f"{c.why()} ({c.fix})", key=c.key))
        elif symbols(ev.trigger) & time_dependent_rules:
            c = CONSTRUCTS["event_time_rule_trigger"]
            out.append(Unsupported(f"event '{ev.id}' trigger", f"{c.why()} ({c.fix})", key=c.key))
    return out


class _EventPlan:
    """Static description of the events (identity-hashed, like the network plan)."""

    def __init__(self, net: CompiledNetwork):
        plan = net.plan
        model = plan.model
        self.events = model.events
        self.triggers = tuple(e.trigger for e in model.events)
        self.thresholds: tuple[Expr, ...] = tuple(th for e in model.events for th in (time_thresholds(e.trigger) or []))
        self.priorities = tuple(e.priority for e in model.events)
        self.persistent = np.array([e.persistent for e in model.events], dtype=bool)
        self.initial_value = np.array([e.initial_value for e in model.events], dtype=bool)
        self.uvftt = np.array([e.use_values_from_trigger_time for e in model.events], dtype=bool)
        width = max((len(e.assignments) for e in model.events), default=0)
        n_sp, n_p = len(plan.species_ids), len(plan.param_names)
        E = len(model.events)
        self.width = max(width, 1)
        self.exprs: list[list[Expr | None]] = []
        self.sp_index = np.full((E, self.width), n_sp, dtype=np.int32)  # out of range = no target (dropped)
        self.sp_scale = np.ones((E, self.width))
        self.p_index = np.full((E, self.width), n_p, dtype=np.int32)
        for i, e in enumerate(model.events):
            row: list[Expr | None] = []
            for j, a in enumerate(e.assignments):
                row.append(a.math)
                if a.variable in plan.species_index:
                    self.sp_index[i, j] = plan.species_index[a.variable]
                    self.sp_scale[i, j] = plan.species_scale[a.variable]
                elif a.variable in plan.param_index:
                    self.p_index[i, j] = plan.param_index[a.variable]
                else:  # compartments are constant (refused at import); rule targets cannot be assigned
                    raise ValueError(f"event '{e.id}' assigns '{a.variable}', which is not a species or parameter")
            row += [None] * (self.width - len(row))
            self.exprs.append(row)


class CompiledEvents(eqx.Module):
    """Events compiled to JAX functions; the loop in `sbmljax._solve` calls `initial`, `next_time`,
    `after_step`."""

    persistent: Bool[Array, " events"]
    initial_value: Bool[Array, " events"]
    uvftt: Bool[Array, " events"]
    sp_index: Array
    sp_scale: Float[Array, "events width"]
    p_index: Array
    plan: _EventPlan = eqx.field(static=True)

    def triggers(self, net: CompiledNetwork, x, p, t) -> Bool[Array, " events"]:
        env = net.plan.env(x, p, t)
        return jnp.stack([jnp.asarray(evaluate(e, env, t), dtype=bool) for e in self.plan.triggers])

    def values(self, net: CompiledNetwork, x, p, t) -> Float[Array, "events width"]:
        env = net.plan.env(x, p, t)
        rows = [
            jnp.stack(
                [
                    jnp.asarray(evaluate(e, env, t), dtype=jnp.float64) if e is not None else jnp.asarray(0.0)
                    for e in row
                ]
            )
            for row in self.plan.exprs
        ]
        return jnp.stack(rows)

    def priority(self, net: CompiledNetwork, x, p, t) -> Float[Array, " events"]:
        env = net.plan.env(x, p, t)
        return jnp.stack(
            [
                jnp.asarray(evaluate(e, env, t), dtype=jnp.float64) if e is not None else jnp.asarray(0.0)
                for e in self.plan.priorities
            ]
        )

    def next_time(self, net: CompiledNetwork, x, p, t) -> Float[Array, ""]:
        """The earliest time after `t` at which a trigger may change with the state held fixed (`inf` if none)."""
        if not self.plan.thresholds:
            return jnp.asarray(jnp.inf)
        env = net.plan.env(x, p, t)
        c = jnp.stack([jnp.asarray(evaluate(e, env, t), dtype=jnp.float64) for e in self.plan.thresholds])
        c = jnp.concatenate([c, jnp.nextafter(c, jnp.inf)])  # strict comparisons flip just after c
        return jnp.min(jnp.where(c > t, c, jnp.inf))

    def _cascade(self, net, x, p, t, trig_prev, pending, stored, exact: bool):
        def cond(c):
            return jnp.any(c[4]) & (c[6] < MAX_CASCADE) & (c[5] == RESULTS.successful)

        def body(c):
            x, p, trig_prev, stored, pending, status, n = c
            prio = jnp.where(pending, self.priority(net, x, p, t), -jnp.inf)
            j = jnp.argmax(prio)
            vals = jnp.where(self.uvftt[j], stored[j], self.values(net, x, p, t)[j])
            counts = vals / self.sp_scale[j]
            bad = exact & jnp.any(
                (self.sp_index[j] < x.shape[0])
                & (jnp.abs(counts - jnp.round(counts)) > 1e-9 * jnp.maximum(1.0, jnp.abs(counts)))
            )
            counts = jnp.where(exact, jnp.round(counts), counts)
            x = x.at[self.sp_index[j]].set(counts, mode="drop")
            p = p.at[self.p_index[j]].set(vals, mode="drop")
            pending = pending.at[j].set(False)
            trig_now = self.triggers(net, x, p, t)
            newly = trig_now & ~trig_prev
            stored = jnp.where(newly[:, None], self.values(net, x, p, t), stored)
            pending = (pending & (trig_now | self.persistent)) | newly
            status = RESULTS.where(bad, RESULTS.non_integer_count, status)
            return x, p, trig_now, stored, pending, status, n + 1

        x, p, trig_prev, stored, pending, status, n = jax.lax.while_loop(
            cond, body, (x, p, trig_prev, stored, pending, RESULTS.successful, jnp.asarray(0))
        )
        status = RESULTS.where((n >= MAX_CASCADE) & jnp.any(pending), RESULTS.event_cascade, status)
        return x, p, trig_prev, status, n > 0

    def initial(self, net: CompiledNetwork, x, p, t0, exact: bool):
        """Fire events whose trigger holds at `t0` and whose `initialValue` is false."""
        trig = self.triggers(net, x, p, t0)
        newly = trig & ~self.initial_value
        stored = self.values(net, x, p, t0)
        x, p, trig, status, _ = self._cascade(net, x, p, t0, trig, newly, stored, exact)
        return x, p, trig, status

    def after_step(self, net: CompiledNetwork, x, p, t, trig_prev, exact: bool):
        """Detect triggers that became true after a step and execute the events; returns
        `(x, p, trig, status, changed)`."""
        trig = self.triggers(net, x, p, t)
        newly = trig & ~trig_prev
        stored = self.values(net, x, p, t)
        return self._cascade(net, x, p, t, trig, newly, stored, exact)


def compile_events(net: CompiledNetwork) -> CompiledEvents | None:
    """Compile the model's events (`None` if it has none); cached per model."""
    if not net.plan.model.events:
        return None
    return net.plan.memo("events", lambda: _compile_events(net))  # type: ignore[return-value]


def _compile_events(net: CompiledNetwork) -> CompiledEvents:
    plan = _EventPlan(net)
    return CompiledEvents(
        persistent=jnp.asarray(plan.persistent),
        initial_value=jnp.asarray(plan.initial_value),
        uvftt=jnp.asarray(plan.uvftt),
        sp_index=jnp.asarray(plan.sp_index),
        sp_scale=jnp.asarray(plan.sp_scale),
        p_index=jnp.asarray(plan.p_index),
        plan=plan,
    )

"""Hybrid (piecewise-deterministic) simulation: an ODE for the abundant species, exact jumps for the rest.

One `step` integrates the continuous part from `t` to the next jump or to `t_stop`, then fires that jump, so
the method fits the shared loop's contract (`sbmljax._solve`): output times, SBML time thresholds and events
are honoured by the loop exactly as for the exact methods. The next jump time is exact for propensities
that change between jumps (with time, with continuous species, with rate-rule variables): the integrated
hazard of the jump channels is one more ODE component, and the jump happens where it reaches an `Exp(1)`
threshold, located by diffrax's event root-finding. Stopping at `t_stop` without a jump and drawing a fresh
threshold at the next step is exact too (the hazard's exponential threshold is memoryless).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import threading
from collections.abc import Callable
from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx
from jaxtyping import Array, Bool, Float, Int

from .._compile._network import CompiledNetwork
from .._expr import Call, Expr, Sym, Time, children, evaluate, symbols, symbols_through, uses_time
from .._flux import flux_reactions
from .._model import Unsupported
from .._prng import Stream, stream_key
from .._results import RESULTS
from ..errors import ConfigError
from .base import AbstractSimState, AbstractSimulator, idle_step, loop_fields
from .direct import propensities_ok, select_channel

HAZARD_ATOL = 1e-6
"""Absolute tolerance on the integrated hazard (jump times to `1e-6 / a₀`, whatever `atol` on the counts)."""

ROUNDOFF_ATOL = 1e-12
"""The solver's absolute tolerance on amounts is at least this times the largest amount at the solve's start. A model in
molecules of 10^16–10^22 (BIOMD0000000246, mmol in litres) has round-off of about 10^6 molecules in its largest
components; the implicit solvers' Newton iterations, held to `atol` = 10^-3 molecules on a species near zero,
then never converge and every step was rejected."""

FAST_EVENTS = 1000.0
"""The default `fast_propensity` is `FAST_EVENTS / (t_end − t0)`: a channel that would fire this many times over the
simulated span at its current propensity moves the ODE, with every species it changes (Haseltine & Rawlings 2002)."""

_SOLVERS = {"kvaerno3": diffrax.Kvaerno3, "kvaerno5": diffrax.Kvaerno5, "tsit5": diffrax.Tsit5}

_UNCHECKED = threading.Lock()


def _diffeqsolve(*args, **kwargs):
    """`diffrax.diffeqsolve` traced without equinox's run-time checks (`eqx.error_if`), so that the compiled runner has
    no host callback and JAX's persistent compilation cache can store it.

    With `throw=False` the one check left in the traced solve is diffrax's `(t1 − t0)·dt0 ≥ 0`, which no call here can
    fail (`t1 ≥ t0` and `dt0 > 0` by construction), but an `error_if` on traced values lowers to a host callback (a
    `pure_callback` that raises), and JAX writes no executable with host callbacks to its persistent cache ("Not
    writing persistent cache entry for 'jit_run' because it uses host callbacks"): every `sbmljax simulate` process
    compiled the hybrid runner again (BIOMD0000000009: about a minute of CPU time). Equinox reads `EQX_ON_ERROR` when
    a check is traced; it is `"off"` during this trace only (under a lock: it is module state). The computation is
    the same.
    """
    with _UNCHECKED, _on_error("off"):
        return diffrax.diffeqsolve(*args, **kwargs)


@contextlib.contextmanager
def _on_error(value: str):
    """Equinox's run-time error mode set to `value` while tracing (restored after, also on error).

    `equinox._errors.EQX_ON_ERROR` is private: should a later equinox move it, the checks stay on (the results are
    the same; only the persistent cache no longer stores the runner)."""
    import importlib

    flag = "EQX_ON_ERROR"  # read by `eqx.error_if` when a check is traced
    try:
        eqx_errors = importlib.import_module("equinox._errors")
    except ImportError:  # pragma: no cover - another equinox layout
        eqx_errors = None
    if eqx_errors is None or not hasattr(eqx_errors, flag):
        yield
        return
    before = getattr(eqx_errors, flag)
    setattr(eqx_errors, flag, value)
    try:
        yield
    finally:
        setattr(eqx_errors, flag, before)


class HybridState(AbstractSimState):
    """The loop's fields, the partition (with its memory, for hysteresis) and rate-rule parameters' values."""

    t: Float[Array, ""]
    x: Float[Array, " species"]
    status: RESULTS
    fired: Int[Array, ""]
    count: Int[Array, ""]
    rng: Stream
    continuous: Bool[Array, " species"]
    fast: Bool[Array, " channels"]
    q: Float[Array, " rated"]
    dt: Float[Array, ""]  # the step size the last solve's controller proposed next (0: none yet)


class _RatePlan:
    """The rate rules, split by target: species (counts move at `rate / scale`) and parameters."""

    def __init__(self, net: CompiledNetwork):
        plan = net.plan
        rules = plan.model.rate_rules
        self.species = [(plan.species_index[v], e, plan.species_scale[v]) for v, e in rules if v in plan.species_index]
        self.params = [(plan.param_index[v], e) for v, e in rules if v in plan.param_index]
        self.p_index = np.asarray([i for i, _ in self.params], dtype=np.int32)
        stoich = np.asarray(plan.stoich)
        # A species that a reaction changes by a non-integer amount (`0.5 X`) is not a count: it is continuous
        # at all times, so that a jump may move it by that amount (SBML allows non-integer stoichiometry).
        self.non_integer = np.abs(stoich - np.round(stoich)) > 1e-9 * np.maximum(1.0, np.abs(stoich))
        fractional = self.non_integer.any(axis=0)
        self.fractional = fractional
        rated = np.zeros(len(plan.species_ids), dtype=bool)
        rated[[i for i, _, _ in self.species]] = True
        self.rated = rated  # a species a rate rule moves may go negative; nothing clips it
        self.changes = stoich != 0  # (channels, species): what a firing changes
        # A reaction whose law is a flux, not a propensity (a net rate, or one that does not vanish with a
        # reactant: `sbmljax._flux`), moves the ODE at all times, and its species are continuous: the ODE may run
        # it backwards. (They are clipped at zero as other continuous species: the solver's error leaves
        # vanishing amounts slightly negative, and jump channels reading them would turn negative.)
        flux = flux_reactions(plan.model)
        self.flux = np.asarray([r in flux for r in plan.channel_reaction], dtype=bool)
        self.flux_species = (self.changes & self.flux[:, None]).any(axis=0)
        self.always_continuous = rated | fractional | self.flux_species  # continuous at all times
        # The channels that change each species, and the species each channel changes, as index lists padded with
        # one past the end (where `_partition_roots` puts the reduction's identity): its OR over a species' channels
        # and AND over a channel's species are gathers of these rows. As masked reductions over the dense
        # (channels, species) table they cost 3x more on BIOMD0000000009 (20 lanes, 48.9 vs 15.8 µs a call).
        self.changers = _padded_rows(self.changes.T)
        self.changed = _padded_rows(self.changes)
        # What each channel's propensity reads, for the partition's roots (`HybridSimulator._partition_roots`):
        # the species (through assignment rules), and whether it moves in every solve (time, a rate-rule parameter).
        self.reads = np.zeros(stoich.shape, dtype=bool)
        for k, r in enumerate(plan.channel_reads):
            self.reads[k, sorted(r)] = True
        assigned = dict(plan.rules)
        rated_names = {v for v, _ in rules} - set(plan.species_index)

        self.always_moves = np.asarray(
            [
                bool(plan.time_dependent[k]) or bool(symbols_through(law, assigned) & rated_names)
                for k, law in enumerate(plan.channel_laws)
            ],
            dtype=bool,
        )


def _padded_rows(mask: np.ndarray) -> np.ndarray:
    """Per row of a boolean `mask`, the indices of its true columns, padded with `mask.shape[1]` to a common length."""
    width = max(1, int(mask.sum(axis=1).max(initial=0)))
    out = np.full((mask.shape[0], width), mask.shape[1], dtype=np.int32)
    for i, row in enumerate(mask):
        cols = np.nonzero(row)[0]
        out[i, : cols.size] = cols
    return out


def _fractional_species(net: CompiledNetwork) -> dict[str, str]:
    """Species a reaction changes by a non-integer amount (kept continuous), id → which reaction, by how much."""
    plan = net.plan
    rp = _rate_plan(net)
    stoich = np.asarray(plan.stoich)
    out = {}
    for i in np.nonzero(rp.fractional)[0]:
        k = int(np.argmax(rp.non_integer[:, i]))
        out[plan.species_ids[i]] = f"reaction '{plan.channel_reaction[k]}' changes by {abs(stoich[k, i]):g}"
    return out


def _rate_plan(net: CompiledNetwork) -> _RatePlan:
    """The network's `_RatePlan`, built once and cached on its plan."""
    return net.plan.memo("hybrid_rates", lambda: _RatePlan(net))  # type: ignore[return-value]


_RELATIONS = {"gt": 1, "geq": 1, "lt": -1, "leq": -1, "eq": 0, "neq": 0}
"""Relational operators: +1 if true above the root (`a > b`), -1 if true below it, 0 for (in)equality."""

TRIGGER_REL = 1e-8
"""How far past its root (relative to the compared values' size) a located trigger condition is stopped, so that
the condition has changed there, whatever the root finder's last digits."""


class _TriggerPlan:
    """The relational conditions (`a <op> b`) of event triggers that can change during an ODE solve.

    A condition is *located* if it reads something that moves continuously (`moving`: rate-rule variables,
    species that may be continuous) or depends on time other than as `time <op> constant` (the loop stops at
    those thresholds itself). Each located condition gives the solve a root function, so that the solve stops
    where a trigger can change and the loop evaluates the events there (as after a jump).

    Whether a condition moves is decided per solve (`roots`' `moving`): one that reads only species that are
    discrete in this trajectory now (or continuous but changed by no continuous channel) is constant during
    the solve; it can only change at a jump, after which the loop evaluates the events, as in the exact methods.
    """

    def __init__(self, net: CompiledNetwork, moving: frozenset[str]):
        plan = net.plan
        rules = dict(plan.model.assignment_rules)
        time_rules = net.time_dependent_rules

        def reads(e: Expr) -> tuple[frozenset[str], bool]:
            """Symbols `e` reads, through assignment rules, and whether it depends on time."""
            seen = symbols_through(e, rules)
            return seen, uses_time(e) or bool(seen & time_rules)

        self.atoms: list[tuple[str, Expr, Expr]] = []
        species_read = []  # per atom: a mask of the species it reads (whether they move is decided per solve)
        # per atom: reads time, a rate-rule variable other than a species, or a diluted species
        self.always_moving: list[bool] = []
        self.time_dependent = False
        self.unlocated: dict[str, str] = {}  # event id -> why its trigger cannot be located

        species = frozenset(plan.species_index)
        # Read as `amount / V(t)` in a compartment a rate rule moves: it moves in every solve, discrete or not.
        diluted = frozenset(sid for sid, c in plan.variable_species.items() if c in moving)

        def visit(ev_id: str, e: Expr) -> None:
            if isinstance(e, Call) and e.op in _RELATIONS and len(e.args) >= 2:
                for a, b in zip(e.args[:-1], e.args[1:]):  # MathML relations are n-ary: a < b < c
                    (ra, ta), (rb, tb) = reads(a), reads(b)
                    threshold = (isinstance(a, Time) and not tb and not rb & moving) or (
                        isinstance(b, Time) and not ta and not ra & moving
                    )
                    if not threshold and ((ra | rb) & moving or ta or tb):
                        self.atoms.append((e.op, a, b))
                        species_read.append(np.isin(plan.species_ids, sorted(ra | rb)))
                        self.always_moving.append(ta or tb or bool((ra | rb) & ((moving - species) | diluted)))
                        self.time_dependent |= ta or tb
                return
            if (
                isinstance(e, Time)
                or (isinstance(e, Sym) and reads(e)[1])
                or (isinstance(e, Sym) and reads(e)[0] & moving)
            ):
                self.unlocated[ev_id] = "it uses a moving quantity other than in a comparison"
            for c in children(e):
                visit(ev_id, c)

        for ev in plan.model.events:
            visit(ev.id, ev.trigger)
        self.sense = np.asarray([_RELATIONS[op] for op, _, _ in self.atoms], dtype=np.int8)
        self.species_read = np.asarray(species_read, dtype=bool).reshape(len(self.atoms), len(plan.species_ids))

    def sides(self, net: CompiledNetwork, x, p, t) -> tuple[Array, Array]:
        """Both sides of every located condition at `(x, p, t)`."""
        env = net.plan.env(x, p, t)
        a = jnp.stack([jnp.asarray(evaluate(e, env, t), jnp.float64) for _, e, _ in self.atoms])
        b = jnp.stack([jnp.asarray(evaluate(e, env, t), jnp.float64) for _, _, e in self.atoms])
        return a, b

    def roots(self, net: CompiledNetwork, x, p, t, moving):
        """`g(x, p, t)`: one function per located condition, positive until the condition changes from its value
        at `(x, p, t)` and crossing zero just past where it does; `+inf` for a condition that cannot change
        during this solve (it reads none of the species `moving` (a mask) in it, nor time or a rate-rule parameter).

        For `a > b`, true now: `g = (a − b) + ε`, which crosses zero at `a − b = −ε`, where the condition is
        false; false now: `g = −(a − b) + ε`, both divided by `|a| + |b|` at the start (so `ε = TRIGGER_REL` relative, plus
        a floor, 1e-12 absolute). `ε` puts the stop past
        the root, so that the loop's evaluation of the trigger there sees the change (else it would be found
        again at the next step, a little later). An (in)equality changes where `a − b` changes sign.
        """
        a0, b0 = self.sides(net, x, p, t)
        d0 = a0 - b0
        sense = jnp.asarray(self.sense)
        closed = jnp.asarray([op in ("geq", "leq") for op, _, _ in self.atoms])
        truth = jnp.where(sense > 0, d0 > 0, d0 < 0) | (closed & (d0 == 0))
        # +1 where the condition changes when a − b falls (`a > b` true now, or `a < b` false now), else -1.
        s = jnp.where(sense == 0, jnp.sign(d0), jnp.where(truth == (sense > 0), 1.0, -1.0))
        # Each function is scaled by the compared values' size, so that `ε` means the same on a trigger over
        # 10^16 molecules as on one over a fraction.
        size = jnp.abs(a0) + jnp.abs(b0)
        scale = 1.0 / jnp.where(size > 0, size, 1.0)
        eps = jnp.where(sense == 0, 0.0, TRIGGER_REL + 1e-12 * scale)
        # An equality holding exactly now changes as soon as anything moves: not located (the next event check
        # after the step sees it). A condition on what does not move in this solve (a discrete species: its count
        # changes only at jumps) is constant: as a root function it would be flat, and the solve's
        # `min(jump, triggers)` flat where it is the smaller, so that the root finder's Newton iterations, sent there
        # by an overshoot, stall (at a count exactly at its threshold, `ε` from the jump's root: the solve failed).
        # It is left to the loop's event check after each jump. `+inf` drops it from the minimum.
        reads = jnp.asarray(self.species_read) & moving[None, :]
        active = jnp.asarray(self.always_moving, dtype=bool) | jnp.any(reads, axis=1)
        frozen = ((sense == 0) & (d0 == 0)) | ~active

        def g(x_, p_, t_):
            a, b = self.sides(net, x_, p_, t_)
            return jnp.where(frozen, jnp.inf, s * (a - b) * scale + eps)

        return g


def _finite_jacobian(f):
    """`f(t, y, args)` whose derivatives that are not finite are taken as 0.

    The implicit solvers' Newton iterations use the right-hand side's Jacobian (forward mode). A rate law with a
    fractional power of an amount at zero (`VIP^0.5` with VIP = 0, BIOMD0000000246) has an infinite derivative
    there, and forward mode turns it into NaN in the whole Jacobian row (∞ · 0), so that every step was
    rejected. The Jacobian only steers Newton's iterations (the step's error control decides what is accepted),
    so a finite stand-in costs iterations at most, not accuracy; finite derivatives are left as they were.
    """

    @jax.custom_jvp
    def g(t, y):
        return f(t, y, None)

    @g.defjvp
    def g_jvp(primals, tangents):
        out, d = jax.jvp(lambda t_, y_: f(t_, y_, None), primals, tangents)
        return out, jnp.where(jnp.isfinite(d), d, 0.0)

    return lambda t, y, args: g(t, y)


def _start_step(f, t0, y0, rtol, atol, order, f0) -> Array:
    """A starting step size for the solve of `y' = f(t, y, None)` from `(t0, y0)`: Hairer, Nørsett & Wanner's
    estimate (Solving Ordinary Differential Equations I, 2nd ed. 1993, §II.4), as diffrax's `PIDController`
    computes it when it is given no first step, here per lane (diffrax takes that choice per solve, statically).

    With `sc = atol + rtol·|y0|` and the RMS norm `‖·‖` of `v / sc`: `h0 = 0.01·‖y0‖ / ‖f0‖`, one explicit
    Euler step of `h0` to estimate the derivative's rate of change `d2 = ‖f(t0 + h0, y0 + h0·f0) − f0‖ / h0`, and
    `h = min(100·h0, (0.01 / max(‖f0‖, d2))^(1/order))`, `order` the error estimate's. `f0 = f(t0, y0, None)` is
    given (the caller has the propensities at the start): one more evaluation of `f`.
    """
    scale = atol + rtol * jnp.abs(y0)

    def norm(v):
        return jnp.sqrt(jnp.mean((v / scale) ** 2))

    d0, d1 = norm(y0), norm(f0)
    tiny = (d0 < 1e-5) | (d1 < 1e-5)
    h0 = jnp.where(tiny, 1e-6, 0.01 * d0 / jnp.where(tiny, 1.0, d1))
    d2 = norm(f(t0 + h0, y0 + h0 * f0, None) - f0) / h0
    d = jnp.maximum(d1, d2)
    h1 = jnp.where(d <= 1e-15, jnp.maximum(1e-6, h0 * 1e-3), (0.01 / jnp.where(d <= 1e-15, 1.0, d)) ** (1.0 / order))
    return jnp.minimum(100 * h0, h1)


class _ProposingPID(diffrax.AbstractAdaptiveStepSizeController):
    """diffrax's `PIDController` that also keeps, in its state, the step size it proposes next (Hairer, Nørsett &
    Wanner, Solving Ordinary Differential Equations I, 2nd ed. 1993, §II.4; Söderlind 2002 for the PI form), so that
    `SaveAt(controller_state=True)` returns it: diffrax 0.7.2 returns neither it nor the last step's length.

    Each simulation step is a fresh solve; the next one starts at this proposal. The mean accepted step that was
    carried before is shorter than the proposal after any run of growing steps, so the solve after a stop at an
    event took two steps where one reached the next stop (BIOMD0000000408: two steps in each of its 10^5 solves).
    A step cut short by the end of the span (accepted, and under half the step proposed before it) keeps the
    larger of its own proposal and the one it was cut from: its error, measured on a fraction of a step, says
    only that the step was not too long (its proposal is at most `factormax` times the fraction).
    """

    pid: diffrax.PIDController
    # The tolerances and norm diffrax reads off an adaptive controller (the implicit solver's Newton tolerances).
    rtol: float | Array | np.ndarray
    atol: float | Array | np.ndarray
    norm: Callable

    def __init__(self, pid: diffrax.PIDController):
        self.pid = pid
        self.rtol, self.atol, self.norm = pid.rtol, pid.atol, pid.norm

    def wrap(self, direction):
        return _ProposingPID(self.pid.wrap(direction))

    def init(self, terms, t0, t1, y0, dt0, args, func, error_order):
        t_next, state = self.pid.init(terms, t0, t1, y0, dt0, args, func, error_order)
        return t_next, (state, t_next - t0)

    def adapt_step_size(self, t0, t1, y0, y1_candidate, args, y_error, error_order, controller_state):
        state, proposed = controller_state
        keep, next_t0, next_t1, made_jump, state, result = self.pid.adapt_step_size(
            t0, t1, y0, y1_candidate, args, y_error, error_order, state
        )
        h = next_t1 - next_t0
        cut = keep & (t1 - t0 < 0.5 * proposed)
        return keep, next_t0, next_t1, made_jump, (state, jnp.where(cut, jnp.maximum(h, proposed), h)), result


ROOT_RTOL = 1e-14
"""The event root finder's tolerance in time, relative to `|t| + h` (`h` the step the root lies in): about 50 units
in the last place of a float64 time; Newton's last step puts the root well inside it (its error is the square
of the step)."""


class _RootState(eqx.Module):
    neg: Float[Array, ""]  # a time where the function is ≤ 0 (one end of the bracket)
    pos: Float[Array, ""]  # a time where it is > 0 (the other end)
    bracketed: Bool[Array, ""]  # whether the function's sign differs at the step's ends (else: plain Newton)
    diff: Float[Array, ""]  # the last iteration's move in time
    diff_prev: Float[Array, ""]
    tol: Float[Array, ""]  # ROOT_RTOL · (max(|lower|, |upper|) + upper − lower)


class _JumpRootFinder(optx.AbstractRootFinder):
    """Newton's method safeguarded by bisection inside the sign-change bracket, stopping on the time's resolution
    (`rtsafe`: Press, Teukolsky, Vetterling & Flannery, Numerical Recipes, 3rd ed. 2007, §9.4).

    diffrax's event location calls it with the step `[lower, upper]` over which the event function changed sign.
    A Newton step that leaves the current bracket, or that does not halve the step before last, is replaced by a
    bisection, so that the bracket shrinks. It stops when its last move in time, or the bracket, is below
    `ROOT_RTOL · (|t| + h)`, or when the function is exactly 0. It does not ask the function to fall below a
    tolerance (as optimistix's Newton and Bisection do): the jump's function is an integrated hazard, and where
    it rises faster than that tolerance per unit in the last place of the time (BIOMD0000000457 at t = 0.0189:
    slope 1.1·10^8 in hazard × 1000 units, against 10^-10 per 3.5·10^-18), no float64 time meets it; a time
    tolerance is always met.
    """

    rtol: float  # of the time's tolerance, relative to `|t| + h`: `ROOT_RTOL`
    atol: float  # absolute, added to it (0: the step's length `h` is the floor near t = 0)
    norm: Callable[[Array], Array] = jnp.abs  # all norms are the same on a scalar

    def init(self, fn, y, args, options, f_struct, aux_struct, tags) -> _RootState:
        del y, f_struct, aux_struct, tags
        lower = jnp.asarray(options["lower"], jnp.float64)
        upper = jnp.asarray(options["upper"], jnp.float64)
        f_lo, _ = fn(lower, args)
        f_up, _ = fn(upper, args)
        pos_lo = f_lo > 0
        tol = self.atol + self.rtol * (jnp.maximum(jnp.abs(lower), jnp.abs(upper)) + (upper - lower))
        inf = jnp.asarray(jnp.inf, jnp.float64)
        return _RootState(
            neg=jnp.where(pos_lo, upper, lower),
            pos=jnp.where(pos_lo, lower, upper),
            bracketed=pos_lo != (f_up > 0),
            diff=inf,
            diff_prev=inf,
            tol=tol,
        )

    def step(self, fn, y, args, options, state: _RootState, tags):
        del tags
        f, lin, aux = jax.linearize(lambda t: fn(t, args), y, has_aux=True)
        df = lin(jnp.ones_like(y))
        above = f > 0
        neg = jnp.where(state.bracketed & ~above, y, state.neg)
        pos = jnp.where(state.bracketed & above, y, state.pos)
        lo, hi = jnp.minimum(neg, pos), jnp.maximum(neg, pos)
        newton = y - f / df
        fast = jnp.abs(newton - y) <= 0.5 * jnp.abs(state.diff_prev)
        inside = jnp.isfinite(newton) & (newton > lo) & (newton < hi) & fast
        # Without a bracket (the interpolant's ends did not reproduce the sign change, within round-off of a root at
        # an end), plain Newton kept in the step, as optimistix's Newton.
        plain = jnp.clip(jnp.where(jnp.isfinite(newton), newton, y), options["lower"], options["upper"])
        new_y = jnp.where(state.bracketed, jnp.where(inside, newton, lo + 0.5 * (hi - lo)), plain)
        new_y = jnp.where(f == 0, y, new_y)
        new_state = _RootState(
            neg=neg,
            pos=pos,
            bracketed=state.bracketed,
            diff=new_y - y,
            diff_prev=state.diff,
            tol=state.tol,
        )
        return new_y, new_state, aux

    def terminate(self, fn, y, args, options, state: _RootState, tags):
        del fn, y, args, options, tags
        width = jnp.where(state.bracketed, jnp.abs(state.pos - state.neg), jnp.inf)
        done = (jnp.abs(state.diff) <= state.tol) | (width <= state.tol)
        return done, optx.RESULTS.successful

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        del fn, args, options, state, tags, result
        return y, aux, {}


def _root_failed(result) -> Bool[Array, ""]:
    """Whether a solve failed in its event root-finding (`_JumpRootFinder` used all its iterations, promoted to
    diffrax's `RESULTS`) rather than in its steps: the steps reached the event, the location of its root did not
    converge.

    With optimistix's Newton (to 1e-10 on the function) BIOMD0000000457 stopped so at t = 0.0189: the interpolated
    integrated hazard rose at 1.1·10^8 (× 1000 units) per time unit at its root, and no float64 time put it within
    1e-10 of its threshold. `_JumpRootFinder` stops on a time tolerance instead, which is always reachable within the
    bracket; the status remains for a finder that runs out of iterations all the same.
    """
    return (result == diffrax.RESULTS.nonlinear_max_steps_reached) | (result == diffrax.RESULTS.nonlinear_divergence)


def _trigger_plan(net: CompiledNetwork, all_species: bool) -> _TriggerPlan:
    """The network's `_TriggerPlan`, built once per partition setting and cached on its plan."""
    rp = _rate_plan(net)
    plan = net.plan
    always = np.nonzero(rp.fractional | rp.flux_species)[0]  # continuous at all times, moved by a flux reaction too
    moving = {v for v, _ in plan.model.rate_rules} | {plan.species_ids[i] for i in always}
    if all_species:
        moving |= set(plan.species_ids)
    # A concentration in a compartment whose size a rate rule moves (`amount / V(t)`) moves with it.
    moving |= {sid for sid, c in plan.variable_species.items() if c in moving}
    name = "hybrid_triggers_all" if all_species else "hybrid_triggers"
    return plan.memo(name, lambda: _TriggerPlan(net, frozenset(moving)))  # type: ignore[return-value]


class HybridSimulator(AbstractSimulator):
    """Piecewise-deterministic hybrid simulation (method `"hybrid"`).

    **Partition.** Per trajectory, with hysteresis so that a species near a threshold does not flip at every
    jump, and changed at the instant a threshold is crossed: evaluated at every step's start (after a jump), and
    a crossing during an ODE solve stops the solve there, located as a root (`_partition_roots`), so that the
    law does not depend on the solver's steps (`rtol`, `atol`, `ode_max_steps`):

    - a species is *continuous* from the moment its count reaches `continuous_above` until it falls below
      `discrete_below` (then it is rounded to a whole count and is discrete again); a species set by a rate
      rule, or changed by a reaction by a non-integer amount (`A -> 0.5 B`: not a count), is always
      continuous;
    - a reaction whose law is a flux of the reaction-rate equations rather than a propensity (a net rate
      `kf·A·B − kr·C` in a reaction flagged irreversible, or a law that does not read a reactant it consumes:
      `sbmljax._flux`) is a continuous channel at all times, and the species it changes are continuous: the
      ODE runs it backwards where it is negative, as the modeller's ODE does;
    - a channel whose propensity has reached `fast_propensity` makes every species it changes continuous
      whatever its count (if `fast_min_count` is set: provided each has at least `fast_min_count · |ν|`
      molecules, `ν` the channel's change of it), until the propensity falls below half of that: fast binding
      and unbinding of a few enzyme molecules then moves the ODE instead of firing millions of jumps. The
      default, resolved by `prepare` (which knows the span), is `fast_propensity = FAST_EVENTS / (t_end − t0)`:
      a channel that would fire a thousand times over the simulated span is a fast reaction in Haseltine &
      Rawlings' sense (many firings on the time scale observed), `aⱼ·Δt ≥ λ` with Salis & Kaznessis' `λ = 10`
      on `Δt` a hundredth of the span; it is what `method="auto"` uses. Their population criterion
      `Xᵢ ≥ ε·|νᵢⱼ|` (`ε` about 100) is `fast_min_count`, off by default: on BIOMD0000000009 it keeps the
      binding of the first few dozen kinase molecules discrete, 10^4–10^5 jumps per time unit, and 20
      trajectories to t = 5 took more than 4 minutes. `fast_propensity=float("inf")`, or `continuous_above=inf`
      without an explicit `fast_propensity`, turns the rule off;
    - a channel is *continuous* (moves the ODE) when every species it changes is continuous and its
      propensity has reached `min_propensity` (it stays continuous until the propensity falls below half of
      that); every other channel is a *jump* channel and fires whole reactions.

    This is Haseltine & Rawlings' (2002) split into fast reactions (reaction-rate equations) and slow ones
    (SSA), with Salis & Kaznessis' (2005) criteria (enough molecules of every species the reaction touches,
    and a large enough propensity), evaluated dynamically as in Cao, Gillespie & Petzold's slow-scale and
    partitioned methods (2005). With `noise="ode"` (default) continuous channels follow the deterministic
    reaction-rate equations and their noise is neglected: a species whose fluctuations matter should stay
    discrete (raise `continuous_above`), or use `noise="langevin"`: the chemical Langevin equation
    (Gillespie 2000) in Itô form, by Euler–Maruyama on the fixed step `dt` (first order: choose `dt` small
    against the fastest continuous time scale).

    **Jumps.** The jump channels' total propensity `a₀ˢ(t)` is integrated along with the ODE; the next jump is
    where `∫a₀ˢ dt` reaches an `Exp(1)` draw (diffrax event; its time located by `_JumpRootFinder`, a bracketed Newton
    to `ROOT_RTOL` in time), and the channel is drawn
    with probability `aₖ(t)/a₀ˢ(t)` at that instant: the exact jump law of a piecewise-deterministic Markov
    process (Davis 1984), whatever the propensities' dependence on time or on the continuous state.

    A model without reactions whose rate rules move is solved as their ODE (nothing jumps).

    **Limits.** `continuous_above=inf` (with the default `fast_propensity`): every species discrete (except those a flux law changes), the exact SSA
    (the ODE only integrates the hazard). `continuous_above=0, discrete_below=0`: every channel continuous, the reaction-rate ODE.

    **Options:** `solver` (`"kvaerno3"`, default, or `"kvaerno5"`: L-stable implicit ESDIRK methods with an
    embedded error estimate, for the stiff models of curated repositories; `"tsit5"`, explicit, cheaper on
    non-stiff ones),
    `rtol`, `atol` (PI step control; `atol` in molecules, the hazard integral's own absolute tolerance is
    `HAZARD_ATOL`), `ode_max_steps` (solver steps per simulation step: a solve that takes them all stops where it
    got to, without a jump, and the next step goes on from there; default 16: on BIOMD0000000009 1.2× less CPU
    time than 32, the vmapped lanes resynchronised more often; a solve that rejected all its steps, as 4 steps can
    after a jump, fails the trajectory with the ODE solver's status).

    Cost per step: one adaptive ODE solve to the next jump (or of at most `ode_max_steps` solver steps: an
    ensemble is `vmap`ped, so every lane waits for the lane whose solve takes the most steps, and a cap
    evens the lanes out; each solve starts at the step size the previous one ended with, or after a jump or a
    change of the partition at the smaller of it and Hairer, Nørsett & Wanner's starting step: `_start_step`). Each solver step
    is an `O(R·S)` right-hand side and, for the implicit solvers, Newton iterations with a dense `S×S` Jacobian. A step in which nothing moves continuously
    and no propensity depends on time is the direct method's (the solve gets an empty span).

    **References:** E. L. Haseltine, J. B. Rawlings, J. Chem. Phys. 117:6959 (2002). H. Salis, Y. Kaznessis,
    J. Chem. Phys. 122:054103 (2005). Y. Cao, D. T. Gillespie, L. R. Petzold, J. Chem. Phys. 122:014116
    (2005). D. T. Gillespie, J. Chem. Phys. 113:297 (2000). M. H. A. Davis, J. R. Stat. Soc. B 46:353
    (1984). P. Kidger, "On neural differential
    equations" (2021; diffrax).
    """

    continuous_above: float = eqx.field(default=1000.0, static=True)
    discrete_below: float = eqx.field(default=100.0, static=True)
    min_propensity: float = eqx.field(default=0.0, static=True)
    fast_propensity: float | None = eqx.field(default=None, static=True)  # None: 1000 / span (`prepare` sets it)
    fast_min_count: float = eqx.field(default=0.0, static=True)
    solver: str = eqx.field(default="kvaerno3", static=True)
    noise: str = eqx.field(default="ode", static=True)
    dt: float | None = eqx.field(default=None, static=True)
    rtol: float = eqx.field(default=1e-4, static=True)
    atol: float = eqx.field(default=1e-3, static=True)
    ode_max_steps: int = eqx.field(default=16, static=True)

    exact: ClassVar[bool] = False
    name: ClassVar[str] = "hybrid"
    default_block: ClassVar[int] = 4
    accepts: ClassVar[frozenset[str]] = frozenset(
        {"rate_rule", "non_integer_stoichiometry", "mixed_units", "event_time_trigger", "event_time_rule_trigger"}
    )

    @property
    def _species_move(self) -> bool:
        """Whether species may move continuously (be continuous, or be changed by a fast channel) in this setting."""
        return not (
            math.isinf(self.continuous_above) and (math.isinf(self._fast_rate) or math.isinf(self.fast_min_count))
        )

    @property
    def _fast_rate(self) -> float:
        """`fast_propensity`; unresolved (`None`, outside `prepare`), the rule is off."""
        return math.inf if self.fast_propensity is None else self.fast_propensity

    def for_span(self, span: float) -> HybridSimulator:
        """This simulator with the default `fast_propensity` resolved for a simulated span (`prepare` calls it):
        `FAST_EVENTS / span`, a channel that would fire `FAST_EVENTS` times over it (off, `inf`, with
        `continuous_above=inf`)."""
        if self.fast_propensity is not None:
            return self
        # `continuous_above=inf` asks for every species discrete: the exact SSA, with no default fast channels.
        off = math.isinf(self.continuous_above) or not span > 0
        return dataclasses.replace(self, fast_propensity=math.inf if off else FAST_EVENTS / span)

    def __check_init__(self):
        if not (0 <= self.discrete_below <= self.continuous_above):
            raise ConfigError(
                f"hybrid: need 0 <= discrete_below ({self.discrete_below}) <= continuous_above "
                f"({self.continuous_above})"
            )
        if self.fast_propensity is not None and not self.fast_propensity > 0:
            raise ConfigError(f"hybrid: fast_propensity must be positive, got {self.fast_propensity}")
        if not self.fast_min_count >= 0:
            raise ConfigError(f"hybrid: fast_min_count must be non-negative, got {self.fast_min_count}")
        if not self.min_propensity >= 0:
            raise ConfigError(f"hybrid: min_propensity must be non-negative, got {self.min_propensity}")
        if self.solver not in _SOLVERS:
            raise ConfigError(f"hybrid: unknown solver {self.solver!r}; choose one of {', '.join(_SOLVERS)}")
        if not (self.rtol > 0 and self.atol > 0):
            raise ConfigError("hybrid: rtol and atol must be positive")
        if self.noise not in ("ode", "langevin"):
            raise ConfigError(f"hybrid: noise must be 'ode' or 'langevin', got {self.noise!r}")
        if (self.noise == "langevin") != (self.dt is not None) or (self.dt is not None and not self.dt > 0):
            raise ConfigError("hybrid: noise='langevin' needs a positive fixed step dt= (and only it takes one)")

    # -- the model's continuous part ---------------------------------------------------------------------
    def refusals(self, net: CompiledNetwork) -> list[Unsupported]:
        """What this method cannot honour in `net` (on top of the support table), one entry per element."""
        plan = net.plan
        model = plan.model
        rated_params = {v for v, _ in model.rate_rules if v in plan.param_index}
        out = []
        for v, e in model.assignment_rules:
            if v in plan.species_index and symbols(e) & rated_params:
                out.append(Unsupported(f"assignmentRule '{v}'", "it reads a parameter set by a rate rule"))
        for ev_id, why in _trigger_plan(net, self._species_move).unlocated.items():
            out.append(
                Unsupported(
                    f"event '{ev_id}' trigger",
                    f"{why}: the hybrid method locates a trigger's changes as roots of its comparisons `a <op> b`",
                )
            )
        return out

    def _rates(self, net: CompiledNetwork, x, p, t) -> tuple[Array, Array]:
        """Rate-rule derivatives: of the species counts (dense, `S`) and of the rated parameters."""
        rp = _rate_plan(net)
        dx = jnp.zeros_like(x)
        if not (rp.species or rp.params):
            return dx, jnp.zeros((0,), x.dtype)
        env = net.plan.env(x, p, t)
        for i, e, scale in rp.species:
            dx = dx.at[i].add(jnp.asarray(evaluate(e, env, t), x.dtype) / scale)
        dq = jnp.stack([jnp.asarray(evaluate(e, env, t), x.dtype) for _, e in rp.params]) if rp.params else None
        return dx, (dq if dq is not None else jnp.zeros((0,), x.dtype))

    @staticmethod
    def _with_q(net: CompiledNetwork, p, q):
        rp = _rate_plan(net)
        return p.at[jnp.asarray(rp.p_index)].set(q) if rp.p_index.size else p

    def _partition(self, net: CompiledNetwork, x, a, continuous, fast):
        rp = _rate_plan(net)
        changes = jnp.asarray(rp.changes)
        # A channel firing at least `fast_propensity` per time unit makes every species it changes continuous, if
        # each has `fast_min_count` molecules per unit of the channel's change of it (Salis & Kaznessis 2005).
        hot = jnp.where(fast, a >= 0.5 * self._fast_rate, a >= self._fast_rate)
        if not math.isinf(self._fast_rate) and self.fast_min_count > 0:
            need = self.fast_min_count * jnp.abs(net.stoich)  # (channels, species)
            hot = hot & jnp.all(~changes | (x[None, :] >= need), axis=1)
        forced = jnp.any(changes & hot[:, None], axis=0) | jnp.asarray(rp.always_continuous)
        continuous = jnp.where(continuous, x >= self.discrete_below, x >= self.continuous_above) | forced
        all_continuous = jnp.all(~changes | continuous[None, :], axis=1)
        hot = jnp.where(fast, a >= 0.5 * self.min_propensity, a >= self.min_propensity)
        return continuous, all_continuous & (hot | jnp.asarray(rp.flux))

    @property
    def _partition_moves(self) -> bool:
        """Whether the partition can change during a solve in this setting (else it has no roots to locate)."""
        return self._species_move or self.min_propensity > 0

    def _partition_roots(self, net: CompiledNetwork, x0, p0, t0, a0, continuous, fast, moving):
        """`g(t, x, p)`: positive while the partition `_partition` would give at `(x, p, t)`, with this solve's
        `(continuous, fast)` as its memory, is this solve's, and crossing zero just past where it changes.

        The partition is a boolean function of threshold comparisons ("atoms"): a species' population against
        `discrete_below` (continuous now) or `continuous_above`; a channel's propensity against `fast_propensity`
        (or half of it) and `min_propensity` (or half); with `fast_min_count`, a count against its need. Each atom
        is `h = (v − threshold) / threshold`, true where `h ≥ 0`; an OR of atoms is the max of their `h`, an AND
        the min, so that `H_cont` (a species is continuous) and `H_fast` (a channel is continuous) change sign
        exactly where the partition's output does, whichever atoms change on the way. An atom on what does not
        move in this solve (a species no continuous channel changes, a propensity reading none of the moving
        species, nor time, nor a rate-rule parameter) is constant: held at `±inf` by its value at the start,
        so that no flat function enters the root finder's minimum (see `_TriggerPlan.roots`); so is a threshold
        of 0 (amounts are clipped at zero) or `inf`. As for triggers, `g = s·H + TRIGGER_REL` with `s` the sign
        at the start puts the stop just past the crossing, where the next step's partition sees the change.

        `a0`: the propensities' magnitudes at the start `(x0, p0, t0)`, which the step has computed already.
        `moving`: the species that move in this solve (a mask).
        """
        rp = _rate_plan(net)
        changes = jnp.asarray(rp.changes)
        always = jnp.asarray(rp.always_continuous)
        prop_moves = jnp.asarray(rp.always_moves) | jnp.any(jnp.asarray(rp.reads) & moving[None, :], axis=1)
        thr_pop = jnp.where(continuous, self.discrete_below, self.continuous_above)
        thr_hot = jnp.where(fast, 0.5 * self._fast_rate, self._fast_rate)
        thr_min = jnp.where(fast, 0.5 * self.min_propensity, self.min_propensity)
        need = self.fast_min_count * jnp.abs(net.stoich)  # (channels, species)
        counted = not math.isinf(self._fast_rate) and self.fast_min_count > 0

        def atom(v, thr, moves, v_start):
            live = moves & (thr > 0) & jnp.isfinite(thr)
            safe = jnp.where(live, thr, 1.0)
            return jnp.where(live, (v - safe) / safe, jnp.where(v_start >= thr, jnp.inf, -jnp.inf))

        def outputs(x, a):
            hot = atom(a, thr_hot, prop_moves, a0)
            if counted:  # and every species it changes has `fast_min_count · |ν|` molecules
                enough = atom(x[None, :], need, jnp.broadcast_to(moving[None, :], need.shape), x0[None, :])
                hot = jnp.minimum(hot, jnp.min(jnp.where(changes, enough, jnp.inf), axis=1))
            forced = jnp.max(jnp.append(hot, -jnp.inf)[rp.changers], axis=1)
            cont = jnp.where(always, jnp.inf, jnp.maximum(atom(x, thr_pop, moving, x0), forced))
            if not self.min_propensity > 0:
                # A channel's output is then `min(cont[i])` over the species it changes (its propensity atom is
                # `+inf`: `|a| ≥ 0`), and its term in `g`'s minimum never undercuts theirs: with `s = +1` it is
                # the least of their terms (`cont[i] ≥ 0`, `s[i] = +1`), with `s = −1` it is at least the term of
                # the species whose `cont` is the least (`< 0`, `s = −1`). Left out, `g` is the same to the bit.
                return cont
            all_cont = jnp.min(jnp.append(cont, jnp.inf)[rp.changed], axis=1)
            fast_ = jnp.minimum(atom(a, thr_min, prop_moves, a0), all_cont)
            return jnp.concatenate([cont, jnp.where(jnp.asarray(rp.flux), jnp.inf, fast_)])

        s = jnp.where(outputs(x0, a0) >= 0, 1.0, -1.0)  # `a0` is `|propensities(x0, p0, t0)|`: not computed again

        def g(t, x, p):
            return jnp.min(s * outputs(x, jnp.abs(net.propensities(x, p, t))) + TRIGGER_REL)

        return g

    # -- the simulator contract --------------------------------------------------------------------------
    def init(self, net: CompiledNetwork, t0, x0, p, rng: Stream) -> HybridState:
        rp = _rate_plan(net)
        fields = loop_fields(t0, x0, rng)
        return HybridState(
            **fields,
            continuous=(fields["x"] >= self.continuous_above) | jnp.asarray(rp.always_continuous),
            fast=jnp.zeros((net.stoich.shape[0],), dtype=bool),
            q=p[jnp.asarray(rp.p_index)] if rp.p_index.size else jnp.zeros((0,), jnp.float64),
            dt=jnp.zeros((), jnp.float64),
        )

    def step(self, net: CompiledNetwork, state: HybridState, p, t_stop) -> HybridState:
        if net.stoich.shape[0] == 0:
            rp = _rate_plan(net)
            if rp.species or rp.params or _trigger_plan(net, self._species_move).time_dependent:
                return self._rules_step(net, state, p, t_stop)  # an ODE of rate rules (or time), nothing to jump
            return idle_step(state, t_stop)  # rules and events only
        # Two uniforms (threshold, channel) and a key for the Brownian path, from the trajectory's stream.
        u, rng = state.rng.uniforms(2)
        key, rng = stream_key(rng)
        S = state.x.shape[0]
        p_eff = self._with_q(net, p, state.q)
        a_start = net.propensities(state.x, p_eff, state.t)
        # A continuous channel's rate law may be a net flux of a reversible reaction, negative at times: the ODE
        # runs it backwards (the partition reads its magnitude). A jump channel's propensity must not be.
        continuous, fast = self._partition(net, state.x, jnp.abs(a_start), state.continuous, state.fast)
        # A species that has just turned discrete continues from the nearest whole count.
        x = jnp.where(state.continuous & ~continuous, jnp.round(state.x), state.x)
        # The step's propensities are those of the rounded counts: a species turned discrete below one molecule
        # is 0 now, and a channel consuming it must not fire at the sub-molecule amount it had (it would take the
        # count negative). Without a rounding they are `a_start`'s values.
        a = net.propensities(x, p_eff, state.t)
        ok = propensities_ok(jnp.where(fast, jnp.abs(a), a))
        threshold = -jnp.log1p(-u[0])  # Exp(1)
        stoich = net.stoich

        def rhs(t, y, args):
            x_, q_ = y[:S], y[S:-1]
            p_ = self._with_q(net, p, q_)
            return rhs_at(t, x_, p_, net.propensities(x_, p_, t))

        def rhs_at(t, x_, p_, a_):
            """The right-hand side at `(t, x_)` with full parameters `p_`, given the propensities `a_` there."""
            dx, dq = self._rates(net, x_, p_, t)
            dx = dx + jnp.where(fast, a_, 0.0) @ stoich
            hazard = jnp.sum(jnp.where(fast, 0.0, jnp.maximum(a_, 0.0))) * hazard_scale
            return jnp.concatenate([dx, dq, hazard[None]])

        def jump(t, y, args, **kwargs):
            del t, args, kwargs
            return y[-1] - threshold * hazard_scale

        # Event triggers that can change during the solve (on continuous variables, or with time): the solve
        # stops at the first root of the jump's function or of theirs (the smallest of them all reaches zero
        # first), and the loop evaluates the events there.
        # The partition's thresholds are located the same way (`_partition_roots`): the solve stops where the
        # partition changes, so that the next step starts with the partition of that instant, whatever the
        # solver's steps (before, a change took effect where the next solve started: after a jump, at an output
        # time, or after `ode_max_steps` steps, so that the law depended on `rtol`, `atol` and `ode_max_steps`).
        triggers = _trigger_plan(net, self._species_move)
        root_fns: list[Callable[[Array, Array, Array], Array]] = []
        # What moves in this solve: species set by rate rules and those a continuous channel changes.
        rp_ = _rate_plan(net)
        moving = jnp.asarray(rp_.rated) | jnp.any(jnp.asarray(rp_.changes) & fast[:, None], axis=0)
        if triggers.atoms:
            roots = triggers.roots(net, x, p_eff, state.t, moving)
            root_fns.append(lambda t_, x_, p_: jnp.min(roots(x_, p_, t_)))
        if self._partition_moves:
            root_fns.append(self._partition_roots(net, x, p_eff, state.t, jnp.abs(a), continuous, fast, moving))
        if root_fns:

            def other_roots(t, y):
                x_, p_ = y[:S], self._with_q(net, p, y[S:-1])
                return functools.reduce(jnp.minimum, [f(t, x_, p_) for f in root_fns])

            def to_jump(y):
                # The hazard still to go, in time at the starting total propensity: a function of the propensities'
                # size no more than the triggers' (relative) ones are of the compared values'.
                rate = jnp.maximum(jnp.sum(a_slow), 1.0 / jnp.maximum(t1 - state.t, 1e-300))
                return (threshold * hazard_scale - y[-1]) / (rate * hazard_scale)

            def first(t, y, args, **kwargs):
                del args, kwargs
                return jnp.minimum(to_jump(y), other_roots(t, y))

            cond = first
        else:
            cond = jump

        # The hazard is integrated scaled so that the solver's `atol` (in molecules) is HAZARD_ATOL on it.
        hazard_scale = self.atol / HAZARD_ATOL
        # Per component: the amounts' tolerance (species and rate-rule parameters) has the round-off floor, the
        # hazard's (last) stays `atol` (scaled, it is HAZARD_ATOL; a floor there would loosen the jump times).
        floor = jnp.maximum(self.atol, ROUNDOFF_ATOL * jnp.max(jnp.abs(x)))
        atol = jnp.concatenate([jnp.full((S + state.q.shape[0],), floor), jnp.full((1,), self.atol)])
        y0 = jnp.concatenate([x, state.q, jnp.zeros((1,), jnp.float64)])
        t1 = jnp.maximum(t_stop, state.t)
        # Nothing continuous moves and no propensity depends on time: the hazard grows linearly, and the step
        # is the direct method's (Gillespie 1977). The ODE solve is then given an empty span (it returns at
        # once), so lanes of an ensemble that are all discrete pay little for the solver.
        rp = _rate_plan(net)
        static = not (rp.species or rp.params or net.time_dependent or triggers.time_dependent)
        a_slow = jnp.where(fast, 0.0, jnp.maximum(a, 0.0))
        plain = static & ~jnp.any(fast)
        t_plain = state.t + threshold / jnp.sum(a_slow)  # a0 == 0 gives inf: wait for t_stop
        t_ode = jnp.where(plain, state.t, t1)
        terms: diffrax.AbstractTerm
        controller: diffrax.AbstractStepSizeController
        adjoint: diffrax.AbstractAdjoint
        dt0: Array | float | None
        if self.noise == "ode":
            # Each step is a fresh solve; starting it with the step size the previous solve ended with, rather than
            # from a tiny first step, spares a ramp-up at every solve where the state went on smoothly (a stop at
            # `ode_max_steps`, an output time, a trigger).
            terms, solver = diffrax.ODETerm(_finite_jacobian(rhs)), _SOLVERS[self.solver]()
            dt0 = jnp.where(state.dt > 0, state.dt, HAZARD_ATOL * (t1 - state.t) + 1e-12)
            # Except after a discontinuity: a jump, or a partition that changed at this step's start (a count
            # rounded, a channel turned continuous or back) starts a fast transient, and the last step size met it
            # with 5–7 rejected steps (BIOMD0000000009: 52 of the 86 rejections per trajectory, in the solves after
            # its ~9 jumps; each rejected step costs a Jacobian, its LU and the Newton iterations, and the vmapped
            # lanes wait for it). There the solve starts at the smaller of it and `_start_step`'s estimate (two
            # right-hand sides): no rejections after a jump, a few more accepted steps ramping up.
            kick = (state.fired >= 0) | jnp.any(continuous != state.continuous) | jnp.any(fast != state.fast)
            # `rhs(state.t, y0)` from the step's propensities `a` (at `x`, `p_eff`: the same values), not again.
            f0 = rhs_at(state.t, x, p_eff, a)
            h_start = _start_step(rhs, state.t, y0, self.rtol, atol, solver.error_order(terms), f0)
            dt0 = jnp.where(kick & (state.dt > 0), jnp.minimum(h_start, state.dt), dt0)
            # Nothing differentiates the hybrid method in reverse mode: forward mode's plain while loop spares the
            # checkpointed loop's bookkeeping (a pure Kvaerno3 solve of BIOMD0000000009: 31 µs a step a lane, not 39).
            adjoint = diffrax.ForwardMode()
            # PI coefficients for stiff problems: on BIOMD0000000009 the default (pure I) control rejected
            # half of Kvaerno5's steps; with these Kvaerno3 took 495 steps to t = 100, Kvaerno5 1164.
            controller = _ProposingPID(diffrax.PIDController(rtol=self.rtol, atol=atol, pcoeff=0.3, icoeff=0.3))
        else:
            # The chemical Langevin equation (Gillespie 2000) for the continuous channels, in Itô form:
            # Euler–Maruyama on a fixed step, one independent Brownian path per step (disjoint intervals).
            def diffusion(t, y, args):
                x_, q_ = y[:S], y[S:-1]
                a_ = net.propensities(x_, self._with_q(net, p, q_), t)
                g = stoich.T * jnp.sqrt(jnp.where(fast, jnp.maximum(a_, 0.0), 0.0))[None, :]
                return jnp.concatenate([g, jnp.zeros((y.shape[0] - S, g.shape[1]), g.dtype)])

            # Increments drawn per solver step (fixed steps; the event's root is found on the Euler
            # interpolation, which never queries the path again), not a Brownian tree's costly bisection.
            bm = diffrax.UnsafeBrownianPath((stoich.shape[0],), key)
            terms = diffrax.MultiTerm(diffrax.ODETerm(rhs), diffrax.ControlTerm(diffusion, bm))
            solver, dt0, controller = diffrax.Euler(), self.dt, diffrax.ConstantStepSize()
            adjoint = diffrax.ForwardMode()  # what an unsafe (non-replayable) Brownian path allows
        sol = _diffeqsolve(
            terms,
            solver,
            state.t,
            t_ode,
            dt0,
            y0,
            saveat=diffrax.SaveAt(t1=True, controller_state=self.noise == "ode"),
            stepsize_controller=controller,
            event=diffrax.Event(cond, root_finder=_JumpRootFinder(rtol=ROOT_RTOL, atol=0.0)),
            max_steps=self.ode_max_steps,
            adjoint=adjoint,
            throw=False,
        )
        # The next solve starts at the step size the controller proposed last (`_ProposingPID`); the Langevin
        # equation's fixed step keeps `dt`.
        stopped = sol.event_mask | (sol.result == diffrax.RESULTS.max_steps_reached)
        t_ode_end = jnp.where(stopped, sol.ts[-1], t1)
        dt_next = sol.controller_state[1] if self.noise == "ode" else state.dt
        # A solve that used all its `ode_max_steps` stops where it got to without a jump; the next step goes on
        # from there with a fresh threshold (exact: the hazard's threshold is memoryless). It has to have moved.
        capped = (sol.result == diffrax.RESULTS.max_steps_reached) & (t_ode_end > state.t)
        solved = (sol.result == diffrax.RESULTS.successful) | (sol.result == diffrax.RESULTS.event_occurred) | capped
        y = sol.ys[-1]
        jumped = sol.event_mask
        if root_fns:  # the root is the jump's if its function is the smaller there, else a trigger's (or partition's)
            jumped = jumped & (to_jump(y) <= other_roots(t_ode_end, y))
        hit = jnp.where(plain, t_plain <= t1, jumped)
        t_new = jnp.where(plain, jnp.where(hit, t_plain, t1), t_ode_end)
        x_new, q_new = y[:S], y[S:-1]
        # A flux that does not vanish when its reactant runs out (`A -> 0` at a constant rate) drives a continuous
        # amount below zero, as the modeller's ODE would; clipping that at zero would silently change the model, so
        # it is the exact methods' error (the state is reported with the negative amount). The slack is far above
        # the solver's error (rtol·|x| per step) and half a molecule, so round-off near zero is not caught.
        slack = 0.5 + 1e-3 * jnp.abs(x)
        driven = ok & solved & jnp.any(continuous & ~jnp.asarray(rp.rated) & (x_new < -slack))
        x_driven = jnp.where(continuous, x_new, x)
        # Discrete counts do not move between jumps; an implicit solver's linear solves can leave round-off
        # (1e-25) on them, so they are restored. Its error can leave a vanishing continuous amount slightly
        # negative (-1e-27): that is zero.
        x_new = jnp.where(continuous & ~jnp.asarray(rp.rated), jnp.maximum(x_new, 0.0), x_new)
        x_new = jnp.where(continuous, x_new, x)
        a_new = net.propensities(x_new, self._with_q(net, p, q_new), t_new)
        a_new = jnp.where(plain, a_slow, jnp.where(fast, 0.0, jnp.maximum(a_new, 0.0)))
        k, _ = select_channel(a_new, u[1])
        fire = ok & solved & hit & (t_new <= t_stop)
        x_fired = x_new + stoich[k]
        # A discrete count never goes negative (a rate law that does not vanish is an error, as in the SSA); a
        # continuous amount below one molecule that a jump consumes is clipped at zero.
        negative = fire & jnp.any((x_fired < 0) & (stoich[k] < 0) & ~continuous)
        x_fired = jnp.where(continuous, jnp.maximum(x_fired, 0.0), x_fired)
        fire = fire & ~negative & ~driven
        status = RESULTS.where(ok, state.status, RESULTS.bad_propensity)
        status = RESULTS.where(ok & ~solved, RESULTS.ode_failed, status)
        status = RESULTS.where(ok & ~solved & _root_failed(sol.result), RESULTS.jump_not_located, status)
        status = RESULTS.where(negative | driven, RESULTS.negative_count, status)
        moved = ok & solved & ~negative
        return HybridState(
            t=jnp.where(moved, t_new, state.t),
            x=jnp.where(moved, jnp.where(driven, x_driven, jnp.where(fire, x_fired, x_new)), state.x),
            status=status,
            fired=jnp.where(fire, k, -1).astype(jnp.int32),
            count=fire.astype(jnp.int64),
            rng=rng,
            continuous=continuous,
            fast=fast,
            q=jnp.where(moved, q_new, state.q),
            dt=jnp.where(moved & ~plain, dt_next, state.dt),
        )

    def _rules_step(self, net: CompiledNetwork, state: HybridState, p, t_stop) -> HybridState:
        """A model without reactions whose rate rules move: one capped solve of their ODE towards `t_stop`
        (deterministic; the loop applies events and output times as for any step)."""
        S = state.x.shape[0]

        def rhs(t, y, args):
            x_, q_ = y[:S], y[S:]
            dx, dq = self._rates(net, x_, self._with_q(net, p, q_), t)
            return jnp.concatenate([dx, dq])

        t1 = jnp.maximum(t_stop, state.t)
        triggers = _trigger_plan(net, self._species_move)
        event = None
        if triggers.atoms:
            moving = jnp.asarray(_rate_plan(net).rated)  # no reactions: only rate rules move species
            roots = triggers.roots(net, state.x, self._with_q(net, p, state.q), state.t, moving)

            def cond(t, y, args, **kwargs):
                del args, kwargs
                return jnp.min(roots(y[:S], self._with_q(net, p, y[S:]), t))

            event = diffrax.Event(cond, root_finder=_JumpRootFinder(rtol=ROOT_RTOL, atol=0.0))
        sol = _diffeqsolve(
            diffrax.ODETerm(_finite_jacobian(rhs)),
            _SOLVERS[self.solver](),
            state.t,
            t1,
            jnp.where(state.dt > 0, state.dt, HAZARD_ATOL * (t1 - state.t) + 1e-12),
            jnp.concatenate([state.x, state.q]),
            saveat=diffrax.SaveAt(t1=True),
            stepsize_controller=diffrax.PIDController(
                rtol=self.rtol,
                atol=jnp.maximum(self.atol, ROUNDOFF_ATOL * jnp.max(jnp.abs(jnp.concatenate([state.x, state.q])))),
                pcoeff=0.3,
                icoeff=0.3,
            ),
            max_steps=self.ode_max_steps,
            event=event,
            throw=False,
        )
        capped = sol.result == diffrax.RESULTS.max_steps_reached
        stopped = sol.result == diffrax.RESULTS.event_occurred  # at a trigger's root
        t_new = jnp.where(capped | stopped, sol.ts[-1], t1)
        solved = (sol.result == diffrax.RESULTS.successful) | stopped | (capped & (t_new > state.t))
        accepted = sol.stats["num_accepted_steps"]
        y = sol.ys[-1]
        return HybridState(
            t=jnp.where(solved, t_new, state.t),
            x=jnp.where(solved, y[:S], state.x),
            status=RESULTS.where(
                solved,
                state.status,
                RESULTS.where(_root_failed(sol.result), RESULTS.jump_not_located, RESULTS.ode_failed),
            ),
            fired=jnp.asarray(-1, jnp.int32),
            count=jnp.asarray(0, jnp.int64),
            continuous=state.continuous,
            fast=state.fast,
            q=jnp.where(solved, y[S:], state.q),
            dt=jnp.where(solved & (accepted >= 2), (t_new - state.t) / jnp.maximum(accepted, 1), state.dt),
            rng=state.rng,  # a deterministic solve draws nothing
        )

    def loop_params(self, net: CompiledNetwork, state: HybridState, p):
        """`p` with the rate-rule parameters' current values: what event triggers and assignments read."""
        return self._with_q(net, p, state.q)

    def reset(self, net: CompiledNetwork, state: HybridState, p) -> HybridState:
        """After an event: rate-rule parameters take `p`'s values (an event may have assigned them; the loop's `p`
        holds the state's values otherwise, see `loop_params`). The partition is re-evaluated at the next step."""
        rp = _rate_plan(net)
        if not rp.p_index.size:
            return state
        return eqx.tree_at(lambda s: s.q, state, p[jnp.asarray(rp.p_index)])

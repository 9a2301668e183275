"""The ensemble layer: check a simulation request, run one trajectory per key in vmapped chunks, report failures.

`simulate` (in `_simulate.py`), the gradient estimators, `fit`, the model checker and the ODE reference all
build on this small surface:

- `prepare(model, t_eval, method=…, params=…, initial=…)` → `Prepared`: every check that can be made before
  running (the checks of `sbmljax._checks`, raised as exceptions with fields; parameter names;
  feasibility), and the compiled network, events, simulator, initial state and parameters (a request that
  passed is remembered, `_request_key`);
- `run_ensemble(prep, keys, …)` → the batched `Solution` (numpy arrays), one trajectory per key;
- `run_seeded(prep, seed, n, first, …)` → the same for trajectories `first … first+n−1` of a seed (one
  trajectory through a compiled call that derives its own key and returns its fields in one transfer);
- `raise_failures(prep, sol, max_steps)`: one `SimulationError` (with `reaction`, `time`, `state`) for the
  first failed trajectory;
- `trajectory_keys(seed, n, first)`: trajectory `i`'s key is `fold_in(key(seed), i)` whatever the batching;
- `as_model`, `parameter_vector`, `check_time_grid`, and the limits `DEFAULT_MAX_EVENTS`, `UNLIMITED_STEPS`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PyTree

from ._checks import (
    bad_propensities,
    format_state,
    initial_counts,
    join_time_dependent,
    time_dependent_propensities,
)
from ._compile._events import CompiledEvents, compile_events, event_refusals
from ._compile._network import CompiledNetwork, compile_network
from ._config import available_cores, default_chunk
from ._feasibility import expected_events
from ._flux import flux_reactions
from ._model import Model
from ._results import RESULTS, status_code
from ._simulator import AbstractSimulator, make_simulator
from ._simulator.hybrid import HybridSimulator
from ._solve import UNLIMITED_STEPS as UNLIMITED_STEPS
from ._solve import Solution, solve
from ._support import CONSTRUCTS
from .errors import (
    ConfigError,
    InfeasibleSimulationError,
    InitialStateError,
    ParameterError,
    SimulationError,
    UnsupportedSBMLFeatureError,
)

DEFAULT_MAX_EVENTS = 2e10
"""Default budget of estimated reaction events for one exact-simulation call (about 15 minutes)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Prepared:
    """A checked simulation request: compiled model, events, simulator, initial state, parameters.

    Equal (and equally hashed) to another request that jitted code would trace identically: same compiled
    model and events, same simulator, same output times and start. So estimator code that takes it as a
    static argument compiles once per model and time grid, not once per call. The hash ignores `x0` and
    `p`: jitted code must take them as traced arguments (every estimator passes its own to
    `run_ensemble`), never read them from a static `Prepared`."""

    model: Model
    net: CompiledNetwork
    events: CompiledEvents | None
    sim: AbstractSimulator
    t_eval: np.ndarray
    t0: float
    x0: jax.Array
    p: jax.Array
    notes: tuple[str, ...]

    def _trace_key(self) -> tuple:
        events = None if self.events is None else id(self.events.plan)
        return (id(self.net.plan), events, self.sim, self.t_eval.tobytes(), self.t0)

    def __hash__(self) -> int:
        return hash(self._trace_key())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Prepared) and self._trace_key() == other._trace_key()


def as_model(model) -> Model:
    """`model` itself, or the model loaded from a path."""
    if isinstance(model, Model):
        return model
    if isinstance(model, (str, os.PathLike)):
        from .sbml import load_sbml

        return load_sbml(model)
    raise TypeError(f"expected an sbmljax.Model (from load_sbml) or a path, got {type(model).__name__}")


def parameter_vector(net: CompiledNetwork, params: Mapping[str, float] | None) -> jax.Array:
    """The free-parameter vector with `params` overriding the model's values.

    **Raises:** `ParameterError` for an unknown name, a parameter set by a rule or initial assignment, or a
    non-finite value.
    """
    model = net.plan.model
    p = np.asarray(net.p_default, dtype=np.float64).copy()
    index = {n: i for i, n in enumerate(net.free_names)}
    derived = {v for v, _ in model.assignment_rules} | {v for v, _ in model.initial_assignments}
    for name, value in (params or {}).items():
        if name not in index:
            if name in derived:
                raise ParameterError(
                    f"{model.source}: parameter '{name}' is computed by an assignment rule or initial assignment; "
                    "set the parameters it is computed from instead"
                )
            if name in model.species_ids:
                raise ParameterError(
                    f"{model.source}: '{name}' is a species, not a parameter; set its initial count with initial="
                )
            known = ", ".join(net.free_names) if len(net.free_names) <= 20 else ", ".join(net.free_names[:20]) + ", …"
            raise ParameterError(
                f"{model.source}: unknown parameter '{name}'; the model's parameters are: {known or '(none)'}"
            )
        try:
            v = float(value)
        except (TypeError, ValueError):
            raise ParameterError(f"{model.source}: parameter '{name}' = {value!r} is not a number") from None
        if not math.isfinite(v):
            raise ParameterError(f"{model.source}: parameter '{name}' = {v} is not finite")
        p[index[name]] = v
    return jnp.asarray(p)


def check_time_grid(t_eval, t0: float) -> np.ndarray:
    """`t_eval` as a float64 vector, checked: non-empty, finite, non-decreasing, not before `t0`."""
    t = np.asarray(t_eval, dtype=np.float64).reshape(-1)
    if t.size == 0:
        raise ConfigError("t_eval is empty; give at least one output time")
    if not np.all(np.isfinite(t)):
        raise ConfigError("t_eval contains non-finite times")
    if np.any(np.diff(t) < 0):
        raise ConfigError("t_eval must be non-decreasing")
    if t[0] < t0:
        raise ConfigError(f"t_eval starts at {t[0]:g}, before the start time t0={t0:g}")
    return t


def prepare(
    model: Model | str | os.PathLike,
    t_eval,
    *,
    method: str | AbstractSimulator = "direct",
    params: Mapping[str, float] | None = None,
    initial: Mapping[str, float] | None = None,
    t0: float = 0.0,
    n_trajectories: int = 1,
    max_events: float = DEFAULT_MAX_EVENTS,
    **options,
) -> Prepared:
    """Check a simulation request and build what the loop needs (shared by `simulate` and the estimators).

    `method="auto"` is the exact direct method when it can run the request (supported constructs, counts,
    the `max_events` feasibility estimate), else the hybrid method; the choice and its reason are the first
    of `notes`.

    A request that was checked before is not checked again (see `_request_key`): a loop of one-trajectory calls
    spent about half of each call re-validating the same model, method, options and times. Only requests that
    passed are remembered, so a bad one raises on every call.
    """
    key = _request_key(model, t_eval, method, params, initial, t0, n_trajectories, max_events, options)
    if key is not None and key in _PREPARED:
        _PREPARED.move_to_end(key)
        return _PREPARED[key]
    prep = _prepare_checked(model, t_eval, method, params, initial, t0, n_trajectories, max_events, options)
    if key is not None:
        # A private, read-only copy of the times: `check_time_grid` may return a view of the caller's array, which
        # the caller could change in place after this call while the memo still matched its old bytes.
        t = prep.t_eval.copy()
        t.flags.writeable = False
        prep = dataclasses.replace(prep, t_eval=t)
        if len(_PREPARED) >= _PREPARED_SIZE:
            _PREPARED.popitem(last=False)
        _PREPARED[key] = prep
    return prep


_PREPARED: OrderedDict[tuple, Prepared] = OrderedDict()
_PREPARED_SIZE = 64
_MEMO_MAX_TIMES = 10_000
"""Requests with longer time grids are not remembered: their key (the grid's bytes) would cost more to build and
compare than the checks it saves."""
_SCALARS = (bool, int, float, str, type(None), np.bool_, np.integer, np.floating)


def _value_key(v) -> tuple:
    """A key for one option or override value: its type and, for floats, its bits (`-0.0` and `0.0` differ, and
    `1` and `1.0` are kept apart since a method may treat them differently). `TypeError` for anything else (an
    array, a callable, a container): such requests are not remembered."""
    if not isinstance(v, _SCALARS):
        raise TypeError(type(v).__name__)
    return (type(v), float(v).hex() if isinstance(v, (float, np.floating)) else v)


def _mapping_key(m: Mapping | None) -> tuple:
    return () if m is None else tuple(sorted((str(k), type(k), _value_key(v)) for k, v in m.items()))


def _request_key(model, t_eval, method, params, initial, t0, n_trajectories, max_events, options) -> tuple | None:
    """The memo key of a `prepare` request, or `None` when it is not remembered.

    The model by identity: a `Model` is a frozen dataclass of tuples and frozen dataclasses (expression trees
    included), so the same object is the same model, and the key holds it, so its `id` cannot be reused. A path
    is not remembered (the file may change between calls). The method by name and the class registered under it
    (or the simulator instance, compared by value), the options, overrides, start, ensemble size and event
    budget by value, the times by their float64 bytes (grids up to `_MEMO_MAX_TIMES` points), and whether 64-bit
    types are on (the prepared `x0` and `p` are float64 only then)."""
    if not isinstance(model, Model):
        return None
    try:
        t = np.asarray(t_eval, dtype=np.float64)
        if t.size > _MEMO_MAX_TIMES:
            return None
        if isinstance(method, str):
            from ._simulator import SIMULATORS  # the registry a user may extend: the class named, not just the name

            how: object = (method, SIMULATORS.get(method))
        else:
            how = method
        key = (
            model,
            how,
            _mapping_key(options),
            _mapping_key(params),
            _mapping_key(initial),
            _value_key(t0),
            t.tobytes(),
            _value_key(n_trajectories),
            _value_key(max_events),
            jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64,
        )
        hash(key)
    except (TypeError, ValueError, OverflowError):  # an unhashable or non-scalar value: checked afresh each call
        return None
    return key


def _prepare_checked(model, t_eval, method, params, initial, t0, n_trajectories, max_events, options) -> Prepared:
    model = as_model(model)
    if isinstance(method, str) and method == "auto":
        return _prepare_auto(model, t_eval, params, initial, t0, n_trajectories, max_events, options)
    sim = make_simulator(method, **options)
    t_eval = check_time_grid(t_eval, t0)
    if isinstance(sim, HybridSimulator):  # its default fast-channel rate is per simulated span
        sim = sim.for_span(float(np.max(t_eval)) - float(t0))
    net = compile_network(model, exact=sim.exact, accepts=sim.accepts)
    if sim.exact and net.time_dependent and "time_dependent_propensity" not in sim.accepts:
        raise join_time_dependent(time_dependent_propensities(net)).exception(model.source)
    time_rules = net.time_dependent_rules
    refusals = [u for u in event_refusals(model, time_rules) if u.key not in sim.accepts] + sim.refusals(net)
    if refusals:
        raise UnsupportedSBMLFeatureError(f"{model.source}: " + "; ".join(u.message() for u in refusals))
    events = compile_events(net)
    x0j, p, notes, per_traj = _checked_start(model, net, sim, params, initial, float(t0), t_eval)
    if per_traj is not None:
        total = per_traj * n_trajectories
        if total > max_events:
            c = CONSTRUCTS["event_budget"]
            raise InfeasibleSimulationError(
                f"{model.source}: exact simulation would take about {per_traj:.2g} reaction events per trajectory "
                f"(mean-field estimate over t={t0:g}..{t_eval[-1]:g} {model.time_units}) × {n_trajectories} "
                f"trajectories, {c.why(max_events=max_events)}. {c.fix}"
            )
    return Prepared(model, net, events, sim, t_eval, float(t0), x0j, p, notes)


_START_CACHE: dict[tuple, tuple[jax.Array, jax.Array, tuple[str, ...], float | None]] = {}
_START_CACHE_SIZE = 64


def _checked_start(
    model: Model,
    net: CompiledNetwork,
    sim: AbstractSimulator,
    params: Mapping[str, float] | None,
    initial: Mapping[str, float] | None,
    t0: float,
    t_eval: np.ndarray,
) -> tuple[jax.Array, jax.Array, tuple[str, ...], float | None]:
    """The checked initial state `(x0, p, notes, events per trajectory)` of a request (`None` for the last when
    no feasibility estimate applies), remembered per model, simulator, overrides and span.

    A pure function of its arguments, so a repeated request (a loop of one-trajectory calls) skips its three
    dispatched computations and the checks: they were ~0.4 ms of a ~1 ms one-trajectory call. Only accepted
    starts are remembered; a refused one raises again each time."""
    try:
        # Values by their bits (`hex`): -0.0 and 0.0 are equal as floats but are different parameter vectors.
        key = (
            model,  # identity (`Model` compares so), like the plan compiled from it
            net.plan,
            sim,
            tuple(sorted((k, float(v).hex()) for k, v in (params or {}).items())),
            tuple(sorted((k, float(v).hex()) for k, v in (initial or {}).items())),
            t0.hex(),
            t_eval[t_eval > t0][:1].tobytes(),
            float(t_eval[-1]).hex(),
            jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64,  # x0 and p are float64 only under x64
        )
        hash(key)
    except (TypeError, ValueError):  # an unhashable simulator option or a non-number: no memo
        return _start(model, net, sim, params, initial, t0, t_eval)
    if key not in _START_CACHE:
        start = _start(model, net, sim, params, initial, t0, t_eval)
        if len(_START_CACHE) >= _START_CACHE_SIZE:
            _START_CACHE.pop(next(iter(_START_CACHE)))
        _START_CACHE[key] = start
    return _START_CACHE[key]


def _start(
    model: Model,
    net: CompiledNetwork,
    sim: AbstractSimulator,
    params: Mapping[str, float] | None,
    initial: Mapping[str, float] | None,
    t0: float,
    t_eval: np.ndarray,
) -> tuple[jax.Array, jax.Array, tuple[str, ...], float | None]:
    per_traj = None
    p_free = parameter_vector(net, params)
    x_init, p = _initial_state(net, p_free, float(t0))  # a Python float: static, one compile per start time
    x0 = np.array(x_init, dtype=np.float64)
    for sid, value in (initial or {}).items():
        if sid not in net.plan.species_index:
            raise InitialStateError(f"{model.source}: initial count given for unknown species '{sid}'")
        x0[net.plan.species_index[sid]] = float(value)
    findings, notes = initial_counts(model, net, x0, exact=sim.exact)
    if findings:
        raise findings[0].exception(model.source)
    x0j = jnp.asarray(x0)
    if sim.exact and model.reactions:
        a = np.asarray(_initial_propensities(net, x0j, p, jnp.asarray(t0, dtype=jnp.float64)))
        bad = bad_propensities(model, net, a, x0, float(t0))
        bad += sim.start_findings(net, x0j, p, float(t0), float(t_eval[t_eval > t0][0]) if t_eval[-1] > t0 else t0)
        if bad:
            raise bad[0].exception(model.source)
        per_traj = max(
            float(a.sum()) * float(t_eval[-1] - t0),
            expected_events(net, x0j, p, float(t0), float(t_eval[-1])),
        )
    return x0j, p, tuple(notes), per_traj


def _prepare_auto(model, t_eval, params, initial, t0, n_trajectories, max_events, options) -> Prepared:
    if options:
        raise ConfigError(f"method='auto' takes no options (got {sorted(options)}); name the method to set them")
    common = dict(params=params, initial=initial, t0=t0, n_trajectories=n_trajectories, max_events=max_events)
    # SimulationError: a rate law negative in the initial state, which the hybrid method runs as a net flux if the
    # reaction is continuous (and refuses at run time if it is not).
    refusable = (UnsupportedSBMLFeatureError, InfeasibleSimulationError, InitialStateError, SimulationError)
    # The hybrid method's defaults: `prepare` resolves its fast-channel rate for the span (`FAST_EVENTS / span`),
    # so `auto`'s hybrid and `method="hybrid"` partition alike.
    hybrid = make_simulator("hybrid")
    flux = flux_reactions(model)
    if flux:
        # A flux is no propensity: the exact methods would stop where it turns negative or drains a reactant below
        # zero (sbmljax._flux); the hybrid method runs such reactions in its ODE.
        rid, reason = next(iter(flux.items()))
        more = f" ({len(flux) - 1} more reaction(s) alike)" if len(flux) > 1 else ""
        prep = prepare(model, t_eval, method=hybrid, **common)
        why = (
            f"method 'auto' chose 'hybrid': reaction '{rid}' has a law that is a flux of the reaction-rate equations, "
            f"not a propensity ({reason}){more}"
        )
        return dataclasses.replace(prep, notes=(why, *prep.notes))
    try:
        try:
            prep = prepare(model, t_eval, method="direct", **common)
            why = "method 'auto' chose 'direct': exact simulation is supported and feasible"
        except UnsupportedSBMLFeatureError as e:
            if e.construct != "time_dependent_propensity":
                raise
            prep = prepare(model, t_eval, method="extrande", **common)
            why = (
                "method 'auto' chose 'extrande': exact simulation is supported and feasible, and propensities depend "
                "on time"
            )
    except refusable as e:
        prep = prepare(model, t_eval, method=hybrid, **common)
        reason = " ".join(str(e).split()).removeprefix(f"{model.source}: ")
        why = f"method 'auto' chose 'hybrid': the exact methods refuse this request ({reason})"
    return dataclasses.replace(prep, notes=(why, *prep.notes))


@eqx.filter_jit
def _initial_state(net: CompiledNetwork, p_free, t0) -> tuple[jax.Array, jax.Array]:
    # Compiled once per model: evaluated op by op it was half of a short call's fixed cost (0.5 ms for SIR).
    return net.initial_state(p_free, t0)


@eqx.filter_jit
def _initial_propensities(net: CompiledNetwork, x, p, t) -> jax.Array:
    # Compiled: evaluated op by op, a law of a few hundred terms took longer than simulating one trajectory.
    return net.propensities(x, p, t)


def _chunk_impl(
    net, sim, events, t_eval, x0, p, keys, t0, block: int, max_steps: int, accumulator, unroll: int | None = None
) -> Solution:
    # x0 and p are shared by all trajectories or given per trajectory (a leading batch axis). `unroll` (steps per
    # compiled iteration): 1 over a batch (unrolling made vmapped steps slower, `solve`). One trajectory runs
    # unbatched with `per_output` (its inner loop carries neither the output buffer nor the output times: fewer
    # copies and fusions per step, SIR 1.05 -> 0.40 us per step); `unroll` given, it runs the blocked loop instead.
    in_axes = (0, 0 if x0.ndim == 2 else None, 0 if p.ndim == 2 else None)
    lone = keys.shape[0] == 1 and unroll is None

    def one(key, x0_, p_):
        return solve(
            net,
            sim,
            t_eval,
            x0_,
            p_,
            key,
            t0=t0,
            events=events,
            block=block,
            max_steps=max_steps,
            accumulator=accumulator,
            unroll=unroll if unroll is not None else 1,
            per_output=lone,
        )

    if lone:
        # Not vmapped: a batched loop condition would make the inner loop a masked one over a batch of one.
        sol = one(keys[0], x0[0] if x0.ndim == 2 else x0, p[0] if p.ndim == 2 else p)
        return jax.tree.map(lambda a: a[None], sol)
    return jax.vmap(one, in_axes=in_axes)(keys, x0, p)


_chunk = eqx.filter_jit(_chunk_impl)

_RUNNERS: dict[tuple, tuple[Callable, PyTree]] = {}
_RUNNERS_SIZE = 64


def _plan_key(net, sim, events, block: int, max_steps: int) -> tuple | None:
    """The key under which a model's compiled runners are remembered (its network's and events' plans, the
    simulator by value, the loop settings), or `None` when it cannot be hashed (then nothing is remembered)."""
    key = (net.plan, None if events is None else events.plan, sim, block, max_steps)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _compiled(cache: dict, net, sim, events, block: int, max_steps: int, build: Callable):
    """The runner remembered in `cache` for a model, simulator and loop settings, made by
    `build(arrays, static)` (the network's and events' arrays, which the runner takes as arguments, and the rest)
    the first time; `None` when the request cannot be hashed or the simulator itself holds arrays (they would be
    baked into the compiled function as constants)."""
    key = _plan_key(net, sim, events, block, max_steps)
    if key is None:
        return None
    if key not in cache:
        if jax.tree.leaves(eqx.filter(sim, eqx.is_array)):
            return None
        _remember(cache, key, build(*eqx.partition((net, events), eqx.is_array)))
    return cache[key]


def _remember(cache: dict, key, value) -> None:
    """Store `value` under `key`, dropping the oldest entry once `cache` holds `_RUNNERS_SIZE`."""
    if len(cache) >= _RUNNERS_SIZE:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _runner(net, sim, events, block: int, max_steps: int, accumulator) -> tuple[Callable, PyTree] | None:
    """`_chunk` as a plain `jax.jit` of the request's arrays, remembered per model, simulator and loop settings:
    `(fn, arrays)`, called as `fn(arrays, t_eval, x0, p, keys, t0)`. `None` when the simulator holds arrays or
    cannot be hashed, or an accumulator is given (then `_chunk` itself runs).

    The same computation as `_chunk` (the network's and events' arrays are arguments there as here), without
    `eqx.filter_jit`'s per-call work (splitting the network's pytree into arrays and the rest, hashing the rest,
    binding the signature): 60-80 µs of a one-trajectory call."""
    if accumulator is not None:
        return None

    def build(arrays, static) -> tuple[Callable, PyTree]:
        @jax.jit
        def run(arrays, t_eval, x0, p, keys, t0) -> Solution:
            net_, events_ = eqx.combine(arrays, static)
            return _chunk_impl(net_, sim, events_, t_eval, x0, p, keys, t0, block, max_steps, None)

        return run, arrays

    return _compiled(_RUNNERS, net, sim, events, block, max_steps, build)


class _Lone:
    """`_chunk` for one trajectory given by its seed and index, compiled for one model, simulator and loop
    settings (`_lone_runner`). Called as `lone(t_eval, x0, p, seed, index, t0)`, it returns the `Solution` as
    numpy arrays.

    Two costs of a short call move into the compiled function: the trajectory's key, `fold_in(key(seed), i)`,
    is derived there (as dispatched computations before the call it was ~0.1 ms of a ~0.5 ms call), and the
    outputs come back packed in one float64 buffer (one device-to-host transfer instead of one per field), which
    the call splits into the fields with their own dtypes, bit for bit (integers travel bitcast)."""

    def __init__(self, arrays: PyTree, static: PyTree, sim: AbstractSimulator, block: int, max_steps: int):
        self.arrays = arrays
        # Per input shapes and dtypes: the `Solution`'s structure and where each field lies in the buffer, recorded
        # when the packed function is traced for them (a new grid length or model size traces it afresh).
        self.layouts: dict[tuple, tuple[PyTree, tuple[tuple[int, int, tuple[int, ...], np.dtype], ...]]] = {}

        def packed(arrays, t_eval, x0, p, seed, index, t0):
            net_, events_ = eqx.combine(arrays, static)
            key = jax.random.fold_in(jax.random.key(seed), index)
            sol = _chunk_impl(net_, sim, events_, t_eval, x0, p, key[None], t0, block, max_steps, None)
            leaves, treedef = jax.tree.flatten(sol)
            parts, where, at = [], [], 0
            for a in leaves:
                if jnp.issubdtype(a.dtype, jnp.floating):
                    parts.append(a.astype(jnp.float64).ravel())
                else:
                    parts.append(jax.lax.bitcast_convert_type(a.astype(jnp.int64), jnp.float64).ravel())
                where.append((at, at + a.size, a.shape, np.dtype(a.dtype)))
                at += a.size
            self.layouts[(t_eval.shape, x0.shape, x0.dtype, p.shape, p.dtype)] = (treedef, tuple(where))
            return jnp.concatenate(parts)

        self.fn = jax.jit(packed)

    def __call__(self, t_eval: np.ndarray, x0, p, seed: np.int64, index: np.uint32, t0: np.ndarray) -> Solution:
        # A private copy of the transferred buffer: the fields are views of it (or converted copies), writable and
        # shared with nothing else, as `run_ensemble`'s are.
        buf = np.array(self.fn(self.arrays, t_eval, x0, p, seed, index, t0))
        treedef, where = self.layouts[(t_eval.shape, x0.shape, x0.dtype, p.shape, p.dtype)]
        ints = buf.view(np.int64)
        leaves = []
        for start, stop, shape, dtype in where:
            if dtype.kind == "f":
                part = buf[start:stop] if dtype == np.float64 else buf[start:stop].astype(dtype)
            else:
                part = ints[start:stop] if dtype == np.int64 else ints[start:stop].astype(dtype)
            leaves.append(part.reshape(shape))
        return jax.tree.unflatten(treedef, leaves)


_LONE: dict[tuple, _Lone] = {}
_LONE_BY_ID: dict[tuple, tuple[AbstractSimulator, tuple, _Lone]] = {}


def _lone_runner(net, sim, events, block: int, max_steps: int) -> _Lone | None:
    """The `_Lone` runner of a model, simulator and loop settings (remembered), or `None` when `_runner` has
    none (a simulator holding arrays or not hashable)."""
    # By identity first: a remembered request (`prepare`) brings the same simulator object each call, and hashing
    # and comparing an equinox module by value (as the dictionary below does) was ~20 µs of a short call.
    plans = (net.plan, None if events is None else events.plan)
    fast = (id(sim), id(plans[0]), id(plans[1]), block, max_steps)
    hit = _LONE_BY_ID.get(fast)
    # The entry holds the objects whose ids make its key, so none of them can be freed and its id reused by
    # another model's plan while it is remembered; checking them again guards against that all the same.
    if hit is not None and hit[0] is sim and hit[1][0] is plans[0] and hit[1][1] is plans[1]:
        return hit[2]
    lone = _compiled(_LONE, net, sim, events, block, max_steps, lambda a, s: _Lone(a, s, sim, block, max_steps))
    if lone is not None:
        _remember(_LONE_BY_ID, fast, (sim, plans, lone))
    return lone


def run_seeded(
    prep: Prepared,
    seed: int | np.integer,
    n: int,
    first: int = 0,
    *,
    block: int = 128,
    max_steps: int = UNLIMITED_STEPS,
    chunk: int | None = None,
    progress: bool = False,
) -> Solution:
    """Trajectories `first … first+n−1` of `seed` (keys as `trajectory_keys`): `run_ensemble` on those keys, as
    numpy arrays.

    One trajectory (`n = 1`) whose simulator `_runner` can compile runs through `_Lone`, which derives the key
    inside the compiled call and returns every field in one transfer; the same computation, so the same result
    bit for bit (`tests/test_prng.py`: a lone trajectory equals trajectory 0 of a batch of that seed).
    """
    if n == 1 and not progress and 0 <= first < 2**32 and jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64:
        lone = _lone_runner(prep.net, prep.sim, prep.events, block, max_steps)
        try:
            # As `trajectory_keys`: the seed as `jax.random.key` converts a Python int (int64), the index as uint32.
            seed64 = np.int64(int(seed))
        except OverflowError:  # `trajectory_keys` raises its own error for such a seed
            lone = None
        if lone is not None:
            return lone(prep.t_eval, prep.x0, prep.p, seed64, np.uint32(first), np.asarray(prep.t0, dtype=np.float64))
    keys = trajectory_keys(seed, n, first)
    return run_ensemble(prep, keys, block=block, max_steps=max_steps, chunk=chunk, progress=progress)


def run_ensemble(
    prep: Prepared,
    keys: jax.Array,
    *,
    x0: jax.Array | None = None,
    p: jax.Array | None = None,
    sim: AbstractSimulator | None = None,
    accumulator=None,
    block: int = 128,
    max_steps: int = UNLIMITED_STEPS,
    chunk: int | None = None,
    progress: bool = False,
) -> Solution:
    """Run one trajectory per key, in vmapped chunks; returns the batched `Solution` as numpy arrays.

    `x0`, `p` (default: the prepared ones) may carry a leading axis of one row per key; `sim` overrides the
    prepared simulator (the coupled-pair estimators run a coupled simulator on the prepared network);
    `accumulator` is passed to `solve`.
    """
    n = keys.shape[0]
    chunk = chunk or default_chunk()
    chunk = max(1, min(chunk, n))
    x0 = prep.x0 if x0 is None else jnp.asarray(x0)
    p = prep.p if p is None else jnp.asarray(p)
    sim = prep.sim if sim is None else sim

    def pad(a, batched: bool):
        extra = (-n) % chunk
        return jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)]) if batched and extra else a

    keys, x0_b, p_b = pad(keys, True), pad(x0, x0.ndim == 2), pad(p, p.ndim == 2)
    runner = _runner(prep.net, sim, prep.events, block, max_steps, accumulator)
    # NumPy arrays: the jitted runner moves them to the device in its C++ dispatch (`jnp.asarray` here was
    # ~15 µs each). `t0` is converted to float64 in `solve`, so its type here changes nothing computed.
    t_eval = prep.t_eval if runner is not None else jnp.asarray(prep.t_eval)
    t0 = np.asarray(prep.t0, dtype=np.float64) if runner is not None else jnp.asarray(prep.t0)
    whole = keys.shape[0] == chunk  # one chunk holds every trajectory (after padding)

    def run_chunk(i: int) -> Solution:
        with jax.enable_x64(True):  # a thread-local switch: worker threads must set it themselves
            return _run_chunk(i)

    def _run_chunk(i: int) -> Solution:
        x0_i = x0_b[i : i + chunk] if x0.ndim == 2 and not whole else x0_b
        p_i = p_b[i : i + chunk] if p.ndim == 2 and not whole else p_b
        keys_i = keys if whole else keys[i : i + chunk]  # one chunk: no slice to dispatch
        if runner is not None:
            fn, arrays = runner
            sol = fn(arrays, t_eval, x0_i, p_i, keys_i, t0)
        else:
            sol = _chunk(prep.net, sim, prep.events, t_eval, x0_i, p_i, keys_i, t0, block, max_steps, accumulator)
        return jax.device_get(sol)  # one transfer of every field (`np.asarray` per leaf waited on each)

    starts = list(range(0, keys.shape[0], chunk))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(starts), desc="simulating", unit="chunk")
    # The first chunk alone (it compiles), then the rest on a thread per core: XLA releases the GIL while it
    # runs, so chunks execute in parallel on the cores this process may use.
    parts = [run_chunk(starts[0])]
    if bar is not None:
        bar.update()
    if len(starts) > 1:
        with ThreadPoolExecutor(max_workers=ensemble_workers(len(starts) - 1)) as pool:
            for part in pool.map(run_chunk, starts[1:]):
                parts.append(part)
                if bar is not None:
                    bar.update()
    if bar is not None:
        bar.close()
    return jax.tree.map(lambda *xs: np.concatenate(xs)[:n], *parts)


def ensemble_workers(n_chunks: int) -> int:
    """Threads running chunks at once: one per CPU core this process may use (one chunk at a time on an
    accelerator, which parallelises inside a chunk)."""
    if jax.default_backend() != "cpu":
        return 1
    return max(1, min(n_chunks, available_cores()))


def raise_failures(prep: Prepared, sol: Solution, max_steps: int) -> None:
    """Raise one `SimulationError` describing the first failed trajectory, if any failed."""
    status = np.asarray(sol.status)
    failed = np.nonzero(status != status_code(RESULTS.successful))[0]
    if failed.size == 0:
        return
    i = int(failed[0])
    code = int(status[i])
    t, x, p = float(sol.t[i]), np.asarray(sol.x[i]), jnp.asarray(sol.p[i])
    model, net = prep.model, prep.net
    where = f"in trajectory {i} ({failed.size} of {status.size} failed)"
    state = format_state(model.species_ids, x)
    at = dict(zip(model.species_ids, (float(v) for v in x)))
    if code == status_code(RESULTS.bad_propensity):
        a = np.asarray(net.propensities(jnp.asarray(x), p, jnp.asarray(t)))
        bad = ~((a >= 0) & np.isfinite(a))
        if prep.sim.name == "hybrid":  # its flux reactions run in the ODE, negative or not (sbmljax._flux)
            flux = flux_reactions(model)
            bad &= ~np.isin(np.asarray(net.plan.channel_reaction), list(flux)) | ~np.isfinite(a)
        k = int(np.argmax(bad))
        kind = "NaN" if np.isnan(a[k]) else ("infinite" if np.isinf(a[k]) else "negative")
        rid = net.channel_of_reaction(k)
        raise SimulationError(
            f"{model.source}: reaction '{rid}' has a {kind} propensity ({a[k]:g}) at t={t:g} {where}, state {state}",
            reaction=rid,
            element=f"reaction '{rid}' kineticLaw",
            time=t,
            state=at,
        )
    if code == status_code(RESULTS.negative_count):
        S = len(model.species_ids)
        for half in range(max(1, x.shape[0] // S)):  # a coupled pair carries two states
            xs = x[half * S : (half + 1) * S]
            ps = p[half * (p.shape[0] // max(1, x.shape[0] // S)) :][: len(net.param_names)]
            a = np.asarray(net.propensities(jnp.asarray(xs), ps, jnp.asarray(t)))
            for ch in np.nonzero(a > 0)[0]:
                # Only what the channel consumes: the hybrid method reports a continuous amount a flux has already
                # driven below zero, which every other firing would leave negative too (BIOMD0000000224 named
                # 'JChannel', which reads g, for 'inhibition_parameter2', which removes it).
                change = np.asarray(net.stoich[ch])
                after = xs + change
                if np.any((after < 0) & (change < 0)):
                    low = ", ".join(sid for sid, v, c in zip(model.species_ids, after, change) if v < 0 and c < 0)
                    rid = net.channel_of_reaction(int(ch))
                    # The hybrid method stops after its ODE has driven a continuous amount below zero: the
                    # reaction-rate equations' own result (BIOMD0000000224: libRoadRunner's CVODE has g < 0 as well).
                    gone = [sid for sid, v, c in zip(model.species_ids, xs, change) if v < 0 and c < 0]
                    ode = (
                        f"; {', '.join(gone)} was driven below zero by the hybrid method's ODE (the model's "
                        "reaction-rate equations), not by a jump"
                        if gone
                        else ""
                    )
                    raise SimulationError(
                        f"{model.source}: reaction '{rid}' has propensity {a[ch]:g} > 0 but "
                        f"firing it would make {low} negative (after t={t:g} {where}, state "
                        f"{format_state(model.species_ids, xs)}): its rate law does not vanish when a reactant runs "
                        f"out{ode}",
                        reaction=rid,
                        element=f"reaction '{rid}' kineticLaw",
                        time=t,
                        state=dict(zip(model.species_ids, (float(v) for v in xs))),
                    )
    if code == status_code(RESULTS.max_steps_reached):
        raise SimulationError(
            f"{model.source}: {where} took {max_steps} steps and reached only t={t:g} of {prep.t_eval[-1]:g}; "
            "raise max_steps or use method='tau_leap'",
            time=t,
            state=at,
        )
    text = dict(enumerate(RESULTS._index_to_message)).get(code, "unknown failure")
    raise SimulationError(f"{model.source}: {text} at t={t:g} {where}, state {state}", time=t, state=at)


# Compiled once per ensemble size: run op by op, the vmapped fold_in was a third of a one-trajectory call.
_fold_keys = jax.jit(jax.vmap(jax.random.fold_in, in_axes=(None, 0)))


@functools.lru_cache(maxsize=64)
def _root_key(seed: int, x64: bool) -> jax.Array:
    # Cached: building the key is a dispatched computation (~30 µs of a one-trajectory call's ~1 ms); `x64` is in
    # the cache key because the seed's conversion depends on it.
    del x64
    return jax.random.key(seed)


def trajectory_keys(seed: int | np.integer, n: int, first: int = 0) -> jax.Array:
    """Keys of trajectories `first … first+n−1`: `fold_in(key(seed), i)`, independent of the ensemble size."""
    # The indices as a NumPy array: `jnp.arange` was one more dispatched computation per call.
    return _fold_keys(
        _root_key(int(seed), jax.dtypes.canonicalize_dtype(jnp.float64) == jnp.float64),
        np.arange(first, first + n, dtype=np.uint32),
    )

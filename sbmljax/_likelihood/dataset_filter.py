"""One dataset's compiled particle filter: the initial state as a function of the parameters, the jitted
filter (compiled once per problem structure), and the errors its outcome turns into.
"""

from __future__ import annotations

from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .._compile._network import CompiledNetwork
from .._config import shard_devices
from .._ensemble import UNLIMITED_STEPS, parameter_vector, prepare, raise_failures
from .._expr import symbols
from .._solve import Solution
from ..data import Dataset, Problem
from ..errors import (
    ConfigError,
    DataError,
    EstimatorError,
    LikelihoodError,
    SimulationError,
    UnsupportedSBMLFeatureError,
)
from .bootstrap import FilterOutput, bootstrap_filter, event_assigned
from .observation import observation_model

FILTER_BLOCK = 32
"""The most steps per iteration of the simulation loop's inner `scan` in a filter. Each observation interval
is its own vmapped loop, which runs until its slowest particle is done, in whole blocks: an interval of a
few hundred events wastes up to a block per interval. On bsflu (1,000 particles, direct) a filter took
210 ms with the direct method's 128, 144 ms with 32 or 64, 196 ms with 16; the gradient 454 → 261 ms.
Speed only: the results are bitwise the same for every block."""

GROUP_PARTICLES = 2048
"""Particles per group of replicate filters (or IF2 chains) on a CPU (`replicate_group`): 2,048 measured 1.3x
faster than 8,192 for IF2's 10 chains of 2,000, and alike for 10 filters of 1,000."""

DEFAULT_RESAMPLE_THRESHOLD = 0.5
"""Resample when the effective sample size falls below this fraction of the particles (Liu & Chen 1995's
rule, with the customary half; Doucet & Johansen 2009, section 3.5)."""


def check_resample_threshold(value: float) -> None:
    """A `ConfigError` unless `value` is a fraction of the particles in [0, 1] (the effective sample size lies
    in [1, N], so a larger value would be the same as 1, and a NaN would never resample without saying so)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"resample_threshold must be a number in [0, 1], got {value!r}")
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(
            f"resample_threshold = {value!r}: it is the fraction of the particles below which the effective sample "
            "size triggers resampling, so it must lie in [0, 1] (1 resamples at every observation, 0 never)"
        )


def event_method_refusal(model, sim) -> None:
    """Refuse a model with events under a method whose particles the filter cannot continue across observation
    times: the filter rebuilds each particle's simulator state from its counts, parameters and trigger values,
    which is exact for the jump-process methods (memoryless waiting times) but would lose the hybrid method's
    integrated continuous state."""
    from .._simulator.hybrid import HybridSimulator

    if isinstance(sim, HybridSimulator):
        ev = model.events[0]
        raise UnsupportedSBMLFeatureError(
            f"{model.source}: event '{ev.id}': the particle filter with method {sim.name!r} does not support SBML "
            "events (it restarts each particle at every observation time from its counts, parameters and trigger "
            "values, which loses the hybrid method's integrated ODE state); use method='direct', 'nrm' or 'tau_leap'"
        )


def event_conflicts(model, names) -> list[tuple[str, list[str]]]:
    """The SBML events that read or assign something the parameters `names` move, each with those symbols.

    What moves: `names` themselves and, transitively, every variable whose initial assignment or assignment rule
    reads one. An event conflicts when its trigger, priority or an assigned value reads such a symbol (the
    event's time or effect then shifts with the parameters), or when it assigns one (after the event the
    parameter no longer follows them)."""
    rules = list(model.initial_assignments) + list(model.assignment_rules)
    moved = set(names)
    grew = True
    while grew:
        grew = False
        for var, expr in rules:
            if var not in moved and symbols(expr) & moved:
                moved.add(var)
                grew = True
    out = []
    for ev in model.events:
        read = set(symbols(ev.trigger))
        if ev.priority is not None:
            read |= symbols(ev.priority)
        for a in ev.assignments:
            read |= symbols(a.math) | {a.variable}
        hit = sorted(read & moved)
        if hit:
            out.append((ev.id, hit))
    return out


def event_gradient_refusal(model, names) -> None:
    """Refuse the likelihood gradient when an SBML event depends on a differentiated parameter
    (`event_conflicts`): the path score (`_PathScore`, or the leap's `_LeapScore`) differentiates the jump
    or draw densities only, not an event whose time or effect moves with the parameters, and its `∂p/∂θ` is
    that of the initial values, which an event assignment would make stale."""
    conflicts = event_conflicts(model, names)
    if conflicts:
        eid, hit = conflicts[0]
        raise EstimatorError(
            f"{model.source}: event '{eid}' reads or assigns {hit}, which the differentiated parameters "
            f"{list(names)} move: the path-score gradient of the likelihood does not follow an event whose time "
            "or effect depends on the parameters (the value is still available with grad=False)"
        )


class Initial(eqx.Module):
    """`theta → (x0, p)`: initial counts and full parameter vector with the model parameters of `theta`
    (at `model_pos`) set at `model_idx` of the free vector, and the dataset's initial counts applied."""

    net: CompiledNetwork
    p_free: jax.Array
    init_val: jax.Array
    model_pos: tuple[int, ...] = eqx.field(static=True)
    model_idx: tuple[int, ...] = eqx.field(static=True)
    init_idx: tuple[int, ...] = eqx.field(static=True)
    t0: float = eqx.field(static=True)

    def __call__(self, theta):
        pf = self.p_free
        if self.model_pos:
            pf = pf.at[jnp.asarray(self.model_idx)].set(theta[jnp.asarray(self.model_pos)])
        x0, p = self.net.initial_state(pf, self.t0)
        if self.init_idx:
            x0 = x0.at[jnp.asarray(self.init_idx)].set(self.init_val)
        return x0, p


@eqx.filter_jit
def run_filters(
    net,
    sim,
    obs,
    initial,
    theta,
    keys,
    n: int,
    block: int,
    score: bool,
    record: bool = False,
    events=None,
    threshold: float | jax.Array = DEFAULT_RESAMPLE_THRESHOLD,
) -> FilterOutput:
    # Module-level and keyed on structure: a second problem of the same shape reuses the compiled filter.
    def one(key):
        return bootstrap_filter(
            net,
            sim,
            obs,
            initial,
            theta,
            key,
            n_particles=n,
            t0=initial.t0,
            block=block,
            threshold=threshold,
            score=score,
            record=record,
            events=events,
        )

    return map_grouped(one, keys, n)


def map_grouped(fn, xs, n: int):
    """`jax.vmap(fn)(xs)` over the leading axis of `xs` (replicate filters or IF2 chains of `n` particles each).

    On a CPU with several devices (`sbmljax.use_cpu_cores`) the parts are spread over them, one program per
    core (`_map_sharded`); on each, and on a CPU with one device, they run in groups of `replicate_group`, the
    groups in turn (`lax.map`; a group of one without an outer vmap). The same results as one vmap: each part
    draws from its own key."""
    count = jax.tree_util.tree_leaves(xs)[0].shape[0]
    devices = shard_devices(count)
    if devices:
        return _map_sharded(fn, xs, n, devices)
    return _map_local(fn, xs, n)


def _map_local(fn, xs, n: int):
    count = jax.tree_util.tree_leaves(xs)[0].shape[0]
    group = replicate_group(count, n)
    if group >= count:
        return jax.vmap(fn)(xs)
    return jax.lax.map(fn, xs, batch_size=group if group > 1 else None)


def _map_sharded(fn, xs, n: int, devices: list):
    """`_map_local` on each of `devices`, the parts split evenly along the leading axis (`shard_map`; XLA runs the
    devices' programs on their own threads). A count that does not divide is padded with copies of the last part,
    whose results are dropped. Bitwise `_map_local`'s results (bsflu, 10 filters of 10,000 particles on 2
    cores: 1.3 s wall against 2.5-3.0 s on one, the same values)."""
    count = jax.tree_util.tree_leaves(xs)[0].shape[0]
    pad = -count % len(devices)
    if pad:
        xs = jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]), xs)
    mesh = jax.sharding.Mesh(np.asarray(devices), ("cores",))
    spec = jax.sharding.PartitionSpec("cores")
    # check_vma=False: the filters' scans carry values that do not vary over the mesh axis next to ones that do,
    # which shard_map's type check would refuse; every part is independent, so nothing needs the check.
    run = jax.shard_map(
        lambda part: _map_local(fn, part, n), mesh=mesh, in_specs=(spec,), out_specs=spec, check_vma=False
    )
    out = run(xs)
    return jax.tree.map(lambda a: a[:count], out) if pad else out


def replicate_group(replicates: int, n: int) -> int:
    """How many replicate filters run vmapped together (`lax.map`'s `batch_size`; the groups run in turn).

    On a CPU the cost per particle of a filter grows with the batch beyond a few thousand particles: the samplers'
    loops run to the batch's extreme and the particles' arrays leave the cache (bsflu, binomial leap, one core,
    `benchmarks/bench_leap_batch.py`: 2.65-2.74 µs per particle and interval at 2,000-10,000 particles, 3.51 at
    100,000 in one filter, 3.72 for 10 vmapped filters of 10,000; one IF2 iteration of 10 chains × 2,000
    particles 4.6 µs vmapped together, 3.4 in groups of 4 chains, 2.6 one chain at a time). So replicates are
    grouped to at most `GROUP_PARTICLES` particles (at least one filter per group). An accelerator wants the whole
    batch at once. Speed only: each filter's draws come from its own key, so the results are bitwise the same
    for every grouping."""
    if jax.default_backend() != "cpu":
        return replicates
    return max(1, min(replicates, GROUP_PARTICLES // max(n, 1)))


def _one_failure(status, t, x, p) -> Solution:
    """The failing particle as a batch of one trajectory, what `raise_failures` reads (status, t, x, p). Built
    under `vmap` so that each field has `Solution`'s per-trajectory shape where it is constructed (a stand-in
    object failed the type check of `raise_failures` under jaxtyping)."""
    zero = jnp.asarray(0)

    def one(s, ti, xi, pi):
        return Solution(
            counts=xi[None], t=ti, x=xi, p=pi, status=s, steps=zero, firings=zero, extra=None, recorded=zero
        )

    return jax.vmap(one)(*(jnp.asarray(v)[None] for v in (status, t, x, p)))


class DatasetFilter:
    """The compiled filter of one dataset and what its errors need."""

    def __init__(
        self,
        problem: Problem,
        d: Dataset,
        values: Mapping[str, float],
        names,
        method,
        n,
        r,
        block,
        threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
    ):
        model = problem.model
        model_params = set(model.parameter_values())
        merged = {**values, **d.params}
        prep = prepare(
            model,
            d.times,
            method=method,
            params={k: v for k, v in merged.items() if k in model_params},
            initial=d.initial,
            n_trajectories=n * r,
        )
        if prep.events is not None:
            event_method_refusal(model, prep.sim)
        net = prep.net
        self.prep, self.dataset, self.names = prep, d, tuple(names)
        self.initial = Initial(
            net=net,
            p_free=parameter_vector(net, {k: v for k, v in merged.items() if k in model_params}),
            init_val=jnp.asarray([float(v) for v in d.initial.values()], dtype=jnp.float64),
            model_pos=tuple(i for i, nm in enumerate(self.names) if nm in net.free_names),
            model_idx=tuple(net.free_names.index(nm) for nm in self.names if nm in net.free_names),
            init_idx=tuple(net.plan.species_index[s] for s in d.initial),
            t0=float(prep.t0),
        )
        constants = {k: v for k, v in merged.items() if k not in self.names}
        self.obs = observation_model(d, model, net, self.names, constants)
        self.sim, self.n, self.block = prep.sim, n, block or min(prep.sim.default_block, FILTER_BLOCK)
        self.events = prep.events
        self.threshold = float(threshold)

    def check_noise(self, theta: jax.Array) -> None:
        """Noise values at the initial state (constant noise formulas): one error naming the observable and
        time where an SD, scale or probability is not usable."""
        x0, p = self.initial(theta)
        d = self.dataset
        for k in range(d.times.size):
            _, ok = self.obs.terms(x0, p, k, theta)
            bad = np.nonzero(~np.asarray(ok))[0]
            if bad.size:
                o = d.observables[int(bad[0])]
                raise DataError(
                    f"{d.source or d.name}: observable '{o.id}' at time {d.times[k]:g} (row {k + 1}): its noise "
                    f"formula {o.noise_formula!r} gives an unusable value (an SD or scale must be > 0, a size > 0, "
                    "a reporting probability in (0, 1])"
                )

    def run(self, theta: jax.Array, keys: jax.Array, score: bool, record: bool = False) -> FilterOutput:
        out = run_filters(
            self.initial.net,
            self.sim,
            self.obs,
            self.initial,
            theta,
            keys,
            self.n,
            self.block,
            score,
            record,
            self.events,
            # traced, so that filters differing only in their threshold share one compilation
            jnp.asarray(self.threshold, dtype=jnp.float64),
        )
        out = jax.tree.map(np.asarray, out)
        self._raise(out, theta)
        return out

    def _assigned_text(self, p) -> str:
        """The values a failing particle had of the parameters SBML events assign: its own, which may differ from
        the parameters being evaluated (`bootstrap_filter` carries them per particle)."""
        if self.events is None:
            return ""
        net = self.initial.net
        mask = np.asarray(event_assigned(net, self.events))
        shown = ", ".join(
            f"{nm} = {float(v):g}" for nm, v, hit in zip(net.plan.param_names, np.asarray(p), mask) if hit
        )
        return f"; the particle's event-assigned parameters: {shown}" if shown else ""

    def _raise(self, out: FilterOutput, theta: jax.Array) -> None:
        d = self.dataset
        where = d.source or d.name
        failed = np.nonzero(out.failed_at >= 0)[0]
        if failed.size:
            i = int(failed[0])
            k = int(out.failed_at[i])
            # With events p is the particle's own (an event may have assigned a parameter the propensities read),
            # else theta's.
            p = np.asarray(self.initial(theta)[1] if out.fail_p is None else out.fail_p[i])
            sol = _one_failure(out.fail_status[i], out.fail_t[i], out.fail_x[i], p)
            try:
                raise_failures(self.prep, sol, UNLIMITED_STEPS)
            except SimulationError as e:
                t_prev = 0.0 if k == 0 else float(d.times[k - 1])
                raise SimulationError(
                    f"particle filter, interval t={t_prev:g}..{d.times[k]:g} of {where}: {e}{self._assigned_text(p)}",
                    reaction=e.reaction,
                    element=e.element,
                    time=e.time,
                    state=e.state,
                ) from None
        bad = out.bad_noise_at[out.bad_noise_at >= 0]
        if bad.size:
            k = int(bad.min())
            raise DataError(
                f"{where}: at time {d.times[k]:g} (row {k + 1}) a noise formula gives an unusable value for some "
                "particle (an SD or scale must be > 0, a size > 0, a reporting probability in (0, 1])"
            )
        gone = out.vanished_at[out.vanished_at >= 0]
        if gone.size:
            k = int(gone.min())
            shown = ", ".join(
                f"{o.id} = {d.values[k, j]:g}" for j, o in enumerate(d.observables) if not np.isnan(d.values[k, j])
            )
            raise LikelihoodError(
                f"{where}: every particle's weight vanished at time {d.times[k]:g} (row {k + 1}; observed "
                f"{shown}): no simulated state explains the data there. Use more particles, a larger noise SD, "
                "or parameters under which the model can reach the data",
                time=float(d.times[k]),
            )
        bad_g = out.bad_grad_at[out.bad_grad_at >= 0]
        if bad_g.size:
            raise EstimatorError(
                f"{where}: the score of a weighted particle is not finite (a propensity or measurement density "
                "with an infinite derivative); the gradient cannot be estimated at these parameters"
            )

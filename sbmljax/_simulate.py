"""`simulate`: the public entry point for ensembles of stochastic trajectories.

It checks everything that can be checked before running (supported constructs, parameter names, initial
counts, feasibility), runs the ensemble in vmapped chunks, and turns any failed trajectory into one clear
`SimulationError` naming the reaction, time and state. The machinery is the ensemble layer's
(`sbmljax._ensemble`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ._compile._network import CompiledNetwork
from ._config import x64
from ._ensemble import DEFAULT_MAX_EVENTS, UNLIMITED_STEPS, prepare, raise_failures, run_seeded
from ._model import Model
from ._results import status_names
from ._simulator import AbstractSimulator
from ._trajectory import Trajectories
from .errors import ConfigError


@eqx.filter_jit
def _observe(net: CompiledNetwork, counts, p, t):
    # Module-level, so that the compiled function is cached across calls (a `jax.jit` built inside `simulate`
    # was traced and compiled again at every call: 0.4 s of a 1 s hybrid run of BIOMD0000000009).
    return jax.vmap(jax.vmap(net.observe, in_axes=(0, None, 0)), in_axes=(0, None, None))(counts, p, t)


@x64
def simulate(
    model: Model | str | os.PathLike,
    t_eval,
    *,
    n_trajectories: int = 1,
    seed: int | np.integer,
    method: str | AbstractSimulator = "direct",
    params: Mapping[str, float] | None = None,
    initial: Mapping[str, float] | None = None,
    t0: float = 0.0,
    block: int | None = None,
    chunk: int | None = None,
    max_steps: int | None = None,
    max_events: float = DEFAULT_MAX_EVENTS,
    progress: bool = False,
    first_trajectory: int = 0,
    throw: bool = True,
    **options,
) -> Trajectories:
    """Simulate an ensemble of stochastic trajectories of an SBML model.

    **Arguments:**

    - `model`: a model from `load_sbml` (or a path to an SBML file).
    - `t_eval`: non-decreasing output times; counts are recorded exactly at these times.
    - `n_trajectories`: ensemble size `N`.
    - `seed`: integer seed; the same seed gives identical results.
    - `method`: `"direct"` (Gillespie 1977), or another registered method (`"nrm"`, `"tau_leap"`,
      `"extrande"`, `"hybrid"`), or a simulator instance; `"auto"` is `"direct"` when the exact methods can
      run the request, `"extrande"` when they can but propensities depend on time, and `"hybrid"` otherwise
      (the result's `method` says which, its first note why).
    - `params`: parameter id (`k1`, or `reaction.k` for a local one) → value, overriding the model's.
    - `initial`: species id → initial molecule count, overriding the model's.
    - `t0`: start time (the time of the model's initial state).
    - `block`: steps per iteration of the loop's inner `scan` (default: the method's, 128 for exact methods, 16
      for tau-leaping); a speed setting that does not change results.
    - `chunk`: trajectories per vmapped batch (default 128 on CPU, 8192 on accelerators); does not change results.
    - `max_steps`: per-trajectory step limit (default: unlimited for exact methods; the `max_events` estimate
      guards against runaway runs).
    - `max_events`: refuse up front if the estimated total number of reaction events exceeds this.
    - `progress`: show a progress bar.
    - `first_trajectory`: index of the first trajectory. Trajectory `i` always uses the key
      `fold_in(key(seed), i)`, so simulating trajectories `[a, b)` in a separate call gives exactly the slice
      of one big run: an ensemble split into seed-chunks (a cluster job each) merges to the same result.
    - `throw`: raise a `SimulationError` for the first failed trajectory (the default); with `False`, return
      every trajectory with `Trajectories.status` saying how each ended, so that one failure does not
      discard a large ensemble (a failed trajectory's counts are NaN from the first output time it missed).
    - `**options`: options of the method (e.g. `tau=` for tau-leaping).

    **Returns:** `Trajectories` with `times (T,)`, `counts (N, T, S)` and `species`.

    **Raises:** `UnsupportedSBMLFeatureError`, `ParameterError`, `InitialStateError`,
    `InfeasibleSimulationError` before running; `SimulationError` if a trajectory fails (negative or NaN
    propensity: which reaction, at what time and state).

    **Reference:** D. T. Gillespie, J. Phys. Chem. 81:2340 (1977).
    """
    if not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if n_trajectories < 1:
        raise ConfigError(f"n_trajectories must be at least 1, got {n_trajectories}")
    if first_trajectory < 0:
        raise ConfigError(f"first_trajectory must be non-negative, got {first_trajectory}")
    prep = prepare(
        model,
        t_eval,
        method=method,
        params=params,
        initial=initial,
        t0=t0,
        n_trajectories=n_trajectories,
        max_events=max_events,
        **options,
    )
    steps = int(max_steps) if max_steps is not None else UNLIMITED_STEPS
    block = block or prep.sim.default_block
    sol = run_seeded(
        prep, seed, n_trajectories, first_trajectory, block=block, max_steps=steps, chunk=chunk, progress=progress
    )
    counts = np.asarray(sol.counts)  # run_seeded's own (fresh) numpy array: filled in place below
    if throw:
        raise_failures(prep, sol, steps)
    else:  # rows a failed trajectory never reached
        counts[np.arange(counts.shape[1])[None, :] >= np.asarray(sol.recorded)[:, None]] = np.nan
    if prep.net.plan.rule_species:
        counts = np.asarray(_observe(prep.net, jnp.asarray(counts), prep.p, jnp.asarray(prep.t_eval)))
    return Trajectories(
        times=prep.t_eval.copy(),  # the prepared times are shared by later calls (`prepare` remembers them)
        counts=np.asarray(counts),
        species=prep.model.species_ids,
        method=prep.sim.name,
        seed=int(seed),
        model_id=prep.model.id,
        time_units=prep.model.time_units,
        notes=prep.notes,
        n_events=np.asarray(sol.firings),
        status=status_names(sol.status),
        first_trajectory=int(first_trajectory),
    )

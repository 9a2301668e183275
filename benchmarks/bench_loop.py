"""Where `simulate`'s time goes: the compiled loop per event (batched and one lane) and a call's fixed cost.

Three parts, each timed in one process (best of several calls):

- `batch`: the compiled ensemble call (`sbmljax._ensemble._chunk`, no Python around it) on SIR and
  birth–death (t = 0…250, 251 output times, 128 trajectories, one chunk), in ns per event and per step
  (steps include the step that stops at each output time). `no recording` compiles the same loop with the
  output write replaced by nothing (its results are wrong; timing only), so the difference is what recording
  costs per event.
- `single`: one trajectory of birth–death to t = 2,500 (~50,000 events, so that the fixed cost vanishes) in
  the loop `simulate` runs for one lane (unbatched, the steps between two output times in a `while_loop` of
  their own: `solve`'s `per_output`), against the blocked loop of a batch with 4 steps unrolled per compiled
  iteration (what it ran before) and not unrolled.
- `call`: the fixed cost of one call (SIR, output times `[0, 1e-9]`, so that nothing fires): `simulate` in all,
  and its parts — `prepare` (a remembered request, one checked again with its start remembered, and one not
  seen before), the one-trajectory run (`run_seeded`, through `_Lone`) split into the compiled executable
  alone, `jax.jit`'s dispatch, the one device-to-host copy and the unpacking, and what the same trajectory
  cost through the batch path before (trajectory keys, `run_ensemble`); then one trajectory to t = 250, for
  the cost per event beyond the fixed cost.

Run on one core: `taskset -c 0 python benchmarks/bench_loop.py`. The numbers depend on the machine and its
load; compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from unittest import mock

import jax
import jax.numpy as jnp
import numpy as np

import sbmljax
from sbmljax._ensemble import (
    _PREPARED,
    _START_CACHE,
    _chunk,
    _lone_runner,
    prepare,
    run_ensemble,
    run_seeded,
    trajectory_keys,
)

MODELS = Path(__file__).resolve().parents[1] / "models"


def _best(f, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        jax.block_until_ready(f())
        best = min(best, time.perf_counter() - t0)
    return best


def _chunk_args(name: str, n: int, t_end: float, points: int):
    prep = prepare(sbmljax.load_sbml(MODELS / f"{name}.xml"), np.linspace(0.0, t_end, points), n_trajectories=n)
    keys = trajectory_keys(0, n)
    args = (prep.net, prep.sim, prep.events, jnp.asarray(prep.t_eval), prep.x0, prep.p, keys, jnp.asarray(prep.t0))
    return prep, args


def batch(reps: int) -> None:
    for name in ("sir", "birth_death"):
        _, args = _chunk_args(name, 128, 250.0, 251)
        rows = {}
        for label, patch in (("loop as simulate runs it", None), ("no recording (timing only)", True)):
            jax.clear_caches()
            ctx = mock.patch.object(jax.lax, "dynamic_update_slice", lambda buf, *_: buf) if patch else None
            if ctx is not None:
                ctx.start()
            try:
                compiled = _chunk.lower(*args, 128, 2**62, None).compile()
            finally:
                if ctx is not None:
                    ctx.stop()
            sol = compiled(*args, 128, 2**62, None)
            events, steps = float(np.sum(sol.firings)), float(np.sum(sol.steps))
            rows[label] = (_best(lambda c=compiled: c(*args, 128, 2**62, None), reps), events, steps)
        for label, (dt, events, steps) in rows.items():
            print(f"batch  {name:<12} {label:<28} {dt / events * 1e9:7.1f} ns/event {dt / steps * 1e9:7.1f} ns/step")


def single(reps: int) -> None:
    _, args = _chunk_args("birth_death", 1, 2500.0, 251)
    for unroll, label in (
        (None, "one lane, as simulate runs it"),
        (4, "one lane, blocks, 4 unrolled"),
        (1, "one lane, blocks, not unrolled"),
    ):
        sol = _chunk(*args, 128, 2**62, None, unroll)
        dt = _best(lambda u=unroll: _chunk(*args, 128, 2**62, None, u), reps)
        ev, st = float(np.sum(sol.firings)), float(np.sum(sol.steps))
        print(f"single birth_death  {label:<28} {dt / ev * 1e9:7.1f} ns/event {dt / st * 1e9:7.1f} ns/step")


def call(reps: int) -> None:
    model = sbmljax.load_sbml(MODELS / "sir.xml")
    t = np.array([0.0, 1e-9])
    t_full = np.linspace(0.0, 250.0, 251)
    sbmljax.simulate(model, t, seed=0)
    sbmljax.simulate(model, t_full, seed=0)
    total = _best(lambda: sbmljax.simulate(model, t, seed=1), reps)
    full = _best(lambda: sbmljax.simulate(model, t_full, seed=1), reps)
    events = float(sbmljax.simulate(model, t_full, seed=1).n_events[0])
    with jax.enable_x64(True):
        part_prepare = _best(lambda: prepare(model, t), reps)

        def start_prepare():
            _PREPARED.clear()  # the request checked again; its start (initial state, feasibility) remembered
            return prepare(model, t)

        def fresh_prepare():
            _PREPARED.clear()  # what a request not seen before pays: the checks and the start, not remembered
            _START_CACHE.clear()
            return prepare(model, t)

        part_start = _best(start_prepare, reps)
        part_fresh = _best(fresh_prepare, reps)
        prep = prepare(model, t)
        part_seeded = _best(lambda: run_seeded(prep, 1, 1), reps)
        lone = _lone_runner(prep.net, prep.sim, prep.events, 128, 2**62)
        assert lone is not None
        fast = (lone.arrays, prep.t_eval, prep.x0, prep.p, np.int64(1), np.uint32(0), np.asarray(prep.t0))
        executable = lone.fn.lower(*fast).compile()
        part_exec = _best(lambda: executable(*fast), reps)
        part_jit = _best(lambda: lone.fn(*fast), reps)
        part_get = _best(lambda: np.array(lone.fn(*fast)), reps)
        # Before `_Lone`: the keys folded by a compiled call of their own, the batch runner, a transfer per field.
        part_keys = _best(lambda: trajectory_keys(1, 1), reps)
        part_ensemble = _best(lambda: run_ensemble(prep, trajectory_keys(1, 1), block=128), reps)
    ms = 1e3
    print(f"call   sir, nothing fires: simulate {total * ms:.3f} ms")
    print(f"call     prepare, a remembered request           {part_prepare * ms:.3f} ms")
    print(f"call     prepare, checked again, start memoised  {part_start * ms:.3f} ms")
    print(f"call     prepare of a new request (not memo.)    {part_fresh * ms:.3f} ms")
    print(f"call     run_seeded in all (n = 1: _Lone)        {part_seeded * ms:.3f} ms")
    print(f"call       compiled executable alone (packed)    {part_exec * ms:.3f} ms")
    print(f"call       jax.jit dispatch (call - exec.)       {(part_jit - part_exec) * ms:.3f} ms")
    print(f"call       call and one device -> host copy      {part_get * ms:.3f} ms")
    print(f"call       unpacking the fields                  {(part_seeded - part_get) * ms:.3f} ms")
    print(f"call     instead: trajectory keys (fold_in call) {part_keys * ms:.3f} ms")
    print(f"call     instead: run_ensemble on those keys     {part_ensemble * ms:.3f} ms")
    print(f"call     the rest (checks, Trajectories, ...)    {(total - part_prepare - part_seeded) * ms:.3f} ms")
    print(
        f"call   sir t=0..250, one trajectory: {full * ms:.3f} ms, {events:.0f} events, "
        f"{(full - total) / events * 1e9:.0f} ns per event beyond the fixed cost"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="*", default=["batch", "single", "call"])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with jax.enable_x64(True):
        for part in args.parts:
            {"batch": batch, "single": single, "call": lambda r: None}[part](args.reps)
    if "call" in args.parts:
        call(max(args.reps, 30))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

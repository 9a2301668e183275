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
  and its parts — `prepare` (warm, and for a request not seen before), the trajectory keys, the ensemble call
  split into the compiled executable alone, `jax.jit`'s dispatch (and equinox's `filter_jit`, which ran it
  before), the device-to-host copy; then one trajectory to t = 250, for the cost per event beyond the fixed
  cost.

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
from sbmljax._ensemble import _START_CACHE, _chunk, _runner, prepare, run_ensemble, trajectory_keys

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

        def fresh_prepare():
            _START_CACHE.clear()  # what a request not seen before pays: the start checks, not memoised
            return prepare(model, t)

        part_fresh = _best(fresh_prepare, reps)
        part_keys = _best(lambda: trajectory_keys(1, 1), reps)
        prep, args = _chunk_args("sir", 1, 1e-9, 2)
        runner = _runner(prep.net, prep.sim, prep.events, 128, 2**62, None)
        assert runner is not None
        fn, arrays = runner
        fast = (arrays, prep.t_eval, prep.x0, prep.p, args[6], np.asarray(prep.t0))
        executable = fn.lower(*fast).compile()
        part_exec = _best(lambda: executable(*fast), reps)
        part_jit = _best(lambda: fn(*fast), reps)
        part_eqx = _best(lambda: _chunk(*args, 128, 2**62, None), reps)
        sol = fn(*fast)
        part_get = _best(lambda: jax.device_get(sol), reps)
        part_ensemble = _best(lambda: run_ensemble(prep, args[6], block=128), reps)
    ms = 1e3
    print(f"call   sir, nothing fires: simulate {total * ms:.3f} ms")
    print(f"call     prepare (start checks memoised)      {part_prepare * ms:.3f} ms")
    print(f"call     prepare of a new request (not memo.)   {part_fresh * ms:.3f} ms")
    print(f"call     trajectory keys                        {part_keys * ms:.3f} ms")
    print(f"call     run_ensemble in all                    {part_ensemble * ms:.3f} ms")
    print(f"call       compiled executable alone (1 block)  {part_exec * ms:.3f} ms")
    print(f"call       jax.jit dispatch (runner - exec.)    {(part_jit - part_exec) * ms:.3f} ms")
    print(f"call       equinox filter_jit dispatch instead  {(part_eqx - part_exec) * ms:.3f} ms")
    print(f"call       device -> host (one device_get)      {part_get * ms:.3f} ms")
    print(
        f"call     the rest (checks, Trajectories, ...)   {(total - part_prepare - part_keys - part_ensemble) * ms:.3f} ms"
    )
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

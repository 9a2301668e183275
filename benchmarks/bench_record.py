"""The recording cost of the vmapped exact loop: per-step row writes against a per-lane pending buffer.

`solve` records a trajectory's counts at each output time. Over a batch (`vmap`), the per-step write of one
row at a per-lane index is a scatter into the `[lanes, T + 1, S]` output buffer on every step; with
`pending=P` the rows go to a dense per-lane buffer of `P` rows (a one-hot select) and one scatter of `P` rows
per block of `block` steps writes them out. This script compiles the direct method's vmapped loop (SIR and
birth–death, t = 0…250, 251 output times, 128 trajectories, as `bench_loop.py`) with each setting, checks
that every setting gives the same results as the per-step write, and times them alternately (round robin,
best of `--reps` per setting), in ns per event. `carry/0:128` writes each recorded row at the next step,
from the carried state, instead of in the step that recorded it.

Run on one core: `taskset -c 0 python benchmarks/bench_record.py`. Compare rows of one run.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

import sbmljax
from sbmljax import _solve
from sbmljax._ensemble import prepare, trajectory_keys
from sbmljax._solve import solve

MODELS = Path(__file__).resolve().parents[1] / "models"


@eqx.filter_jit
def _run(net, sim, t_eval, x0, p, keys, t0, pending: int, block: int):
    # The network's arrays are arguments (as in `sbmljax._ensemble._chunk`), not constants folded into the loop.
    return jax.vmap(lambda k: solve(net, sim, t_eval, x0, p, k, t0=t0, block=block, pending=pending))(keys)


def _compiled(name: str, n: int, pending: int, block: int):
    prep = prepare(sbmljax.load_sbml(MODELS / f"{name}.xml"), np.linspace(0.0, 250.0, 251), n_trajectories=n)
    args = (prep.net, prep.sim, jnp.asarray(prep.t_eval), prep.x0, prep.p, trajectory_keys(0, n), jnp.asarray(prep.t0))
    compiled = _run.lower(*args, pending, block).compile()
    return lambda: compiled(*args, pending, block)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=["sir", "birth_death"])
    ap.add_argument(
        "--settings",
        nargs="*",
        default=["0:128", "carry/0:128", "16:128", "32:128", "0:128#2", "carry/0:128#2"],
        help="[carry/]pending:block[#label]; pending 0 writes one row per step, in the step (or from the carry)",
    )
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--n", type=int, default=128)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    with jax.enable_x64(True):
        for name in args.models:
            runs = {}
            for s in args.settings:
                mode, _, rest = s.split("#")[0].rpartition("/")
                pend, block = (int(v) for v in rest.split(":"))
                _solve._RECORD = mode or "step"
                runs[s] = _compiled(name, args.n, pend, block)
                _solve._RECORD = "step"
            ref = runs[args.settings[0]]()
            for s, f in runs.items():
                sol = f()
                same = all(
                    np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
                    for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(sol))
                )
                print(f"{name:<12} {s:>7}: results identical to {args.settings[0]}: {same}")
            events = float(np.sum(ref.firings))
            steps = float(np.sum(ref.steps))
            best = {s: float("inf") for s in runs}
            for _ in range(args.reps):
                for s, f in runs.items():
                    t0 = time.perf_counter()
                    jax.block_until_ready(f())
                    best[s] = min(best[s], time.perf_counter() - t0)
            base = best[args.settings[0]]
            for s, dt in best.items():
                print(
                    f"{name:<12} pending:block {s:>7} {dt / events * 1e9:7.1f} ns/event "
                    f"{dt / steps * 1e9:7.1f} ns/step  {base / dt:5.2f}x the first"
                )
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

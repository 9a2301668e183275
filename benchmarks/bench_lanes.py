"""Lane utilisation of the vmapped SSA loop, and cost per event against the chunk size, with rebop in the same run.

`simulate` runs an ensemble as `vmap`ped chunks of `chunk` trajectories; a chunk's loop runs until its longest
trajectory ends, and a finished lane keeps executing (masked) steps until then. This script measures, for the
direct method on SIR and birth–death (t = 0…250, 251 output times, n = 1,000, one core):

- per trajectory, the loop steps it needed (events plus the steps that stop at output times);
- for each chunk size, the *utilisation*: the steps the trajectories needed divided by the steps the chunks
  executed (chunk size × its longest trajectory's steps, rounded up to whole blocks of 128);
- for each chunk size, `simulate`'s time per event (best of `--reps`, compilation excluded) and, when rebop is
  importable, the ratio to rebop's core loop timed in the same run (as in `bench_ssa.py`: above 1, sbmljax is
  faster).

    taskset -c 0 python benchmarks/bench_lanes.py
    python benchmarks/bench_lanes.py --chunks 64 128 --models sir
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_ssa import MODELS, rebop_rate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--chunks", type=int, nargs="*", default=[16, 32, 64, 128, 256, 512, 1000])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--block", type=int, default=128)
    args = ap.parse_args()

    import jax
    import jax.numpy as jnp

    import sbmljax
    from sbmljax._ensemble import _chunk, prepare, trajectory_keys

    print(f"n={args.n} one process, affinity {sorted(os.sched_getaffinity(0))}, load average {os.getloadavg()[0]:.2f}")
    for name in args.models:
        path, t_end, points = MODELS[name]
        model = sbmljax.load_sbml(path)
        t = np.linspace(0.0, t_end, points)
        with jax.enable_x64(True):
            prep = prepare(model, t, n_trajectories=args.n)
            keys = trajectory_keys(1, args.n)
            sol = _chunk(
                prep.net, prep.sim, prep.events, jnp.asarray(prep.t_eval), prep.x0, prep.p, keys,
                jnp.asarray(prep.t0), args.block, 2**62, None,
            )  # fmt: skip
        steps = np.asarray(sol.steps)
        events = float(np.sum(sol.firings))
        q = np.percentile(steps, [0, 10, 50, 90, 100])
        print(
            f"{name}: steps per trajectory min {q[0]:.0f}, 10% {q[1]:.0f}, median {q[2]:.0f}, 90% {q[3]:.0f}, "
            f"max {q[4]:.0f}; events per trajectory {events / args.n:.0f}"
        )
        for c in args.chunks:
            c = min(c, args.n)
            executed = 0
            for i in range(0, args.n, c):
                part = steps[i : i + c]
                executed += c * (-(-int(part.max()) // args.block) * args.block)
            util = steps.sum() / executed
            sbmljax.simulate(model, t, n_trajectories=args.n, seed=12345, chunk=c)  # compile
            best = float("inf")
            for _ in range(args.reps):
                start = time.perf_counter()
                sbmljax.simulate(model, t, n_trajectories=args.n, seed=1, chunk=c)
                best = min(best, time.perf_counter() - start)
            ns = best / events * 1e9
            reb = rebop_rate(name, args.n, t_end, points)  # right after, so that both see the same load
            line = f"  chunk {c:>5}: utilisation {util:5.1%}  {ns:6.1f} ns/event  {events / best / 1e6:6.2f} M events/s"
            if reb is not None:
                line += f"  rebop {reb * events / args.n / 1e6:6.2f} M events/s  vs rebop {(args.n / best) / reb:5.2f}"
            print(line, flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

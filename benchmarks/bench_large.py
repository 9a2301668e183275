"""Events/s on large sparse networks: direct vs NRM vs tau-leaping vs libRoadRunner, in one run.

Networks (see `networks.py`): a 200-reaction ring (100 species, every rate constant 1, 1,000 molecules
each) and a random sparse network of 200 conversions and bindings. For exact methods the number of events
is counted by sbmljax; libRoadRunner's events/s is its trajectories/s times the mean number of events
sbmljax counted for the same model and horizon (same process, same expected count). Tau-leaping's
"events" are the reaction firings its leaps make.

    python benchmarks/bench_large.py             # one core
    python benchmarks/bench_large.py --cores 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--n", type=int, default=256, help="trajectories per sbmljax run")
    ap.add_argument("--t-end", type=float, default=0.2, help="simulated time (the ring fires 2e5 events per unit)")
    ap.add_argument("--rr-n", type=int, default=5, help="libRoadRunner trajectories timed")
    args = ap.parse_args()
    os.sched_setaffinity(0, set(range(args.cores)))

    import numpy as np
    import roadrunner
    from networks import random_network, ring

    import sbmljax

    methods = [("direct", {}), ("nrm", {}), ("tau_leap", {"epsilon": 0.03})]
    print(f"cores={args.cores} n={args.n} t_end={args.t_end}")
    print(f"{'network':<10} {'method':<10} {'M events/s':>11} {'vs rr':>7} {'µs/event/traj':>14}")
    for name, text in (("ring", ring()), ("random", random_network())):
        model = sbmljax.load_sbml(text)
        t = np.linspace(0.0, args.t_end, 3)
        results = {}
        for method, opts in methods:
            sbmljax.simulate(model, t, n_trajectories=args.n, seed=99, method=method, **opts)  # compile
            start = time.perf_counter()
            traj = sbmljax.simulate(model, t, n_trajectories=args.n, seed=1, method=method, **opts)
            dt = time.perf_counter() - start
            results[method] = (float(traj.n_events.sum()) / dt, float(traj.n_events.mean()))
        events_per_traj = results["direct"][1]
        with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
            f.write(text)
        rr = roadrunner.RoadRunner(f.name)
        rr.setIntegrator("gillespie")
        rr.integrator.variable_step_size = False
        start = time.perf_counter()
        for i in range(args.rr_n):
            rr.resetAll()
            rr.integrator.seed = 1 + i
            rr.simulate(0.0, args.t_end, 3)
        rr_rate = args.rr_n / (time.perf_counter() - start) * events_per_traj
        Path(f.name).unlink()
        print(f"{name:<10} {'roadrunner':<10} {rr_rate / 1e6:>11.2f} {1.0:>7.1f} {1e6 / rr_rate:>14.3f}")
        for method, (rate, _) in results.items():
            print(f"{name:<10} {method:<10} {rate / 1e6:>11.2f} {rate / rr_rate:>7.1f} {1e6 / rate:>14.3f}", flush=True)
        print(f"{name:<10} NRM per-event cost is {results['direct'][0] / results['nrm'][0]:.2f}× the direct method's")


if __name__ == "__main__":
    sys.exit(main())

"""Exact SSA throughput: sbmljax vs libRoadRunner's gillespie integrator, on the same SBML, in one run.

For each model and ensemble size it prints trajectories/s, reaction events/s and the ratio to
libRoadRunner. Both simulate the same process, so libRoadRunner's events/s is its trajectories/s times the
mean number of events per trajectory that sbmljax counts. Timings exclude JAX compilation (one warm-up
call with another seed) and libRoadRunner's model load; each libRoadRunner trajectory pays `resetAll()`. An
ensemble under 100 trajectories is timed in `--small-rounds` rounds (other seeds each round), sbmljax and
libRoadRunner back to back in each, and each one's median rate is reported (one call of a few milliseconds is
within a shared machine's noise).

When rebop (https://github.com/Armavica/rebop, a Rust Gillespie simulator) is importable, its core loop runs
too, on the same reactions written out by hand (rebop reads no SBML): the Rust `run` per trajectory, without
the xarray wrapping of its Python `Gillespie.run`. rebop is a benchmark-only tool, not a dependency of
sbmljax (`pip install rebop`; the newest on the package index used here was 0.9.2).

    python benchmarks/bench_ssa.py                 # one core (the issue's target is measured so)
    python benchmarks/bench_ssa.py --cores 2       # both cores
    python benchmarks/bench_ssa.py --n 1000 --models sir
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The same reactions for rebop: (rate constant, reactants, products), mass action; and the initial counts.
REBOP = {
    "sir": ([(1e-4, ["S", "I"], ["I", "I"]), (0.01, ["I"], ["R"])], {"S": 999, "I": 1, "R": 0}),
    "birth_death": ([(10.0, [], ["X"]), (0.1, ["X"], [])], {"X": 0}),
}
MODELS = {
    "sir": (REPO / "models" / "sir.xml", 250.0, 251),
    "birth_death": (REPO / "models" / "birth_death.xml", 250.0, 251),
}


def rebop_rate(name: str, n: int, t_end: float, points: int) -> float | None:
    """rebop's core loop on `REBOP[name]`: trajectories per second (None when rebop is not installed)."""
    import numpy as np

    try:
        import rebop
    except ImportError:
        return None
    reactions, init = REBOP[name]
    sim = rebop.Gillespie()
    for rate, lhs, rhs in reactions:
        sim.add_reaction(rate, lhs, rhs)
    start = time.perf_counter()
    for i in range(n):
        sim.gillespie.set_init(init)
        sim.gillespie.run(t_end, points - 1, params={}, seed=np.uint64(1 + i), sparse=None, var_names=None)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=1, help="CPU cores to use (pins this process; default 1)")
    ap.add_argument("--first-core", type=int, default=0, help="the first of the cores pinned (default 0)")
    ap.add_argument("--n", type=int, nargs="*", default=[1, 100, 1000, 10000])
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--method", default="direct")
    ap.add_argument("--rr-max", type=int, default=2000, help="most trajectories timed for libRoadRunner per size")
    ap.add_argument(
        "--small-rounds", type=int, default=21, help="timing rounds for ensembles under 100 (median rate reported)"
    )
    ap.add_argument(
        "--small-loop-bytes",
        type=int,
        default=None,
        help="set XLA's xla_cpu_small_while_loop_byte_threshold (XLA_FLAGS) before JAX starts: while loops that "
        "touch fewer bytes run as one compiled loop (see docs/simulators.md; not set by default)",
    )
    args = ap.parse_args()
    # before JAX/XLA start their thread pools
    os.sched_setaffinity(0, set(range(args.first_core, args.first_core + args.cores)))
    if args.small_loop_bytes is not None:  # read once, when JAX creates its CPU client
        flag = f"--xla_backend_extra_options=xla_cpu_small_while_loop_byte_threshold={args.small_loop_bytes}"
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flag}".strip()

    import numpy as np
    import roadrunner

    import sbmljax

    print(
        f"cores={args.cores} method={args.method} jax={__import__('jax').__version__} roadrunner={roadrunner.__version__}"
    )
    try:
        import rebop
    except ImportError:
        rebop = None
    print(f"load average at start: {os.getloadavg()[0]:.2f}; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    print(
        f"{'model':<12} {'n':>6} {'sbmljax traj/s':>15} {'sbmljax Mev/s':>14} {'rr traj/s':>10} {'rr Mev/s':>9} {'ratio':>6}"
        + (f" {'rebop Mev/s':>12} {'vs rebop':>9}" if rebop is not None else "")
    )
    for name in args.models:
        path, t_end, points = MODELS[name]
        model = sbmljax.load_sbml(path)
        t = np.linspace(0.0, t_end, points)
        rr = roadrunner.RoadRunner(str(path))
        rr.setIntegrator("gillespie")
        rr.integrator.variable_step_size = False
        for n in args.n:
            sbmljax.simulate(model, t, n_trajectories=n, seed=12345, method=args.method)  # compile
            # Small ensembles take milliseconds, within this machine's noise: several rounds, each timing sbmljax
            # and libRoadRunner back to back, and the median rate of each.
            rounds = args.small_rounds if n < 100 else 1
            ours_r, theirs_r, events_r = [], [], []
            for r in range(rounds):
                start = time.perf_counter()
                traj = sbmljax.simulate(model, t, n_trajectories=n, seed=1 + r * n, method=args.method)
                ours_r.append(n / (time.perf_counter() - start))
                events_r.append(float(np.mean(traj.n_events)))
                m = min(n, args.rr_max)
                start = time.perf_counter()
                for i in range(m):
                    rr.resetAll()
                    rr.integrator.seed = 1 + r * n + i
                    rr.simulate(0.0, t_end, points)
                theirs_r.append(m / (time.perf_counter() - start))
            ours, theirs = float(np.median(ours_r)), float(np.median(theirs_r))
            events = float(np.mean(events_r))  # events per trajectory, over every round
            extra = ""
            reb = rebop_rate(name, n, t_end, points) if rebop is not None else None
            if reb is not None:
                extra = f" {reb * events / 1e6:>12.2f} {ours / reb:>9.2f}"
            print(
                f"{name:<12} {n:>6} {ours:>15.0f} {ours * events / 1e6:>14.2f} {theirs:>10.0f} "
                f"{theirs * events / 1e6:>9.2f} {ours / theirs:>6.1f}{extra}",
                flush=True,
            )


if __name__ == "__main__":
    sys.exit(main())

"""The per-call cost of repeated calls: CPU time and XLA compilations of each of three calls in one process.

Scenarios (bsflu, `data/bsflu/problem.yaml`, method direct):

- `ll_path`: `log_likelihood(None, "problem.yaml", point)` three times (the problem loaded again by each call);
- `ll_same`: the same with one `Problem` object (`sbmljax.data.load_petab`) passed each time;
- `if2_path`: `if2(None, "problem.yaml", seed=i, iterations=2, evaluate=False)` three times;
- `fit_path`: `fit("problem.yaml", loss="likelihood", iterations=2)` three times;
- `sim_path`: `simulate("model.xml", times)` three times.

Each scenario runs in a fresh process per source tree (`--trees`: this checkout and e.g. a worktree of the base
commit), the trees alternating, so the comparison is within one run. Compilations are counted by JAX's
`/jax/core/compile/backend_compile_duration` monitoring event (one per XLA compilation; a `jit` cache hit emits
none). Prints the load average before and after.

    python benchmarks/bench_recompile.py --trees /work/wt-base . --particles 200
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, sys, time
from jax import monitoring
import sbmljax
from sbmljax.data import load_petab

which, n = sys.argv[1], int(sys.argv[2])
count = {"n": 0, "s": 0.0}


def listen(event, duration, **kwargs):
    if event == "/jax/core/compile/backend_compile_duration":
        count["n"] += 1
        count["s"] += duration


monitoring.register_event_duration_secs_listener(listen)
prob = "data/bsflu/problem.yaml"
points = [{"Beta": 3.7, "mu_IR": 2.0, "rho": 0.9}, {"Beta": 3.5, "mu_IR": 1.8, "rho": 0.85}]
same = load_petab(prob)
rows = []
for i in range(3):
    c0, s0, t0 = count["n"], count["s"], time.process_time()
    if which == "ll_path":
        sbmljax.log_likelihood(None, prob, points[i % 2], n_particles=n, seed=i, method="direct")
    elif which == "ll_same":
        sbmljax.log_likelihood(None, same, points[i % 2], n_particles=n, seed=i, method="direct")
    elif which == "if2_path":
        sbmljax.if2(None, prob, seed=i, n_particles=n, iterations=2, evaluate=False)
    elif which == "fit_path":
        sbmljax.fit(prob, loss="likelihood", n_trajectories=n, seed=i, iterations=2)
    elif which == "sim_path":
        sbmljax.simulate("data/bsflu/model.xml", [1.0, 2.0, 5.0, 10.0], n_trajectories=n, seed=i)
    rows.append([time.process_time() - t0, count["n"] - c0, count["s"] - s0])
print(json.dumps([rows, sbmljax.__file__]))
"""

SCENARIOS = ("ll_path", "ll_same", "if2_path", "fit_path", "sim_path")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trees", nargs="+", default=["."], help="source trees to compare (PYTHONPATH of each child)")
    ap.add_argument("--particles", type=int, default=200)
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}", flush=True)
    print(f"{'scenario':<10} {'tree':<28} call 1 / 2 / 3: CPU s (XLA compilations)   call 2 / call 1")
    for which in args.scenarios:
        for tree in args.trees:
            root = Path(tree).resolve()
            # run in the tree: `python -c` puts the working directory first on the path, before PYTHONPATH
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, which, str(args.particles)],
                cwd=root,
                env=dict(os.environ, PYTHONPATH=str(root)),
                capture_output=True,
                text=True,
                check=True,
            )
            rows, where = json.loads(out.stdout.strip().splitlines()[-1])
            assert Path(where).resolve().is_relative_to(root), (where, root)
            shown = " / ".join(f"{cpu:6.2f} ({n:3d})" for cpu, n, _ in rows)
            print(f"{which:<10} {tree[-28:]:<28} {shown}   {rows[1][0] / rows[0][0]:.3f}", flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Tau-leaping's cost per reaction firing: this tree against another checkout of sbmljax, in one run.

Issue 16 asked for tau-leaping's cost per firing to halve. This script times `simulate(method="tau_leap",
epsilon=0.03)` on a few models, in ns per reaction firing (the firings a leap makes, the `n_events` that
sbmljax counts), for this tree and, with `--against PATH`, for another checkout (for example the code at the
issue's filing, `git worktree add --detach /tmp/old 81d9ff5`). Each tree runs in its own process (both import
the package `sbmljax`); the two alternate round by round, so that both see the same machine load, and the
script prints each round's ratio `other / this` (above 1: this tree is cheaper per firing).

Models (compilation excluded; best of `--reps` calls per round):

- `ring`: 100 species, 200 first-order reactions, 1,000 molecules each, t = 0…0.2 (`benchmarks/networks.py`):
  long leaps of many firings, where tau-leaping is meant to be used.
- `birth_death_large`: birth–death with k1 = 10⁴, k2 = 0.1 from X = 0 towards its steady state 10⁵, t = 0…50.
- `sir_large`: SIR with 10⁵ susceptibles and 100 infected (c1 = 10⁻⁶, c2 = 0.01), t = 0…250.
- `sir`, `birth_death`: the bundled models as in `docs_tables.py` (t = 0…250): small populations, where most
  steps fall back to exact SSA steps.

    taskset -c 0 python benchmarks/bench_tau.py --against /work/wt-old
    python benchmarks/bench_tau.py --n 256 --rounds 3 --models ring sir
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS = ("ring", "birth_death_large", "sir_large", "sir", "birth_death")


def _case(name: str):
    """(SBML path or text, t_end, params, initial) of a model."""
    sys.path.insert(0, str(Path(__file__).parent))
    from networks import ring

    models = REPO / "models"
    return {
        "ring": (ring(), 0.2, None, None),
        "birth_death_large": (models / "birth_death.xml", 50.0, {"k1": 1e4}, {"X": 0.0}),
        "sir_large": (models / "sir.xml", 250.0, {"c1": 1e-6}, {"S": 1e5, "I": 100.0}),
        "sir": (models / "sir.xml", 250.0, None, None),
        "birth_death": (models / "birth_death.xml", 250.0, None, None),
    }[name]


def child(models: list[str], n: int, reps: int) -> None:
    """Time the `sbmljax` on `sys.path` (the tree under test) and print one JSON line per model."""
    import numpy as np

    import sbmljax

    for name in models:
        source, t_end, params, initial = _case(name)
        model = sbmljax.load_sbml(source)
        t = np.linspace(0.0, t_end, 3)
        kw = dict(method="tau_leap", epsilon=0.03, params=params, initial=initial)
        sbmljax.simulate(model, t, n_trajectories=n, seed=12345, **kw)  # compile
        best = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            traj = sbmljax.simulate(model, t, n_trajectories=n, seed=1, **kw)
            best = min(best, time.perf_counter() - start)
        firings = float(np.sum(traj.n_events))
        print(json.dumps({"model": name, "seconds": best, "firings": firings, "ns": best / firings * 1e9}), flush=True)


def _run(tree: Path, models: list[str], n: int, reps: int) -> dict[str, dict]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--n", str(n), "--reps", str(reps)]
    out = subprocess.run([*cmd, "--models", *models], env=env, cwd=tree, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{tree}: {out.stderr.strip().splitlines()[-1]}")
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    return {r["model"]: r for r in rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", type=Path, help="another checkout of sbmljax to compare with (its root)")
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    ap.add_argument("--n", type=int, default=128, help="trajectories per call (default 128)")
    ap.add_argument("--reps", type=int, default=3, help="timed calls per model and round; the best is kept")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds of the two trees (default 2)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.models, args.n, args.reps)
        return
    trees = [("this", REPO)] + ([("other", args.against.resolve())] if args.against else [])
    print(f"n={args.n} reps={args.reps} trees: " + ", ".join(f"{k}={v}" for k, v in trees))
    for r in range(args.rounds):
        print(f"round {r + 1}, load average {os.getloadavg()[0]:.2f}")
        res = {label: _run(tree, args.models, args.n, args.reps) for label, tree in trees}
        for m in args.models:
            line = (
                f"  {m:<18} this {res['this'][m]['ns']:8.1f} ns/firing ({res['this'][m]['firings'] / args.n:,.0f}/traj)"
            )
            if "other" in res:
                o = res["other"][m]
                line += f"   other {o['ns']:8.1f} ns/firing   other/this {o['ns'] / res['this'][m]['ns']:5.2f}"
            print(line, flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Two checkouts of sbmljax taking turns on one core: BIOMD0000000009 (or a given SBML file) with `method="auto"`.

Each checkout runs in its own worker process (its own `PYTHONPATH`), pinned to the same core; each compiles once,
then the two run the same seeds in alternating order (before, after; after, before; …), so that both see the same
load. Prints each side's wall and CPU medians, jumps per trajectory, and the before/after ratios (> 1: the second
checkout is faster). The CPU ratio is the steadier on a loaded machine. With `--cvode`, each round also times one
libRoadRunner CVODE solve of the file (from `resetAll()`, on the same core, `bench_hybrid.cvode_seconds`), and the
two sides' CPU per trajectory over it is printed (issue 13's target for BIOMD0000000408: within 50×):

    python benchmarks/bench_hybrid_versions.py /path/to/base/checkout /path/to/new/checkout --rounds 16
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT.parent / "shared" / "testdata" / "biomodels" / "BIOMD0000000009.xml"


def worker(model_path: str, n: int, t_end: float, points: int, core: int) -> None:
    """Compile once, then run one timed ensemble per seed read from stdin; one JSON line each."""
    os.sched_setaffinity(0, {core})
    import numpy as np

    import sbmljax

    model = sbmljax.load_sbml(model_path)
    t = np.linspace(0.0, t_end, points)
    start = time.perf_counter()
    sbmljax.simulate(model, t, n_trajectories=n, seed=0, method="auto")
    print(json.dumps({"compiled": time.perf_counter() - start}), flush=True)
    for line in sys.stdin:
        start, cpu = time.perf_counter(), time.process_time()
        traj = sbmljax.simulate(model, t, n_trajectories=n, seed=int(line), method="auto")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        print(json.dumps({"wall": wall, "cpu": cpu, "jumps": float(np.mean(traj.n_events)), "method": traj.method}))
        sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path, help="the first checkout's root (its sbmljax is imported from there)")
    ap.add_argument("after", type=Path)
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--t-end", type=float, default=100.0)
    ap.add_argument("--points", type=int, default=11)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--core", type=int, default=0)
    ap.add_argument("--cvode", action="store_true", help="time libRoadRunner's CVODE in each round as well")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.model, args.n, args.t_end, args.points, args.core)
        return
    import numpy as np

    procs = {}
    for name, root in (("before", args.before), ("after", args.after)):
        cmd = [sys.executable, __file__, "--worker", str(root), str(root), "--model", args.model]
        cmd += ["--n", str(args.n), "--t-end", str(args.t_end), "--points", str(args.points), "--core", str(args.core)]
        env = {**os.environ, "PYTHONPATH": str(root.resolve())}
        procs[name] = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        # One compiles at a time, so that neither compilation slows the other.
        print(f"{name}: {root} compiled in {json.loads(procs[name].stdout.readline())['compiled']:.0f} s", flush=True)
    print(f"load before the timed rounds {os.getloadavg()}", flush=True)
    res: dict[str, list[dict]] = {name: [] for name in procs}
    cvode: list[tuple[float, float]] = []
    if args.cvode:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from bench_hybrid import cvode_seconds

        os.sched_setaffinity(0, {args.core})
    for r in range(args.rounds):
        if args.cvode:
            wall, cpu, _ = cvode_seconds(Path(args.model), args.t_end, args.points, budget=1e-9)  # one timed solve
            cvode.append((wall, cpu))
        for name in ("before", "after") if r % 2 == 0 else ("after", "before"):
            p = procs[name]
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(f"{r + 1}\n")
            p.stdin.flush()
            res[name].append(json.loads(p.stdout.readline()))
    med = {}
    for name, rows in res.items():
        wall, cpu = [x["wall"] for x in rows], [x["cpu"] for x in rows]
        med[name] = (float(np.median(wall)), float(np.median(cpu)))
        print(
            f"{name:<6} wall median {med[name][0]:.3f} s (min {min(wall):.3f})  cpu median {med[name][1]:.3f} s "
            f"(min {min(cpu):.3f})  jumps/trajectory {np.mean([x['jumps'] for x in rows]):.2f}  method {rows[0]['method']}"
        )
    print(
        f"before/after: wall {med['before'][0] / med['after'][0]:.2f}×, cpu {med['before'][1] / med['after'][1]:.2f}× "
        f"({args.rounds} rounds, {args.n} trajectories to t = {args.t_end:g}, core {args.core}); load after {os.getloadavg()}"
    )
    if cvode:
        cv_wall, cv_cpu = (float(np.median(v)) for v in zip(*cvode))
        print(
            f"CVODE (libRoadRunner, resetAll) wall median {cv_wall:.3f} s, cpu median {cv_cpu:.3f} s per solve; "
            + ", ".join(
                f"{name} per trajectory over it: cpu {med[name][1] / args.n / cv_cpu:.1f}×, wall {med[name][0] / args.n / cv_wall:.1f}×"
                for name in ("before", "after")
            )
        )
    # Per round, both sides ran the same seed back to back: the ratio of each pair is steadier than the ratio of
    # the medians when the load drifts during the run.
    paired = np.asarray([b["cpu"] / a["cpu"] for b, a in zip(res["before"], res["after"])])
    print(
        f"paired CPU ratio per round (before/after): median {np.median(paired):.3f}, "
        f"mean {paired.mean():.3f} ± {paired.std(ddof=1) / np.sqrt(len(paired)):.3f}, {(paired > 1).sum()} of {len(paired)} > 1"
    )
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.close()
        p.wait()


if __name__ == "__main__":
    main()

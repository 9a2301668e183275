"""Hybrid simulation of curated models: sbmljax `method="auto"` vs GillesPy2's TauHybridSolver, in one run.

For each model: sbmljax's time for `n` trajectories to `t_end` after compilation (the first call compiles
and is reported apart), the method `auto` chose, libRoadRunner's CVODE solve of the same SBML (the cost
of a model whose noise is negligible) and GillesPy2's `TauHybridSolver` on the same file, imported with
GillesPy2's own SBML importer (values taken verbatim: it converts no units), run in a separate Python
environment so that GillesPy2 is never a dependency of sbmljax:

    python3 -m venv /work/gillespy-venv && /work/gillespy-venv/bin/pip install gillespy2 python-libsbml
    python benchmarks/bench_hybrid.py --gillespy-python /work/gillespy-venv/bin/python

Ratios > 1 mean sbmljax is faster. Pass `--gillespy-python ''` to skip the peer. `vs CVODE` is sbmljax's time
per trajectory over CVODE's one deterministic solve (issue 13's target for a stiff large-count model: within
50×). The machine's load average is printed before and after, since the run shares its core with nothing
only if the machine is otherwise idle; `cpu s` is this process's CPU time for the run (robust to load).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = [ROOT.parent / "shared" / "testdata" / "biomodels" / "BIOMD0000000009.xml"]

_PEER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
import numpy as np
import gillespy2
path, n, t_end, points = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
model, errors = gillespy2.import_SBML(path)
model.timespan(np.linspace(0.0, t_end, points))
start = time.perf_counter()
results = model.run(solver=gillespy2.TauHybridSolver, number_of_trajectories=n, seed=1)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "species": list(results[0].keys())[:3]}))
"""


def peer_seconds(python: str, path: Path, n: int, t_end: float, points: int, timeout: float) -> str:
    """GillesPy2's wall time for the ensemble, as text (or why it has none)."""
    try:
        out = subprocess.run(
            [python, "-c", _PEER, str(path), str(n), str(t_end), str(points)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f">{timeout:g}"
    if out.returncode != 0:
        return "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:80]
    return f"{json.loads(out.stdout.strip().splitlines()[-1])['seconds']:.3g}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path, default=DEFAULT_MODELS)
    ap.add_argument("--n", type=int, default=20, help="trajectories")
    ap.add_argument("--t-end", type=float, default=100.0)
    ap.add_argument("--points", type=int, default=11)
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--gillespy-python", default="/work/gillespy-venv/bin/python")
    ap.add_argument("--peer-timeout", type=float, default=600.0)
    args = ap.parse_args()
    os.sched_setaffinity(0, set(range(args.cores)))

    import numpy as np
    import roadrunner
    from corpus_verdicts import SYSTEM_SIZE_RULE, system_size_for

    import sbmljax
    from sbmljax.errors import InitialStateError, SbmlJaxError

    t = np.linspace(0.0, args.t_end, args.points)
    print(f"cores={args.cores} n={args.n} t_end={args.t_end:g} points={args.points} load={os.getloadavg()}")
    header = f"{'model':<22} {'method':<7} {'compile s':>9} {'run s':>8} {'cpu s':>6} {'CVODE s':>8} {'vs CVODE':>9} {'GillesPy2 s':>12} {'ratio':>7}"
    print(header)
    for path in args.models:
        model = sbmljax.load_sbml(path)
        omega = None
        start = time.perf_counter()
        try:
            try:
                sbmljax.simulate(model, t, n_trajectories=args.n, seed=0, method="auto")
            except InitialStateError:
                # Initial values that are not counts: the corpus table's system-size rule.
                omega = system_size_for(str(path))
                model = sbmljax.load_sbml(path, system_size=omega)
                start = time.perf_counter()
                sbmljax.simulate(model, t, n_trajectories=args.n, seed=0, method="auto")
        except SbmlJaxError as e:
            print(f"{path.stem:<22} refused: {' '.join(str(e).split())[:150]}")
            continue
        first = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        traj = sbmljax.simulate(model, t, n_trajectories=args.n, seed=1, method="auto")
        run, cpu = time.perf_counter() - start, time.process_time() - cpu
        rr = roadrunner.RoadRunner(str(path))
        start = time.perf_counter()
        for _ in range(10):  # one solve is a millisecond: the mean of ten
            rr.reset()
            rr.simulate(0.0, args.t_end, args.points)
        cvode = (time.perf_counter() - start) / 10
        peer = (
            peer_seconds(args.gillespy_python, path, args.n, args.t_end, args.points, args.peer_timeout)
            if args.gillespy_python
            else "skipped"
        )
        try:
            ratio = f"{float(peer) / run:.2f}"
        except ValueError:
            ratio = "-"
        per_traj = run / args.n
        print(
            f"{path.stem:<22} {traj.method:<7} {first - run:>9.1f} {run:>8.2f} {cpu:>6.2f} {cvode:>8.4f} "
            f"{per_traj / cvode:>8.0f}× {peer:>12} {ratio:>7}"
        )
        print(f"  {traj.notes[0][:150]}" + (f"; system size {omega:g} ({SYSTEM_SIZE_RULE[:60]}…)" if omega else ""))
    print(f"load={os.getloadavg()}")


if __name__ == "__main__":
    main()

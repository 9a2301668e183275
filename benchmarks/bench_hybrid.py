"""Hybrid simulation of curated models: sbmljax `method="auto"` vs GillesPy2's TauHybridSolver, in one run.

For each model: sbmljax's time for `n` trajectories to `t_end` after compilation (the first call compiles
and is reported apart), the method `auto` chose, libRoadRunner's CVODE solve of the same SBML (the cost
of a model whose noise is negligible) and GillesPy2's `TauHybridSolver` on the same system, run in a separate
Python environment so that GillesPy2 is never a dependency of sbmljax. By default (`--peer-system counts`)
GillesPy2 gets sbmljax's unit-converted model: initial counts in molecules and each channel's propensity in
molecules per time unit (`benchmarks/_gillespy2_counts.py`), so both simulate the same system;
`--peer-system verbatim` gives it the SBML file through its own importer instead (values taken verbatim: it
converts no units, so on a model in concentrations it simulates a different, far smaller system). `--check-ode`
checks the translation: GillesPy2's `ODESolver` on it against libRoadRunner's CVODE (amounts converted to
molecules), the largest relative difference at the output times. After each run the bench prints the largest
difference between the two ensembles' means at `t_end` in the two ensembles' standard errors:

    python3 -m venv /work/venv-gillespy2 && /work/venv-gillespy2/bin/pip install gillespy2 python-libsbml
    python benchmarks/bench_hybrid.py --gillespy-python /work/venv-gillespy2/bin/python

GillesPy2's integrator tolerances are its own (rtol 1e-9, atol 1e-12, at most 0.25 time units a step) unless
`--peer-rtol/--peer-atol` set them (sbmljax's hybrid defaults are rtol 1e-4, atol 1e-3 molecules). The child
process inherits this one's CPU affinity (`--cores`), so both run on the same core(s).

Ratios > 1 mean sbmljax is faster (`ratio` of wall times, `cpu ratio` of the two processes' CPU times, which a
loaded machine disturbs less). Pass `--gillespy-python ''` to skip the peer. `vs CVODE` is sbmljax's time
per trajectory over CVODE's one deterministic solve (issue 13's target for a stiff large-count model: within
50×). The machine's load average is printed before and after, since the run shares its core with nothing
only if the machine is otherwise idle; `cpu s` is this process's CPU time for the run (robust to load).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
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
start, cpu = time.perf_counter(), time.process_time()
results = model.run(solver=gillespy2.TauHybridSolver, number_of_trajectories=n, seed=1)
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
init = [s.initial_value for s in model.listOfSpecies.values()]
modes = [s.mode for s in model.listOfSpecies.values()]
print(json.dumps({"seconds": elapsed, "cpu": cpu, "initial_total": float(sum(init)), "continuous": modes.count("continuous"),
                  "species": len(init)}))
"""


def peer_seconds(python: str, path: Path, n: int, t_end: float, points: int, timeout: float) -> tuple[str, str, str]:
    """GillesPy2's wall and CPU time for the ensemble on the file through its own importer (`--peer-system
    verbatim`), as text (or why it has none), and the system it simulated: the sum of its species' initial values
    (its importer takes them verbatim as molecule counts) and how many it imported as continuous."""
    try:
        out = subprocess.run(
            [python, "-c", _PEER, str(path), str(n), str(t_end), str(points)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f">{timeout:g}", "-", ""
    if out.returncode != 0:
        return "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:80], "-", ""
    res = json.loads(out.stdout.strip().splitlines()[-1])
    system = (
        f"GillesPy2 simulates initial values taken verbatim as counts: {res['initial_total']:.3g} in all, "
        f"{res['continuous']} of {res['species']} species imported as continuous"
    )
    return f"{res['seconds']:.3g}", f"{res['cpu']:.3g}", system


def peer_counts(
    python: str, spec: dict, n: int, t_end: float, points: int, timeout: float, solver: str, tol: tuple[float, float]
) -> dict | str:
    """GillesPy2 on sbmljax's count-level model (`_gillespy2_counts.py`): its result (seconds, cpu, per-species mean
    counts at the output times) or why it has none."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        out = subprocess.run(
            [
                python,
                str(Path(__file__).parent / "_gillespy2_counts.py"),
                f.name,
                str(n),
                str(t_end),
                str(points),
                solver,
            ]
            + [str(tol[0]), str(tol[1])],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return f">{timeout:g}"
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        return "failed: " + (out.stderr.strip().splitlines() or ["?"])[-1][:80]
    return json.loads(out.stdout.strip().splitlines()[-1])


def ode_check(model, path: Path, spec: dict, peer: dict, t_end: float, points: int) -> str:
    """GillesPy2's `ODESolver` on the translation against libRoadRunner's CVODE (tight tolerances) of the SBML
    file, amounts converted to molecules with sbmljax's `count_factor`: the largest relative difference
    `|g - r| / max(|r|, 1)` over the species no assignment rule sets and the output times."""
    import numpy as np
    import roadrunner

    rr = roadrunner.RoadRunner(str(path))
    rr.integrator.relative_tolerance = 1e-10
    rr.integrator.absolute_tolerance = 1e-22  # amounts: BIOMD0000000009's are ~1e-11 µmol
    ids = [s["id"] for s in spec["species"]]
    rr.timeCourseSelections = ["time"] + ids  # a bare id selects the amount
    res = np.asarray(rr.simulate(0.0, t_end, points))
    factor = {s.id: s.count_factor for s in model.species}
    ruled = model.rule_targets()
    g = np.asarray(peer["mean"])
    worst, where = 0.0, ""
    for j, sid in enumerate(ids):
        if sid in ruled:
            continue
        r = res[:, 1 + j] * factor[sid]
        rel = np.abs(g[:, j] - r) / np.maximum(np.abs(r), 1.0)
        if rel.max() > worst:
            worst, where = float(rel.max()), f"{sid} at t = {res[int(rel.argmax()), 0]:g}"
    return f"GillesPy2 ODESolver on the translation vs CVODE: largest relative difference {worst:.2g} ({where})"


def compare_means(traj, peer: dict, n: int, peer_n: int, skip: frozenset[str]) -> str:
    """The largest difference between the two ensembles' means at `t_end`, over species not in `skip` (those
    assignment rules set: the translation inlines the rules and leaves the species at 0), in standard errors of
    the difference (sbmljax's SD for both, `n` and `peer_n` trajectories: GillesPy2's side returns means only),
    with its species."""
    import numpy as np

    keep = [i for i, s in enumerate(traj.species) if s not in skip]
    species = [traj.species[i] for i in keep]
    x = np.asarray(traj.counts)[:, -1, keep]
    g = np.asarray(peer["mean"])[-1, keep]
    se = np.sqrt(x.var(axis=0, ddof=1) * (1.0 / n + 1.0 / peer_n))
    diff = x.mean(axis=0) - g
    z = np.where(
        se > 0, diff / np.where(se > 0, se, 1.0), np.where(np.abs(diff) > 1e-6 * np.maximum(1, np.abs(g)), np.inf, 0.0)
    )
    k = int(np.argmax(np.abs(z)))
    rel = np.abs(diff) / np.maximum(np.abs(g), 1.0)
    return (
        f"means at t_end, sbmljax vs GillesPy2: largest |Z| {abs(z[k]):.2g} ({species[k]}: "
        f"{x.mean(axis=0)[k]:.6g} vs {g[k]:.6g}), largest relative difference {rel.max():.2g}"
    )


class SolveCounter:
    """Counts the hybrid step's ODE solver steps (accepted, rejected) per trajectory, by wrapping the
    `diffrax.diffeqsolve` the hybrid module calls with a host callback that records each solve's statistics.

    Instrumented runs are slower (a callback per solve and lane), so they are separate from the timed run. Under
    `vmap` the callback is called once per lane, lanes in order, so that consecutive groups of `n` records are one
    vmapped solve: the lockstep count is the sum over solves of the longest lane's steps (each vmapped solve lasts
    as long as its longest lane)."""

    def __init__(self):
        import diffrax
        import jax
        import numpy as np

        import sbmljax._simulator.hybrid as hybrid

        self.records: list[tuple[int, int, int]] = []
        self._hybrid, self._np = hybrid, np
        real = diffrax.diffeqsolve
        records = self.records

        def diffeqsolve(*args, **kwargs):
            sol = real(*args, **kwargs)
            stats = sol.stats
            jax.debug.callback(
                lambda s, a, r: records.append((int(s), int(a), int(r))),
                stats["num_steps"],
                stats["num_accepted_steps"],
                stats["num_rejected_steps"],
            )
            return sol

        class _Diffrax:
            def __getattr__(self, name):
                return getattr(diffrax, name)

        self._proxy = _Diffrax()
        self._proxy.diffeqsolve = diffeqsolve  # type: ignore[attr-defined]
        self._real = diffrax

    def __enter__(self):
        from sbmljax import _ensemble

        # The runners compiled without the callback, and (on exit) with it; `n_trajectories=1` takes its runner
        # from the one-trajectory caches (without clearing those, BIOMD0000000408 with --n 1 counted 0 solves).
        for cache in (_ensemble._RUNNERS, _ensemble._LONE, _ensemble._LONE_BY_ID):
            cache.clear()
        self._hybrid.diffrax = self._proxy
        return self

    def __exit__(self, *exc):
        from sbmljax import _ensemble

        self._hybrid.diffrax = self._real
        for cache in (_ensemble._RUNNERS, _ensemble._LONE, _ensemble._LONE_BY_ID):
            cache.clear()

    def summary(self, n: int) -> str:
        np = self._np
        r = np.asarray(self.records, dtype=float).reshape(-1, 3)
        steps, acc, rej = r.sum(axis=0) / n
        lock = r[:, 0].reshape(-1, n).max(axis=1).sum() if len(r) % n == 0 else float("nan")
        return (
            f"ODE steps per trajectory {steps:.0f} ({acc:.0f} accepted, {rej:.0f} rejected), "
            f"{len(r) / n:.0f} solves, {lock:.0f} steps in lockstep"
        )


def cvode_seconds(path: Path, t_end: float, points: int, budget: float = 10.0) -> tuple[float, float, int]:
    """libRoadRunner's CVODE (its defaults) on the SBML file: the mean wall and CPU seconds of one solve to `t_end`,
    over up to ten solves after an untimed first one (it pays one-off costs), stopping once `budget` seconds are
    spent, and how many were timed.

    Each solve starts from `resetAll()`, which restores the global parameters as well as the species: `reset()`
    restores the species only, so a parameter that events assign kept its value from the previous solve. On
    BIOMD0000000408 (`last_time_fired`, which its pulsatile events set every 0.001 time units, ~10^5 firings
    to t = 100) the solves after the first then fired no event, and the mean of ten was 9/10 solves of a
    different, eventless model (0.8 ms each against 1.4-1.9 s CPU for the model's own solve)."""
    import roadrunner

    rr = roadrunner.RoadRunner(str(path))
    rr.resetAll()
    rr.simulate(0.0, t_end, points)
    walls, cpus = [], []
    while len(walls) < 10 and sum(walls) < budget:
        rr.resetAll()
        start, cpu = time.perf_counter(), time.process_time()
        rr.simulate(0.0, t_end, points)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return sum(walls) / len(walls), sum(cpus) / len(cpus), len(walls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", type=Path, default=DEFAULT_MODELS)
    ap.add_argument("--n", type=int, default=20, help="trajectories")
    ap.add_argument("--t-end", type=float, default=100.0)
    ap.add_argument("--points", type=int, default=11)
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--first-core", type=int, default=0, help="run on cores first-core … first-core + cores - 1")
    ap.add_argument("--method", default="auto", help="sbmljax's method (auto, or hybrid with its defaults)")
    ap.add_argument("--gillespy-python", default="/work/venv-gillespy2/bin/python")
    ap.add_argument("--peer-timeout", type=float, default=600.0)
    ap.add_argument(
        "--peer-system",
        choices=("counts", "verbatim"),
        default="counts",
        help="GillesPy2 on sbmljax's unit-converted model (counts) or on the file through its own importer (verbatim)",
    )
    ap.add_argument("--peer-rtol", type=float, default=0.0, help="GillesPy2's integrator rtol (0: its default, 1e-9)")
    ap.add_argument("--peer-atol", type=float, default=0.0, help="GillesPy2's integrator atol (0: its default, 1e-12)")
    ap.add_argument(
        "--peer-n",
        type=int,
        default=0,
        help="GillesPy2's trajectories on the counts system (0: --n); its times are scaled to --n (it runs them one by one)",
    )
    ap.add_argument("--check-ode", action="store_true", help="check the translation: GillesPy2's ODESolver vs CVODE")
    ap.add_argument(
        "--count", action="store_true", help="count ODE steps per trajectory (an instrumented run, compiled again)"
    )
    args = ap.parse_args()
    os.sched_setaffinity(0, set(range(args.first_core, args.first_core + args.cores)))

    import numpy as np
    from _gillespy2_counts import count_model_spec
    from corpus_verdicts import SYSTEM_SIZE_RULE, system_size_for

    import sbmljax
    from sbmljax.errors import InitialStateError, SbmlJaxError

    t = np.linspace(0.0, args.t_end, args.points)
    print(
        f"cores={args.cores} (affinity {sorted(os.sched_getaffinity(0))}, inherited by GillesPy2's process) n={args.n} "
        f"t_end={args.t_end:g} points={args.points} peer system={args.peer_system} load={os.getloadavg()}"
    )
    header = f"{'model':<22} {'method':<7} {'compile s':>9} {'run s':>8} {'cpu s':>6} {'CVODE s':>8} {'vs CVODE':>9} {'GillesPy2 s':>12} {'cpu s':>6} {'ratio':>7} {'cpu ratio':>9}"
    print(header)
    for path in args.models:
        model = sbmljax.load_sbml(path)
        omega = None
        start = time.perf_counter()
        try:
            try:
                sbmljax.simulate(model, t, n_trajectories=args.n, seed=0, method=args.method)
            except InitialStateError:
                # Initial values that are not counts: the corpus table's system-size rule.
                omega = system_size_for(str(path))
                model = sbmljax.load_sbml(path, system_size=omega)
                start = time.perf_counter()
                sbmljax.simulate(model, t, n_trajectories=args.n, seed=0, method=args.method)
        except SbmlJaxError as e:
            print(f"{path.stem:<22} refused: {' '.join(str(e).split())[:150]}")
            continue
        first = time.perf_counter() - start
        start, cpu = time.perf_counter(), time.process_time()
        traj = sbmljax.simulate(model, t, n_trajectories=args.n, seed=1, method=args.method)
        run, cpu = time.perf_counter() - start, time.process_time() - cpu
        cvode, cvode_cpu, cvode_n = cvode_seconds(path, args.t_end, args.points)
        peer, peer_cpu, peer_system, peer_res, spec = "skipped", "-", "", None, None
        if args.gillespy_python and args.peer_system == "verbatim":
            peer, peer_cpu, peer_system = peer_seconds(
                args.gillespy_python, path, args.n, args.t_end, args.points, args.peer_timeout
            )
        elif args.gillespy_python:
            try:
                spec = count_model_spec(model)
            except ValueError as e:
                peer = "no translation"
                peer_system = f"GillesPy2: {e}"
            if spec is not None:
                peer_n = args.peer_n or args.n
                res = peer_counts(
                    args.gillespy_python,
                    spec,
                    peer_n,
                    args.t_end,
                    args.points,
                    args.peer_timeout,
                    "tau_hybrid",
                    (args.peer_rtol, args.peer_atol),
                )
                if isinstance(res, dict):
                    peer_res = res
                    scale = args.n / peer_n  # trajectories run one after another: time linear in their number
                    peer, peer_cpu = f"{res['seconds'] * scale:.3g}", f"{res['cpu'] * scale:.3g}"
                    total = sum(s["initial"] for s in spec["species"])
                    peer_system = (
                        f"GillesPy2 simulates the same counts ({total:.3g} molecules at t = 0), all species dynamic"
                    )
                    if peer_n != args.n:
                        peer_system += f"; its times are for {peer_n} trajectories ({res['seconds']:.3g} s) × {scale:g}"
                else:
                    peer = res
        try:
            ratio = f"{float(peer) / run:.2f}"
            cpu_ratio = f"{float(peer_cpu) / cpu:.2f}"
        except ValueError:
            ratio = cpu_ratio = "-"
        per_traj = run / args.n
        print(
            f"{path.stem:<22} {traj.method:<7} {first - run:>9.1f} {run:>8.2f} {cpu:>6.2f} {cvode:>8.4f} "
            f"{per_traj / cvode:>8.0f}× {peer:>12} {peer_cpu:>6} {ratio:>7} {cpu_ratio:>9}"
        )
        print(
            f"  CVODE: {cvode_n} timed solves, {cvode_cpu:.4g} s CPU each; sbmljax's CPU per trajectory over it "
            f"{cpu / args.n / cvode_cpu:.1f}× (the steadier ratio on a loaded machine)"
        )
        print(f"  {traj.notes[0][:150]}" + (f"; system size {omega:g} ({SYSTEM_SIZE_RULE[:60]}…)" if omega else ""))
        x0 = np.asarray(traj.counts)[:, 0, :].sum(axis=-1).mean()
        print(f"  sbmljax simulates the model's units converted to molecules: {x0:.3g} molecules at t = 0")
        if peer_system:
            print(f"  {peer_system}")
        if peer_res is not None:
            print(f"  {compare_means(traj, peer_res, args.n, peer_res['n'], model.rule_targets())}")
        if spec is not None and args.check_ode:
            ode = peer_counts(
                args.gillespy_python, spec, 1, args.t_end, args.points, args.peer_timeout, "ode", (0.0, 0.0)
            )
            print(f"  {ode_check(model, path, spec, ode, args.t_end, args.points) if isinstance(ode, dict) else ode}")
        jumps = np.asarray(traj.n_events).mean()
        if traj.method == "hybrid" and args.count:
            with SolveCounter() as counter:  # a new trace: the instrumented run compiles again
                sbmljax.simulate(model, t, n_trajectories=args.n, seed=1, method=args.method)
            print(f"  per trajectory: {jumps:.1f} jumps; " + counter.summary(args.n))
        else:
            print(f"  per trajectory: {jumps:.1f} reaction events")
    print(f"load={os.getloadavg()}")


if __name__ == "__main__":
    main()

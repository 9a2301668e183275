"""Measure the cost per reaction event of each simulator, for the docs' "Choosing a simulator" page.

Writes `docs/_generated/simulators.md` (the page includes it through the docs hook): for each model and
method, the time of one `simulate` call of `--n` trajectories after a warm-up call (so JAX compilation is
excluded; best of `--repeats`), the reaction events per trajectory that sbmljax counted, the cost per event
and the ensemble mean of one species at the last time with its standard error. Tau-leaping's "events" are
the reaction firings its leaps make, so its cost per event is a cost per firing. The machine, the versions,
the date and the command are written with the table: regenerate it on an idle machine before quoting the
numbers.

    python benchmarks/docs_tables.py                  # one core, n = 128 (a few minutes)
    python benchmarks/docs_tables.py --n 1024 --repeats 5
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "_generated" / "simulators.md"
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(REPO))

METHODS = (("direct", {}), ("nrm", {}), ("tau_leap", {"epsilon": 0.03}))


def _models():
    from networks import ring

    return (
        # name, SBML (path or text), description, end time, species whose final mean is reported
        ("birth_death", REPO / "models" / "birth_death.xml", "1 species, 2 reactions", 250.0, "X"),
        ("sir", REPO / "models" / "sir.xml", "3 species, 2 reactions", 250.0, "R"),
        ("ring", ring(), "100 species, 200 reactions (`benchmarks/networks.py`)", 0.2, "X0"),
    )


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def measure(n: int, repeats: int) -> list[dict]:
    import numpy as np

    import sbmljax

    rows = []
    for name, source, description, t_end, sid in _models():
        model = sbmljax.load_sbml(source)
        t = np.linspace(0.0, t_end, 3)
        for method, options in METHODS:
            sbmljax.simulate(model, t, n_trajectories=n, seed=12345, method=method, **options)  # compile
            best = math.inf
            for _ in range(repeats):
                start = time.perf_counter()
                traj = sbmljax.simulate(model, t, n_trajectories=n, seed=1, method=method, **options)
                best = min(best, time.perf_counter() - start)
            events = float(np.mean(traj.n_events))
            final = traj[sid][:, -1]
            rows.append(
                {
                    "model": name,
                    "description": description,
                    "t_end": t_end,
                    "method": method,
                    "options": ", ".join(f"{k}={v}" for k, v in options.items()),
                    "seconds": best,
                    "events": events,
                    "us_per_event": 1e6 * best / (events * n),
                    "species": sid,
                    "mean": float(final.mean()),
                    "se": float(final.std(ddof=1) / math.sqrt(n)),
                }
            )
            print(
                f"{name:<12} {method:<9} {best:8.3f} s  {events:10.0f} events/traj  "
                f"{rows[-1]['us_per_event']:8.3f} µs/event",
                flush=True,
            )
    return rows


def render(rows: list[dict], *, n: int, repeats: int, cores: int, command: str, load: tuple[float, float]) -> str:
    import jax

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} on {_cpu()} ({cores} core{'s' if cores != 1 else ''}, {platform.system()}), "
        f"Python {platform.python_version()}, jax {jax.__version__}, {n} trajectories per call, best of "
        f"{repeats}, compilation excluded, load average {load[0]:.1f} at the start and {load[1]:.1f} at the end "
        f"(other processes on the machine); `{command}`.",
        "",
        "| model | method | events per trajectory | time per call (s) | µs per event | final mean (± s.e.) |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        method = r["method"] + (f" ({r['options']})" if r["options"] else "")
        lines.append(
            f"| {r['model']}: {r['description']}, t = 0..{r['t_end']:g} | {method} | {r['events']:,.0f} | "
            f"{r['seconds']:.3f} | {r['us_per_event']:.3f} | {r['species']} = {r['mean']:.1f} ± {r['se']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=128, help="trajectories per call (default 128)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per method; the best is kept")
    ap.add_argument("--cores", type=int, default=1, help="CPU cores to use (pins this process; default 1)")
    ap.add_argument("--out", type=Path, default=OUT, help=f"output file (default {OUT.relative_to(REPO)})")
    args = ap.parse_args()
    os.sched_setaffinity(0, set(range(args.cores)))  # before JAX/XLA start their thread pools
    load_start = os.getloadavg()[0]
    rows = measure(args.n, args.repeats)
    load = (load_start, os.getloadavg()[0])
    command = "python benchmarks/docs_tables.py" + "".join(
        f" --{k} {v}" for k, v in (("n", args.n), ("repeats", args.repeats), ("cores", args.cores))
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, n=args.n, repeats=args.repeats, cores=args.cores, command=command, load=load))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())

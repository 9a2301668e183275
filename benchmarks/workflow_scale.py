"""The workflow at scale, on paper: a configuration of 10^7 trajectories in 1,000 seed-chunks.

1. Plans it (`snakemake -n`) and prints the wall time of the dry run and its job count.
2. Synthesises the 1,000 chunk files of that ensemble (`Trajectories.to_npz`, Poisson counts in the layout
   `simulate_chunk` writes; simulating 10^7 trajectories is not the point), then runs the merge
   (`sbmljax.workflow.merge_chunks`, as the `merge_simulations` rule does) in a child process and prints its
   peak resident memory, against the memory of the same process before the merge (Python, NumPy, sbmljax)
   and the size of the ensemble in memory.

Usage: `python benchmarks/workflow_scale.py [--chunks 1000] [--per-chunk 10000] [--points 51]
[--ensemble] [--workdir DIR]` (`--ensemble` also writes `ensemble.npz`, as the rule does; it costs
minutes of compression for 10^7 trajectories).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time
import numpy as np
from sbmljax.workflow import merge_chunks
paths, ensemble = sys.argv[1:-1], sys.argv[-1]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
m = merge_chunks(paths, sample_paths=20, ensemble=None if ensemble == "-" else ensemble)
m.summary_dataframe().to_csv("stats.csv", index=False)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, seconds, m.n, m.exact_quantiles)
"""


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [e.get("PYTHONPATH")])])
    e.setdefault("JAX_PLATFORMS", "cpu")
    return e


def dry_run(work: Path, n: int, chunks: int, points: int) -> None:
    config = {
        "models": {
            "birth_death": {
                "sbml": str(REPO / "models" / "birth_death.xml"),
                "t_end": 100,
                "points": points,
                "n_trajectories": n,
            }
        },
        "datasets": "datasets.tsv",
        "simulate": {"chunks": chunks, "seed": 1},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    (work / "datasets.tsv").write_text("dataset\tkind\tmodel\n")
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "--cores", "2", "--quiet", "rules"]
    start = time.perf_counter()
    out = subprocess.run(cmd, cwd=work, env=env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"dry run failed:\n{out.stdout}{out.stderr}")
    print(f"dry run: {n:.0e} trajectories in {chunks} chunks planned in {seconds:.1f} s")
    print(out.stdout.strip())


def synthesise(work: Path, chunks: int, per_chunk: int, points: int) -> list[str]:
    import sbmljax

    rng = np.random.default_rng(0)
    times = np.linspace(0.0, 100.0, points)
    rate = 10.0 * (1 - np.exp(-times / 10.0))  # birth-death mean: k1/k2 (1 - e^{-k2 t})
    paths = []
    start = time.perf_counter()
    for i in range(chunks):
        counts = rng.poisson(rate, size=(per_chunk, points)).astype(np.float64)[:, :, None]
        traj = sbmljax.Trajectories(
            times=times,
            counts=counts,
            species=("X",),
            method="direct",
            seed=1,
            model_id="birth_death",
            n_events=rng.integers(0, 100, size=per_chunk).astype(np.int64),
            first_trajectory=i * per_chunk,
        )
        paths.append(str(work / f"chunk{i}.npz"))
        traj.to_npz(paths[-1])
    print(
        f"synthesised {chunks} chunks of {per_chunk} trajectories x {points} times in {time.perf_counter() - start:.0f} s"
    )
    return paths


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=1000)
    ap.add_argument("--per-chunk", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=51)
    ap.add_argument("--ensemble", action="store_true", help="also write ensemble.npz")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    n = args.chunks * args.per_chunk
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        dry_run(work, n, args.chunks, args.points)
        paths = synthesise(work, args.chunks, args.per_chunk, args.points)
        disk = sum(os.path.getsize(p) for p in paths)
        ensemble = str(work / "ensemble.npz") if args.ensemble else "-"
        out = subprocess.run(
            [sys.executable, "-c", CHILD, *paths, ensemble], cwd=work, env=env(), capture_output=True, text=True
        )
        if out.returncode != 0:
            sys.exit(f"merge failed:\n{out.stderr}")
        before, after, seconds, merged, exact = out.stdout.split()
        in_memory = n * args.points * 8
        print(
            f"merge of {merged} trajectories ({args.chunks} chunks, {disk / 2**20:.0f} MiB on disk"
            f"{', writing ensemble.npz' if args.ensemble else ''}): {float(seconds):.0f} s, "
            f"peak RSS {int(after) / 1024:.0f} MiB (the process before the merge: {int(before) / 1024:.0f} MiB; "
            f"the ensemble in memory would be {in_memory / 2**20:.0f} MiB); exact quantiles: {exact}"
        )


if __name__ == "__main__":
    main()

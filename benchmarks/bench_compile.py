"""Compile cost of the `auto` (-> hybrid) runner: a fresh process's first call, with and without JAX's persistent cache.

Each measurement is a fresh Python process (nothing compiled in memory) that simulates `n` trajectories of a model to
`t_end` with `method="auto"`: CPU time of its first `simulate` call (trace, lowering, XLA compilation and the run) and
of a second identical call (the run alone). Per source tree (`--trees`: this checkout and e.g. a worktree of the base
commit), alternating in each round: `cold`, with an empty persistent cache directory (`JAX_COMPILATION_CACHE_DIR`),
then `warm`, a second process on the same directory (what a user re-running the CLI or the workflow on the same model
gets). A tree whose runner the cache cannot store (host callbacks) compiles again in `warm`. Children inherit this
process's CPU affinity (run it under `taskset -c 0` for one core). Prints the load average before and after.

    taskset -c 0 python benchmarks/bench_compile.py --trees /work/wt-h13k-base .
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = r"""
import hashlib, json, sys, time
import numpy as np
import jax
jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)
import sbmljax
path, n, t_end = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
model = sbmljax.load_sbml(path)
t = np.linspace(0.0, t_end, 101)
out = {}
for name in ("first", "second"):
    c = time.process_time()
    tr = sbmljax.simulate(model, t, n_trajectories=n, seed=1, method="auto")
    out[name] = time.process_time() - c
out["digest"] = hashlib.sha256(np.asarray(tr.counts).tobytes()).hexdigest()[:12]
print(json.dumps(out))
"""


def child(tree: Path, cache: Path, model: Path, n: int, t_end: float) -> dict:
    """One fresh process's first- and second-call CPU times (and a digest of its counts) for source `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree), JAX_COMPILATION_CACHE_DIR=str(cache))
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(model), str(n), str(t_end)], env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", nargs="+", type=Path, default=[root])
    ap.add_argument("--model", type=Path, default=root.parent / "shared/testdata/biomodels/BIOMD0000000009.xml")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--t-end", type=float, default=100.0)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    print(f"load before: {os.getloadavg()}", flush=True)
    rows = {str(t): [] for t in args.trees}
    for r in range(args.rounds):
        for tree in args.trees:
            with tempfile.TemporaryDirectory() as cache:
                cold = child(tree.resolve(), Path(cache), args.model, args.n, args.t_end)
                warm = child(tree.resolve(), Path(cache), args.model, args.n, args.t_end)
                entries = len(list(Path(cache).glob("jit_run-*")))
            rows[str(tree)].append((cold, warm))
            print(
                f"round {r} {tree}: cold first {cold['first']:.1f} s (second {cold['second']:.2f} s), "
                f"warm first {warm['first']:.1f} s (second {warm['second']:.2f} s); runner cached: {entries > 0}; "
                f"counts digest {cold['digest']} / {warm['digest']}",
                flush=True,
            )
    print(f"load after: {os.getloadavg()}")
    if len(args.trees) == 2:
        (a, b) = (rows[str(t)] for t in args.trees)
        for i, ((ca, wa), (cb, wb)) in enumerate(zip(a, b)):
            print(
                f"round {i}: cold first-call ratio {ca['first'] / cb['first']:.2f}x, "
                f"warm first-call ratio {wa['first'] / wb['first']:.2f}x ({args.trees[0]} / {args.trees[1]} CPU time)"
            )


if __name__ == "__main__":
    main()

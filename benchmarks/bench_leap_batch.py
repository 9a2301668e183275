"""Per-particle CPU cost of the bsflu binomial-leap filter against the batch size, and the IF2 iteration's.

The filter's binomial draws (`sbmljax._binomial`) and its loops run to the extreme of their batch, so the cost
per particle may depend on how many particles share one vmapped program: one filter of N particles, or R
replicate filters of N each (`log_likelihood(replicates=R)`, IF2's scoring of a chain end), or IF2's
chains × particles. Each configuration is compiled once (not timed), then run `--repeats` times with fresh
seeds; printed: the median process CPU time per call and per particle-observation-interval, and the
log-likelihood's mean (the same seeds give the same values in every checkout whose results are unchanged).

Run it under `taskset -c 0` (one core) in two checkouts to compare them in the same run; `--configs` picks
the configurations: `fN` one filter of N particles, `rRxN` R replicate filters of N, `iKxN` one IF2 iteration of
K chains of N particles (the bsflu box starts, rw_sd 0.02).

    taskset -c 0 python benchmarks/bench_leap_batch.py --configs f1000 f10000 r10x10000 i10x2000
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POINT = {"Beta": 3.7, "mu_IR": 2.0, "rho": 0.9}
BOX = {"Beta": (0.763, 7.63), "mu_IR": (0.5, 2.0), "rho": (0.5, 1.0)}
N_OBS = 14


def _filter(r: int, n: int, repeats: int) -> tuple[list[float], list[float]]:
    from sbmljax import BinomialLeaping
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import as_likelihood_problem

    problem, values, names = as_likelihood_problem(None, REPO / "data" / "bsflu" / "problem.yaml", POINT, None)
    pl = ParticleLikelihood(problem, names, values, n_particles=n, replicates=r, method=BinomialLeaping(tau=1 / 12))
    pl.evaluate(seed=0)
    cpu, ll = [], []
    for i in range(repeats):
        t = time.process_time()
        ll.append(pl.evaluate(seed=i + 1).value)
        cpu.append(time.process_time() - t)
    return cpu, ll


def _if2(k: int, n: int, repeats: int) -> tuple[list[float], list[float]]:
    """One IF2 iteration of `k` chains × `n` particles (the compiled kernel `run_if2` calls, compiled once)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import sbmljax
    from sbmljax._config import x64
    from sbmljax._fit import as_problem
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.if2_kernel import SCALES, if2_chains_iteration
    from sbmljax._likelihood.if2_setup import chain_starts, rw_sds

    @x64
    def run() -> tuple[list[float], list[float]]:
        problem, start = as_problem(REPO / "data" / "bsflu" / "problem.yaml", None, POINT, noise_sd=None)
        starts = chain_starts(problem, start, BOX, k, 1)
        ids = problem.estimated_ids
        values = {**problem.fixed, **problem.nominal(), **start}
        pl = ParticleLikelihood(problem, ids, values, n_particles=n, method=sbmljax.BinomialLeaping(tau=1 / 12))
        f = pl.filters[0]
        est = problem.estimated
        codes = jnp.asarray([SCALES[p.scale] for p in est], dtype=jnp.int32)
        lo, hi = (jnp.asarray(b, dtype=jnp.float64) for b in problem.scaled_bounds())
        sd = jnp.asarray(rw_sds(problem, 0.02), dtype=jnp.float64)
        s0 = np.array([[p.to_scale(c[p.id]) for p in est] for c in starts])
        swarm = jnp.broadcast_to(jnp.asarray(s0)[:, None, :], (k, n, len(est)))

        def once(seed: int):
            keys = jax.vmap(lambda c: jax.random.fold_in(jax.random.key(seed), c))(jnp.arange(k))
            it, cool = jnp.asarray(0, dtype=jnp.int32), jnp.asarray(0.5, dtype=jnp.float64)
            out = if2_chains_iteration(f.initial, f.sim, f.obs, swarm, codes, lo, hi, sd, it, cool, keys, f.block)
            return float(np.asarray(out.loglik).mean())

        once(0)
        cpu, ll = [], []
        for i in range(repeats):
            t = time.process_time()
            ll.append(once(i + 1))
            cpu.append(time.process_time() - t)
        return cpu, ll

    return run()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["f1000", "f2000", "f5000", "f10000", "f20000", "f100000"])
    ap.add_argument("--budget", type=float, default=4.0, help="CPU seconds per configuration (sets the repeats)")
    ap.add_argument("--label", default=str(REPO))
    args = ap.parse_args()
    print(f"checkout {args.label}")
    print(f"{'config':>12} {'particles':>9} {'reps':>4} {'cpu s/call':>10} {'us/particle/obs':>15} {'mean ll':>10}")
    for cfg in args.configs:
        kind, rest = cfg[0], cfg[1:]
        if kind == "f":
            r, n = 1, int(rest)
        else:
            r, n = (int(v) for v in rest.split("x"))
        total = r * n
        repeats = max(2, min(20, int(args.budget / (total * 14 * 6e-6))))
        cpu, ll = (_if2 if kind == "i" else _filter)(r, n, repeats)
        med = statistics.median(cpu)
        print(
            f"{cfg:>12} {total:>9} {repeats:>4} {med:>10.3f} {1e6 * med / (total * N_OBS):>15.2f} "
            f"{statistics.fmean(ll):>10.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()

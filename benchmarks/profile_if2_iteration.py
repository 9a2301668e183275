"""Where one IF2 iteration's CPU goes, against one bootstrap filter of the same size (bsflu, binomial leap).

One compiled IF2 iteration of 1 chain × N particles (`if2_iteration`, the kernel `run_if2` calls; rw_sd 0.02, also
0, starting at the filter's point; also from the race's first box start) against one leap filter of N particles at
pomp's start point (`ParticleLikelihood`; also resampling at every observation, as IF2 does; also at the box start),
and
the IF2 kernel's own per-interval work measured alone, each as a jitted `lax.scan` over the 14 observation
intervals on N particles with the kernel's shapes and operations:

- `perturb`: the random walk (`normal` draws of N × m, the cooling factor) and the clip to the bounds;
- `transform`: `from_scale` (the estimation scale → linear) and the per-particle parameter vector
  (`Initial(theta)[1]`, vmapped);
- `resample`: the systematic resampling of N weights and the gather of the parameter rows `s[anc]`;
- `transform + weight`: `transform` and the measurement density with each particle's own `theta`;
- `all three`: the first three in one scan (what IF2 adds to a filter, apart from weighting with per-particle `theta`).

Each is compiled once (not timed), then run `--repeats` times; printed: the median process CPU time per call and
per particle-interval. Run it under `taskset -c C` (one core); the ratios are same-run.

    taskset -c 0 python benchmarks/profile_if2_iteration.py --particles 2048
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
POINT = {"Beta": 3.7, "mu_IR": 2.0, "rho": 0.9}
BOX = {"Beta": (0.763, 7.63), "mu_IR": (0.5, 2.0), "rho": (0.5, 1.0)}


def _median_cpu(fn, repeats: int) -> float:
    fn(0)  # compile
    cpu = []
    for i in range(repeats):
        t = time.process_time()
        fn(i + 1)
        cpu.append(time.process_time() - t)
    return statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    n, reps = args.particles, args.repeats

    import jax
    import jax.numpy as jnp

    import sbmljax
    from sbmljax._config import x64
    from sbmljax._fit import as_problem
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.bootstrap import systematic_resample
    from sbmljax._likelihood.if2_kernel import SCALES, from_scale, if2_iteration
    from sbmljax._likelihood.if2_setup import chain_starts, rw_sds

    @x64
    def run() -> None:
        problem, start = as_problem(REPO / "data" / "bsflu" / "problem.yaml", None, POINT, noise_sd=None)
        s_start = chain_starts(problem, start, BOX, 1, 1)[0]
        ids = problem.estimated_ids
        values = {**problem.fixed, **problem.nominal(), **start}
        method = sbmljax.BinomialLeaping(tau=1 / 12)
        pl = ParticleLikelihood(problem, ids, values, n_particles=n, replicates=1, method=method)
        f = pl.filters[0]
        est = problem.estimated
        m = len(est)
        n_obs = int(f.obs.times.shape[0])
        codes = jnp.asarray([SCALES[p.scale] for p in est], dtype=jnp.int32)
        lo, hi = (jnp.asarray(b, dtype=jnp.float64) for b in problem.scaled_bounds())
        sd = jnp.asarray(rw_sds(problem, 0.02), dtype=jnp.float64)
        s0 = jnp.asarray([p.to_scale(s_start[p.id]) for p in est], dtype=jnp.float64)
        swarm_box = jnp.broadcast_to(s0, (n, m))
        # at the filter's point the particles' dynamics (and so the binomial draws' cost) are the filter's
        swarm = jnp.broadcast_to(jnp.asarray([p.to_scale(POINT[p.id]) for p in est], dtype=jnp.float64), (n, m))
        it, cool = jnp.asarray(0, dtype=jnp.int32), jnp.asarray(0.5, dtype=jnp.float64)
        rows: dict[str, float] = {}

        rows["filter (1 replicate)"] = _median_cpu(lambda seed: pl.evaluate(seed=seed).value, reps)
        # IF2 resamples at every observation; the filter only when the ESS falls below half the particles
        pl1 = ParticleLikelihood(
            problem, ids, values, n_particles=n, replicates=1, method=method, resample_threshold=1.0
        )
        rows["filter resampling always"] = _median_cpu(lambda seed: pl1.evaluate(seed=seed).value, reps)
        # the binomial draws' cost follows the dynamics: the filter at the box start too
        box_values = {**values, **{k: float(v) for k, v in s_start.items()}}
        pl_box = ParticleLikelihood(problem, ids, box_values, n_particles=n, replicates=1, method=method)
        rows["filter at box start"] = _median_cpu(lambda seed: pl_box.evaluate(seed=seed).value, reps)

        def if2_at(sw, sd_):
            def once(seed):
                key = jax.random.key(seed)
                out = if2_iteration(f.initial, f.sim, f.obs, sw, codes, lo, hi, sd_, it, cool, key, f.block)
                return float(out.loglik)

            return once

        rows["IF2 iteration (1 chain)"] = _median_cpu(if2_at(swarm, sd), reps)
        rows["IF2 iteration, rw_sd 0"] = _median_cpu(if2_at(swarm, jnp.zeros_like(sd)), reps)
        rows["IF2 iteration, box start"] = _median_cpu(if2_at(swarm_box, sd), reps)

        def scan_of(body):
            @jax.jit
            def go(key):
                def interval(s, k):
                    return body(s, jax.random.fold_in(key, k), k), None

                s, _ = jax.lax.scan(interval, swarm, jnp.arange(n_obs, dtype=jnp.int32))
                return jnp.sum(s)

            return lambda seed: float(go(jax.random.key(seed)))

        def perturb(s, key, k):
            k_rw, _, _ = jax.random.split(key, 3)
            factor = cool ** ((k + it * n_obs).astype(jnp.float64) / (50.0 * n_obs))
            s = s + (factor * sd)[None, :] * jax.random.normal(k_rw, s.shape, dtype=jnp.float64)
            return jnp.clip(s, lo[None, :], hi[None, :])

        def transform(s, key, k):
            theta = jax.vmap(lambda si: from_scale(si, codes))(s)
            p = jax.vmap(lambda th: f.initial(th)[1])(theta)
            # keep both live and the carry's shape: a data dependence XLA cannot drop
            return s + 1e-300 * (jnp.sum(p, axis=1, keepdims=True) + theta)

        def resample(s, key, k):
            _, _, k_res = jax.random.split(key, 3)
            w = jnp.exp(-0.5 * (s[:, 0] - s[0, 0]) ** 2)  # weights that depend on the carry, as the filter's do
            anc = systematic_resample(k_res, w / jnp.sum(w))
            return s[anc]

        x_init = f.initial(jnp.asarray([POINT[i] for i in ids], dtype=jnp.float64))[0]
        x_mid = jnp.broadcast_to(x_init + 100.0, (n, x_init.shape[0]))  # a state every observation can come from

        def weight(s, key, k):
            # the per-particle measurement density IF2 evaluates with each particle's own theta and p
            theta = jax.vmap(lambda si: from_scale(si, codes))(s)
            p = jax.vmap(lambda th: f.initial(th)[1])(theta)
            g, _ = jax.vmap(lambda xi, pi, th: f.obs.log_g(xi, pi, k, th))(x_mid, p, theta)
            return s + 1e-300 * g[:, None]

        def all_three(s, key, k):
            return resample(transform(perturb(s, key, k), key, k), key, k)

        for name, body in [
            ("perturb", perturb),
            ("transform", transform),
            ("resample", resample),
            ("transform + weight", weight),
        ]:
            rows[f"  {name} alone"] = _median_cpu(scan_of(body), reps)
        rows["  all three in one scan"] = _median_cpu(scan_of(all_three), reps)

        base = rows["filter (1 replicate)"]
        print(f"box start: {s_start}")
        print(f"bsflu binomial leap, {n} particles, {n_obs} intervals, {reps} repeats, median process CPU")
        print(f"{'what':>28} {'cpu ms/call':>11} {'us/particle/interval':>21} {'/ filter':>9}")
        for name, cpu in rows.items():
            print(f"{name:>28} {1e3 * cpu:>11.2f} {1e6 * cpu / (n * n_obs):>21.3f} {cpu / base:>9.3f}")
        print(f"IF2 iteration minus filter: {1e3 * (rows['IF2 iteration (1 chain)'] - base):.2f} ms")

    run()


if __name__ == "__main__":
    main()

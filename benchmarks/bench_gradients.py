"""Gradient estimators: standard error per unit of compute, and cost relative to a forward ensemble.

For each problem (SIR mid-epidemic, birth–death) and estimator it prints the estimate, its standard error,
the wall time of one gradient (all parameters) with n trajectories, the ratio of that time to one forward
ensemble of the same n with the simulator the estimator uses (exact direct method; fixed-step leaping for
`tau_pathwise`), and the work-normalised error `SE·√seconds` (lower is better: the standard error one
second of compute buys). Compilation is excluded (one warm-up call).

    python benchmarks/bench_gradients.py                          # one core, a text table
    python benchmarks/bench_gradients.py --out docs/_generated/estimators.md   # the docs' table
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--n", type=int, default=4000)
    ap.add_argument("--out", type=Path, help="write a Markdown table (with machine, versions, date) here")
    args = ap.parse_args()
    os.sched_setaffinity(0, set(range(args.cores)))

    import warnings

    import jax
    import jax.numpy as jnp
    import numpy as np

    import sbmljax
    from sbmljax._estimator.tau_pathwise import step_grid
    from sbmljax._grad import build_problem, make_estimator

    warnings.simplefilter("ignore", UserWarning)
    target = jnp.array([1.0, 200.0, 700.0])
    problems = {
        "SIR, I0=20, ‖X(60) − (1, 200, 700)‖": (
            REPO / "models" / "sir.xml",
            {"c1": 1e-4, "c2": 0.01},
            [0.0, 60.0],
            {"S": 980, "I": 20, "R": 0},
            lambda c, p: jnp.linalg.norm(c[-1] - target),
        ),
        "birth–death, (X(20) − 50)²": (
            REPO / "models" / "birth_death.xml",
            {"k1": 10.0, "k2": 0.1},
            [0.0, 20.0],
            None,
            lambda c, p: (c[-1, 0] - 50.0) ** 2,
        ),
    }
    estimators = [
        ("score", {}),
        ("cfd", {"h": 0.05}),
        ("fd_crn", {"h": 0.05}),
        ("tau_pathwise", {"tau": 0.5, "noise": "poisson"}),
        ("tau_pathwise", {"tau": 0.5, "noise": "gaussian"}),
    ]
    import json

    sir_ref = json.loads((REPO / "tests" / "data" / "reference" / "sir_gradient_reference.json").read_text())["grad"]

    def bd_expected(k):  # E[(X(20) − 50)²] = Var + (mean − 50)², X(0) = 0: Poisson with mean (k1/k2)(1 − e^{−20 k2})
        mean = k[0] / k[1] * (1 - jnp.exp(-20.0 * k[1]))
        return mean + (mean - 50.0) ** 2

    bd_ref = dict(zip(("k1", "k2"), (float(g) for g in jax.grad(bd_expected)(jnp.array([10.0, 0.1])))))
    references = dict(zip(problems, (sir_ref, bd_ref)))
    rows = []
    for pname, (path, params, t_eval, initial, loss) in problems.items():
        model = sbmljax.load_sbml(path)

        def timed(fn):
            fn()
            start = time.perf_counter()
            out = fn()
            return out, time.perf_counter() - start

        _, t_direct = timed(
            lambda: sbmljax.simulate(model, t_eval, n_trajectories=args.n, seed=1, params=params, initial=initial)
        )
        for name, opts in estimators:
            est = make_estimator(name, **opts)
            r, seconds = timed(
                lambda: sbmljax.value_and_grad(
                    loss, model, params, t_eval, n_trajectories=args.n, seed=2, estimator=name, initial=initial, **opts
                )
            )
            if name == "tau_pathwise":
                with jax.enable_x64(True):
                    prob = build_problem(
                        loss, model, params, t_eval, estimator=est, n_trajectories=args.n, initial=initial
                    )
                    grid = step_grid(prob.prep.t0, prob.prep.t_eval, est.tau)
                    keys = sbmljax._ensemble.trajectory_keys(3, args.n)

                    @jax.jit
                    def forward(keys, prob=prob, grid=grid, est=est):
                        x0, p = prob.initial(prob.theta[: prob.n_model])
                        return jax.vmap(lambda k: prob.loss(est.path(prob.net, x0, p, k, grid), prob.theta))(keys)

                    _, t_forward = timed(lambda: forward(keys).block_until_ready())
            else:
                t_forward = t_direct
            label = name + (f" ({opts['noise']})" if "noise" in opts else "")
            for k in params:
                ref = references[pname][k]
                rows.append(
                    (
                        pname,
                        label,
                        k,
                        r.grad[k],
                        r.stderr[k],
                        ref,
                        (r.grad[k] - ref) / r.stderr[k],
                        seconds,
                        seconds / t_forward,
                        r.stderr[k] * np.sqrt(seconds),
                    )
                )
            print(
                f"{pname:<36} {label:<24} {seconds:7.2f}s  {seconds / t_forward:5.2f}× forward",
                file=sys.stderr,
                flush=True,
            )
    if args.out:
        import datetime
        import platform

        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            f"Measured {stamp} on {platform.processor() or platform.machine()} ({args.cores} core(s), "
            f"{platform.system()}), Python {platform.python_version()}, jax {jax.__version__}, n = {args.n} "
            f"trajectories (pairs for cfd/fd_crn) per gradient, compilation excluded; "
            f"`python benchmarks/bench_gradients.py --n {args.n} --cores {args.cores} --out ...`.",
            "",
            "Reference: the analytic derivative (birth–death) or the stored high-precision estimate of "
            "`tests/data/reference/sir_gradient_reference.json` (SIR); *(est − ref)/SE* shows bias in standard errors.",
            "",
            "| problem | estimator | parameter | gradient | standard error | reference | (est − ref)/SE | seconds | × forward ensemble | SE·√seconds |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            "| {} | {} | {} | {:.4g} | {:.3g} | {:.4g} | {:+.1f} | {:.2f} | {:.2f} | {:.3g} |".format(*row)
            for row in rows
        ]
        args.out.write_text("\n".join(lines) + "\n")
        print("wrote", args.out, file=sys.stderr)
    else:
        print(
            f"{'problem':<36} {'estimator':<24} {'param':<5} {'grad':>11} {'SE':>9} {'ref':>11} {'z':>6} {'s':>6} {'×fwd':>6} {'SE·√s':>9}"
        )
        for row in rows:
            print("{:<36} {:<24} {:<5} {:>11.4g} {:>9.3g} {:>11.4g} {:>+6.1f} {:>6.2f} {:>6.2f} {:>9.3g}".format(*row))


if __name__ == "__main__":
    sys.exit(main())

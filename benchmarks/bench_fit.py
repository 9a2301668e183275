"""Fitting accuracy as the ensemble size and the number of iterations grow (synthetic data, known truth).

Five replicate datasets are simulated from known parameters (birth–death: k1 = 10, k2 = 0.1; SIR:
c1 = 1e-4, c2 = 0.01); each fit starts 3× off and uses the default estimator (score) and loss (mean_sse).
Printed: the relative error of each fitted parameter, the fit's Monte Carlo standard error, and the time;
and, as the yardstick of what these five noisy replicates support, the ODE least-squares fit of the same
data (for the linear birth–death network the SSA mean is the ODE solution, so `mean_sse` and the ODE fit
have the same optimum).

    python benchmarks/bench_fit.py                 # a few minutes
    python benchmarks/bench_fit.py --n 16 64 --iterations 50 200
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="*", default=[16, 64, 256])
    ap.add_argument("--iterations", type=int, nargs="*", default=[50, 200])
    ap.add_argument("--loss", default="mean_sse")
    ap.add_argument("--estimator", default="score")
    args = ap.parse_args()

    import numpy as np
    import pandas as pd

    import sbmljax

    cases = {
        "birth_death": ({"k1": 10.0, "k2": 0.1}, np.linspace(5, 50, 10), ["X"]),
        "sir": ({"c1": 1e-4, "c2": 0.01}, np.linspace(20, 200, 10), ["S", "I", "R"]),
    }
    print(f"estimator={args.estimator} loss={args.loss}; relative error (fitted/true − 1) ± Monte Carlo SE")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (true, times, species) in cases.items():
            model = sbmljax.load_sbml(REPO / "models" / f"{name}.xml")
            paths = []
            for seed in range(5):
                traj = sbmljax.simulate(
                    model, np.concatenate([[0.0], times]), n_trajectories=1, seed=1000 + seed, params=true
                )
                path = Path(tmp) / f"{name}{seed}.csv"
                pd.DataFrame({"time": times, **{s: traj[s][0, 1:] for s in species}}).to_csv(path, index=False)
                paths.append(path)
            start = {k: 3 * v for k, v in true.items()}
            from sbmljax.data import problem_from_csv
            from sbmljax.reference import fit_ode

            ode = fit_ode(problem_from_csv(model, paths, list(true)), start=start)
            errs = "  ".join(f"{k}: {ode.params[k] / v - 1:+.3f}" for k, v in true.items())
            print(f"{name:<12} ODE least squares on the same data          {errs}")
            for its in args.iterations:
                for n in args.n:
                    t0 = time.perf_counter()
                    r = sbmljax.fit(
                        model,
                        paths,
                        start,
                        estimator=args.estimator,
                        loss=args.loss,
                        n_trajectories=n,
                        seed=1,
                        iterations=its,
                        learning_rate=0.1,
                    )
                    errs = "  ".join(
                        f"{k}: {r.params[k] / v - 1:+.3f} ± {r.stderr[k] / v:.3f}" for k, v in true.items()
                    )
                    print(
                        f"{name:<12} iterations={its:<4} n={n:<4} {errs}   {time.perf_counter() - t0:6.1f} s",
                        flush=True,
                    )


if __name__ == "__main__":
    sys.exit(main())

"""Seeded outputs to compare before and after a refactor, bitwise.

    python benchmarks/seeded_fingerprint.py before.pkl     # on the old commit
    python benchmarks/seeded_fingerprint.py after.pkl      # on the new one
    python benchmarks/seeded_fingerprint.py --compare before.pkl after.pkl

Records 75 ensembles (the bundled models, 18 DSMTS cases and 2 BioModels with direct, NRM and tau-leaping;
errors are recorded as text), the value, gradient and per-trajectory samples of every estimator on SIR, and a
short stochastic fit of the boarding-school problem. `--compare` prints the entries that differ in any bit
and exits 1 if there are any. A commit message that claims "bitwise identical" should say this was run.
"""

from __future__ import annotations

import argparse
import glob
import pickle
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DSMTS = (1, 3, 4, 6, 10, 11, 16, 19, 20, 21, 26, 30, 31, 35, 36, 37, 38, 39)


def record() -> dict:
    import jax.numpy as jnp

    import sbmljax
    from sbmljax._estimator import ESTIMATORS

    out: dict = {}
    files = sorted(glob.glob(str(REPO / "models" / "*.xml")))
    files += [
        sorted(glob.glob(str(REPO / f"tests/data/sbml-stochastic/{c:05d}/{c:05d}-sbml-l3v*.xml")))[0] for c in DSMTS
    ]
    files += [str(REPO / "tests/data/biomodels" / f"BIOMD00000000{n}.xml") for n in ("12", "35")]
    for f in files:
        name = str(Path(f).relative_to(REPO))
        model = sbmljax.load_sbml(f)
        for method in ("direct", "nrm", "tau_leap"):
            options = {"epsilon": 0.03} if method == "tau_leap" else {}
            try:
                t = sbmljax.simulate(
                    model, np.linspace(0, 5, 6), n_trajectories=64, seed=3, method=method, max_events=1e8, **options
                )
                out[(name, method)] = np.asarray(t.counts)
            except sbmljax.errors.SbmlJaxError as e:
                out[(name, method)] = f"{type(e).__name__}: {e}"
    sir = sbmljax.load_sbml(REPO / "models" / "sir.xml")

    def loss(counts, params):
        return jnp.sum(counts[-1] ** 2)

    for estimator in ESTIMATORS:
        g = sbmljax.value_and_grad(
            loss, sir, sir.parameter_values(), np.linspace(0, 10, 5), n_trajectories=64, seed=1, estimator=estimator
        )
        out[("grad", estimator)] = (g.value, g.grad, np.asarray(g.samples))
    fit = sbmljax.fit(
        str(REPO / "data/boarding_school/problem.yaml"), loss="gaussian_nll", n_trajectories=16, seed=5, iterations=6
    )
    out["fit"] = (repr(fit.params), repr(fit.stderr))
    return out


def same(x, y) -> bool:
    if isinstance(x, np.ndarray):
        return isinstance(y, np.ndarray) and x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
    if isinstance(x, (tuple, list)):
        return isinstance(y, (tuple, list)) and len(x) == len(y) and all(same(a, b) for a, b in zip(x, y))
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    return x == y or (x != x and y != y)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="output file, or two files with --compare")
    parser.add_argument("--compare", action="store_true")
    args = parser.parse_args()
    if args.compare:
        a, b = (pickle.loads(Path(p).read_bytes()) for p in args.paths)
        differing = [k for k in a.keys() | b.keys() if k not in a or k not in b or not same(a[k], b[k])]
        print(
            f"{len(a)} entries, {sum(isinstance(v, np.ndarray) for v in a.values())} ensembles; differing: {differing}"
        )
        return 1 if differing else 0
    Path(args.paths[0]).write_bytes(pickle.dumps(record()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

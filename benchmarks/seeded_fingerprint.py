"""Seeded outputs to compare before and after a refactor, bitwise.

    python benchmarks/seeded_fingerprint.py before.pkl     # on the old commit
    python benchmarks/seeded_fingerprint.py after.pkl      # on the new one
    python benchmarks/seeded_fingerprint.py --compare before.pkl after.pkl

Records 75 ensembles (the bundled models, 18 DSMTS cases and 2 BioModels with direct, NRM and tau-leaping;
errors are recorded as text), the value, gradient and per-trajectory samples of every estimator on SIR, and a
short stochastic fit of the boarding-school problem (the first 81 entries); then, on the bundled bsflu PEtab
problem, the particle-filter log-likelihood with its gradient (direct) and without (binomial leaping), IF2
(one chain; two datasets), a profile of `rho` (binomial leaping) and `fit(loss="likelihood", start="if2")`;
and ensembles of the hybrid method (BIOMD0000000009 to t = 1), `method="auto"` (the same stiff cascade to
t = 100, where it chooses the hybrid method), extrande (a birth-death with a time-dependent birth rate) and
binomial leaping (SIR). The settings are tiny: the point is bitwise coverage of each path, not accuracy.

`--compare` compares the entries both files hold, prints those that differ in any bit and exits 1 if there
are any; entries in one file only (a recording made before they were added) are listed as new or missing
and not counted. A commit message that claims "bitwise identical" should say this was run.
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
    out.update(record_more())
    return out


TIME_DEPENDENT = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
<model id="time_dependent_birth_death" substanceUnits="item" extentUnits="item" timeUnits="second">
<listOfCompartments><compartment id="c" size="1" spatialDimensions="3" constant="true"/></listOfCompartments>
<listOfSpecies><species id="X" compartment="c" initialAmount="0" hasOnlySubstanceUnits="true"
 boundaryCondition="false" constant="false"/></listOfSpecies>
<listOfParameters><parameter id="k1" value="20" constant="true"/><parameter id="k2" value="0.5" constant="true"/>
<parameter id="w" value="1.3" constant="true"/></listOfParameters>
<listOfReactions>
<reaction id="b" reversible="false"><listOfProducts><speciesReference species="X" stoichiometry="1" constant="true"/>
</listOfProducts><kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k1</ci><apply>
<plus/><cn>1</cn><apply><sin/><apply><times/><ci>w</ci>
<csymbol encoding="text" definitionURL="http://www.sbml.org/sbml/symbols/time">time</csymbol>
</apply></apply></apply></apply></math></kineticLaw></reaction>
<reaction id="d" reversible="false"><listOfReactants><speciesReference species="X" stoichiometry="1" constant="true"/>
</listOfReactants><kineticLaw><math xmlns="http://www.w3.org/1998/Math/MathML"><apply><times/><ci>k2</ci><ci>X</ci>
</apply></math></kineticLaw></reaction>
</listOfReactions></model></sbml>
"""
"""0 -> X at k1 (1 + sin(w t)), X -> 0 at k2 X: tests/test_extrande.py's time-dependent birth-death, inline so
that the recording does not depend on the test helpers."""

SKIP = {"wall_time_s", "seconds", "problem", "source"}
"""Result fields that are wall times (never bitwise reproducible), inputs (the problem) or the checkout's path."""


def plain(x):
    """A result as picklable plain values: dataclasses and dicts as dicts (without `SKIP`), arrays as numpy."""
    import dataclasses

    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x) if f.name not in SKIP}
    if isinstance(x, dict):
        return {k: plain(v) for k, v in x.items() if k not in SKIP}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if hasattr(x, "__array__") and not isinstance(x, (float, int, np.generic)):
        return np.asarray(x)
    return x


def record_more() -> dict:
    """The entries added after the first 81 (older recordings lack them; `--compare` reports them as new):
    the particle filter's value and gradient, IF2 (one chain; two datasets), a profile, a fit by likelihood
    from an IF2 start, and the hybrid, auto, extrande and binomial-leap simulators. Tiny settings: the point
    is bitwise coverage of each path, not accuracy."""
    import dataclasses

    import sbmljax
    from sbmljax.data import load_petab

    out: dict = {}
    bsflu = str(REPO / "data/bsflu/problem.yaml")
    leap = sbmljax.BinomialLeaping(tau=1.0 / 12.0)
    ll = sbmljax.log_likelihood(None, bsflu, n_particles=100, seed=7, replicates=2, grad=True)
    out[("loglik", "direct")] = plain(ll)
    ll = sbmljax.log_likelihood(None, bsflu, n_particles=100, seed=7, replicates=2, method=leap)
    out[("loglik", "binomial_leap")] = plain(ll)
    res = sbmljax.if2(None, bsflu, seed=8, n_particles=50, iterations=3, replicates=2)
    out[("if2", "bsflu")] = plain(res)
    problem = load_petab(bsflu)
    (ds,) = problem.datasets
    # a second school of the same shape (one more pupil in bed each day): the IF2 iteration compiled above serves both
    other = dataclasses.replace(ds, name="other_school", values=ds.values + 1.0)
    two = dataclasses.replace(problem, datasets=(ds, other))
    res = sbmljax.if2(None, two, seed=9, n_particles=50, iterations=2, replicates=2)
    out[("if2", "two_datasets")] = plain(res)
    prof = sbmljax.profile(
        None, bsflu, "rho", [0.6, 0.75, 0.9, 0.99], seed=10, n_particles=50, iterations=2, replicates=2, method=leap
    )
    out["profile"] = plain(prof)
    fit = sbmljax.fit(
        bsflu,
        loss="likelihood",
        start="if2",
        if2_options={"iterations": 2, "n_particles": 50},
        n_trajectories=100,
        iterations=2,
        seed=11,
    )
    out["fit_likelihood_if2"] = plain(fit)
    t = np.linspace(0, 1, 3)
    biomd9 = sbmljax.load_sbml(REPO / "tests/data/biomodels/BIOMD0000000009.xml")
    tr = sbmljax.simulate(biomd9, t, n_trajectories=4, seed=3, method="hybrid")
    out[("sim", "hybrid")] = np.asarray(tr.counts)
    # To t = 100 this stiff cascade (µM-scale substrates beside enzymes of 72 molecules) is beyond the exact methods'
    # event budget: auto chooses the hybrid method with its own fast_propensity (docs/simulators.md).
    tr = sbmljax.simulate(biomd9, np.array([0.0, 50.0, 100.0]), n_trajectories=4, seed=3, method="auto")
    out[("sim", "auto")] = (tr.method, np.asarray(tr.counts))
    model = sbmljax.load_sbml(TIME_DEPENDENT)
    tr = sbmljax.simulate(model, np.linspace(0, 5, 6), n_trajectories=64, seed=3, method="extrande")
    out[("sim", "extrande")] = np.asarray(tr.counts)
    sir = sbmljax.load_sbml(REPO / "models" / "sir.xml")
    tr = sbmljax.simulate(sir, np.linspace(0, 5, 6), n_trajectories=64, seed=3, method="binomial_leap", tau=0.01)
    out[("sim", "binomial_leap")] = np.asarray(tr.counts)
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
        common = [k for k in a if k in b]
        differing = [k for k in common if not same(a[k], b[k])]
        # An entry in one file only (a recording from before an entry was added) is reported, not counted.
        new = [k for k in b if k not in a]
        missing = [k for k in a if k not in b]
        print(
            f"{len(common)} entries compared, {sum(isinstance(a[k], np.ndarray) for k in common)} ensembles; "
            f"differing: {differing}"
        )
        if new or missing:
            print(f"only in {args.paths[1]} (new): {new}; only in {args.paths[0]} (missing): {missing}")
        return 1 if differing else 0
    Path(args.paths[0]).write_bytes(pickle.dumps(record()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The bsflu log-likelihood: sbmljax's particle filter against pypomp's, in the same run.

The model is pomp's boarding-school influenza example (`data/bsflu/`, a PEtab problem): S → I → R1 → out,
N = 763, I(0) = 1, B ~ Poisson(rho·R1 + 1e-6), mu_R1 = 512/sum(B) per day. sbmljax simulates it exactly
(or by tau-leaping); pypomp's version is the Euler-binomial model with dt = 1/12 day that pomp's lessons
use. Printed per configuration: the time of one 1,000-particle filter after compilation (median of the
repeats), the mean and SD of the log-likelihood over the repeats, and the time relative to pypomp's; and
the cost of sbmljax's gradient (all parameters) relative to its value alone.

With `--if2 M`: maximum likelihood by IF2 in both (`--chains K`: K chains, from pomp's start Beta 3.7,
mu_IR 2, rho 0.9 when K = 1, else from starts drawn from pomp's lesson's box, as its global search;
`--particles` per iteration, M iterations, random-walk SD 0.02 on the log/logit scales, cooling 0.5 per 50
iterations; each end point evaluated by 8 filters of `--particles` in the package's own filter and the best
kept, as pomp's recipe does), then each best end point evaluated afresh by both filters (`--eval-particles`
× 8 replicates, jackknife SE): sbmljax's exact one and pypomp's Euler-binomial one. Wall times include the
end points' evaluations; pypomp's includes its compilation, sbmljax's does not. pomp's published maximum
(its Euler-binomial model): −73.2 … −73.6.

With `--models`: the Euler-binomial model (pypomp) against the exact one (sbmljax) at pomp's published MLE
and at the IF2 and ODE end points of docs/likelihood.md (`--eval-particles` per filter, fresh seeds), and
pypomp's filter at pomp's MLE as its step shrinks from 1/12 to 1/200 day.

pypomp is not a dependency: give an interpreter that has it (a separate venv, since it may pin another jax):

    python -m venv /work/pypomp-venv && /work/pypomp-venv/bin/pip install pypomp
    python benchmarks/bench_likelihood.py --pypomp-python /work/pypomp-venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
POINT = {"Beta": 3.7, "mu_IR": 2.0, "rho": 0.9}


def sbmljax_filter(
    method, options: dict, n: int, repeats: int, grad: bool, block: int | None, point: dict | None = None
) -> dict:
    import sbmljax  # noqa: F401  (x64 scoping lives in the entry points)
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import as_likelihood_problem
    from sbmljax._simulator import make_simulator

    problem, values, names = as_likelihood_problem(None, REPO / "data" / "bsflu" / "problem.yaml", point or POINT, None)
    pl = ParticleLikelihood(
        problem, names, values, n_particles=n, replicates=1, method=make_simulator(method, **options), block=block
    )
    t = time.perf_counter()
    pl.evaluate(seed=0, grad=grad)
    compile_s = time.perf_counter() - t
    values_, seconds = [], []
    for r in range(repeats):
        t = time.perf_counter()
        res = pl.evaluate(seed=r + 1, grad=grad)
        seconds.append(time.perf_counter() - t)
        values_.append(res.value)
    return {"loglik": values_, "seconds": seconds, "compile_s": compile_s}


def pypomp_filter(python: str, n: int, repeats: int) -> dict | None:
    args = json.dumps({"params": POINT, "J": n, "reps": repeats})
    script = Path(__file__).with_name("_pypomp_bsflu.py")
    out = subprocess.run([python, str(script), args], capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        print(f"pypomp run failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


BOX = {"Beta": (0.763, 7.63), "mu_IR": (0.5, 2.0), "rho": (0.5, 1.0)}  # pomp's lesson: Beta 0.001–0.01 per pupil


def _pypomp(python: str, payload: dict) -> dict | None:
    script = Path(__file__).with_name("_pypomp_bsflu.py")
    out = subprocess.run([python, str(script), json.dumps(payload)], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        print(f"pypomp failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _lme(ll: list[float]) -> tuple[float, float]:
    from sbmljax._likelihood.api import logmeanexp_jackknife

    return logmeanexp_jackknife(np.asarray(ll))


def if2_comparison(args) -> None:
    """IF2 in both, then each best end point evaluated by both filters (fresh seeds, `--eval-particles` × 8)."""
    import sbmljax

    problem = REPO / "data" / "bsflu" / "problem.yaml"
    k = args.chains
    box = BOX if k > 1 else None
    rows = []
    if args.pypomp_python:
        payload = {"mode": "mif", "params": POINT, "J": args.particles, "M": args.if2, "chains": k, "reps": 8}
        peer = _pypomp(args.pypomp_python, {**payload, "box": box})
        if peer:
            best = int(np.argmax(peer["loglik"]))
            label = f"pypomp IF2 (Euler-binomial dt=1/12), {k} chain(s)"
            rows.append((label, peer["params"][best], peer["seconds"] + peer["eval_seconds"], peer["loglik"][best]))
    sbmljax.if2(None, problem, POINT, seed=99, n_particles=args.particles, iterations=1, evaluate=False)  # compile
    if k > 1:
        sbmljax.if2(None, problem, POINT, seed=99, n_particles=args.particles, iterations=1, chains=k, starts=BOX)
    t = time.perf_counter()
    res = sbmljax.if2(
        None, problem, POINT, seed=1, n_particles=args.particles, iterations=args.if2, chains=k, starts=box
    )
    rows.append((f"sbmljax IF2 (exact, direct), {k} chain(s)", res.params, time.perf_counter() - t, res.loglik))
    print(
        f"bsflu IF2: {args.particles} particles, {args.if2} iterations, {k} chain(s) "
        f"{'from pomp box ' + str(BOX) if box else 'from ' + str(POINT)}; time includes each end point's 8 filters"
    )
    print(
        f"{'IF2':<48} {'s':>7} {'Beta':>6} {'mu_IR':>6} {'rho':>6} {'own eval':>9} {'exact':>13} {'pypomp':>13}"
        f"  (fresh filters, {args.eval_particles} x 8)"
    )
    for label, params, seconds, own in rows:
        ll = sbmljax.log_likelihood(None, problem, params, n_particles=args.eval_particles, replicates=8, seed=5)
        pp = "-"
        if args.pypomp_python:
            ev = _pypomp(args.pypomp_python, {"mode": "eval", "params": params, "J": args.eval_particles, "reps": 8})
            if ev:
                v, se = _lme(ev["loglik"])
                pp = f"{v:.2f} ± {se:.2f}"
        print(
            f"{label:<48} {seconds:7.1f} {params['Beta']:6.3f} {params['mu_IR']:6.3f} {params['rho']:6.3f} "
            f"{own:9.2f} {ll.value:6.2f} ± {ll.stderr:4.2f} {pp:>13}"
        )
    print("pomp's published maximum log-likelihood: -73.2 ... -73.6 (its Euler-binomial model, dt = 1/12)")


# pomp's published MLE (`mif_bsflu_params.csv` of Ionides' STATS 531 notes, chapter 12; Beta per pupil × 763),
# the ends of pypomp's 10 box chains that it scored best (E1–E3), sbmljax's local-search ends (L1, L2) and the
# ODE trajectory-matching fit (Poisson likelihood of the deterministic skeleton)
POINTS = {
    "pomp MLE": {"Beta": 0.00482725445261827 * 763, "mu_IR": 1.90183413874852, "rho": 0.912563144507604},
    "E1": {"Beta": 3.12799, "mu_IR": 1.57887, "rho": 0.84478},
    "E2": {"Beta": 3.35363, "mu_IR": 1.68370, "rho": 0.91302},
    "E3": {"Beta": 3.71851, "mu_IR": 2.04598, "rho": 0.94267},
    "L1": {"Beta": 3.81501, "mu_IR": 1.76937, "rho": 0.91805},
    "L2": {"Beta": 3.61816, "mu_IR": 1.77098, "rho": 0.92576},
    "ODE": {"Beta": 2.76154, "mu_IR": 1.33877, "rho": 0.87010},
}


def leap_accuracy(args) -> None:
    """Single-filter log-likelihoods at pomp's MLE: exact (direct), binomial leaping and pypomp, all with
    `--particles` particles and `--leap-accuracy` replicates (fresh seeds), with each filter's median time."""
    point, r = POINTS["pomp MLE"], args.leap_accuracy
    rows = []
    if args.pypomp_python:
        ev = _pypomp(
            args.pypomp_python, {"mode": "eval", "params": point, "J": args.particles, "reps": r, "seed": 3000}
        )
        if ev:
            rows.append(("pypomp Euler-binomial dt=1/12", ev["loglik"], None))
    for method, options in (
        ("direct", {}),
        ("binomial_leap", {"tau": 1.0 / 12.0}),
        ("binomial_leap", {"tau": 1.0 / 48.0}),
    ):
        res = sbmljax_filter(method, options, args.particles, r, False, None, point)
        rows.append((f"sbmljax {method} {options or ''}", res["loglik"], statistics.median(res["seconds"])))
    print(f"bsflu at pomp's MLE {point}, {args.particles} particles, {r} filters each")
    print(f"{'filter':<44} {'lme ± SE':>14} {'mean':>8} {'SD':>6} {'ms':>7}")
    for label, ll, sec in rows:
        v, se = _lme(ll)
        ms = f"{1000 * sec:7.1f}" if sec else "      -"
        print(f"{label:<44} {v:7.2f} ± {se:4.2f} {np.mean(ll):8.2f} {np.std(ll, ddof=1):6.2f} {ms}")


def model_comparison(args) -> None:
    """Both filters at each point of POINTS (fresh seeds), and pypomp's filter at pomp's MLE as its step
    shrinks: does the Euler-binomial model converge to the exact one, and by how much do they differ?"""
    import jax
    import jax.numpy as jnp

    from sbmljax._config import x64
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import _seed_key, as_likelihood_problem

    n, r_exact, r_pp = args.eval_particles, args.exact_replicates, args.pypomp_replicates

    def stats(ll) -> str:
        v, se = _lme(ll)
        return f"{v:7.2f} ± {se:4.2f} / {np.mean(ll):7.2f} / {np.std(ll, ddof=1):4.2f}"

    @x64
    def exact(params: dict) -> list[float]:
        problem, values, names = as_likelihood_problem(None, REPO / "data" / "bsflu" / "problem.yaml", params, None)
        pl = ParticleLikelihood(problem, names, values, n_particles=n, replicates=r_exact)
        keys = jax.vmap(lambda r: jax.random.fold_in(_seed_key(1000, 0), r))(jnp.arange(r_exact))
        return [float(v) for v in np.asarray(pl.filters[0].run(pl._theta(params), keys, False).loglik)]

    print(f"bsflu, {n} particles per filter; lme ± SE / mean / SD of the single-filter log-likelihoods")
    print(f"{'point':<10} {'Beta':>6} {'mu_IR':>6} {'rho':>6} {'R0':>5} {'Euler dt=1/12 (pypomp)':>32} {'exact':>32}")
    for name, params in POINTS.items():
        pp = "-"
        if args.pypomp_python:
            ev = _pypomp(args.pypomp_python, {"mode": "eval", "params": params, "J": n, "reps": r_pp, "seed": 1000})
            pp = stats(ev["loglik"]) if ev else "-"
        print(
            f"{name:<10} {params['Beta']:6.3f} {params['mu_IR']:6.3f} {params['rho']:6.3f} "
            f"{params['Beta'] / params['mu_IR']:5.2f} {pp:>32} {stats(exact(params)):>32}"
        )
    if args.pypomp_python:
        for dt in (1 / 12, 1 / 48, 1 / 200):
            payload = {"mode": "eval", "params": POINTS["pomp MLE"], "J": n, "reps": r_pp, "seed": 2000, "dt": dt}
            ev = _pypomp(args.pypomp_python, payload)
            print(f"pypomp at pomp's MLE, dt = 1/{round(1 / dt)}: {stats(ev['loglik']) if ev else '-'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--particles", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--pypomp-python", help="a Python interpreter with pypomp installed (skipped if not given)")
    ap.add_argument("--blocks", type=int, nargs="*", default=[None], help="steps per random block to try")
    ap.add_argument("--if2", type=int, metavar="M", help="compare IF2 chains of M iterations instead")
    ap.add_argument("--eval-particles", type=int, default=10000, help="particles per evaluation filter (--if2)")
    ap.add_argument("--chains", type=int, default=1, help="IF2 chains (--if2); more than one start from pomp's box")
    ap.add_argument("--models", action="store_true", help="both filters at pomp's MLE and other points instead")
    ap.add_argument("--exact-replicates", type=int, default=16, help="exact filters per point (--models)")
    ap.add_argument("--pypomp-replicates", type=int, default=40, help="pypomp filters per point (--models)")
    ap.add_argument("--leap-accuracy", type=int, metavar="R", help="R filters each at pomp's MLE: exact vs leaping")
    ap.add_argument("--methods", nargs="*", help="only these sbmljax methods (e.g. binomial_leap); default all")
    args = ap.parse_args()
    if args.leap_accuracy:
        leap_accuracy(args)
        return
    if args.models:
        model_comparison(args)
        return
    if args.if2:
        if2_comparison(args)
        return

    rows = []
    peer = pypomp_filter(args.pypomp_python, args.particles, args.repeats) if args.pypomp_python else None
    if peer:
        rows.append(("pypomp Euler-binomial dt=1/12", peer))
    configs = [
        ("direct", {}, False),
        ("direct", {}, True),
        ("tau_leap", {"epsilon": 0.03}, False),
        ("tau_leap", {"tau": 1.0 / 12.0}, False),  # pypomp's step
        ("binomial_leap", {"tau": 1.0 / 12.0}, False),  # pypomp's step and (for bsflu) its Euler-binomial law
    ]
    if args.methods:
        configs = [c for c in configs if c[0] in args.methods]
    for block in args.blocks:
        for method, options, grad in configs:
            r = sbmljax_filter(method, options, args.particles, args.repeats, grad, block)
            label = f"sbmljax {method}{' ' + str(options) if options else ''}{' +grad' if grad else ''}"
            rows.append((label + (f" block={block}" if block else ""), r))
    base = statistics.median(peer["seconds"]) if peer else None
    value_only = {}
    print(f"bsflu at {POINT}, {args.particles} particles, {args.repeats} repeats (median time after compilation)")
    print(f"{'filter':<52} {'ms':>8} {'vs pypomp':>10} {'loglik mean':>12} {'SD':>6}")
    for label, r in rows:
        ms = 1000 * statistics.median(r["seconds"])
        ratio = f"{ms / (1000 * base):.2f}x" if base else "-"
        sd = statistics.stdev(r["loglik"]) if len(r["loglik"]) > 1 else float("nan")
        print(f"{label:<52} {ms:8.1f} {ratio:>10} {statistics.mean(r['loglik']):12.2f} {sd:6.2f}")
        if "+grad" not in label:
            value_only[label.replace(" +grad", "")] = ms
        else:
            plain = value_only.get(label.replace(" +grad", ""))
            if plain:
                print(f"{'':<52} gradient (all parameters) costs {ms / plain:.2f}x the value alone")


if __name__ == "__main__":
    main()

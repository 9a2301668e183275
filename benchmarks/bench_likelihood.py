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

With `--if2 M --chains K --methods binomial_leap`: pomp's global search in both like for like (`if2_race`):
the same K starts (uniform in the lesson's box, `--race-seed`), the same model law (sbmljax's binomial leap at
tau = 1/12), each end scored by `--score-replicates` × `--eval-particles` filters, wall and CPU time per part,
both winners evaluated afresh by both filters (`--fresh-replicates`); `--save` writes it all as JSON.

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
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
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


PYPOMP_CORES = 1
"""CPU devices pypomp's process gets (`--pypomp-cores`): pypomp spreads replicate filters and IF2 chains over
them (its `run_jax_batch_sharded`) when XLA is told of several."""


def _pypomp(python: str, payload: dict) -> dict | None:
    script = Path(__file__).with_name("_pypomp_bsflu.py")
    env = dict(os.environ)
    if PYPOMP_CORES > 1:
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={PYPOMP_CORES}".strip()
    out = subprocess.run(
        [python, str(script), json.dumps(payload)], capture_output=True, text=True, timeout=3600, env=env
    )
    if out.returncode != 0:
        print(f"pypomp failed: {out.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _lme(ll: list[float]) -> tuple[float, float]:
    from sbmljax._likelihood.api import logmeanexp_jackknife

    return logmeanexp_jackknife(np.asarray(ll))


def _pypomp_fresh(args, params: dict, particles: int, reps: int, j: int) -> tuple[str, list[float] | None]:
    """A race point afresh by pypomp's filter (`reps` × `particles`, the race's seed for point `j`): the table's
    text (lme ± SE, or "-" without pypomp) and the single filters' log-likelihoods."""
    if not args.pypomp_python:
        return "-", None
    seed = args.race_seed * 1000 + 500 + 50 * j
    ev = _pypomp(args.pypomp_python, {"mode": "eval", "params": params, "J": particles, "reps": reps, "seed": seed})
    if not ev:
        return "-", None
    v, se = _lme(ev["loglik"])
    return f"{v:.2f} +- {se:.2f}", ev["loglik"]


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


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - t[0], time.process_time() - t[1]


def if2_race(args) -> None:
    """pomp's bsflu global search in both, like for like: the same `--chains` starts drawn uniformly from
    the lesson's box (pomp's `runif_design`), `--if2` iterations of `--particles`, rw_sd 0.02 on the
    log/logit (sbmljax: log10 and lin, see docs/likelihood.md) scales, geometric cooling 0.5 per 50
    iterations in both, the Euler-binomial step of 1/12 day in both (sbmljax's `binomial_leap`, tau = 1/12);
    each chain end scored by `--score-replicates` filters of `--eval-particles` (log-mean-exp) and the best
    kept; then both winners evaluated afresh by both filters (`--fresh-replicates` × `--eval-particles`).
    Times are wall and process CPU seconds of each part; pypomp runs in its own process first, then
    sbmljax, so under `taskset -c N` the two alternate on one core."""
    import sbmljax
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import as_likelihood_problem
    from sbmljax._simulator import BinomialLeaping

    problem = REPO / "data" / "bsflu" / "problem.yaml"
    leap = BinomialLeaping(tau=1.0 / 12.0)
    k, m, n, ne, r = args.chains, args.if2, args.particles, args.eval_particles, args.score_replicates
    starts = _race_starts(args)
    print(
        f"bsflu IF2 race, seed {args.race_seed}: {k} chains from pomp's box {BOX} (uniform, the same starts in "
        f"both), {m} iterations x {n} particles, rw_sd 0.02, cooling 0.5 per 50 iterations; each end scored by "
        f"{r} x {ne} particles (log-mean-exp), the best kept",
        flush=True,
    )
    sides = {}
    if args.pypomp_python:
        peer = _pypomp(
            args.pypomp_python,
            {"mode": "race", "starts": starts, "J": n, "M": m, "eval_J": ne, "reps": r, "seed": args.race_seed},
        )
        if peer:
            sides["pypomp (Euler-binomial dt=1/12)"] = peer
    out: dict = {"starts": starts}
    # the same call twice: one iteration (compilation, as pypomp's warm-up), then the race
    race = dict(n_particles=n, method=leap, chains=k, starts=starts, evaluate=False)
    t = _clock()
    sbmljax.if2(None, problem, POINT, seed=args.race_seed + 1000, iterations=1, **race)
    compile_if2 = _since(t)
    t = _clock()
    res = sbmljax.if2(None, problem, POINT, seed=args.race_seed, iterations=m, **race)
    if2_t = _since(t)
    ends = [c["params"] for c in res.chains]
    prob, values, names = as_likelihood_problem(None, problem, POINT, None)
    scorer = ParticleLikelihood(prob, names, values, n_particles=ne, replicates=r, method=leap)
    t = _clock()
    scorer.evaluate(POINT, seed=args.race_seed + 2000)
    compile_score = _since(t)
    t = _clock()
    scores = [scorer.evaluate(e, seed=args.race_seed + 100 + i).value for i, e in enumerate(ends)]
    score_t = _since(t)
    sides["sbmljax (binomial_leap tau=1/12)"] = {
        "params": ends,
        "loglik": scores,
        "if2": if2_t,
        "compile_if2": compile_if2,
        "score": score_t,
        "compile_score": compile_score,
    }
    print(f"{'side':<34} {'part':<28} {'wall s':>8} {'CPU s':>8}")
    for side, d in sides.items():
        for part in ("compile_if2", "if2", "compile_score", "score"):
            label = {
                "compile_if2": "1-iteration IF2 (compiles)",
                "if2": f"IF2 {m} iterations",
                "compile_score": f"1 scoring ({r}x{ne}, compiles)",
                "score": f"scoring {k} ends",
            }[part]
            print(f"{side:<34} {label:<28} {d[part][0]:8.1f} {d[part][1]:8.1f}")
    print("chain ends (Beta, mu_IR, rho) and scores; * = best")
    for side, d in sides.items():
        best = int(np.argmax(d["loglik"]))
        for i, (e, ll) in enumerate(zip(d["params"], d["loglik"])):
            mark = "*" if i == best else " "
            print(f"  {side:<34} {i:2d}{mark} {e['Beta']:6.3f} {e['mu_IR']:6.3f} {e['rho']:6.3f} {ll:8.2f}")
    fr = args.fresh_replicates
    fresh = ParticleLikelihood(prob, names, values, n_particles=ne, replicates=fr, method=leap)
    fresh.evaluate(POINT, seed=args.race_seed + 3000)  # compile
    print(f"winners evaluated afresh: {fr} x {ne} particles, lme +- SE (jackknife), fresh seeds")
    print(f"{'winner':<34} {'score':>8} {'Beta':>6} {'mu_IR':>6} {'rho':>6} {'sbmljax leap':>15} {'pypomp':>15}")
    for j, (side, d) in enumerate(sides.items()):
        best = int(np.argmax(d["loglik"]))
        e = d["params"][best]
        ours = fresh.evaluate(e, seed=args.race_seed + 4000 + j)
        pp, pp_ll = _pypomp_fresh(args, e, ne, fr, j)
        if pp_ll is not None:
            d["fresh_pypomp"] = pp_ll
        d["fresh_sbmljax"] = (ours.value, ours.stderr)
        print(
            f"{side:<34} {d['loglik'][best]:8.2f} {e['Beta']:6.3f} {e['mu_IR']:6.3f} {e['rho']:6.3f} "
            f"{ours.value:7.2f} +- {ours.stderr:4.2f} {pp:>15}"
        )
    if len(sides) == 2:
        (a, pa), (b, pb) = sides.items()
        print(
            f"CPU ratio sbmljax/pypomp: IF2 {pb['if2'][1] / pa['if2'][1]:.2f}, "
            f"scoring {pb['score'][1] / pa['score'][1]:.2f}; wall IF2 {pb['if2'][0] / pa['if2'][0]:.2f}"
        )
    print("pomp's published maximum log-likelihood: -73.59 +- 2.02 (its Euler-binomial model, dt = 1/12)")
    if args.save:
        out["sides"] = sides
        Path(args.save).write_text(json.dumps(out, indent=1))


def _race_starts(args) -> list[dict]:
    """`--chains` starts drawn uniformly from pomp's box by `--race-seed` (pomp's `runif_design`)."""
    rng = np.random.default_rng(args.race_seed)
    return [{p: float(rng.uniform(lo, hi)) for p, (lo, hi) in BOX.items()} for _ in range(args.chains)]


def gradient_recipe(args) -> None:
    """sbmljax's own recipe against pomp's full one in pypomp, from the same `--chains` box starts: a short IF2
    by the binomial leap (`--recipe-if2` iterations of `--recipe-particles`, each end scored by
    `--recipe-score-replicates` filters of as many particles, the best kept), then `--grad-iterations` Adam
    steps along the path-score gradient of the exact model's filter, or with `--grad-method binomial_leap` the
    leap's (`--grad-particles` × `--grad-replicates` per step, all three parameters), one `sbmljax.fit(..., start="if2")` call. pypomp runs pomp's recipe
    (`--if2` × `--particles`, ends scored by `--score-replicates` × `--eval-particles`) in its own process
    first. Then the three end points (pypomp's winner, sbmljax's IF2 winner before and after the gradient)
    are evaluated afresh by the leap filter, pypomp's and the exact (direct) one (`--fresh-replicates` ×
    `--eval-particles` each)."""
    import sbmljax
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import as_likelihood_problem
    from sbmljax._simulator import BinomialLeaping

    problem = REPO / "data" / "bsflu" / "problem.yaml"
    leap = BinomialLeaping(tau=1.0 / 12.0)
    starts = _race_starts(args)
    print(
        f"bsflu, seed {args.race_seed}, {args.chains} starts from pomp's box {BOX}. pypomp: pomp's recipe, "
        f"{args.if2} iterations x {args.particles} particles, ends scored by {args.score_replicates} x "
        f"{args.eval_particles}. sbmljax: IF2 {args.recipe_if2} x {args.recipe_particles} (binomial_leap 1/12), ends "
        f"scored by {args.recipe_score_replicates} x {args.recipe_particles}, then {args.grad_iterations} gradient "
        f"steps ({args.grad_method} filter, {args.grad_replicates} x {args.grad_particles} particles, Adam lr "
        f"{args.learning_rate})",
        flush=True,
    )
    sides: dict = {}
    if args.pypomp_python:
        payload = {"mode": "race", "starts": starts, "J": args.particles, "M": args.if2}
        payload |= {"eval_J": args.eval_particles, "reps": args.score_replicates, "seed": args.race_seed}
        peer = _pypomp(args.pypomp_python, payload)
        if peer:
            sides["pypomp"] = peer

    def recipe(seed: int, if2_iterations: int, grad_iterations: int):
        return sbmljax.fit(
            problem,
            loss="likelihood",
            seed=seed,
            start="if2",
            if2_options={
                "iterations": if2_iterations,
                "n_particles": args.recipe_particles,
                "method": leap,
                "starts": starts,
                "replicates": args.recipe_score_replicates,
            },
            estimator_options={
                "method": leap if args.grad_method == "binomial_leap" else "direct",
                "replicates": args.grad_replicates,
            },
            n_trajectories=args.grad_particles,
            iterations=grad_iterations,
            learning_rate=args.learning_rate,
            average=0.5,
        )

    t = _clock()
    recipe(args.race_seed + 1000, 1, 1)  # warm-up: the same programs, one iteration each (compilation)
    warm = _since(t)
    t = _clock()
    fit = recipe(args.race_seed, args.recipe_if2, args.grad_iterations)
    total = _since(t)
    if2_wall = fit.if2["wall_time_s"]
    ours = {
        "warm_up": warm,
        "recipe": total,
        "if2_wall": if2_wall,
        "if2_ends": [c["params"] for c in fit.if2["chains"]],
        "if2_scores": [c["loglik"] for c in fit.if2["chains"]],
        "if2_params": fit.if2["params"],
        "params": fit.params,
        "fit_loglik": (fit.loglik, fit.loglik_stderr),
        "grad_trace": {k: list(v) for k, v in fit.history.params.items()},
        "loss": list(fit.history.loss),
    }
    sides["sbmljax"] = ours
    print(f"{'side, part':<52} {'wall s':>8} {'CPU s':>8}")
    if "pypomp" in sides:
        pp = sides["pypomp"]
        for part, label in (("compile_if2", "1-iteration IF2 (compiles)"), ("if2", f"IF2 {args.if2} iterations")):
            print(f"{'pypomp ' + label:<52} {pp[part][0]:8.1f} {pp[part][1]:8.1f}")
        for part, label in (("compile_score", "1 scoring (compiles)"), ("score", f"scoring {args.chains} ends")):
            print(f"{'pypomp ' + label:<52} {pp[part][0]:8.1f} {pp[part][1]:8.1f}")
        rec = (pp["if2"][0] + pp["score"][0], pp["if2"][1] + pp["score"][1])
        print(f"{'pypomp recipe (IF2 + scoring)':<52} {rec[0]:8.1f} {rec[1]:8.1f}")
    print(f"{'sbmljax warm-up fit (1 + 1 iterations, compiles)':<52} {warm[0]:8.1f} {warm[1]:8.1f}")
    print(f"{'sbmljax recipe fit (IF2 + scoring + gradient)':<52} {total[0]:8.1f} {total[1]:8.1f}")
    print(f"{'  of which IF2 stage (wall)':<52} {if2_wall:8.1f}")
    if "pypomp" in sides:
        print(f"CPU ratio sbmljax recipe / pypomp recipe: {total[1] / rec[1]:.2f}; wall {total[0] / rec[0]:.2f}")
    print("sbmljax IF2 ends (Beta, mu_IR, rho) and scores")
    for i, (e, ll) in enumerate(zip(ours["if2_ends"], ours["if2_scores"])):
        print(f"  {i:2d} {e['Beta']:6.3f} {e['mu_IR']:6.3f} {e['rho']:6.3f} {ll:8.2f}")
    points = {}
    if "pypomp" in sides:
        best = int(np.argmax(sides["pypomp"]["loglik"]))
        points["pypomp winner"] = (sides["pypomp"]["params"][best], sides["pypomp"]["loglik"][best])
    points["sbmljax IF2 stage"] = (ours["if2_params"], fit.if2["loglik"])
    points["sbmljax after gradient"] = (ours["params"], fit.loglik)
    prob, values, names = as_likelihood_problem(None, problem, POINT, None)
    fr, ne = args.fresh_replicates, args.eval_particles
    fresh = ParticleLikelihood(prob, names, values, n_particles=ne, replicates=fr, method=leap)
    fresh.evaluate(POINT, seed=args.race_seed + 3000)  # compile
    # the exact model's filter too: the gradient climbs the exact model's likelihood, the leap's may differ
    exact = ParticleLikelihood(prob, names, values, n_particles=ne, replicates=fr, method="direct")
    print(f"end points evaluated afresh: {fr} x {ne} particles, lme +- SE (jackknife), fresh seeds")
    head = f"{'point':<24} {'score':>8} {'Beta':>6} {'mu_IR':>6} {'rho':>6} {'sbmljax leap':>15} {'pypomp':>15}"
    print(head + f" {'exact (direct)':>15}")
    out: dict = {"starts": starts, "sides": sides, "fresh": {}}
    for j, (label, (e, score)) in enumerate(points.items()):
        lv = fresh.evaluate(e, seed=args.race_seed + 4000 + j)
        xv = exact.evaluate(e, seed=args.race_seed + 5000 + j)
        row = {"params": e, "score": score, "leap": (lv.value, lv.stderr), "exact": (xv.value, xv.stderr)}
        pp_txt, pp_ll = _pypomp_fresh(args, e, ne, fr, j)
        if pp_ll is not None:
            row["pypomp"] = (*_lme(pp_ll), pp_ll)
        out["fresh"][label] = row
        print(
            f"{label:<24} {score:8.2f} {e['Beta']:6.3f} {e['mu_IR']:6.3f} {e['rho']:6.3f} "
            f"{lv.value:7.2f} +- {lv.stderr:4.2f} {pp_txt:>15} {xv.value:7.2f} +- {xv.stderr:4.2f}",
            flush=True,
        )
    print("pomp's published maximum log-likelihood: -73.59 +- 2.02 (its Euler-binomial model, dt = 1/12)")
    if args.save:
        Path(args.save).write_text(json.dumps(out, indent=1, default=float))


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


class _PypompWorker:
    """pypomp's filter in its own interpreter, one filter per request, so that its filters can alternate with
    sbmljax's in one run (the two may pin different jax versions)."""

    def __init__(
        self,
        python: str,
        params: dict,
        sizes: list[int],
        script: str = "_pypomp_bsflu.py",
        root: Path | None = None,
    ):
        # `root`: serve sbmljax's filter from that checkout instead (`_sbmljax_bsflu_worker.py`, PYTHONPATH=root)
        payload = {"mode": "serve", "params": params, "sizes": sizes}
        env = None
        if root is not None:
            payload["problem"] = str(root / "data" / "bsflu" / "problem.yaml")
            env = {**os.environ, "PYTHONPATH": str(root)}
        self.proc = subprocess.Popen(
            [python, str(Path(__file__).with_name(script)), json.dumps(payload)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        self._read()  # the `ready` line, after compiling one filter per size

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the pypomp worker exited (code {self.proc.wait()}); run it alone to see why")
        return json.loads(line)

    def filter(self, n: int, seed: int) -> tuple[float, float, float]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"J": n, "seed": seed}) + "\n")
        self.proc.stdin.flush()
        out = self._read()
        return out["loglik"], out["wall"], out["cpu"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _bootstrap(groups: dict, stat, n_boot: int, seed: int = 0) -> np.ndarray:
    """`stat` of independent resamples of every group (each resampled with replacement within itself)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_boot):
        out.append(stat({k: v[rng.integers(0, len(v), len(v))] for k, v in groups.items()}))
    return np.asarray(out)


def _crossing(ns: list[float], vals: list[float], target: float) -> float:
    """The first N at which `vals` (a statistic that improves, i.e. falls, with the particle count N, measured
    at the sorted counts `ns`) falls to `target`, interpolated linearly in log N between measured counts. The
    smallest count if it is already there (an upper bound), inf if no measured count gets there."""
    ln = np.log(ns)
    if vals[0] <= target:
        return float(ns[0])
    for a in range(len(ns) - 1):
        if vals[a + 1] <= target:
            return float(np.exp(ln[a] + (target - vals[a]) * (ln[a + 1] - ln[a]) / (vals[a + 1] - vals[a])))
    return float("inf")


def _matched_n(groups: dict, ref: str, ours: list[str], sizes: dict, by: str = "sd") -> float:
    """The particle count at which sbmljax's single-filter log-likelihoods are as accurate as the reference's:
    by `sd`, where their SD falls to the reference's (log SD against log N: the CLT's SD ∝ N^(-1/2), Bérard,
    Del Moral & Doucet 2014, is a straight line there, but no law is assumed, as bsflu's SD falls more slowly
    than that over these counts); by `mean`, where their mean rises to the reference's (the estimator's
    negative bias in the log, −var/2 to first order, shrinks as N grows)."""
    ks = sorted(ours, key=lambda k: sizes[k])
    if by == "sd":
        vals = [np.log(np.std(groups[k], ddof=1)) for k in ks]
        target = np.log(np.std(groups[ref], ddof=1))
    else:
        vals, target = [-np.mean(groups[k]) for k in ks], -np.mean(groups[ref])
    return _crossing([sizes[k] for k in ks], vals, target)


def matched_accuracy(args) -> None:
    """pypomp's filter and sbmljax's `binomial_leap` (tau = 1/12, the same Euler-binomial chain) at pomp's
    MLE, R filters of each configuration alternating in one run: the SD of the single-filter log-likelihood
    with a bootstrap 95% interval, its mean (whose bias is about −var/2), and the wall and process CPU time
    per filter; then the sbmljax particle count whose SD matches pypomp's at `--pypomp-sizes[0]` particles,
    and its time (interpolated linearly in N between the measured counts) against pypomp's."""
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import as_likelihood_problem
    from sbmljax._simulator import make_simulator

    point, r = POINTS["pomp MLE"], args.matched_accuracy
    pp_sizes, sj_sizes = args.pypomp_sizes, sorted(args.sbmljax_sizes)
    problem, values, names = as_likelihood_problem(None, REPO / "data" / "bsflu" / "problem.yaml", point, None)
    leap = make_simulator("binomial_leap", tau=1.0 / 12.0)
    ours = {n: ParticleLikelihood(problem, names, values, n_particles=n, replicates=1, method=leap) for n in sj_sizes}
    for pl in ours.values():
        pl.evaluate(seed=0)  # compile
    worker = _PypompWorker(args.pypomp_python, point, pp_sizes)
    runs: list[tuple[str, int, Callable[[int], tuple[float, float, float]]]] = []
    for n in pp_sizes:
        runs.append((f"pypomp {n}", n, lambda i, n=n: worker.filter(n, args.seed_offset + 3000 + i)))
    base = None
    if args.baseline:
        # another checkout's filter (a base commit), same seeds as this checkout's largest count
        n_b = max(sj_sizes)
        base = _PypompWorker(sys.executable, point, [n_b], "_sbmljax_bsflu_worker.py", Path(args.baseline).resolve())
        k_b = len(sj_sizes) - 1
        runs.append(
            (f"baseline {n_b}", n_b, lambda i, n=n_b: base.filter(n, args.seed_offset + 10_000 * (k_b + 1) + i))
        )
    for k, n in enumerate(sj_sizes):
        runs.append((f"sbmljax {n}", n, lambda i, pl=ours[n], k=k: _timed(pl, args.seed_offset + 10_000 * (k + 1) + i)))
    rec: dict[str, list[tuple[float, float, float]]] = {label: [] for label, _, _ in runs}
    for i in range(r):
        for j in range(len(runs)):  # rotate the order each round: no configuration always follows another
            label, _, run = runs[(i + j) % len(runs)]
            rec[label].append(run(i))
    worker.close()
    if base is not None:
        base.close()
    if args.save:
        Path(args.save).write_text(json.dumps({"point": point, "sizes": {lb: n for lb, n, _ in runs}, "filters": rec}))
    _report_matched(rec, {label: n for label, n, _ in runs}, point, r, args.boot)


def _timed(pl, seed: int) -> tuple[float, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    v = pl.evaluate(seed=seed).value
    return v, time.perf_counter() - wall, time.process_time() - cpu


def _report_matched(rec: dict, sizes: dict, point: dict, r: int, n_boot: int) -> None:
    ll = {k: np.asarray([x[0] for x in v]) for k, v in rec.items()}
    wall = {k: np.asarray([x[1] for x in v]) for k, v in rec.items()}
    cpu = {k: np.asarray([x[2] for x in v]) for k, v in rec.items()}
    sds = _bootstrap(ll, lambda g: {k: np.std(v, ddof=1) for k, v in g.items()}, n_boot)
    print(f"bsflu at pomp's MLE {point}: {r} filters per row, alternating in one run; SD with a bootstrap 95% interval")
    print(
        f"{'filter':<16} {'N':>5} {'SD':>5} {'95% interval':>13} {'N·var':>6} {'mean ± SE':>15} {'-var/2':>7} "
        f"{'wall ms':>8} {'cpu ms':>7}"
    )
    for k in rec:
        sd = np.std(ll[k], ddof=1)
        lo, hi = np.percentile([b[k] for b in sds], [2.5, 97.5])
        mean = f"{np.mean(ll[k]):.2f} ± {sd / np.sqrt(r):.2f}"
        print(
            f"{k:<16} {sizes[k]:5d} {sd:5.2f} {lo:6.2f}–{hi:5.2f} {sizes[k] * sd**2:6.0f} {mean:>15} {-(sd**2) / 2:7.2f} "
            f"{1000 * np.median(wall[k]):8.1f} {1000 * np.median(cpu[k]):7.1f}"
        )
    ref = next(k for k in rec if k.startswith("pypomp"))
    ours = [k for k in rec if k.startswith("sbmljax")]
    ns = np.asarray([sizes[k] for k in ours], dtype=float)
    order = np.argsort(ns)

    def t_at(n: float, times: dict) -> float:
        ts = np.asarray([np.median(times[k]) for k in ours])[order]
        return float(np.interp(n, ns[order], ts, right=np.nan))

    for by, what_eq in (("sd", "SD"), ("mean", "mean")):
        n_star = _matched_n(ll, ref, ours, sizes, by)
        boots = _bootstrap(ll, lambda g, by=by: _matched_n(g, ref, ours, sizes, by), n_boot, seed=1)
        lo, hi = np.quantile(boots, [0.025, 0.975], method="inverted_cdf")  # no interpolation: ends may be inf
        print(
            f"matched accuracy by {what_eq}: sbmljax's {what_eq} equals {ref}'s at N* = {n_star:.0f} particles "
            f"(95% interval {lo:.0f}–{hi:.0f})"
        )
        for what, times in (("wall", wall), ("cpu", cpu)):
            base = float(np.median(times[ref]))
            at = [t_at(n, times) for n in (n_star, lo, hi)]
            print(
                f"  {what}: sbmljax at N* {1000 * at[0]:.1f} ms (interval's ends {1000 * at[1]:.1f}–{1000 * at[2]:.1f}),"
                f" {ref} {1000 * base:.1f} ms: ratio {at[0] / base:.2f}x ({at[1] / base:.2f}–{at[2] / base:.2f}x)"
                + ("; nan: beyond the largest sbmljax count" if np.isnan(at).any() else "")
            )
    # each count against the reference directly: no interpolation, and the bias as well as the SD
    ratio = _bootstrap(ll, lambda g: {k: np.std(g[k], ddof=1) / np.std(g[ref], ddof=1) for k in ours}, n_boot, seed=2)
    cpu_ratio = _bootstrap(cpu, lambda g: {k: np.median(g[k]) / np.median(g[ref]) for k in rec}, n_boot, seed=3)
    print(f"per count against {ref}: SD ratio (95% interval), mean difference ± SE, time ratios (medians)")
    for k in sorted(ours, key=lambda k: sizes[k]):
        lo_r, hi_r = np.percentile([b[k] for b in ratio], [2.5, 97.5])
        d = np.mean(ll[k]) - np.mean(ll[ref])
        se = np.sqrt(np.var(ll[k], ddof=1) / len(ll[k]) + np.var(ll[ref], ddof=1) / len(ll[ref]))
        print(
            f"  {k:<14} SD {np.std(ll[k], ddof=1) / np.std(ll[ref], ddof=1):.2f}x ({lo_r:.2f}–{hi_r:.2f}), "
            f"mean {d:+.2f} ± {se:.2f}, wall {np.median(wall[k]) / np.median(wall[ref]):.2f}x, "
            f"cpu {np.median(cpu[k]) / np.median(cpu[ref]):.2f}x "
            f"({np.percentile([b[k] for b in cpu_ratio], 2.5):.2f}–{np.percentile([b[k] for b in cpu_ratio], 97.5):.2f})"
        )
    for kb in (k for k in rec if k.startswith("baseline")):
        k = f"sbmljax {sizes[kb]}"
        rb = _bootstrap(cpu, lambda g, k=k, kb=kb: np.median(g[k]) / np.median(g[kb]), n_boot, seed=4)
        same = bool(np.array_equal(ll[k], ll[kb]))
        print(
            f"this checkout against {kb} (the --baseline checkout, same seeds): cpu {np.median(cpu[k]) / np.median(cpu[kb]):.2f}x "
            f"(95% {np.percentile(rb, 2.5):.2f}–{np.percentile(rb, 97.5):.2f}), wall "
            f"{np.median(wall[k]) / np.median(wall[kb]):.2f}x; log-likelihoods {'identical' if same else 'differ'}"
        )


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
    ap.add_argument(
        "--matched-accuracy", type=int, metavar="R", help="R alternating filters each: pypomp vs binomial_leap by N"
    )
    ap.add_argument("--pypomp-sizes", type=int, nargs="+", default=[1000], help="pypomp particles (--matched-accuracy)")
    ap.add_argument(
        "--sbmljax-sizes", type=int, nargs="+", default=[1000, 500, 300], help="sbmljax particles (--matched-accuracy)"
    )
    ap.add_argument("--save", help="write every filter's (loglik, wall, cpu) as JSON here (--matched-accuracy, race)")
    ap.add_argument("--seed-offset", type=int, default=0, help="added to every filter's seed (--matched-accuracy)")
    ap.add_argument(
        "--baseline",
        help="another checkout's root: its binomial_leap filter at the largest --sbmljax-sizes count joins the "
        "rotation (same seeds as this checkout's), for a before/after ratio in the same run (--matched-accuracy)",
    )
    ap.add_argument("--boot", type=int, default=2000, help="bootstrap resamples (--matched-accuracy)")
    ap.add_argument("--methods", nargs="*", help="only these sbmljax methods (e.g. binomial_leap); default all")
    ap.add_argument("--score-replicates", type=int, default=10, help="filters scoring each chain end (--if2 race)")
    ap.add_argument("--fresh-replicates", type=int, default=16, help="filters per winner afresh (--if2 race)")
    ap.add_argument("--cores", type=int, default=1, help="CPU cores for sbmljax (sbmljax.use_cpu_cores)")
    ap.add_argument("--pypomp-cores", type=int, default=1, help="CPU devices for pypomp's process (XLA_FLAGS)")
    ap.add_argument("--race-seed", type=int, default=1, help="seed of the starts and filters (--if2 race)")
    ap.add_argument(
        "--recipe", choices=["gradient"], help="gradient: sbmljax's short IF2 + gradient recipe vs pomp's (pypomp)"
    )
    ap.add_argument("--recipe-if2", type=int, default=40, help="IF2 iterations of sbmljax's recipe (--recipe)")
    ap.add_argument("--recipe-particles", type=int, default=1000, help="IF2 particles (--recipe)")
    ap.add_argument("--recipe-score-replicates", type=int, default=8, help="filters per IF2 end (--recipe)")
    ap.add_argument("--grad-iterations", type=int, default=30, help="gradient steps (--recipe)")
    ap.add_argument("--grad-particles", type=int, default=1000, help="particles per gradient filter (--recipe)")
    ap.add_argument("--grad-replicates", type=int, default=4, help="filters per gradient step (--recipe)")
    ap.add_argument(
        "--grad-method",
        choices=["direct", "binomial_leap"],
        default="direct",
        help="the gradient's filter (--recipe): the exact model's, or the leap's (the law IF2 and the scores use)",
    )
    ap.add_argument("--learning-rate", type=float, default=0.02, help="Adam step on the scales (--recipe)")
    args = ap.parse_args()
    if args.cores != 1:
        import sbmljax

        sbmljax.use_cpu_cores(args.cores)  # before JAX's first computation
    global PYPOMP_CORES
    PYPOMP_CORES = args.pypomp_cores
    if args.recipe == "gradient":
        if not args.if2:
            ap.error("--recipe gradient needs --if2 M (pypomp's iterations)")
        gradient_recipe(args)
        return
    if args.matched_accuracy:
        if not args.pypomp_python:
            ap.error("--matched-accuracy needs --pypomp-python")
        matched_accuracy(args)
        return
    if args.leap_accuracy:
        leap_accuracy(args)
        return
    if args.models:
        model_comparison(args)
        return
    if args.if2 and args.methods == ["binomial_leap"]:
        if2_race(args)
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

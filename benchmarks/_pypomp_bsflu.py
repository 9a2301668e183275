"""The bsflu model in pypomp (Euler-binomial, dt = 1/12 day), timed; run by bench_likelihood.py with an
interpreter that has pypomp (pypomp is not a dependency of sbmljax). Prints one JSON line.

The model is pomp's bsflu example (King, Ionides et al., SBIED lessons): S → I → R1 → out, N = 763,
I(0) = 1, B ~ Poisson(rho·R1 + 1e-6), mu_R1 = 512/sum(B) per day.
"""

import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from pypomp.core.parameters import PompParameters
from pypomp.core.pomp import Pomp
from pypomp.random.binom import fast_binomial

B = [1, 6, 26, 73, 222, 293, 258, 236, 191, 124, 69, 26, 11, 4]
N = 763.0


def rinit(theta_, key, covars=None, t0=None):
    return {"S": N - 1.0, "I": 1.0, "R1": 0.0}


def rproc(X_, theta_, key, covars, t, dt):
    k1, k2, k3 = jax.random.split(key, 3)
    inf = fast_binomial(k1, X_["S"], 1.0 - jnp.exp(-theta_["Beta"] * X_["I"] / N * dt))
    bed = fast_binomial(k2, X_["I"], 1.0 - jnp.exp(-theta_["mu_IR"] * dt))
    out = fast_binomial(k3, X_["R1"], 1.0 - jnp.exp(-theta_["mu_R1"] * dt))
    return {"S": X_["S"] - inf, "I": X_["I"] + inf - bed, "R1": X_["R1"] + bed - out}


def dmeas(Y_, X_, theta_, covars=None, t=None):
    lam = theta_["rho"] * X_["R1"] + 1e-6
    y = Y_["B"]
    return y * jnp.log(lam) - lam - jax.scipy.special.gammaln(y + 1.0)


def rmeas(X_, theta_, key, covars=None, t=None):
    return {"B": jax.random.poisson(key, theta_["rho"] * X_["R1"] + 1e-6) * 1.0}


def build(params: dict, transform: bool = False, dt: float = 1.0 / 12.0) -> Pomp:
    theta = {**params, "mu_R1": 512.0 / sum(B)}
    extra = {}
    if transform:
        # pomp's bsflu estimation scales: log for the rates, logit for the reporting probability
        from pypomp.core.par_trans import ParTrans

        def to_est(th):
            return {
                **th,
                "Beta": jnp.log(th["Beta"]),
                "mu_IR": jnp.log(th["mu_IR"]),
                "mu_R1": jnp.log(th["mu_R1"]),
                "rho": jnp.log(th["rho"] / (1.0 - th["rho"])),
            }

        def from_est(th):
            return {
                **th,
                "Beta": jnp.exp(th["Beta"]),
                "mu_IR": jnp.exp(th["mu_IR"]),
                "mu_R1": jnp.exp(th["mu_R1"]),
                "rho": 1.0 / (1.0 + jnp.exp(-th["rho"])),
            }

        extra["par_trans"] = ParTrans(to_est, from_est)
    ys = pd.DataFrame({"B": np.asarray(B, dtype=float)}, index=pd.Index(np.arange(1.0, 15.0)))
    model = Pomp(
        ys=ys,
        theta=PompParameters(theta),
        statenames=["S", "I", "R1"],
        t0=0.0,
        rinit=rinit,
        rproc=rproc,
        dmeas=dmeas,
        rmeas=rmeas,
        dt=dt,
        **extra,
    )
    return model


def loglik(model: Pomp, J: int, reps: int, seed: int) -> list[float]:
    """pypomp's filter: with `reps` > 1 its one value is the log-mean-exp of `reps` filters."""
    model.pfilter(J=J, key=jax.random.key(seed), reps=reps)
    return [float(v) for v in np.asarray(model.results()["logLik"]).ravel()]


def mif(
    params: dict, J: int, M: int, chains: int, reps: int, box: dict | None = None, eval_J: int | None = None
) -> dict:
    """IF2 as pomp's bsflu lesson runs it (rw.sd 0.02 on the estimation scales, cooling 0.5 per 50
    iterations, `chains` independent chains from `params`, or from starts drawn uniformly from `box`,
    id → (low, high), as the lesson's global search), then `reps` filters of `eval_J` (default `J`)
    particles at each chain's end."""
    from pypomp.core.rw_sigma import RWSigma

    model = build(params, transform=True)
    rw = RWSigma({"Beta": 0.02, "mu_IR": 0.02, "rho": 0.02, "mu_R1": 0.0}).geometric_cooling(0.5)
    rng = np.random.default_rng(2)
    starts = [
        {**params, **{k: float(rng.uniform(lo, hi)) for k, (lo, hi) in (box or {}).items()}} for _ in range(chains)
    ]
    start = PompParameters([{**th, "mu_R1": 512.0 / sum(B)} for th in starts])
    t = time.perf_counter()
    model.mif(J=J, M=M, rw_sd=rw, key=jax.random.key(0), theta=start)
    seconds = time.perf_counter() - t
    ends = model.results()
    names = ["Beta", "mu_IR", "rho"]
    finals = [{k: float(ends[k].iloc[i]) for k in names} for i in range(chains)]
    evals = []
    t = time.perf_counter()
    for i, th in enumerate(finals):
        m = build(th)
        ll = loglik(m, eval_J or J, reps, 100 + i)
        top = max(ll)
        evals.append(top + float(np.log(np.mean(np.exp(np.asarray(ll) - top)))))
    return {
        "seconds": seconds,
        "eval_seconds": time.perf_counter() - t,
        "params": finals,
        "loglik": evals,
        "starts": starts,
    }


def race(starts: list[dict], J: int, M: int, eval_J: int, reps: int, seed: int) -> dict:
    """pomp's bsflu global search from given starts, timed in parts (wall and process CPU seconds): a
    1-iteration IF2 of the same shape first (its compilation), then IF2 of `M` iterations (rw.sd 0.02 on the
    estimation scales, geometric cooling 0.5 per 50 iterations: pomp's `cooling.fraction.50`), then one
    compiling filter of `eval_J` × `reps`, then each chain's end scored by `reps` filters of `eval_J`
    particles (their log-mean-exp, pomp's `logmeanexp`), one end at a time on one model."""
    from pypomp.core.rw_sigma import RWSigma

    def clock():
        return time.perf_counter(), time.process_time()

    def since(t):
        return time.perf_counter() - t[0], time.process_time() - t[1]

    model = build(starts[0], transform=True)
    rw = RWSigma({"Beta": 0.02, "mu_IR": 0.02, "rho": 0.02, "mu_R1": 0.0}).geometric_cooling(0.5)
    theta = PompParameters([{**th, "mu_R1": 512.0 / sum(B)} for th in starts])
    t = clock()
    model.mif(J=J, M=1, rw_sd=rw, key=jax.random.key(seed + 1000), theta=theta)
    compile_if2 = since(t)
    t = clock()
    model.mif(J=J, M=M, rw_sd=rw, key=jax.random.key(seed), theta=theta)
    if2_t = since(t)
    ends = model.results()
    names = ["Beta", "mu_IR", "rho"]
    finals = [{k: float(ends[k].iloc[i]) for k in names} for i in range(len(starts))]
    scorer = build(finals[0])
    t = clock()
    scorer.pfilter(J=eval_J, key=jax.random.key(seed + 2000), reps=reps)
    compile_score = since(t)
    scores = []
    t = clock()
    for i, th in enumerate(finals):
        scorer.pfilter(
            J=eval_J,
            key=jax.random.key(seed + 100 + i),
            reps=reps,
            theta=PompParameters([{**th, "mu_R1": 512.0 / sum(B)}]),
        )
        # pfilter(reps=R) reports the log-mean-exp of its R filters: pomp's score of a chain end
        scores.append(float(np.asarray(scorer.results()["logLik"]).ravel()[0]))
    score_t = since(t)
    return {
        "params": finals,
        "loglik": scores,
        "starts": starts,
        "if2": if2_t,
        "compile_if2": compile_if2,
        "score": score_t,
        "compile_score": compile_score,
        "jax": jax.__version__,
    }


def main(params: dict, J: int, reps: int) -> dict:
    model = build(params)
    model.pfilter(J=J, key=jax.random.key(0), reps=1)  # compile
    values, times = [], []
    for r in range(reps):
        t = time.perf_counter()
        model.pfilter(J=J, key=jax.random.key(r + 1), reps=1)
        frame = model.results()
        times.append(time.perf_counter() - t)
        values.append(float(np.asarray(frame["logLik"]).ravel()[0]))
    return {"loglik": values, "seconds": times, "jax": jax.__version__}


def serve(params: dict, sizes: list[int]) -> None:
    """One filter per request, for a caller that alternates it with its own filters: after one compiling
    filter per particle count in `sizes` (announced by a `ready` line), each stdin line `{"J": n, "seed": s}`
    is answered by one line with that filter's log-likelihood and its wall and process CPU seconds."""
    model = build(params)
    for J in sizes:
        model.pfilter(J=J, key=jax.random.key(0), reps=1)  # compile
    print(json.dumps({"ready": True, "jax": jax.__version__}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        wall, cpu = time.perf_counter(), time.process_time()
        ll = loglik(model, req["J"], 1, req["seed"])[0]
        out = {"loglik": ll, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    if args.get("mode") == "serve":
        serve(args["params"], args["sizes"])
    elif args.get("mode") == "mif":
        print(
            json.dumps(
                mif(
                    args["params"],
                    args["J"],
                    args["M"],
                    args["chains"],
                    args["reps"],
                    args.get("box"),
                    args.get("eval_J"),
                )
            )
        )
    elif args.get("mode") == "race":
        print(json.dumps(race(args["starts"], args["J"], args["M"], args["eval_J"], args["reps"], args["seed"])))
    elif args.get("mode") == "eval":
        model = build(args["params"], dt=args.get("dt", 1.0 / 12.0))
        # one filter per seed: pfilter(reps=R) reports only the log-mean-exp of its R filters
        seed = args.get("seed", 7)
        print(json.dumps({"loglik": [v for r in range(args["reps"]) for v in loglik(model, args["J"], 1, seed + r)]}))
    else:
        print(json.dumps(main(args["params"], args["J"], args["reps"])))

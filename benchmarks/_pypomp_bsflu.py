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


def main(params: dict, J: int, reps: int) -> dict:
    theta = {**params, "mu_R1": 512.0 / sum(B)}
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
        dt=1.0 / 12.0,
    )
    model.pfilter(J=J, key=jax.random.key(0), reps=1)  # compile
    values, times = [], []
    for r in range(reps):
        t = time.perf_counter()
        model.pfilter(J=J, key=jax.random.key(r + 1), reps=1)
        frame = model.results()
        times.append(time.perf_counter() - t)
        values.append(float(np.asarray(frame["logLik"]).ravel()[0]))
    return {"loglik": values, "seconds": times, "jax": jax.__version__}


if __name__ == "__main__":
    args = json.loads(sys.argv[1])
    print(json.dumps(main(args["params"], args["J"], args["reps"])))

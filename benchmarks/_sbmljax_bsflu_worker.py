"""sbmljax's bsflu `binomial_leap` filter (tau = 1/12) served from another checkout, one filter per request:
run by bench_likelihood.py (`--baseline ROOT`) with `PYTHONPATH=ROOT`, so that a base commit's filter can
alternate with this checkout's and pypomp's in one run. Uses only entry points every recent commit has.

stdin/stdout protocol as `_pypomp_bsflu.py serve`: after compiling one filter per particle count, a `ready`
line; then each line `{"J": n, "seed": s}` is answered by `{"loglik", "wall", "cpu"}` (this process's CPU).
"""

import json
import sys
import time
from pathlib import Path


def main(args: dict) -> None:
    from sbmljax._likelihood import ParticleLikelihood
    from sbmljax._likelihood.api import as_likelihood_problem
    from sbmljax._simulator import make_simulator

    problem, values, names = as_likelihood_problem(None, Path(args["problem"]), args["params"], None)
    leap = make_simulator("binomial_leap", tau=1.0 / 12.0)
    pls = {
        n: ParticleLikelihood(problem, names, values, n_particles=n, replicates=1, method=leap) for n in args["sizes"]
    }
    for pl in pls.values():
        pl.evaluate(seed=0)  # compile
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        wall, cpu = time.perf_counter(), time.process_time()
        v = pls[req["J"]].evaluate(seed=req["seed"]).value
        print(
            json.dumps({"loglik": v, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}), flush=True
        )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))

"""Rule simulate_chunk: simulate one seed-chunk of a model's ensemble with one method.

Chunk i of k simulates trajectories [i*n/k, (i+1)*n/k); trajectory j always uses the key fold_in(seed, j),
so the merged chunks equal one big run with the same seed.
"""

import logging
import time

import numpy as np

import sbmljax
from sbmljax._ensemble import DEFAULT_MAX_EVENTS
from sbmljax.workflow import start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    run = sm.params.run  # SIMULATIONS[model] of common.smk: the model's time course and the simulate options
    n, k, i = int(run["n_trajectories"]), int(run["chunks"]), int(sm.wildcards.chunk)
    first, last = i * n // k, (i + 1) * n // k
    method = sm.wildcards.method
    options = {}
    if method == "tau_leap":
        tl = run["tau_leap"]
        options = {"epsilon": tl["epsilon"]} if tl["step"] == "adaptive" else {"tau": tl["tau"]}
    model = sbmljax.load_sbml(sm.input.sbml, substance_units=run["substance_units"])
    t = np.linspace(0.0, float(run["t_end"]), int(run["points"]))
    start = time.perf_counter()
    traj = sbmljax.simulate(
        model,
        t,
        n_trajectories=last - first,
        first_trajectory=first,
        seed=int(run["seed"]),
        method=method,
        # The event budget is the whole ensemble's, shared out by chunk size, so that every chunk makes the
        # decision one run of all n trajectories would make (auto's choice of method, or an exact method's
        # refusal), whatever the chunk count.
        max_events=DEFAULT_MAX_EVENTS * (last - first) / n,
        **options,
    )
    logging.info(
        "simulated trajectories %d..%d of %d (%s, method %s%s) in %.2f s",
        first,
        last - 1,
        n,
        model.id,
        method,
        f", {options}" if options else "",
        time.perf_counter() - start,
    )
    for note in traj.notes:
        logging.info("note: %s", note)
    traj.to_npz(sm.output.counts)
except Exception:
    logging.exception("simulate_chunk failed")
    raise

"""Rule simulate_fitted: one dataset's ensembles and ODE solutions at the fitted parameters, for the report
(`sbmljax.workflow.simulate_fitted`, which documents the folder's files)."""

import logging

import sbmljax
from sbmljax.workflow import load_problem, simulate_fitted, start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    cfg = sm.params.config
    problem, _ = load_problem(sm.params.spec)
    simulate_fitted(
        problem,
        sbmljax.FitResult.from_json(sm.input.fit),
        sm.output.folder,
        n_trajectories=int(cfg["n_trajectories"]),
        points=int(cfg["points"]),
        seed=int(cfg["seed"]),
    )
except Exception:
    logging.exception("simulate_fitted failed")
    raise

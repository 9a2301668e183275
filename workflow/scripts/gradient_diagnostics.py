"""Rule gradient_diagnostics: the gradient of one dataset's expected squared error with every configured
estimator at the fitted (or nominal) parameters, with Monte Carlo standard errors, as a table
(`sbmljax.workflow.gradient_diagnostics`, which documents the loss)."""

import logging
import math

import sbmljax
from sbmljax._trajectory import atomic_write_text
from sbmljax.errors import ConfigError
from sbmljax.workflow import gradient_diagnostics, load_problem, start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    cfg = sm.params.config
    problem, _ = load_problem(sm.params.spec)
    if cfg["at"] == "fitted":
        values = sbmljax.FitResult.from_json(sm.input.fit).params
    else:
        values = problem.nominal()
        missing = [k for k, v in values.items() if math.isnan(v)]
        if missing:
            raise ConfigError(f"{problem.source}: no nominal value for {missing}; use gradient_diagnostics.at: fitted")
    logging.info("gradients at %s (%s)", values, cfg["at"])
    table = gradient_diagnostics(
        problem,
        values,
        cfg["estimators"],
        n_trajectories=int(cfg["n_trajectories"]),
        seed=int(cfg["seed"]),
        estimator_options=sm.params.estimators,
    )
    atomic_write_text(sm.output.table, table.to_csv(sep="\t", index=False))
except Exception:
    logging.exception("gradient_diagnostics failed")
    raise

"""Rule fit: stochastic-gradient fit of one dataset (sbmljax.fit), with the ODE fit beside it.

Writes the FitResult as JSON and the PEtab parameter table with the fitted values as nominalValue.
"""

import logging

import sbmljax
from sbmljax._fit import default_loss
from sbmljax.workflow import load_problem, start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
if sm.threads > 1:  # before JAX's first computation: replicate filters (and IF2 chains) then use every core
    sbmljax.use_cpu_cores(sm.threads)
try:
    problem, starts = load_problem(sm.params.spec)
    cfg = sm.params.fit
    loss = sm.params.spec.get("loss") or cfg["loss"]  # the sheet may choose the loss per dataset
    if loss == "auto":  # fit's default: the likelihood of the observed series when the data have a noise model
        loss, notes = default_loss(problem, None)
        logging.info("%s", notes[0])
    # the likelihood's gradient is the particle filter's path score: the estimator's options do not apply
    options = {} if loss == "likelihood" else dict(sm.params.estimators.get(cfg["estimator"], {}))
    logging.info("fitting with %s", {**cfg, "loss": loss, "estimator_options": options, "starts": starts})
    result = sbmljax.fit(
        problem,
        free_params=starts or None,
        estimator=cfg["estimator"],
        loss=loss,
        n_trajectories=int(cfg["n_trajectories"]),
        seed=int(cfg["seed"]),
        iterations=int(cfg["iterations"]),
        learning_rate=float(cfg["learning_rate"]),
        average=float(cfg["average"]),
        ode_fit=bool(cfg["ode_fit"]),
        estimator_options=options or None,
    )
    if result.loglik is not None:
        logging.info("log-likelihood at the estimate %.2f ± %.2f", result.loglik, result.loglik_stderr)
    for pid, value in result.params.items():
        logging.info("%s = %.6g ± %.2g (Monte Carlo error of the averaged iterates)", pid, value, result.stderr[pid])
    if result.ode_fit:
        logging.info(
            "ODE fit: %s, standard errors %s, cost %.4g",
            result.ode_fit["params"],
            result.ode_fit["stderr"],
            result.ode_fit["cost"],
        )
    logging.info(
        "%d iterations, %d simulations, %.1f s, converged: %s",
        result.iterations,
        result.n_simulations,
        result.wall_time_s,
        result.converged,
    )
    for note in result.notes:
        logging.info("note: %s", note)
    result.to_json(sm.output.json)
    result.write_parameter_table(sm.output.parameters)
except Exception:
    logging.exception("fit failed")
    raise

"""Rule gradient_diagnostics: the gradient of one dataset's expected squared error with every configured
estimator at the fitted (or nominal) parameters, with Monte Carlo standard errors, as a table.

The loss of one simulated trajectory X is  sum over measured points of ((h(X) - y) / sigma)^2  (observables h
and noise SDs sigma from the dataset; sigma = 1 where the data give none), summed over the problem's
datasets. Its expectation is what every estimator targets, so their estimates are comparable: they should
agree within their standard errors, up to the biases each states (finite-difference step, tau-leaping).
"""

import logging
import math

import jax.numpy as jnp
import numpy as np
import pandas as pd
from _common import load_problem, start_log  # workflow/scripts is on sys.path

import sbmljax
from sbmljax.data import noise_model, observables
from sbmljax.errors import ConfigError, EstimatorError

sm = snakemake  # noqa: F821
start_log(sm.log[0])


def squared_error(dataset, model, fixed):
    """loss_fn(counts, params) of one trajectory against `dataset` (fixed: values of non-differentiated ids)."""
    h = observables(dataset, model)
    noise = noise_model(dataset, model) if all(o.noise is not None for o in dataset.observables) else None
    y = np.nan_to_num(dataset.values)  # numpy float64: value_and_grad runs the loss in 64-bit mode
    mask = (~np.isnan(dataset.values)).astype(np.float64)

    def loss(counts, params):
        p = {**fixed, **params}
        sigma = noise(counts, p) if noise is not None else 1.0
        return jnp.sum(mask * ((h(counts, p) - y) / sigma) ** 2)

    return loss


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
    model = problem.model
    defaults = model.parameter_values()
    est_params = {p.id: p for p in problem.estimated}
    loss_params = {k: v for k, v in values.items() if k not in defaults}
    totals: dict = {}
    for j, d in enumerate(problem.datasets):
        # Estimated model parameters are differentiated; the others the problem or condition sets are fixed.
        model_values = problem.model_parameters(d, values)
        diff_model = {k: v for k, v in model_values.items() if k in est_params}
        fixed_model = {k: v for k, v in model_values.items() if k not in est_params and v != defaults[k]}
        fixed = {
            k: v
            for k, v in {**problem.parameters(values), **d.params}.items()
            if k not in defaults and k not in loss_params
        }
        loss = squared_error(d, model, fixed)
        for est in cfg["estimators"]:
            options = dict(sm.params.estimators.get(est, {}))
            acc = totals.setdefault(
                est,
                {
                    "grad": {},
                    "var": {},
                    "value": 0.0,
                    "value_var": 0.0,
                    "sims": 0,
                    "seconds": 0.0,
                    "bias": "",
                    "unbiased": None,
                    "note": "",
                },
            )
            try:
                r = sbmljax.value_and_grad(
                    loss,
                    model,
                    diff_model,
                    d.times,
                    n_trajectories=int(cfg["n_trajectories"]),
                    seed=int(cfg["seed"]) + j,
                    estimator=est,
                    loss_params=loss_params or None,
                    fixed=fixed_model or None,
                    initial=d.initial,
                    **options,
                )
            except (EstimatorError, ConfigError) as e:
                logging.warning("%s refused dataset %s: %s", est, d.name, e)
                acc["note"] = str(e)
                acc["failed"] = True
                continue
            logging.info(
                "%s on %s: loss %.5g ± %.2g, grad %s ± %s, %d simulations, %.2f s",
                est,
                d.name,
                r.value,
                r.value_stderr,
                r.grad,
                r.stderr,
                r.n_simulations,
                r.wall_time_s,
            )
            for pid in est_params:
                acc["grad"][pid] = acc["grad"].get(pid, 0.0) + r.grad[pid]
                acc["var"][pid] = acc["var"].get(pid, 0.0) + r.stderr[pid] ** 2
            acc["value"] += r.value
            acc["value_var"] += r.value_stderr**2
            acc["sims"] += r.n_simulations
            acc["seconds"] += r.wall_time_s
            acc["bias"], acc["unbiased"] = r.bias, r.unbiased
    rows = []
    for est, acc in totals.items():
        failed = acc.get("failed", False)
        for pid, p in est_params.items():
            g = float("nan") if failed else acc["grad"][pid]
            se = float("nan") if failed else math.sqrt(acc["var"][pid])
            scaled = p.to_scale(values[pid])
            dlin = p.dlinear_dscaled(scaled)
            rows.append(
                {
                    "estimator": est,
                    "parameter": pid,
                    "value": values[pid],
                    "scale": p.scale,
                    "grad": g,
                    "stderr": se,
                    "grad_scaled": g * dlin,
                    "stderr_scaled": se * dlin,
                    "loss": float("nan") if failed else acc["value"],
                    "loss_stderr": float("nan") if failed else math.sqrt(acc["value_var"]),
                    "unbiased": acc["unbiased"],
                    "bias": acc["bias"],
                    "n_trajectories": int(cfg["n_trajectories"]),
                    "n_simulations": acc["sims"],
                    "wall_time_s": round(acc["seconds"], 3),
                    "note": acc["note"],
                }
            )
    table = pd.DataFrame(rows)
    table.to_csv(sm.output.table, sep="\t", index=False)
except Exception:
    logging.exception("gradient_diagnostics failed")
    raise

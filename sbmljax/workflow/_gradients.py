"""Gradient diagnostics of a fitting problem: the gradient of its expected squared error with several
estimators at one parameter point, with Monte Carlo standard errors, as a table (the workflow's
`gradient_diagnostics` rule).

The loss of one simulated trajectory `X` is the library's `"expected_sse"` (`sbmljax._loss`):
`Σ ((h(X) − y)/σ)²` over measured points, `σ = 1` where the data give no noise model, summed over the
problem's datasets. Its expectation is what every estimator targets, so their estimates are comparable: they
should agree within their standard errors, up to the biases each states (finite-difference step,
tau-leaping).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

from ..errors import ConfigError, EstimatorError


def split_parameters(problem, dataset, values: Mapping[str, float]) -> tuple[dict, dict, dict, dict]:
    """How one dataset's simulation sees the parameter values `values` (estimated ids → linear values).

    **Returns:** `(differentiated, fixed_model, loss_params, fixed_other)`: estimated model parameters (the
    gradient's variables); model parameters the problem or the dataset's condition set to other than the
    model's values; estimated parameters outside the model (of observable or noise formulas); and the other
    fixed values those formulas read. The same split as `sbmljax.fit` makes per dataset.
    """
    defaults = problem.model.parameter_values()
    estimated = set(problem.estimated_ids)
    model_values = problem.model_parameters(dataset, values)
    differentiated = {k: v for k, v in model_values.items() if k in estimated}
    fixed_model = {k: v for k, v in model_values.items() if k not in estimated and v != defaults[k]}
    loss_params = {k: v for k, v in values.items() if k not in defaults}
    fixed_other = {
        k: v
        for k, v in {**problem.parameters(values), **dataset.params}.items()
        if k not in defaults and k not in loss_params
    }
    return differentiated, fixed_model, loss_params, fixed_other


def gradient_diagnostics(
    problem,
    values: Mapping[str, float],
    estimators: Sequence[str],
    *,
    n_trajectories: int,
    seed: int,
    estimator_options: Mapping[str, Mapping] | None = None,
):
    """The gradient of `problem`'s expected squared error at `values` with each estimator.

    **Arguments:**

    - `problem`: a `sbmljax.data.Problem`.
    - `values`: estimated parameter id → linear value (e.g. `FitResult.params`, or `problem.nominal()`).
    - `estimators`: estimator names (`"score"`, `"cfd"`, `"fd_crn"`, `"tau_pathwise"`, …).
    - `n_trajectories`: trajectories (coupled pairs for finite differences) per estimator and dataset.
    - `seed`: dataset `j` of the problem uses `seed + j`, the same for every estimator.
    - `estimator_options`: estimator name → keyword options (e.g. `{"tau_pathwise": {"tau": 0.05}}`).

    **Returns:** a `pandas.DataFrame`, one row per estimator and parameter: `value`, `scale`, `grad` and
    `stderr` (linear scale), `grad_scaled` and `stderr_scaled` (on the parameter's scale), the loss with its
    standard error, `unbiased`, `bias`, the simulations and seconds used, and a `note` (NaN values and the
    refusal's message where an estimator refuses the problem).
    """
    import pandas as pd

    from .. import value_and_grad
    from .._loss import ExpectedSquaredError, data_term

    options = estimator_options or {}
    est_params = {p.id: p for p in problem.estimated}
    totals: dict[str, dict] = {}
    for j, d in enumerate(problem.datasets):
        differentiated, fixed_model, loss_params, fixed_other = split_parameters(problem, d, values)
        loss = ExpectedSquaredError().trajectory_loss(data_term([d], problem.model, fixed_other))
        for est in estimators:
            acc = totals.setdefault(
                est, {"grad": {}, "var": {}, "value": 0.0, "value_var": 0.0, "sims": 0, "seconds": 0.0, "note": ""}
            )
            acc.setdefault("bias", "")
            acc.setdefault("unbiased", None)
            try:
                r = value_and_grad(
                    loss,
                    problem.model,
                    differentiated,
                    d.times,
                    n_trajectories=int(n_trajectories),
                    seed=int(seed) + j,
                    estimator=est,
                    loss_params=loss_params or None,
                    fixed=fixed_model or None,
                    initial=d.initial,
                    **dict(options.get(est, {})),
                )
            except (EstimatorError, ConfigError) as e:
                logging.warning("%s refused dataset %s: %s", est, d.name, e)
                acc["note"], acc["failed"] = str(e), True
                continue
            logging.info(
                "%s on %s: loss %.5g ± %.2g, grad %s ± %s, %d simulations, %.2f s",
                *(est, d.name, r.value, r.value_stderr, r.grad, r.stderr, r.n_simulations, r.wall_time_s),
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
    nan = float("nan")
    for est, acc in totals.items():
        failed = acc.get("failed", False)
        for pid, p in est_params.items():
            g = nan if failed else acc["grad"][pid]
            se = nan if failed else math.sqrt(acc["var"][pid])
            dlin = p.dlinear_dscaled(p.to_scale(values[pid]))
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
                    "loss": nan if failed else acc["value"],
                    "loss_stderr": nan if failed else math.sqrt(acc["value_var"]),
                    "unbiased": acc["unbiased"],
                    "bias": acc["bias"],
                    "n_trajectories": int(n_trajectories),
                    "n_simulations": acc["sims"],
                    "wall_time_s": round(acc["seconds"], 3),
                    "note": acc["note"],
                }
            )
    return pd.DataFrame(rows)

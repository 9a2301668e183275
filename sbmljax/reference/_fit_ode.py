"""`fit_ode`: weighted least squares of the ODE solution's observables to a problem's data.

The deterministic baseline for the stochastic fits: it treats the reaction-rate ODE (libRoadRunner) as the
model of the mean and the data as that mean plus Gaussian noise of the problem's noise SDs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from .._config import x64
from .._expr import symbols
from ..data._observables import noise_model, observables
from ..data._problem import Problem
from ..errors import DataError, ParameterError
from ._tellurium import DEFAULT_RTOL, ode

JAC_STEP = 1e-4
"""Central-difference step of the Jacobian on each parameter's scale: absolute on log scales (a relative
change of 1e-4 or 2.3e-4), relative on the linear scale. With CVODE at rtol 1e-10 the Jacobian is
accurate to about 1e-6, relatively."""


@dataclasses.dataclass(frozen=True)
class OdeFit:
    """The result of `fit_ode`.

    **Attributes:**

    - `params`: fitted values of the estimated parameters (linear scale).
    - `cost`: `½ Σ r²` at the optimum, `r = (observable − measurement) / noise SD` (SD 1 if unknown).
    - `standard_errors`: linear-scale standard errors (delta method from `scaled_standard_errors`).
    - `scaled_standard_errors`: standard errors on each parameter's estimation scale.
    - `covariance`: `(P, P)` covariance on the estimation scales, `(JᵀJ)⁻¹` from the Jacobian `J` of the
      weighted residuals at the optimum (the Gauss–Newton approximation of the inverse Fisher information);
      multiplied by `residual_scale²` when the noise is unknown.
    - `residual_scale`: `sqrt(2 cost / (n − P))`: about 1 when the noise SDs describe the misfit.
    - `noise_known`: whether the problem gave the noise SDs.
    - `n_data`: number of measurements `n`; `n_evaluations`: ODE solutions of the whole problem computed
      (optimiser steps and Jacobians), `nfev`/`njev`: scipy's counts.
    - `success`, `message`: scipy's termination status; `start`: the starting values; `residuals`: final `r`.
    - `notes`: caveats (parameters at a bound, non-identifiable directions, start choices).
    """

    params: dict[str, float]
    cost: float
    standard_errors: dict[str, float]
    scaled_standard_errors: dict[str, float]
    covariance: np.ndarray
    residual_scale: float
    noise_known: bool
    n_data: int
    n_evaluations: int
    nfev: int
    njev: int
    success: bool
    message: str
    start: dict[str, float]
    residuals: np.ndarray = dataclasses.field(repr=False)
    notes: tuple[str, ...] = ()


def _start(problem: Problem, start: Mapping[str, float] | None, notes: list[str]) -> dict[str, float]:
    start = dict(start or {})
    unknown = set(start) - set(problem.estimated_ids)
    if unknown:
        raise ParameterError(
            f"{problem.source}: start values for {sorted(unknown)}, which are not estimated ({', '.join(problem.estimated_ids)})"
        )
    out = {}
    for p in problem.estimated:
        v = float(start.get(p.id, p.nominal))
        if math.isnan(v):
            mid = 0.5 * (p.to_scale(p.lower) + p.to_scale(p.upper))
            notes.append(
                f"'{p.id}' has no nominal value; started at the middle of its bounds on its scale ({p.from_scale(mid):g})"
            )
            v = p.from_scale(mid)
        if not p.lower <= v <= p.upper:
            raise ParameterError(
                f"{problem.source}: start value {v:g} of '{p.id}' is outside its bounds [{p.lower:g}, {p.upper:g}]"
            )
        out[p.id] = v
    return out


def _noise_known(problem: Problem) -> bool:
    known = {o.noise is not None for d in problem.datasets for o in d.observables}
    if len(known) > 1:
        raise DataError(
            f"{problem.source}: give noise SDs for every observable or for none (then one common variance is estimated)"
        )
    estimated = set(problem.estimated_ids)
    for d in problem.datasets:
        for o in d.observables:
            bad = (symbols(o.noise) & estimated) if o.noise is not None else set()
            if bad:
                raise ParameterError(
                    f"{problem.source}: the noise SD of observable '{o.id}' depends on estimated parameter(s) "
                    f"{sorted(bad)}; least squares cannot estimate noise parameters: fix them (estimate = 0)"
                )
    return known == {True}


@x64
def fit_ode(problem: Problem, *, start: Mapping[str, float] | None = None, rtol: float = DEFAULT_RTOL) -> OdeFit:
    """Fit the estimated parameters by weighted least squares of the ODE solution to the data.

    Minimises `½ Σ ((observable − measurement) / σ)²` over all measured values of all datasets with scipy's
    trust-region reflective `least_squares`, on each parameter's scale (`lin`, `log`, `log10`) within its
    bounds. Each dataset is solved with `reference.ode` from the model's initial state with its condition
    overrides. The Jacobian is by central differences (`JAC_STEP`). Standard errors come from the covariance
    `(JᵀJ)⁻¹` of the Jacobian at the optimum (scaled by the residual variance when the noise is unknown);
    they are asymptotic, local, and meaningless for a parameter at a bound.

    **Arguments:**

    - `problem`: the `Problem` (from `load_petab` or `problem_from_csv`).
    - `start`: starting values (linear scale) for some or all estimated parameters; default: the nominal
      values.
    - `rtol`: CVODE relative tolerance of every solve.

    **Returns:** an `OdeFit`.

    **Raises:** `ParameterError` for start values outside the bounds or noise parameters that are estimated;
    `DataError` when some observables have noise SDs and others do not; `SimulationError` if CVODE fails.

    **Reference:** M. A. Branch, T. F. Coleman, Y. Li, SIAM J. Sci. Comput. 21:1 (1999) (the trust-region
    reflective method); Y. Bard, *Nonlinear Parameter Estimation* (1974), ch. 7 (covariance from the
    Jacobian).
    """
    from scipy.optimize import least_squares

    notes: list[str] = []
    start_values = _start(problem, start, notes)
    s0 = np.array([p.to_scale(start_values[p.id]) for p in problem.estimated], dtype=np.float64)
    known = _noise_known(problem)
    lo, hi = problem.scaled_bounds()
    model, est = problem.model, problem.estimated
    parts = []
    for d in problem.datasets:
        for o in d.observables:
            if not o.plain:
                raise DataError(
                    f"{d.source or d.name}: observable '{o.id}' has {o.transformation}-scale {o.distribution} noise; "
                    "the ODE fit is least squares (normal noise on the linear scale)"
                )
        mask = ~np.isnan(d.values)
        parts.append((d, observables(d, model), noise_model(d, model) if known else None, mask, d.values[mask]))
    n_data = sum(int(p[3].sum()) for p in parts)
    calls = [0]

    def residuals(s: np.ndarray) -> np.ndarray:
        calls[0] += 1
        theta = {p.id: p.from_scale(v) for p, v in zip(est, s)}
        out = []
        for d, obs_fn, noise_fn, mask, y in parts:
            counts = ode(model, problem.model_parameters(d, theta), d.times, initial=d.initial, rtol=rtol).values
            params = {**problem.parameters(theta), **d.params}
            r = np.asarray(obs_fn(counts, params))[mask] - y
            if noise_fn is not None:
                r = r / np.asarray(noise_fn(counts, params))[mask]
            out.append(r)
        return np.concatenate(out)

    def jacobian(s: np.ndarray) -> np.ndarray:
        cols = []
        for j, p in enumerate(est):
            h = JAC_STEP if p.scale != "lin" else JAC_STEP * (abs(s[j]) or 1.0)
            up, down = s.copy(), s.copy()
            # One-sided at a bound, so that no solve leaves the parameter's domain.
            up[j], down[j] = min(s[j] + h, hi[j]), max(s[j] - h, lo[j])
            cols.append((residuals(up) - residuals(down)) / (up[j] - down[j]))
        return np.stack(cols, axis=1)

    res = least_squares(
        residuals, s0, jac=jacobian, bounds=(lo, hi), method="trf", x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-10
    )
    s_hat = res.x
    r = residuals(s_hat)
    J = jacobian(s_hat)
    cost = 0.5 * float(r @ r)
    dof = n_data - len(est)
    scale = math.sqrt(2 * cost / dof) if dof > 0 else math.nan
    jtj = J.T @ J
    if np.linalg.matrix_rank(jtj) < len(est):
        cov = np.full((len(est), len(est)), np.nan)
        notes.append("the Jacobian is rank-deficient at the optimum: some parameter combination is not identifiable")
    else:
        cov = np.linalg.inv(jtj) * (1.0 if known else scale**2)
    se_s = np.sqrt(np.diag(cov))
    for j, p in enumerate(est):
        if min(s_hat[j] - lo[j], hi[j] - s_hat[j]) <= 1e-8 * max(1.0, abs(s_hat[j])):
            notes.append(
                f"'{p.id}' ended at a bound ({p.from_scale(s_hat[j]):g}); its standard error is not meaningful"
            )
    if not known:
        notes.append("noise SDs unknown: unit weights, covariance scaled by the residual variance 2·cost/(n − P)")
    return OdeFit(
        params={p.id: p.from_scale(v) for p, v in zip(est, s_hat)},
        cost=cost,
        standard_errors={p.id: float(abs(p.dlinear_dscaled(v)) * e) for p, v, e in zip(est, s_hat, se_s)},
        scaled_standard_errors={p.id: float(e) for p, e in zip(est, se_s)},
        covariance=cov,
        residual_scale=scale,
        noise_known=known,
        n_data=n_data,
        n_evaluations=calls[0],
        nfev=int(res.nfev),
        njev=int(res.njev or 0),
        success=bool(res.success),
        message=str(res.message),
        start=start_values,
        residuals=r,
        notes=tuple(notes),
    )

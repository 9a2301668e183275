"""Profile likelihood of one parameter by particle filters, with Monte Carlo–adjusted confidence intervals.

At each value `ψ` of the profiled parameter the others are maximised by IF2 (`if2.py`, started from the
previous point's estimate), and the log-likelihood at that maximum is estimated by replicate bootstrap
filters. The points are noisy (Monte Carlo error of the maximisation and of the filter), so the interval
is read from a smooth fit instead of the points themselves: the MCAP procedure of Ionides, Breto, Park,
Smith & King (2017) with a weighted quadratic in `ψ` (on the parameter's estimation scale) as the smoother.
Its maximiser `ψ̂` has a statistical standard error `SE_stat = 1/√(−2a)` (`a` the quadratic's curvature)
and a Monte Carlo one `SE_mc` (delta method on the regression's covariance); the cutoff below the
maximum is `δ = ½ χ²₁(0.95) (1 + SE_mc²/SE_stat²)`, which widens the usual 1.92 to cover the Monte Carlo
error, and the interval is where the quadratic lies within `δ` of its maximum.

**Reference:** E. L. Ionides, C. Breto, J. Park, R. A. Smith, A. A. King, "Monte Carlo profile confidence
intervals for dynamic systems", J. R. Soc. Interface 14:20170126 (2017).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.stats import chi2

from .._config import x64
from ..data import Problem
from ..errors import ConfigError, FitError, ParameterError
from .api import DEFAULT_REPLICATES, ParticleLikelihood
from .dataset_filter import DEFAULT_RESAMPLE_THRESHOLD
from .if2 import run_if2


@dataclasses.dataclass(frozen=True)
class ProfileResult:
    """The result of `sbmljax.profile`.

    **Attributes:**

    - `parameter`: the profiled parameter; `scale`: its estimation scale (the smoother's axis).
    - `values`: the profile points (linear scale); `loglik`, `stderr`: the maximised log-likelihood at
      each and its Monte Carlo standard error (replicate filters); `params`: the other parameters'
      estimates at each point.
    - `smooth`: the fitted quadratic's coefficients `(a, b, c)` in the scaled parameter (`a ψ² + b ψ + c`).
    - `mle`: the quadratic's maximiser (linear scale), `se_stat`, `se_mc`: its statistical and Monte Carlo
      standard errors (on the scale), `cutoff`: the MCAP cutoff `δ` (1.92 without Monte Carlo error).
    - `interval`: the 95% confidence interval (linear scale); an end is ±inf where the quadratic does not
      fall by `δ` inside the profiled range (widen `values`).
    - `note`: empty, or why there is no interval (the smoothed profile is not concave: `mle`, the errors
      and `interval` are NaN).
    - `wall_time_s`.
    """

    parameter: str
    scale: str
    values: list[float]
    loglik: list[float]
    stderr: list[float]
    params: list[dict[str, float]]
    smooth: tuple[float, float, float]
    mle: float
    se_stat: float
    se_mc: float
    cutoff: float
    interval: tuple[float, float]
    wall_time_s: float
    note: str = ""

    def to_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return dataclasses.asdict(self)


def mcap(psi: np.ndarray, ll: np.ndarray, se: np.ndarray, level: float = 0.95) -> dict:
    """The MCAP interval from profile points `(psi, ll)` with standard errors `se` (Ionides et al. 2017),
    the smoother a quadratic fitted by weighted least squares (weights `1/(se² + s²)`, `s²` the residual
    variance beyond the reported errors, estimated as in a random-effects fit)."""
    psi, ll, se = (np.asarray(v, dtype=np.float64) for v in (psi, ll, se))
    ok = np.isfinite(ll)
    psi, ll, se = psi[ok], ll[ok], se[ok]
    # A point whose standard error is not finite (a jackknife over replicates of which one underflowed) is as
    # uncertain as the least certain other point, not exact: an SE of 0 would give it all the weight.
    finite = np.isfinite(se)
    se = np.where(finite, se, np.max(se[finite]) if finite.any() else 0.0)
    if np.unique(psi).size < 4:
        raise FitError(
            f"a profile needs at least 4 distinct values with a finite log-likelihood, got {np.unique(psi).size} "
            f"({psi.tolist()}): give more values or more particles"
        )
    X = np.stack([psi**2, psi, np.ones_like(psi)], axis=1)
    extra = 0.0
    for _ in range(20):  # extra variance: points scatter more than their filter errors (the maximisation's error)
        w = 1.0 / (se**2 + extra + 1e-12)
        try:
            cov = np.linalg.inv(X.T @ (w[:, None] * X))
        except np.linalg.LinAlgError:
            raise FitError(
                f"the profile points cannot be smoothed by a quadratic (singular least-squares system): values "
                f"{psi.tolist()}, log-likelihoods {ll.tolist()}, standard errors {se.tolist()}; use more "
                "particles or replicates"
            ) from None
        coef = cov @ X.T @ (w * ll)
        resid = ll - X @ coef
        new = max(0.0, float(np.sum(resid**2) / max(psi.size - 3, 1) - np.mean(se**2)))
        if abs(new - extra) < 1e-6 * (1 + extra):
            break
        extra = new
    a, b, c = (float(v) for v in coef)
    if not a < 0:
        nan = math.nan
        return {
            "coef": (a, b, c),
            "mle": nan,
            "se_stat": nan,
            "se_mc": nan,
            "cutoff": nan,
            "interval": (nan, nan),
            "note": "the smoothed profile is not concave (its quadratic's curvature is ≥ 0): the points do not "
            "bracket a maximum; widen the profiled values or use more particles",
        }
    top = -b / (2 * a)
    grad = np.array([b / (2 * a * a), -1 / (2 * a), 0.0])  # ∂ top / ∂ (a, b, c)
    se_mc = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    se_stat = 1.0 / math.sqrt(-2 * a)
    cutoff = 0.5 * float(chi2.ppf(level, 1)) * (1 + se_mc**2 / se_stat**2)
    half = math.sqrt(cutoff / -a)  # a (ψ − top)² = −cutoff
    return {
        "coef": (a, b, c),
        "mle": top,
        "se_stat": se_stat,
        "se_mc": se_mc,
        "cutoff": cutoff,
        "interval": (top - half, top + half),
        "note": "",
    }


@x64
def profile(
    model,
    data,
    parameter: str,
    values: Sequence[float],
    free_params: Mapping[str, object] | None = None,
    *,
    seed: int,
    n_particles: int = 1000,
    iterations: int = 30,
    rw_sd: float | Mapping[str, float] = 0.02,
    cooling: float = 0.5,
    method="direct",
    noise_sd: float | None = None,
    replicates: int = 2 * DEFAULT_REPLICATES,
    resample_threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
) -> ProfileResult:
    """The profile log-likelihood of `parameter` over `values`, and its 95% confidence interval.

    At each value the other estimated parameters are maximised by IF2 (`iterations` iterations of
    `n_particles`, from the previous point's estimate; skipped when `parameter` is the only one), and the
    log-likelihood there is estimated by `replicates` filters. The interval is the MCAP interval (Ionides
    et al. 2017): a quadratic smoother on the parameter's estimation scale and the cutoff 1.92 widened by
    the Monte Carlo error of its maximiser.

    **Arguments:**

    - `model`, `data`, `free_params`: as `sbmljax.if2` (a PEtab problem, or a model, one or more datasets and
      the free parameters with start values or `(start, lower, upper)`); `parameter` must be one of them.
    - `values`: the profile points (linear scale; at least 4, bracketing the maximum).
    - `seed`, `n_particles`, `iterations`, `rw_sd`, `cooling`, `method`, `noise_sd`: as `sbmljax.if2`.
    - `replicates`: filters per point for the log-likelihood and its standard error.
    - `resample_threshold`: the effective-sample-size fraction below which those filters resample (see
      `sbmljax.log_likelihood`; IF2's own iterations resample at every observation).

    **Returns:** a `ProfileResult` (`.loglik`, `.stderr` per point, `.interval`, `.mle`).

    **Raises:** `ParameterError` (`parameter` not estimated, a value outside its bounds), `ConfigError`,
    `FitError` (fewer than 4 finite points), and `sbmljax.if2`'s errors. A profile whose smoothed curve
    has no maximum returns its points with a NaN interval and a `note`.

    **Reference:** E. L. Ionides, C. Breto, J. Park, R. A. Smith, A. A. King, J. R. Soc. Interface
    14:20170126 (2017).
    """
    from .._fit import as_problem

    if not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if model is None:
        model, data = data, None
    problem, start = as_problem(
        model, None if data is None else (data if isinstance(data, list) else [data]), free_params, noise_sd=noise_sd
    )
    est = {p.id: p for p in problem.estimated}
    if parameter not in est:
        raise ParameterError(f"'{parameter}' is not estimated in {problem.source}; estimated: {', '.join(est)}")
    target = est[parameter]
    grid = [float(v) for v in values]
    if len(grid) < 4:
        raise ConfigError(f"a profile needs at least 4 values, got {len(grid)}")
    outside = [v for v in grid if not target.lower <= v <= target.upper]
    if outside:
        raise ParameterError(
            f"profile values {outside} of '{parameter}' are outside [{target.lower:g}, {target.upper:g}]"
        )
    others = tuple(p for p in problem.estimated if p.id != parameter)
    t_start = time.perf_counter()
    current = {k: v for k, v in start.items() if k != parameter}
    ll, se, found = [], [], []
    for i, v in enumerate(grid):
        sub = Problem(problem.model, problem.datasets, others, {**problem.fixed, parameter: v}, source=problem.source)
        s = int(np.random.SeedSequence([int(seed), i, 17]).generate_state(1)[0])
        if others:
            res = run_if2(
                sub,
                current,
                seed=s,
                n_particles=n_particles,
                iterations=iterations,
                rw_sd=rw_sd,
                cooling=cooling,
                method=method,
                replicates=replicates,
                evaluate=True,
                resample_threshold=resample_threshold,
            )
            current = dict(res.params)
            ll.append(res.loglik)
            se.append(res.loglik_stderr)
        else:
            values_all = {**problem.fixed, **problem.nominal(), parameter: v}
            pl = ParticleLikelihood(
                sub,
                (parameter,),
                values_all,
                n_particles=n_particles,
                replicates=replicates,
                method=method,
                resample_threshold=resample_threshold,
            )
            r = pl.evaluate(seed=s)
            ll.append(r.value)
            se.append(r.stderr)
        found.append(dict(current))
    scaled = np.array([target.to_scale(v) for v in grid])
    fit = mcap(scaled, np.array(ll), np.array(se))
    lo, hi = fit["interval"]
    # the quadratic is a local smoother: an end beyond the profiled points is not located by them
    lo = -math.inf if lo < scaled.min() else lo
    hi = math.inf if hi > scaled.max() else hi
    return ProfileResult(
        parameter=parameter,
        scale=target.scale,
        values=grid,
        loglik=ll,
        stderr=se,
        params=found,
        smooth=fit["coef"],
        mle=target.from_scale(fit["mle"]) if math.isfinite(fit["mle"]) else math.nan,
        se_stat=fit["se_stat"],
        se_mc=fit["se_mc"],
        cutoff=fit["cutoff"],
        interval=(_unscale(target, lo), _unscale(target, hi)),
        wall_time_s=time.perf_counter() - t_start,
        note=fit["note"],
    )


def _unscale(p, v: float) -> float:
    if math.isnan(v):
        return v
    if math.isinf(v):
        return v if p.scale == "lin" or v > 0 else 0.0
    return p.from_scale(v)

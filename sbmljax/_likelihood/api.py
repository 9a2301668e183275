"""`log_likelihood`: the particle-filter log-likelihood of a model given time series, and its gradient.

`ParticleLikelihood` holds everything that stays fixed while parameters change (compiled filters per
dataset), so that a fit evaluates it many times and compiles once; `log_likelihood` builds one and
evaluates it once.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .._config import x64
from .._ensemble import as_model
from .._estimator.score import path_score_refusal
from .._model import Model
from ..data import Dataset, Problem
from ..errors import (
    ConfigError,
    EstimatorError,
    ParameterError,
)
from .dataset_filter import (
    DEFAULT_RESAMPLE_THRESHOLD,
    DatasetFilter,
    check_resample_threshold,
    event_gradient_refusal,
)
from .smoothing import SmoothedPaths, trace_paths

DEFAULT_REPLICATES = 4


@dataclasses.dataclass(frozen=True)
class LogLikelihood:
    """A particle-filter estimate of `log p(data | θ)`.

    **Attributes:**

    - `value`: `log Ẑ`, the log of the filters' unbiased likelihood estimate, summed over datasets. As the
      log of an unbiased estimate it is biased low by about `Var(log Ẑ)/2` (Jensen; Pitt et al. 2012).
    - `stderr`: its Monte Carlo standard error (jackknife over the `replicates` independent filters).
    - `grad`: parameter id → `∂ log p(data)/∂θ` on the linear scale (Fisher identity over the particles'
      paths), or `None` if not requested; `grad_stderr` its standard errors (jackknife).
    - `per_dataset`: the value of each dataset.
    - `n_particles` (per filter), `replicates`, `method`, `wall_time_s`.
    - `min_ess`: the smallest effective sample size seen (per replicate filter); `resampled`: resampling
      steps (total over filters).
    """

    value: float
    stderr: float
    grad: dict[str, float] | None
    grad_stderr: dict[str, float] | None
    per_dataset: tuple[float, ...]
    n_particles: int
    replicates: int
    method: str
    wall_time_s: float
    min_ess: float
    resampled: int


@dataclasses.dataclass(frozen=True)
class FilteredSeries:
    """One dataset's filtering distribution (`ParticleLikelihood.filtered`): at each observation time, the
    weighted mean of each observable over the particles and the `quantiles` (lower, upper) of it."""

    dataset: str
    times: np.ndarray
    observables: tuple[str, ...]
    mean: np.ndarray  # (times, observables)
    lower: np.ndarray
    upper: np.ndarray
    quantiles: tuple[float, float]


def weighted_quantiles(y: np.ndarray, w: np.ndarray, q: float) -> np.ndarray:
    """The `q` quantile of `y[k, :, o]` under weights `w[k, :]` (the first value whose cumulative weight
    reaches `q`), for every `k` and `o`: `y` is `(times, n, observables)`, `w` `(times, n)`."""
    out = np.empty((y.shape[0], y.shape[2]))
    for k in range(y.shape[0]):
        for o in range(y.shape[2]):
            order = np.argsort(y[k, :, o])
            cdf = np.cumsum(w[k][order])
            i = min(int(np.searchsorted(cdf / cdf[-1], q)), cdf.size - 1)
            out[k, o] = y[k, order[i], o]
    return out


def logmeanexp_jackknife(ll: np.ndarray) -> tuple[float, float]:
    """`log mean exp(ll)` and its jackknife standard error (the estimator of pomp's `logmeanexp(se=TRUE)`)."""
    ll = np.asarray(ll, dtype=np.float64)
    r = ll.size
    top = ll.max()
    value = float(top + np.log(np.mean(np.exp(ll - top))))
    if r < 2:
        return value, math.nan
    loo = np.array([top + np.log(np.mean(np.exp(np.delete(ll, i) - top))) for i in range(r)])
    return value, float(np.sqrt((r - 1) * np.mean((loo - loo.mean()) ** 2)))


def pooled_gradient(ll: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The replicates' gradients weighted by their likelihood estimates (all particles pooled), with
    jackknife standard errors."""
    ll, g = np.asarray(ll, dtype=np.float64), np.asarray(g, dtype=np.float64)
    r = ll.size

    def pool(idx):
        w = np.exp(ll[idx] - ll[idx].max())
        return (w[:, None] * g[idx]).sum(axis=0) / w.sum()

    est = pool(np.arange(r))
    if r < 2:
        return est, np.full(est.shape, math.nan)
    loo = np.array([pool(np.delete(np.arange(r), i)) for i in range(r)])
    return est, np.sqrt((r - 1) * np.mean((loo - loo.mean(axis=0)) ** 2, axis=0))


def _seed_key(seed: int, d: int) -> jax.Array:
    return jax.random.fold_in(jax.random.key(int(seed)), d)


class ParticleLikelihood:
    """The log-likelihood of a `Problem` by bootstrap particle filters, compiled once for many evaluations.

    **Arguments:**

    - `problem`: the model and datasets (each dataset its own filter; log-likelihoods add).
    - `names`: the parameters evaluations may change (and that `grad=True` differentiates): estimated
      parameters of the problem, model parameters, or parameters of observable and noise formulas.
    - `values`: values of every parameter the problem and the caller set (`names` included, as start values).
    - `n_particles`, `replicates`, `method`, `block`, `resample_threshold`: see `log_likelihood`.
    """

    @x64
    def __init__(
        self,
        problem: Problem,
        names: Sequence[str],
        values: Mapping[str, float],
        *,
        n_particles: int = 1000,
        replicates: int = DEFAULT_REPLICATES,
        method="direct",
        block: int | None = None,
        resample_threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
    ):
        if replicates < 1 or n_particles < 1:
            raise ConfigError(f"need n_particles ≥ 1 and replicates ≥ 1, got {n_particles}, {replicates}")
        check_resample_threshold(resample_threshold)
        self.problem, self.names = problem, tuple(names)
        self.n = int(n_particles)
        self.replicates = replicates
        model = problem.model
        model_params = set(model.parameter_values())
        read = set().union(*(o.symbols() for d in problem.datasets for o in d.observables))
        for nm in self.names:
            if nm not in model_params and nm not in read:
                known = ", ".join(sorted(model_params | read - set(model.species_ids) - {"time"}))
                raise ParameterError(
                    f"unknown parameter '{nm}': neither a parameter of model '{model.id}' nor read by an observable "
                    f"or noise formula (known: {known})"
                )
        missing = [nm for nm in self.names if nm not in values]
        if missing:
            raise ParameterError(f"no value for parameter(s) {missing}")
        self.values = {k: float(v) for k, v in values.items()}
        self._last_recording: tuple | None = None  # `_recorded`'s last runs, with their key
        self.filters = [
            DatasetFilter(problem, d, self.values, self.names, method, self.n, replicates, block, resample_threshold)
            for d in problem.datasets
        ]
        self.method = self.filters[0].prep.sim.name
        theta = self._theta({})  # every value is in self.values; fixed ones need not be in names
        for f in self.filters:
            f.check_noise(theta)

    def _theta(self, values: Mapping[str, float]) -> jax.Array:
        merged = {**self.values, **values}
        for k, v in values.items():
            if k not in self.names:
                raise ParameterError(f"'{k}' cannot be changed here; parameters: {', '.join(self.names)}")
            if not math.isfinite(float(v)):
                raise ParameterError(f"parameter '{k}' = {v} is not finite")
        return jnp.asarray([float(merged[n]) for n in self.names], dtype=jnp.float64)

    @x64
    def evaluate(self, values: Mapping[str, float] | None = None, *, seed: int, grad: bool = False) -> LogLikelihood:
        """The log-likelihood at `values` (id → value for some of `names`; the rest keep theirs)."""
        why = path_score_refusal(self.filters[0].prep.sim) if grad else None
        if why is not None:
            raise EstimatorError(why)
        if grad:
            self._check_initial_counts()
            event_gradient_refusal(self.problem.model, self.names)
        theta = self._theta(values or {})
        start = time.perf_counter()
        total, total_se2, per, g_total, g_se2 = 0.0, 0.0, [], np.zeros(len(self.names)), np.zeros(len(self.names))
        min_ess, resampled = math.inf, 0
        for i, f in enumerate(self.filters):
            keys = jax.vmap(lambda r, i=i: jax.random.fold_in(_seed_key(seed, i), r))(jnp.arange(self.replicates))
            out = f.run(theta, keys, grad)
            v, se = logmeanexp_jackknife(np.asarray(out.loglik))
            total += v
            total_se2 += se**2
            per.append(v)
            min_ess = min(min_ess, float(out.min_ess.min()))
            resampled += int(out.resampled.sum())
            if grad:
                g, gse = pooled_gradient(np.asarray(out.loglik), np.asarray(out.grad))
                g_total += g
                g_se2 += gse**2
        return LogLikelihood(
            value=total,
            stderr=math.sqrt(total_se2),
            grad=dict(zip(self.names, map(float, g_total))) if grad else None,
            grad_stderr=dict(zip(self.names, map(float, np.sqrt(g_se2)))) if grad else None,
            per_dataset=tuple(per),
            n_particles=self.n,
            replicates=self.replicates,
            method=self.method,
            wall_time_s=time.perf_counter() - start,
            min_ess=min_ess,
            resampled=resampled,
        )

    def _recorded(self, values: Mapping[str, float] | None, seed: int, replicates: int) -> list:
        """Per dataset `(filter, its recorded FilterOutput, the observables function, their parameters)` for
        `replicates` filters at `values`. The last call's runs are kept: `filtered` and `smoothed` at the same
        values, seed and replicates (the workflow draws both) summarise one set of filters, run once."""
        from ..data import observables

        theta = self._theta(values or {})
        key = (tuple(np.asarray(theta).tolist()), int(seed), int(replicates))
        if self._last_recording is None or self._last_recording[0] != key:
            merged = {**self.values, **(values or {})}
            runs = []
            for i, f in enumerate(self.filters):
                keys = jax.vmap(lambda r, i=i: jax.random.fold_in(_seed_key(seed, i), r))(jnp.arange(replicates))
                res = f.run(theta, keys, False, record=True)
                runs.append((f, res, observables(f.dataset, self.problem.model), {**merged, **f.dataset.params}))
            self._last_recording = (key, runs)
        return self._last_recording[1]

    @x64
    def filtered(
        self, values: Mapping[str, float] | None = None, *, seed: int, quantiles: tuple[float, float] = (0.05, 0.95)
    ) -> list[FilteredSeries]:
        """The filtering distribution of each dataset's observables at its observation times, `p(h(x_k) | y_1..k)`:
        the weighted particles of one filter (the first replicate) after each observation, summarised by
        their weighted mean and `quantiles`. What the data look like through the model, unlike the ensemble
        mean (which averages over outbreaks the data rule out)."""
        out = []
        for f, res, h, params in self._recorded(values, seed, 1):
            x = np.asarray(res.states)[0]  # (times, n, species)
            w = np.exp(np.asarray(res.logw)[0])  # (times, n)
            d = f.dataset
            y = np.asarray(h(jnp.asarray(np.swapaxes(x, 0, 1)), params))  # (n, times, observables)
            y = np.swapaxes(y, 0, 1)  # (times, n, observables)
            mean = np.einsum("tn,tno->to", w, y)
            lo, hi = weighted_quantiles(y, w, quantiles[0]), weighted_quantiles(y, w, quantiles[1])
            q = (float(quantiles[0]), float(quantiles[1]))
            out.append(FilteredSeries(d.name, np.asarray(d.times), d.observable_ids, mean, lo, hi, q))
        return out

    @x64
    def smoothed(
        self, values: Mapping[str, float] | None = None, *, seed: int, n_paths: int = 100
    ) -> list[SmoothedPaths]:
        """`n_paths` latent paths per dataset drawn from the smoothing distribution `p(x_{1:K} | y_{1:K})` by
        tracing the genealogy of this object's `replicates` filters (`sbmljax._likelihood.smoothing`): a list of
        `SmoothedPaths`, one per dataset."""
        if isinstance(n_paths, bool) or not isinstance(n_paths, (int, np.integer)) or n_paths < 1:
            raise ConfigError(f"n_paths must be an integer ≥ 1, got {n_paths!r}")
        out = []
        for i, (f, res, h, params) in enumerate(self._recorded(values, seed, self.replicates)):
            draw_seed = int(np.random.SeedSequence([int(seed), i, 23]).generate_state(1)[0])
            states, logw, anc, ll = (np.asarray(a) for a in (res.states, res.logw, res.ancestors, res.loglik))
            paths, reps, distinct = trace_paths(states, logw, anc, ll, int(n_paths), draw_seed)
            d = f.dataset
            vals = np.asarray(h(jnp.asarray(paths), params))
            species = tuple(self.problem.model.species_ids)
            out.append(
                SmoothedPaths(d.name, np.asarray(d.times), species, d.observable_ids, paths, vals, reps, distinct)
            )
        return out

    def _check_initial_counts(self) -> None:
        theta = self._theta({})
        for f in self.filters:
            jac = np.asarray(jax.jacfwd(lambda th, f=f: f.initial(th)[0])(theta))
            moved = [self.names[j] for j in range(len(self.names)) if np.any(jac[:, j] != 0)]
            if moved:
                raise EstimatorError(
                    f"the initial counts depend on {moved}; the path score cannot differentiate the (discrete) "
                    "initial state, so the likelihood gradient is not available for them"
                )


def _is_petab(data) -> bool:
    if isinstance(data, Problem):
        return True
    if type(data).__name__ == "Problem" and type(data).__module__.startswith("petab"):
        return True
    return isinstance(data, (str, os.PathLike)) and str(data).lower().endswith((".yaml", ".yml"))


def as_likelihood_problem(model, data, params, noise_sd) -> tuple[Problem, dict[str, float], tuple[str, ...]]:
    """`log_likelihood`'s inputs as a `Problem`, every parameter value, and the parameters that vary."""
    params = dict(params or {})
    if _is_petab(data):
        from .._fit import as_problem

        problem, _ = as_problem(data)
        if model is not None and isinstance(model, Model) and model is not problem.model:
            raise ConfigError("data is a PEtab problem with its own model; pass model=None")
        known = set(problem.model.parameter_values()) | set(problem.fixed) | set(problem.estimated_ids)
        unknown = sorted(set(params) - known)
        if unknown:
            raise ParameterError(f"{problem.source}: unknown parameter(s) {unknown}")
        values = {**problem.fixed, **problem.nominal(), **params}
        nan = [k for k in problem.estimated_ids if math.isnan(values[k])]
        if nan:
            raise ParameterError(f"{problem.source}: estimated parameter(s) {nan} have no nominal value; pass params=")
        names = tuple(dict.fromkeys([*problem.estimated_ids, *params]))
        return problem, values, names
    if model is None:
        raise ConfigError("model is required unless data is a PEtab problem")
    m = as_model(model)
    items = data if isinstance(data, (list, tuple)) else [data]
    if not items:
        raise ConfigError("no data: pass a CSV path, a Dataset or a PEtab problem")
    datasets = []
    for item in items:
        if isinstance(item, Dataset):
            datasets.append(item)
        elif isinstance(item, (str, os.PathLike)):
            datasets.append(Dataset.from_csv(item, m, noise_sd=noise_sd))
        else:
            raise ConfigError(f"data must be a CSV path, a Dataset or a PEtab problem, got {type(item).__name__}")
    model_params = set(m.parameter_values())
    others = {k: float(v) for k, v in params.items() if k not in model_params}  # of observable/noise formulas
    problem = Problem(m, tuple(datasets), (), others, source=", ".join(d.source or d.name for d in datasets))
    return problem, params, tuple(params)


@x64
def log_likelihood(
    model: Model | str | os.PathLike | None,
    data,
    params: Mapping[str, float] | None = None,
    *,
    n_particles: int = 1000,
    seed: int,
    method="direct",
    noise_sd: float | None = None,
    replicates: int = DEFAULT_REPLICATES,
    grad: bool = False,
    block: int | None = None,
    resample_threshold: float = DEFAULT_RESAMPLE_THRESHOLD,
) -> LogLikelihood:
    """The log-likelihood of a stochastic model given time-series data, by bootstrap particle filters.

    The particles are simulated exactly between observation times (`method`), weighted by the measurement
    density of each observation (normal, laplace, lin/log/log10, or a count model: see
    `sbmljax.data.Observable`), and resampled systematically when the effective sample size falls below
    `resample_threshold` times the particles (half by default). `replicates` independent filters of `n_particles` each run at once (vmapped):
    `value` is the log of the mean of their (unbiased) likelihood estimates, with a jackknife standard error
    (the estimator of pomp's `logmeanexp(se=TRUE)`); the cost is `replicates × n_particles` simulations.

    **Arguments:**

    - `model`: a `Model` or SBML path (`None` when `data` is a PEtab problem).
    - `data`: a quick-form CSV path (a `time` column and one column per observed species; empty cells are
      missing), a `Dataset`, a list of these (independent experiments: log-likelihoods add), or a PEtab
      problem (YAML path, `sbmljax.data.Problem` or `petab.Problem`: its observables, noise formulas and
      distributions are used, and its estimated parameters take their nominal values unless in `params`).
    - `params`: parameter id → value (model parameters, or parameters of observable and noise formulas).
    - `n_particles`: particles per filter.
    - `seed`: integer seed; the same seed gives the same result.
    - `method`: the simulator between observations: `"direct"`, `"nrm"`, `"tau_leap"` (approximate), or an
      instance.
    - `noise_sd`: the known Gaussian measurement SD of quick-form CSV data (required there).
    - `replicates`: independent filters (≥ 2 for a standard error).
    - `grad`: also estimate `∂ log p(data)/∂θ` for every parameter in `params` and every estimated
      parameter of a PEtab problem, rates included: Fisher's identity over the particles' ancestral paths,
      with each path's score accumulated during the simulation (Poyiadjis, Doucet & Singh 2011).
      Consistent, with `O(1/n_particles)` bias and variance growing with the number of observations.
      Needs an exact method, or `BinomialLeaping(tau)` (the score of its Euler-binomial draws: the gradient of
      the leap chain's likelihood), and initial counts that do not depend on the parameters.
    - SBML events (time- or state-triggered, without delay) are supported: each particle carries its trigger
      values and event-assigned parameters from one observation time to the next, so an event fires once at
      its time whatever the observation grid (an event at an observation time acts before that observation).
    - `block`: steps per iteration of the simulation loop's inner `scan` (default: the method's, at most 32; speed only, results
      do not depend on it).
    - `resample_threshold`: resample after an observation when the effective sample size `1/Σ W²` is below this
      fraction of `n_particles`, in [0, 1] (Liu & Chen 1995's adaptive rule; 0.5 by default). `1` resamples at
      every observation, as pomp and pypomp do; `0` never resamples (sequential
      importance sampling, whose weights degenerate over many observations). The estimate is unbiased for every
      value; the value moves its variance only.

    **Returns:** a `LogLikelihood` (`.value`, `.stderr`, `.grad`, `.grad_stderr`).

    **Raises:** `DataError` (unknown column or observable, negative count data, non-positive noise scale),
    `ParameterError`, `UnsupportedSBMLFeatureError` (SBML events under the hybrid method, whose continuous
    state the filter does not carry; events with delays are refused at import), `EstimatorError` (`grad=True`
    with an SBML event whose trigger, priority or assignment reads, or that assigns, a differentiated parameter),
    `SimulationError` (a particle's simulation failed: reaction, time and state), `LikelihoodError` (every particle's weight vanished at an
    observation: it names the time and the observed values).

    **References:** N. J. Gordon, D. J. Salmond, A. F. M. Smith, IEE Proc. F 140:107–113 (1993);
    G. Poyiadjis, A. Doucet, S. S. Singh, Biometrika 98:65–80 (2011); M. K. Pitt, R. dos Santos Silva,
    P. Giordani, R. Kohn, J. Econometrics 171:134–151 (2012) (the bias of `log Ẑ`).
    """
    pl = particle_likelihood(
        model,
        data,
        params,
        seed=seed,
        noise_sd=noise_sd,
        n_particles=n_particles,
        replicates=replicates,
        method=method,
        block=block,
        resample_threshold=resample_threshold,
    )
    return pl.evaluate(seed=int(seed), grad=grad)


def particle_likelihood(
    model: Model | str | os.PathLike | None,
    data,
    params: Mapping[str, float] | None,
    *,
    seed: int,
    noise_sd: float | None,
    **settings,
) -> ParticleLikelihood:
    """The `ParticleLikelihood` of `log_likelihood`'s inputs (`settings`: its keyword arguments), after
    checking the seed: what `log_likelihood` and `smoothed_paths` both evaluate."""
    if not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    problem, values, names = as_likelihood_problem(model, data, params, noise_sd)
    return ParticleLikelihood(problem, names, values, **settings)

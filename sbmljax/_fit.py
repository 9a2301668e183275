"""`fit`: stochastic gradient descent on the parameters of a stochastic model, against data."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._config import x64
from ._ensemble import UNLIMITED_STEPS, as_model, parameter_vector, raise_failures, run_ensemble, trajectory_keys
from ._estimator import AbstractGradientEstimator
from ._grad import build_problem, make_estimator
from ._loss import AbstractLoss, DataTerm, data_term, make_loss, pilot_moments
from ._model import Model
from ._trajectory import atomic_write_text
from .data import Dataset, EstimatedParameter, Problem, load_petab
from .errors import ConfigError, FitError, ParameterError

UNCERTAINTY = (
    "Monte Carlo error of the averaged estimate: standard error of batch means of the iterates over the "
    "averaging window (5 batches), on each parameter's scale, mapped to the linear scale by the delta "
    "method. It measures how much the stochastic optimisation alone moves the answer, not the statistical "
    "uncertainty of the parameters given the data (see ode_fit for an asymptotic standard error)."
)


def default_optimizer(learning_rate: float = 0.05, iterations: int = 150) -> optax.GradientTransformation:
    """Adam with a step size decaying exponentially to a tenth of `learning_rate` over `iterations`.

    The decay makes the stochastic iterates settle (Robbins–Monro); Adam's per-parameter scaling makes the
    step size meaningful on log scales whatever the gradient's magnitude.

    **Reference:** D. P. Kingma, J. Ba, "Adam: a method for stochastic optimization", ICLR (2015).
    """
    return optax.adam(optax.exponential_decay(learning_rate, transition_steps=max(iterations, 1), decay_rate=0.1))


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The outcome of `fit`: averaged parameters, their Monte Carlo error, the trace, and provenance.

    `history` has `loss`, `loss_stderr`, `params` (id → values per iteration, linear scale), `grad` (id →
    gradient on each parameter's scale) and `seconds`. `ode_fit` holds the deterministic (libRoadRunner) fit
    when requested.
    """

    params: dict[str, float]
    stderr: dict[str, float]
    history: dict
    estimator: str
    loss: str
    n_trajectories: int
    iterations: int
    n_simulations: int
    wall_time_s: float
    seed: int
    start: dict[str, float]
    converged: bool
    ode_fit: dict | None = None
    source: str = ""
    notes: tuple[str, ...] = ()
    problem: Problem | None = dataclasses.field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (everything but the problem)."""
        return {
            "params": self.params,
            "stderr": self.stderr,
            "uncertainty": UNCERTAINTY,
            "loss_history": self.history["loss"],
            "loss_stderr_history": self.history["loss_stderr"],
            "param_history": self.history["params"],
            "grad_history": self.history["grad"],
            "estimator": self.estimator,
            "loss": self.loss,
            "n_trajectories": self.n_trajectories,
            "iterations": self.iterations,
            "n_simulations": self.n_simulations,
            "wall_time_s": self.wall_time_s,
            "seed": self.seed,
            "start": self.start,
            "converged": self.converged,
            "ode_fit": self.ode_fit,
            "source": self.source,
            "notes": list(self.notes),
        }

    def to_json(self, path: str | os.PathLike) -> None:
        """Write `to_dict()` as JSON, atomically (no partial file on failure)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=True))

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> FitResult:
        """Read a result written by `to_json` (without its problem: `problem` is `None`).

        **Raises:** `DataError` if the file is not JSON or lacks a field `to_json` writes.
        """
        from .errors import DataError

        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
            history = {
                "loss": d["loss_history"],
                "loss_stderr": d["loss_stderr_history"],
                "params": d["param_history"],
                "grad": d["grad_history"],
            }
            return cls(
                params={k: float(v) for k, v in d["params"].items()},
                stderr={k: float(v) for k, v in d["stderr"].items()},
                history=history,
                estimator=d["estimator"],
                loss=d["loss"],
                n_trajectories=int(d["n_trajectories"]),
                iterations=int(d["iterations"]),
                n_simulations=int(d["n_simulations"]),
                wall_time_s=float(d["wall_time_s"]),
                seed=int(d["seed"]),
                start={k: float(v) for k, v in d["start"].items()},
                converged=bool(d["converged"]),
                ode_fit=d.get("ode_fit"),
                source=d.get("source", ""),
                notes=tuple(d.get("notes", ())),
            )
        except (OSError, ValueError) as e:
            raise DataError(f"{path}: not a fit result written by FitResult.to_json ({e})") from None
        except KeyError as e:
            raise DataError(f"{path}: not a fit result written by FitResult.to_json (no {e.args[0]!r})") from None

    def write_parameter_table(self, path: str | os.PathLike) -> None:
        """Write the PEtab parameter table with the fitted values as `nominalValue`."""
        from .data import write_parameter_table

        if self.problem is None:
            raise ConfigError("this result has no problem attached")
        write_parameter_table(self.problem, self.params, path)


def _estimated(spec, model: Model, name: str) -> EstimatedParameter:
    """A free-parameter spec (value, (value, lower, upper), or `EstimatedParameter`) → `EstimatedParameter`."""
    if isinstance(spec, EstimatedParameter):
        return spec
    if isinstance(spec, (tuple, list)):
        if len(spec) != 3:
            raise ParameterError(f"free parameter '{name}': give a value or (value, lower, upper), got {spec!r}")
        v, lo, hi = (float(x) for x in spec)
    else:
        return EstimatedParameter.around(name, spec)
    return EstimatedParameter(name, v, lo, hi, "log10" if lo > 0 else "lin")


def as_problem(
    model, datasets=None, free_params=None, *, noise_sd: float | None = None
) -> tuple[Problem, dict[str, float]]:
    """Normalise `fit`'s inputs into a `Problem` and the starting values (linear scale)."""
    starts = {}
    if type(model).__name__ == "Problem" and type(model).__module__.startswith("petab"):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            model.to_files_generic(prefix_path=tmp)
            model = load_petab(os.path.join(tmp, "problem.yaml"))
    elif isinstance(model, (str, os.PathLike)) and str(model).lower().endswith((".yaml", ".yml")):
        model = load_petab(model)
    if isinstance(model, Problem):
        if datasets is not None:
            raise ConfigError("datasets come from the PEtab problem; do not pass datasets= as well")
        problem = model
        for name, spec in (free_params or {}).items():
            if name not in problem.estimated_ids:
                raise ParameterError(
                    f"'{name}' is not estimated in {problem.source}; estimated: {', '.join(problem.estimated_ids)}"
                )
            starts[name] = float(spec[0] if isinstance(spec, (tuple, list)) else spec)
    else:
        m = as_model(model)
        if not datasets:
            raise ConfigError("no datasets: pass CSV paths or sbmljax.Dataset objects")
        if not free_params:
            raise ConfigError("no free parameters: pass free_params={'id': initial value, ...}")
        ds = [d if isinstance(d, Dataset) else Dataset.from_csv(d, m, noise_sd=noise_sd) for d in datasets]
        estimated = tuple(_estimated(spec, m, name) for name, spec in free_params.items())
        problem = Problem(m, tuple(ds), estimated, source=", ".join(d.source or d.name for d in ds))
    for p in problem.estimated:
        start = starts.get(p.id, p.nominal)
        if math.isnan(start) or not p.lower <= start <= p.upper:
            raise ParameterError(f"start value {start:g} of '{p.id}' is missing or outside [{p.lower:g}, {p.upper:g}]")
        starts[p.id] = start
    return problem, starts


@dataclasses.dataclass(frozen=True, eq=False)
class _Term:
    """Everything about one dataset that stays fixed during a fit."""

    data: DataTerm
    grad: object  # GradProblem at the start values
    model_ids: tuple[str, ...]
    loss_ids: tuple[str, ...]
    fixed_model: dict[str, float]  # model parameters this dataset sets without estimating them


def _seed(seed: int, *parts: int) -> int:
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0])


def _batch_means_se(x: np.ndarray, batches: int = 5) -> np.ndarray:
    n = x.shape[0] // batches
    if n < 1:
        return np.full(x.shape[1:], np.nan)
    means = x[: n * batches].reshape(batches, n, *x.shape[1:]).mean(axis=1)
    return means.std(axis=0, ddof=1) / math.sqrt(batches)


def _condition_key(d: Dataset) -> tuple:
    """Datasets with equal keys share one simulation per iteration (replicates of one experiment)."""
    obs = tuple((o.id, str(o.expr)) for o in d.observables)
    return (d.times.tobytes(), obs, tuple(sorted(d.initial.items())), tuple(sorted(d.params.items())))


def _terms(
    problem: Problem, loss: AbstractLoss, est: AbstractGradientEstimator, start: Mapping[str, float], n: int
) -> list[_Term]:
    model_params = set(problem.model.parameter_values())
    groups: dict[tuple, list[Dataset]] = {}
    for d in problem.datasets:
        groups.setdefault(_condition_key(d), []).append(d)
    out = []
    for members in groups.values():
        d = members[0]
        model_ids = tuple(i for i in problem.estimated_ids if i in model_params)
        loss_ids = tuple(i for i in problem.estimated_ids if i not in model_params)
        fixed_all = {**problem.fixed, **d.params}
        fixed_model = {k: v for k, v in fixed_all.items() if k in model_params and k not in model_ids}
        fixed_other = {k: v for k, v in fixed_all.items() if k not in model_params}
        term = data_term(members, problem.model, fixed_other)
        grad = build_problem(
            _placeholder(term, problem.model),
            problem.model,
            {k: start[k] for k in model_ids},
            d.times,
            estimator=est,
            n_trajectories=n,
            loss_params={k: start[k] for k in loss_ids},
            initial=d.initial,
            fixed=fixed_model,
        )
        out.append(_Term(term, grad, model_ids, loss_ids, fixed_model))
    return out


def _placeholder(term: DataTerm, model: Model):
    """The loss `build_problem` starts with; pilot-weighted losses replace it every iteration."""
    from ._loss import ExpectedSquaredError

    return ExpectedSquaredError().trajectory_loss(term, None)


def _step(
    term: _Term,
    loss: AbstractLoss,
    est: AbstractGradientEstimator,
    values: Mapping[str, float],
    seed: int,
    it: int,
    d: int,
    n: int,
):
    """Loss value, its standard error, the gradient (dict) and the simulations used, for one dataset."""
    gp = term.grad
    theta_model = [values[k] for k in term.model_ids]
    theta = np.array(theta_model + [values[k] for k in term.loss_ids])
    p_free = parameter_vector(gp.net, {**term.fixed_model, **dict(zip(term.model_ids, theta_model))})
    gp = gp.at(theta, p_free, None if loss.pilot else loss.trajectory_loss(term.data, None))
    sims = 0
    moments = None
    params_now = dict(zip(term.model_ids + term.loss_ids, theta))
    if loss.pilot:
        x0, p = gp.initial(gp.theta[: gp.n_model])
        sol = run_ensemble(
            gp.prep, trajectory_keys(_seed(seed, it, d, 1), n), x0=x0, p=p, block=gp.prep.sim.default_block
        )
        raise_failures(gp.prep, sol, UNLIMITED_STEPS)
        counts = np.asarray(jax_observe(gp, sol.counts, p))
        moments = pilot_moments(term.data, counts, params_now)
        gp = gp.at(theta, p_free, loss.trajectory_loss(term.data, moments))
        sims += n
    losses, grads, n_sims = est.samples(gp, trajectory_keys(_seed(seed, it, d, 0), n))
    sims += n_sims
    value = loss.value(term.data, moments) if loss.pilot else float(np.mean(losses))
    value_se = float(np.std(losses, ddof=1) / math.sqrt(len(losses))) if not loss.pilot else float("nan")
    grad = dict(zip(gp.names, grads.mean(axis=0)))
    return value, value_se, grad, sims


def jax_observe(gp, counts, p):
    """Recorded counts `(N, T, S)` with rule-defined species filled in."""
    return jax.vmap(lambda c: gp.observe(c, p))(jnp.asarray(counts))


@x64
def fit(
    model,
    datasets: Sequence[str | os.PathLike | Dataset] | None = None,
    free_params: Mapping[str, object] | None = None,
    *,
    estimator: str | AbstractGradientEstimator = "score",
    loss: str | AbstractLoss = "mean_sse",
    n_trajectories: int = 200,
    seed: int,
    iterations: int = 150,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 0.05,
    average: float = 0.25,
    tol: float | None = None,
    noise_sd: float | None = None,
    ode_fit: bool = False,
    progress: bool = False,
    estimator_options: Mapping[str, object] | None = None,
) -> FitResult:
    """Fit a stochastic model's parameters to data by stochastic gradient descent.

    Each iteration simulates fresh ensembles (new random numbers), estimates the gradient of the expected
    loss with the chosen estimator, and takes an optimiser step on each parameter's scale (log10 by default,
    so steps are relative), projected onto the bounds. The result is the average of the iterates over the
    last `average` fraction of iterations (Polyak–Ruppert averaging), which removes most of the gradient
    noise.

    **Arguments:**

    - `model`: a `Model` or SBML path (then `datasets` and `free_params` are required); or a PEtab problem:
      a YAML path, an `sbmljax.data.Problem` or a `petab.Problem` (datasets, estimated parameters, scales and
      bounds come from it; `free_params` may override start values).
    - `datasets`: quick-form CSV paths (a `time` column and one column per observed species) or `Dataset`s.
    - `free_params`: parameter id → start value (bounds value/1000…value×1000, log10 scale), or
      `(start, lower, upper)`, or an `EstimatedParameter`.
    - `estimator`: `"score"` (default, unbiased), `"cfd"`, `"fd_crn"`, `"tau_pathwise"`, or an instance;
      `estimator_options` are passed to it (e.g. `{"h": 0.05}`, `{"tau": 0.1}`).
    - `loss`: `"mean_sse"` (default: the ensemble mean against the data; a consistent mean-matching
      estimator with an unbiased gradient), `"expected_sse"` (penalises the spread too, so it favours less
      variable parameters) or `"gaussian_nll"` (moment matching with the noise model; the natural choice
      when the data give noise SDs). See `sbmljax._loss`.
    - `n_trajectories`: trajectories per dataset and iteration (and per pilot ensemble).
    - `seed`: integer seed; iteration `k` uses seeds derived from `(seed, k)`.
    - `iterations`: optimiser steps.
    - `optimizer`: an `optax.GradientTransformation` (default `default_optimizer(learning_rate, iterations)`).
    - `average`: fraction of the last iterations averaged into the result.
    - `tol`: stop early when the averaged parameters (on their scales) move less than `tol` between
      successive windows of `max(10, iterations // 10)` iterations. Without it the fit runs all iterations
      and `converged` reports whether the last two windows' means agree within 3 Monte Carlo errors.
    - `noise_sd`: measurement SD for quick-form CSV data (residuals are divided by it).
    - `ode_fit`: also fit the deterministic ODE model with libRoadRunner (`reference.fit_ode`).
    - `progress`: show a progress bar with the current loss.

    **Returns:** a `FitResult` (`.params`, `.stderr`, `.history`, `.to_json(path)`).

    **Raises:** `DataError`, `ParameterError`, `ConfigError` for bad inputs (before any simulation);
    `FitError` if the loss or gradient becomes non-finite.
    """
    if not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if iterations < 1 or n_trajectories < 2:
        raise ConfigError("iterations must be ≥ 1 and n_trajectories ≥ 2")
    if not 0 < average <= 1:
        raise ConfigError(f"average must be in (0, 1], got {average}")
    problem, start = as_problem(model, datasets, free_params, noise_sd=noise_sd)
    est = make_estimator(estimator, **(estimator_options or {}))
    loss_obj = make_loss(loss)
    if est.name == "nrm_pathwise":
        raise ConfigError(
            "nrm_pathwise cannot fit losses of counts (it misses the jump contribution); choose another estimator"
        )
    terms = _terms(problem, loss_obj, est, start, n_trajectories)
    for t in terms:
        est.check(t.grad)
    params = problem.estimated
    scaled = jnp.asarray([p.to_scale(start[p.id]) for p in params])
    lower, upper = (jnp.asarray(b) for b in problem.scaled_bounds())
    opt = optimizer if optimizer is not None else default_optimizer(learning_rate, iterations)
    opt_state = opt.init(scaled)
    history: dict = {
        "loss": [],
        "loss_stderr": [],
        "params": {p.id: [] for p in params},
        "grad": {p.id: [] for p in params},
        "seconds": [],
    }
    trace, sims, t_start, converged = [], 0, time.perf_counter(), False
    window = max(10, iterations // 10)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=iterations, desc="fitting", unit="it")
    try:
        for it in range(iterations):
            values = {p.id: p.from_scale(float(s)) for p, s in zip(params, scaled)}
            total, total_se2, grad = 0.0, 0.0, dict.fromkeys(values, 0.0)
            for d, term in enumerate(terms):
                v, se, g, n_s = _step(term, loss_obj, est, values, seed, it, d, n_trajectories)
                total += v
                total_se2 += se**2
                sims += n_s
                for k, gv in g.items():
                    grad[k] += float(gv)
            g_scaled = np.array([grad[p.id] * p.dlinear_dscaled(float(s)) for p, s in zip(params, scaled)])
            if not (math.isfinite(total) and np.all(np.isfinite(g_scaled))):
                raise FitError(
                    f"{problem.source}: the {loss_obj.name} loss or its gradient is not finite at iteration {it} "
                    f"(parameters {values}); check the data, noise SDs and bounds"
                )
            history["loss"].append(total)
            history["loss_stderr"].append(math.sqrt(total_se2) if math.isfinite(total_se2) else None)
            for i, p in enumerate(params):
                history["params"][p.id].append(values[p.id])
                history["grad"][p.id].append(float(g_scaled[i]))
            history["seconds"].append(time.perf_counter() - t_start)
            updates, opt_state = opt.update(jnp.asarray(g_scaled), opt_state, scaled)
            scaled = jnp.clip(optax.apply_updates(scaled, updates), lower, upper)
            trace.append(np.asarray(scaled))
            if bar is not None:
                bar.set_postfix(loss=f"{total:.4g}")
                bar.update()
            if tol is not None and len(trace) >= 2 * window:
                a, b = np.mean(trace[-2 * window : -window], axis=0), np.mean(trace[-window:], axis=0)
                if np.max(np.abs(b - a)) < tol:
                    converged = True
                    break
    finally:
        if bar is not None:
            bar.close()
    trace_arr = np.asarray(trace)
    tail = trace_arr[-max(1, int(round(average * len(trace_arr)))) :]
    mean_scaled = tail.mean(axis=0)
    se_scaled = _batch_means_se(tail)
    fitted = {p.id: p.from_scale(float(m)) for p, m in zip(params, mean_scaled)}
    stderr = {p.id: float(se * p.dlinear_dscaled(float(m))) for p, m, se in zip(params, mean_scaled, se_scaled)}
    if not converged and len(trace_arr) >= 2 * window:
        # Stationary: the last two windows' means differ by less than 3 of their Monte Carlo errors.
        first, last = trace_arr[-2 * window : -window], trace_arr[-window:]
        spread = np.hypot(_batch_means_se(first), _batch_means_se(last))
        converged = bool(np.all(np.abs(last.mean(axis=0) - first.mean(axis=0)) <= 3 * spread))
    ode = None
    if ode_fit:
        from .reference import fit_ode

        of = fit_ode(problem, start=start)
        ode = {"params": dict(of.params), "stderr": dict(of.standard_errors), "cost": float(of.cost)}
    return FitResult(
        params=fitted,
        stderr=stderr,
        history=history,
        estimator=est.name,
        loss=loss_obj.name,
        n_trajectories=n_trajectories,
        iterations=len(trace_arr),
        n_simulations=sims,
        wall_time_s=time.perf_counter() - t_start,
        seed=int(seed),
        start=dict(start),
        converged=converged,
        ode_fit=ode,
        source=problem.source,
        notes=tuple(problem.notes),
        problem=problem,
    )

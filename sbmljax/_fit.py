"""`fit`: stochastic gradient descent on the parameters of a stochastic model, against data."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._config import x64
from ._ensemble import as_model
from ._estimator import AbstractGradientEstimator
from ._grad import make_estimator
from ._loss import AbstractLoss, make_loss
from ._model import Model
from ._moment_objective import MomentObjective
from ._objective import AbstractObjective, Evaluation
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
class FitHistory:
    """The trace of a fit, one entry per iteration.

    - `loss`: the objective's value; `loss_stderr`: its Monte Carlo standard error (`None` for plug-in values);
    - `params`: id → values (linear scale) at which the iteration evaluated;
    - `grad`: id → gradient on each parameter's scale (the step the optimiser saw);
    - `seconds`: wall time since the fit started (empty when read back from JSON).

    `history["loss"]` works as well as `history.loss`, for code that treats it as a mapping.
    """

    loss: list[float]
    loss_stderr: list[float | None]
    params: dict[str, list[float]]
    grad: dict[str, list[float]]
    seconds: list[float]

    @classmethod
    def empty(cls, ids: Sequence[str]) -> FitHistory:
        return cls([], [], {i: [] for i in ids}, {i: [] for i in ids}, [])

    def record(self, ev: Evaluation, values: Mapping[str, float], g_scaled: np.ndarray, seconds: float) -> None:
        """Append one iteration (the lists are filled in place; the fields themselves never change)."""
        self.loss.append(ev.value)
        self.loss_stderr.append(ev.stderr)
        for i, k in enumerate(self.params):
            self.params[k].append(values[k])
            self.grad[k].append(float(g_scaled[i]))
        self.seconds.append(seconds)

    def __getitem__(self, key: str):
        if key not in {f.name for f in dataclasses.fields(self)}:
            raise KeyError(key)
        return getattr(self, key)


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The outcome of `fit`: averaged parameters, their Monte Carlo error, the trace, and provenance.

    `history` is a `FitHistory` (loss, its standard error, parameters and gradients per iteration). `ode_fit` holds the deterministic (libRoadRunner) fit
    when requested. With `loss="likelihood"`, `loglik` and `loglik_stderr` are the particle-filter
    log-likelihood at `params` (replicate filters, jackknife error), and `if2` the IF2 start stage when
    `start="if2"` (its estimate, log-likelihood, iterations and wall time).
    """

    params: dict[str, float]
    stderr: dict[str, float]
    history: FitHistory
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
    loglik: float | None = None
    loglik_stderr: float | None = None
    if2: dict | None = None

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (everything but the problem)."""
        return {
            "params": self.params,
            "stderr": self.stderr,
            "uncertainty": UNCERTAINTY,
            "loss_history": self.history.loss,
            "loss_stderr_history": self.history.loss_stderr,
            "param_history": self.history.params,
            "grad_history": self.history.grad,
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
            "loglik": self.loglik,
            "loglik_stderr": self.loglik_stderr,
            "if2": self.if2,
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
            history = FitHistory(
                loss=d["loss_history"],
                loss_stderr=d["loss_stderr_history"],
                params=d["param_history"],
                grad=d["grad_history"],
                seconds=[],
            )
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
                loglik=d.get("loglik"),
                loglik_stderr=d.get("loglik_stderr"),
                if2=d.get("if2"),
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
        if isinstance(datasets, (str, os.PathLike, Dataset)):
            datasets = [datasets]  # one series, as log_likelihood takes it (a str is a Sequence of characters)
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


def _batch_means_se(x: np.ndarray, batches: int = 5) -> np.ndarray:
    """Standard error of the mean of a correlated series by batch means (too short: NaN)."""
    n = x.shape[0] // batches
    if n < 1:
        return np.full(x.shape[1:], np.nan)
    means = x[: n * batches].reshape(batches, n, *x.shape[1:]).mean(axis=1)
    return means.std(axis=0, ddof=1) / math.sqrt(batches)


def _check_settings(seed: object, iterations: int, n_trajectories: int, average: float) -> None:
    if not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed must be an integer, got {seed!r}")
    if iterations < 1 or n_trajectories < 2:
        raise ConfigError("iterations must be ≥ 1 and n_trajectories ≥ 2")
    if not 0 < average <= 1:
        raise ConfigError(f"average must be in (0, 1], got {average}")


def make_objective(
    problem: Problem,
    start: Mapping[str, float],
    *,
    loss: str | AbstractLoss,
    estimator: str | AbstractGradientEstimator,
    n_trajectories: int,
    estimator_options: Mapping[str, object] | None = None,
) -> AbstractObjective:
    """The objective `fit` minimises for a loss name or instance (see `sbmljax._objective`)."""
    if isinstance(loss, str) and loss == "likelihood":
        from ._likelihood.objective import LikelihoodObjective

        options: dict[str, Any] = dict(estimator_options or {})
        unknown = set(options) - {"method", "replicates", "resample_threshold"}
        if unknown:
            raise ConfigError(
                "loss='likelihood' takes estimator_options method, replicates and resample_threshold, not "
                f"{sorted(unknown)}"
            )
        return LikelihoodObjective(problem, start, n_particles=n_trajectories, **options)
    if estimator_options and "method" in estimator_options:
        # the likelihood's particle filter takes a simulator; a moment loss's simulations are its estimator's
        raise ConfigError(
            f"estimator_options 'method' chooses the particle filter's simulator of loss='likelihood'; with loss "
            f"{loss!r} the simulations are the gradient estimator's ({estimator!r}): drop 'method' or fit by likelihood"
        )
    est = make_estimator(estimator, **(estimator_options or {}))
    return MomentObjective(problem, start, loss=make_loss(loss), estimator=est, n_trajectories=n_trajectories)


@contextlib.contextmanager
def _progress_bar(total: int, enabled: bool) -> Iterator[Callable[[float], None]]:
    """`show(loss)` after each iteration: a tqdm bar when `enabled`, else nothing."""
    if not enabled:
        yield lambda loss: None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="fitting", unit="it")

    def show(loss: float) -> None:
        bar.set_postfix(loss=f"{loss:.4g}")
        bar.update()

    try:
        yield show
    finally:
        bar.close()


@dataclasses.dataclass(frozen=True)
class _Descent:
    """What the optimisation loop leaves: the iterates on the parameters' scales, the history, the cost."""

    trace: np.ndarray  # (iterations, parameters)
    history: FitHistory
    n_simulations: int
    settled: bool  # stopped early because the iterates moved less than `tol`


def _settled(trace: list[np.ndarray], window: int, tol: float) -> bool:
    """Early stop: the means of the last two windows of iterates differ by less than `tol` on every scale."""
    if len(trace) < 2 * window:
        return False
    a, b = np.mean(trace[-2 * window : -window], axis=0), np.mean(trace[-window:], axis=0)
    return bool(np.max(np.abs(b - a)) < tol)


def _descend(
    objective: AbstractObjective,
    problem: Problem,
    start: Mapping[str, float],
    opt: optax.GradientTransformation,
    *,
    seed: int,
    iterations: int,
    tol: float | None,
    window: int,
    progress: bool,
    t_start: float,
) -> _Descent:
    """Projected optax steps on the parameters' scales, one noisy evaluation of `objective` per step."""
    params = problem.estimated
    scaled = jnp.asarray([p.to_scale(start[p.id]) for p in params])
    lower, upper = (jnp.asarray(b) for b in problem.scaled_bounds())
    # optax mixes Python floats with its int32 step count: standard promotion, whatever the caller's setting
    with jax.numpy_dtype_promotion("standard"):
        opt_state = opt.init(scaled)
    history = FitHistory.empty(problem.estimated_ids)
    trace: list[np.ndarray] = []
    sims = 0
    with _progress_bar(iterations, progress) as show:
        for it in range(iterations):
            values = {p.id: p.from_scale(float(s)) for p, s in zip(params, scaled)}
            ev = objective.evaluate(values, seed, it)
            sims += ev.n_simulations
            # chain rule to each parameter's scale (log10 steps are relative steps)
            g_scaled = np.array([ev.grad[p.id] * p.dlinear_dscaled(float(s)) for p, s in zip(params, scaled)])
            if not (math.isfinite(ev.value) and np.all(np.isfinite(g_scaled))):
                raise FitError(
                    f"{problem.source}: the {objective.name} loss or its gradient is not finite at iteration {it} "
                    f"(parameters {values}); check the data, noise SDs and bounds"
                )
            history.record(ev, values, g_scaled, time.perf_counter() - t_start)
            with jax.numpy_dtype_promotion("standard"):
                updates, opt_state = opt.update(jnp.asarray(g_scaled), opt_state, scaled)
            scaled = jnp.clip(optax.apply_updates(scaled, updates), lower, upper)
            trace.append(np.asarray(scaled))
            show(ev.value)
            if tol is not None and _settled(trace, window, tol):
                return _Descent(np.asarray(trace), history, sims, True)
    return _Descent(np.asarray(trace), history, sims, False)


def _polyak_average(trace: np.ndarray, average: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the last `average` fraction of iterates and its batch-means standard error (on the scales).

    **Reference:** B. T. Polyak, A. B. Juditsky, "Acceleration of stochastic approximation by averaging",
    SIAM J. Control Optim. 30 (1992).
    """
    tail = trace[-max(1, int(round(average * len(trace)))) :]
    return tail.mean(axis=0), _batch_means_se(tail)


def _stationary(trace: np.ndarray, window: int) -> bool:
    """The last two windows' means differ by less than 3 of their Monte Carlo errors (False if too short)."""
    if len(trace) < 2 * window:
        return False
    first, last = trace[-2 * window : -window], trace[-window:]
    spread = np.hypot(_batch_means_se(first), _batch_means_se(last))
    return bool(np.all(np.abs(last.mean(axis=0) - first.mean(axis=0)) <= 3 * spread))


def _ode_reference(problem: Problem, start: Mapping[str, float]) -> dict:
    from .reference import fit_ode

    of = fit_ode(problem, start=start)
    return {"params": dict(of.params), "stderr": dict(of.standard_errors), "cost": float(of.cost)}


@x64
def fit(
    model,
    datasets: str | os.PathLike | Dataset | Sequence[str | os.PathLike | Dataset] | None = None,
    free_params: Mapping[str, object] | None = None,
    *,
    estimator: str | AbstractGradientEstimator = "score",
    loss: str | AbstractLoss | None = None,
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
    start: str | None = None,
    if2_options: Mapping[str, object] | None = None,
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
    - `datasets`: quick-form CSV paths (a `time` column and one column per observed species) or `Dataset`s
      (a list, or one of them).
    - `free_params`: parameter id → start value (bounds value/1000…value×1000, log10 scale), or
      `(start, lower, upper)`, or an `EstimatedParameter`.
    - `estimator`: `"score"` (default, unbiased), `"cfd"`, `"fd_crn"`, `"tau_pathwise"`, or an instance;
      `estimator_options` are passed to it (e.g. `{"h": 0.05}`, `{"tau": 0.1}`).
    - `loss`: `None` (default): `"likelihood"` when every dataset's measurements have a noise model (a
      PEtab noise formula or count distribution, or `noise_sd=` for CSV data) and no SBML event reads or
      assigns a fitted parameter (the path-score gradient cannot follow such an event), since each dataset is one observed time series; `"mean_sse"` otherwise (the choice and why are in
      `notes`). `"mean_sse"`: the ensemble mean against the data (a consistent mean-matching
      estimator with an unbiased gradient; suited to data that are means of many cells or replicates),
      `"expected_sse"` (penalises the spread too, so it favours less
      variable parameters) or `"gaussian_nll"` (moment matching with the noise model; the natural choice
      when the data give noise SDs). See `sbmljax._loss`. Or `"likelihood"`: maximum likelihood of the
      observed time series by particle filtering (`sbmljax.log_likelihood`: any PEtab or count noise model,
      `n_trajectories` particles per filter); its gradient is the path score over the particles (Fisher
      identity), so `estimator` is not used; `estimator_options` may set `method` (an exact one, or
      `BinomialLeaping(tau)`: the leap chain's likelihood and its gradient),
      `replicates` and `resample_threshold` (see `sbmljax.log_likelihood`).
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
    - `start`: `None` (the given start values) or `"if2"` (with `loss="likelihood"`): first run iterated
      filtering (`sbmljax.if2`, a gradient-free global search, `n_trajectories` particles unless
      `if2_options` set `n_particles`) from the given values, then refine its estimate by the gradient
      iterations. `if2_options`: `sbmljax.if2`'s settings (`iterations`, `rw_sd`, `cooling`, `n_particles`;
      `method`, default the gradient's, which may be any simulator, e.g. `BinomialLeaping(tau)`, since IF2
      needs no gradient; `chains` and `starts` for a global search from several starts, each end scored by
      `replicates` filters (default 8) of `n_particles` and the best refined).

    **Returns:** a `FitResult` (`.params`, `.stderr`, `.history`, `.to_json(path)`).

    **Raises:** `DataError`, `ParameterError`, `ConfigError` for bad inputs (before any simulation);
    `FitError` if the loss or gradient becomes non-finite.
    """
    _check_settings(seed, iterations, n_trajectories, average)
    problem, start_values = as_problem(model, datasets, free_params, noise_sd=noise_sd)
    loss, loss_note = default_loss(problem, loss)
    t_start = time.perf_counter()
    if2_stage = _if2_start(problem, start_values, start, if2_options, loss, n_trajectories, estimator_options, seed)
    given_start = dict(start_values)
    if if2_stage is not None:
        start_values = dict(if2_stage["params"])
    objective = make_objective(
        problem,
        start_values,
        loss=loss,
        estimator=estimator,
        n_trajectories=n_trajectories,
        estimator_options=estimator_options,
    )
    opt = optimizer if optimizer is not None else default_optimizer(learning_rate, iterations)
    window = max(10, iterations // 10)
    run = _descend(
        objective,
        problem,
        start_values,
        opt,
        seed=int(seed),
        iterations=iterations,
        tol=tol,
        window=window,
        progress=progress,
        t_start=t_start,
    )
    mean_scaled, se_scaled = _polyak_average(run.trace, average)
    params = problem.estimated
    fitted = {p.id: p.from_scale(float(m)) for p, m in zip(params, mean_scaled)}
    # delta method: a standard error on the scale times d linear / d scaled at the estimate
    stderr = {p.id: float(se * p.dlinear_dscaled(float(m))) for p, m, se in zip(params, mean_scaled, se_scaled)}
    loglik = _loglik_at(objective, fitted, seed)
    return FitResult(
        params=fitted,
        stderr=stderr,
        history=run.history,
        estimator=objective.estimator,
        loss=objective.name,
        n_trajectories=n_trajectories,
        iterations=len(run.trace),
        n_simulations=run.n_simulations,
        wall_time_s=time.perf_counter() - t_start,
        seed=int(seed),
        start=given_start,
        converged=run.settled or _stationary(run.trace, window),
        ode_fit=_ode_reference(problem, given_start) if ode_fit else None,
        source=problem.source,
        notes=tuple(problem.notes) + loss_note,
        problem=problem,
        loglik=None if loglik is None else loglik[0],
        loglik_stderr=None if loglik is None else loglik[1],
        if2=if2_stage,
    )


def default_loss(problem: Problem, loss: str | AbstractLoss | None) -> tuple[str | AbstractLoss, tuple[str, ...]]:
    """`fit`'s loss when none is given, and a note saying which and why: the likelihood of each observed
    time series when the data carry a noise model and the filter can run, else mean_sse."""
    if loss is not None:
        return loss, ()
    unknown = sorted({o.id for d in problem.datasets for o in d.observables if o.noise_formula is None and o.plain})
    if unknown:
        return "mean_sse", (
            f"loss: mean_sse (default), since observable(s) {unknown} have no noise model, so the likelihood of "
            "the series is not defined; give noise_sd= (or a PEtab noise formula) to fit by likelihood",
        )
    from ._likelihood.dataset_filter import event_conflicts

    conflicts = event_conflicts(problem.model, problem.estimated_ids)
    if conflicts:
        eid, hit = conflicts[0]
        return "mean_sse", (
            f"loss: mean_sse (default), since SBML event '{eid}' reads or assigns {hit}, which the fitted "
            "parameters move: the likelihood's path-score gradient cannot follow such an event",
        )
    return "likelihood", (
        "loss: likelihood (default: each dataset is one observed time series with a noise model; "
        "pass loss='mean_sse' to match ensemble means instead)",
    )


def _if2_start(problem, start, how, options, loss, n_trajectories, estimator_options, seed) -> dict | None:
    """`fit(start="if2")`'s first stage: IF2 from the given values (None when `start` is None)."""
    if how is None:
        if options:
            raise ConfigError("if2_options are given but start is not 'if2'")
        return None
    if how != "if2":
        raise ConfigError(f"start must be None or 'if2', got {how!r}")
    if loss != "likelihood":
        raise ConfigError(f"start='if2' maximises the likelihood: use it with loss='likelihood' (got loss={loss!r})")
    from ._likelihood.api import DEFAULT_REPLICATES
    from ._likelihood.if2 import run_if2

    # IF2 needs no gradient, so its simulator may differ from the gradient's one (`method`, e.g. a
    # fixed-step leap for the global search); several chains (`chains`, `starts`) are scored at their ends by
    # `replicates` filters and the best one starts the gradient iterations, as pomp's global search keeps the best
    settings: dict[str, Any] = {
        "n_particles": n_trajectories,
        "iterations": 50,
        "rw_sd": 0.02,
        "cooling": 0.5,
        "method": (estimator_options or {}).get("method", "direct"),
        "chains": None,
        "starts": None,
        "replicates": None,
    }
    unknown = set(options or {}) - set(settings)
    if unknown:
        raise ConfigError(f"if2_options takes {sorted(settings)}, not {sorted(unknown)}")
    settings.update(options or {})
    several = settings["chains"] is not None or settings["starts"] is not None
    if settings["replicates"] is None:
        settings["replicates"] = 2 * DEFAULT_REPLICATES if several else 1
    elif not several:
        raise ConfigError("if2_options' replicates score several chains' ends: give chains or starts too")
    res = run_if2(problem, start, seed=int(seed), evaluate=several, **settings)
    return {
        "params": res.params,
        "loglik": res.loglik,
        "chains": res.chains,
        "swarm_sd": res.swarm_sd,
        "trace_loglik": res.trace_loglik,
        "iterations": res.iterations,
        "n_particles": res.n_particles,
        "wall_time_s": res.wall_time_s,
    }


def _loglik_at(objective: AbstractObjective, values: Mapping[str, float], seed: int) -> tuple[float, float] | None:
    """The likelihood objective's log-likelihood at the estimate (replicate filters, fresh seed), else None."""
    from ._likelihood.objective import LikelihoodObjective

    if not isinstance(objective, LikelihoodObjective):
        return None
    s = int(np.random.SeedSequence([int(seed), 15, 2]).generate_state(1)[0])
    res = objective.likelihood.evaluate(dict(values), seed=s)
    return res.value, res.stderr

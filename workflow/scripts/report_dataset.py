"""Rule report_dataset: figures of one dataset's fit - data vs the ensemble simulated at the fitted parameters
vs the ODE fit, loss per iteration, parameter traces, gradient-estimator diagnostics - and a table of the
estimates."""

import logging
import math

import numpy as np
import pandas as pd
from _common import load_problem, start_log  # workflow/scripts is on sys.path

import sbmljax
from sbmljax.data import Dataset, observables
from sbmljax.plot import plot_ensemble, plot_gradient_diagnostics, plot_loss_history, plot_parameter_traces, save_figure
from sbmljax.reference import ode

sm = snakemake  # noqa: F821
start_log(sm.log[0])


def on_grid(d: Dataset, points: int) -> Dataset:
    """The dataset's observables on a fine time grid from 0 to its last measurement (no measurements)."""
    grid = np.union1d(np.linspace(0.0, float(d.times[-1]), points), d.times)
    return Dataset(
        name=d.name,
        times=grid,
        observables=d.observables,
        values=np.full((grid.size, len(d.observables)), np.nan),
        initial=d.initial,
        params=d.params,
        source=d.source,
    )


def label_observables(axes, obs) -> None:
    """y labels naming each observable and its formula (plot_ensemble labels them as species)."""
    for a, o in zip(axes, obs, strict=False):  # a grid row may have more axes
        a.set_ylabel(f"{o.id} = {o.formula} (count)" if o.formula.strip() != o.id else f"{o.id} (count)")


try:
    cfg = sm.params.config
    problem, _ = load_problem(sm.params.spec)
    model = problem.model
    fit = sbmljax.FitResult.from_json(sm.input.fit)
    fitted = fit.params
    ode_params = fit.ode_fit["params"] if fit.ode_fit else None

    # Data vs the ensemble at the fitted parameters vs the ODE fit, one panel per observable (and dataset).
    panels = []
    for j, d in enumerate(problem.datasets):
        g = on_grid(d, int(cfg["points"]))
        traj = sbmljax.simulate(
            model,
            g.times,
            n_trajectories=int(cfg["n_trajectories"]),
            seed=int(cfg["seed"]) + j,
            params=problem.model_parameters(d, fitted),
            initial=d.initial,
        )
        h = observables(g, model)
        obs_traj = sbmljax.Trajectories(
            times=g.times,
            counts=np.asarray(h(traj.counts, problem.parameters(fitted))),
            species=d.observable_ids,
            method=traj.method,
            seed=traj.seed,
            model_id=model.id,
            time_units=model.time_units,
        )
        ode_values = ode_params if ode_params is not None else fitted
        sol = ode(model, problem.model_parameters(d, ode_values), g.times, initial=d.initial)
        ode_obs = np.asarray(h(sol.values, problem.parameters(ode_values)))
        panels.append((d, obs_traj, (g.times, ode_obs, d.observable_ids)))
        logging.info("%s: simulated %d trajectories at the fitted parameters", d.name, traj.n_trajectories)
    if len(panels) == 1:
        d, obs_traj, ode_series = panels[0]
        fig = plot_ensemble(
            obs_traj,
            ode=ode_series,
            data=d.to_dataframe(),
            sample_paths=int(cfg["sample_paths"]),
            quantiles=tuple(cfg["quantiles"]),
            title=f"{sm.wildcards.dataset}: fit vs data",
        )
        label_observables(fig.axes, d.observables)
    else:
        from matplotlib.figure import Figure

        n_obs = max(len(d.observables) for d, _, _ in panels)
        fig = Figure(figsize=(4.6 * n_obs, 3.4 * len(panels)), layout="constrained")
        axes = fig.subplots(len(panels), n_obs, squeeze=False)
        for row, (d, obs_traj, ode_series) in zip(axes, panels, strict=True):
            for a, oid in zip(row, d.observable_ids, strict=False):
                plot_ensemble(
                    obs_traj,
                    species=[oid],
                    ax=a,
                    ode=ode_series,
                    data=d.to_dataframe(),
                    sample_paths=int(cfg["sample_paths"]),
                    quantiles=tuple(cfg["quantiles"]),
                    title=f"{d.name}: {oid}",
                )
            label_observables(row, d.observables)
            for a in row[len(d.observables) :]:
                fig.delaxes(a)
        fig.suptitle(f"{sm.wildcards.dataset}: fit vs data", fontweight="bold")
    save_figure(fig, sm.output.fit)

    # The ensemble mean against the ODE at both parameter sets (first observable of each dataset): where the
    # two fits disagree, this shows whether the mean or the spread of the stochastic model makes the difference.
    from matplotlib.figure import Figure

    sets = [("stochastic fit", fitted)] + ([("ODE fit", ode_params)] if ode_params is not None else [])
    fig = Figure(figsize=(5.0 * len(sets), 3.6 * len(problem.datasets)), layout="constrained")
    axes = fig.subplots(len(problem.datasets), len(sets), squeeze=False)
    for j, (d, row) in enumerate(zip(problem.datasets, axes, strict=True)):
        g = on_grid(d, int(cfg["points"]))
        h = observables(g, model)
        oid = d.observable_ids[0]
        for a, (label, values) in zip(row, sets, strict=True):
            traj = sbmljax.simulate(
                model,
                g.times,
                n_trajectories=int(cfg["n_trajectories"]),
                seed=int(cfg["seed"]) + 100 + j,
                params=problem.model_parameters(d, values),
                initial=d.initial,
            )
            counts = np.asarray(h(traj.counts, problem.parameters(values)))
            obs_traj = sbmljax.Trajectories(
                g.times, counts, d.observable_ids, traj.method, traj.seed, model.id, model.time_units
            )
            sol = ode(model, problem.model_parameters(d, values), g.times, initial=d.initial)
            ode_series = (g.times, np.asarray(h(sol.values, problem.parameters(values))), d.observable_ids)
            plot_ensemble(
                obs_traj,
                species=[oid],
                ax=a,
                ode=ode_series,
                data=d.to_dataframe(),
                sample_paths=0,
                bands=("sd",),
                title=f"{d.name}: at the {label}",
            )
            label_observables([a], d.observables[:1])
    fig.suptitle(f"{sm.wildcards.dataset}: ensemble mean vs ODE at both parameter sets", fontweight="bold")
    save_figure(fig, sm.output.means)

    history = {"loss": fit.history["loss"]}
    stderr = np.asarray(fit.history["loss_stderr"], dtype=float)
    if np.isfinite(stderr).any():
        history["loss_stderr"] = stderr
    loss = np.asarray(fit.history["loss"], dtype=float)
    fig = plot_loss_history(history, log=bool(np.all(loss[np.isfinite(loss)] > 0)))
    fig.axes[0].set_ylabel(f"{fit.loss} loss")
    save_figure(fig, sm.output.loss)

    fig = plot_parameter_traces(fit.history["params"], ode_values=ode_params)
    save_figure(fig, sm.output.parameters)

    table = pd.read_csv(sm.input.gradients, sep="\t")
    save_figure(plot_gradient_diagnostics(table), sm.output.gradients)

    rows = []
    for p in problem.estimated:
        rows.append(
            {
                "parameter": p.id,
                "stochastic_fit": fitted[p.id],
                "stochastic_fit_mc_stderr": fit.stderr[p.id],
                "ode_fit": fit.ode_fit["params"][p.id] if ode_params is not None else math.nan,
                "ode_fit_stderr": fit.ode_fit["stderr"][p.id] if ode_params is not None else math.nan,
                "start": fit.start[p.id],
                "scale": p.scale,
                "lower": p.lower,
                "upper": p.upper,
            }
        )
    pd.DataFrame(rows).to_csv(sm.output.estimates, sep="\t", index=False, float_format="%.6g")
    logging.info(
        "fit %s (loss %s, %d iterations, converged %s)",
        fit.estimator,
        fit.loss,
        fit.iterations,
        fit.converged,
    )
except Exception:
    logging.exception("report_dataset failed")
    raise

"""Rule report_dataset: figures of one dataset's fit - data vs the ensemble simulated at the fitted parameters
(by rule simulate_fitted) vs the ODE fit, loss per iteration, parameter traces, gradient-estimator
diagnostics - and a table of the estimates."""

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import sbmljax
from sbmljax.plot import plot_ensemble, plot_gradient_diagnostics, plot_loss_history, plot_parameter_traces, save_figure
from sbmljax.workflow import load_problem, start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])


def label_observables(axes, obs) -> None:
    """y labels naming each observable and its formula (plot_ensemble labels them as species)."""
    for a, o in zip(axes, obs, strict=False):  # a grid row may have more axes
        a.set_ylabel(f"{o.id} = {o.formula} (count)" if o.formula.strip() != o.id else f"{o.id} (count)")


try:
    cfg = sm.params.config
    problem, _ = load_problem(sm.params.spec)
    fit = sbmljax.FitResult.from_json(sm.input.fit)
    fitted = fit.params
    ode_params = fit.ode_fit["params"] if fit.ode_fit else None
    folder = Path(sm.input.fitted)
    index = pd.read_csv(folder / "index.tsv", sep="\t")

    def series(row) -> tuple:
        """The ensemble (observables as species) and the ODE `(times, values, ids)` of one index row."""
        traj = sbmljax.Trajectories.from_npz(folder / row.ensemble)
        ode = pd.read_csv(folder / row.ode)
        return traj, (ode["time"].to_numpy(), ode[list(traj.species)].to_numpy(), traj.species)

    filtered = {int(r.j): pd.read_csv(folder / r.ode) for r in index[index["figure"] == "filtered"].itertuples()}
    smoothed = {int(r.j): pd.read_csv(folder / r.ode) for r in index[index["figure"] == "smoothed"].itertuples()}

    def draw_filtered(axes, d, j) -> None:
        """With a likelihood fit: the filtering distribution at the measurement times (mean, 5-95% bars) and a
        few paths drawn from the smoothing distribution (the latent path given all the data)."""
        if j not in filtered:
            return
        f = filtered[j]
        for a, oid in zip(axes, d.observable_ids, strict=False):
            if j in smoothed:
                for i, (_, path) in enumerate(smoothed[j].groupby("path")):
                    label = "smoothed paths" if i == 0 else None
                    a.plot(path["time"], path[oid], "-", lw=0.8, alpha=0.6, color="C4", label=label)
            mean = f[f"{oid}_mean"].to_numpy()
            err = np.stack([mean - f[f"{oid}_lower"].to_numpy(), f[f"{oid}_upper"].to_numpy() - mean])
            a.errorbar(f["time"], mean, yerr=err, fmt="s", ms=4, color="C2", capsize=2, label="filtered (5-95%)")
            for legend in list(a.figure.legends):  # one legend, on the axes, now with the filtered series
                legend.remove()
            a.legend(fontsize="small", loc="upper right")

    # Data vs the ensemble at the fitted parameters vs the ODE fit, one panel per observable (and dataset).
    panels = []
    for row in index[index["figure"] == "fit"].itertuples():
        d = problem.datasets[row.j]
        panels.append((d, *series(row)))
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
        draw_filtered(fig.axes, d, 0)
    else:
        n_obs = max(len(d.observables) for d, _, _ in panels)
        fig = Figure(figsize=(4.6 * n_obs, 3.4 * len(panels)), layout="constrained")
        axes = fig.subplots(len(panels), n_obs, squeeze=False)
        for j, (row, (d, obs_traj, ode_series)) in enumerate(zip(axes, panels, strict=True)):
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
            draw_filtered(row, d, j)
            for a in row[len(d.observables) :]:
                fig.delaxes(a)
        fig.suptitle(f"{sm.wildcards.dataset}: fit vs data", fontweight="bold")
    save_figure(fig, sm.output.fit)

    # The ensemble mean against the ODE at both parameter sets (first observable of each dataset): where the
    # two fits disagree, this shows whether the mean or the spread of the stochastic model makes the difference.
    labels = {"stochastic": "stochastic fit", "ode": "ODE fit"}
    means = index[index["figure"] == "mean"]
    sets = list(dict.fromkeys(means["set"]))
    fig = Figure(figsize=(5.0 * len(sets), 3.6 * len(problem.datasets)), layout="constrained")
    axes = fig.subplots(len(problem.datasets), len(sets), squeeze=False)
    for row in means.itertuples():
        d = problem.datasets[row.j]
        a = axes[row.j][sets.index(row.set)]
        obs_traj, ode_series = series(row)
        plot_ensemble(
            obs_traj,
            species=[d.observable_ids[0]],
            ax=a,
            ode=ode_series,
            data=d.to_dataframe(),
            sample_paths=0,
            bands=("sd",),
            title=f"{d.name}: at the {labels[row.set]}",
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

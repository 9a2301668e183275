"""Ensembles and ODE solutions of a fitting problem's datasets at fitted parameter values, written to a folder
(the workflow's `simulate_fitted` rule; `report_dataset` draws them).

For each dataset `j` of the problem, on a fine time grid (`points` from 0 to its last measurement, plus the
measurement times), observables only:

- `fit_<j>.npz` — the ensemble at the stochastic fit's estimates (seed `seed + j`), and `fit_<j>_ode.csv` the
  ODE at the ODE fit's estimates (at the stochastic ones without an ODE fit);
- `mean_<j>_<set>.npz` and `mean_<j>_<set>_ode.csv` — the ensemble (seed `seed + 100 + j`) and the ODE, both
  at one parameter set: `stochastic` (the stochastic fit) and, with an ODE fit, `ode`.

With a likelihood fit, `filtered_<j>.csv` holds the filtering distribution of the observables at the
measurement times (particle filter at the fitted parameters: `<id>_mean`, `<id>_lower`, `<id>_upper`, the
weighted mean and 5–95% quantiles; index figure `filtered`, file in the `ode` column), and `smoothed_<j>.csv`
`SMOOTHED_PATHS` latent paths drawn from the smoothing distribution by tracing that filter's genealogy
(`sbmljax.smoothed_paths`; columns `path`, `time` and the observables; index figure `smoothed`).

`index.tsv` lists them: `figure` (`fit` or `mean`), `j`, `dataset` (the dataset's name), `set`, `ensemble`
and `ode` (file names). Ensembles are `Trajectories.to_npz` files whose "species" are the observables.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from .._trajectory import Trajectories, atomic_write_text

INDEX = "index.tsv"

SMOOTHED_PATHS = 10
"""How many smoothed paths the report draws per dataset: a few, as pomp's `filter_traj` plots, enough to see
the spread of the latent path given all the data without hiding the data points."""


def on_grid(d, points: int):
    """The dataset's observables on a fine time grid from 0 to its last measurement (no measurements)."""
    from ..data import Dataset

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


def _observed(problem, d, g, values, n_trajectories: int, seed: int) -> tuple[Trajectories, Trajectories]:
    """The ensemble's observables on the grid `g` at `values`, and the ensemble itself (counts)."""

    from .. import simulate
    from ..data import observables

    model = problem.model
    traj = simulate(
        model,
        g.times,
        n_trajectories=n_trajectories,
        seed=seed,
        params=problem.model_parameters(d, values),
        initial=d.initial,
    )
    h = observables(g, model)
    obs = Trajectories(
        times=g.times,
        counts=np.asarray(h(traj.counts, problem.parameters(values))),
        species=d.observable_ids,
        method=traj.method,
        seed=traj.seed,
        model_id=model.id,
        time_units=model.time_units,
    )
    return obs, traj


def _ode_frame(problem, d, g, values):
    import pandas as pd

    from ..data import observables
    from ..reference import ode

    sol = ode(problem.model, problem.model_parameters(d, values), g.times, initial=d.initial)
    h = observables(g, problem.model)
    frame = pd.DataFrame(np.asarray(h(sol.values, problem.parameters(values))), columns=list(d.observable_ids))
    frame.insert(0, "time", g.times)
    return frame


def simulate_fitted(
    problem, fit, folder: str | os.PathLike, *, n_trajectories: int, points: int, seed: int
) -> list[dict]:
    """Write the ensembles and ODE solutions at `fit`'s estimates to `folder` (see the module docstring).

    **Arguments:**

    - `problem`: the `sbmljax.data.Problem` that was fitted.
    - `fit`: its `FitResult` (`FitResult.from_json`); `fit.ode_fit`, if any, gives the ODE's parameters.
    - `n_trajectories`, `points`, `seed`: ensemble size, grid size and base seed.

    **Returns:** the rows of `index.tsv`.
    """
    import pandas as pd

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fitted = fit.params
    ode_params = fit.ode_fit["params"] if fit.ode_fit else None
    ode_values = ode_params if ode_params is not None else fitted
    sets = [("stochastic", fitted)] + ([("ode", ode_params)] if ode_params is not None else [])
    rows = []
    for j, d in enumerate(problem.datasets):
        g = on_grid(d, int(points))
        obs, traj = _observed(problem, d, g, fitted, int(n_trajectories), int(seed) + j)
        obs.to_npz(folder / f"fit_{j}.npz")
        atomic_write_text(folder / f"fit_{j}_ode.csv", _ode_frame(problem, d, g, ode_values).to_csv(index=False))
        rows.append({"figure": "fit", "j": j, "dataset": d.name, "set": "stochastic", "ensemble": f"fit_{j}.npz"})
        rows[-1]["ode"] = f"fit_{j}_ode.csv"
        logging.info("%s: simulated %d trajectories at the fitted parameters", d.name, traj.n_trajectories)
        for label, values in sets:
            obs, _ = _observed(problem, d, g, values, int(n_trajectories), int(seed) + 100 + j)
            stem = f"mean_{j}_{label}"
            obs.to_npz(folder / f"{stem}.npz")
            atomic_write_text(folder / f"{stem}_ode.csv", _ode_frame(problem, d, g, values).to_csv(index=False))
            rows.append(
                {"figure": "mean", "j": j, "dataset": d.name, "set": label, "ensemble": f"{stem}.npz"}
                | {"ode": f"{stem}_ode.csv"}
            )
    if fit.loss == "likelihood":
        rows += _filtered(problem, fitted, folder, int(n_trajectories), int(seed))
    atomic_write_text(folder / INDEX, pd.DataFrame(rows).to_csv(sep="\t", index=False))
    return rows


def _filtered(problem, fitted, folder: Path, n_particles: int, seed: int) -> list[dict]:
    """`filtered_<j>.csv`: the filtering distribution of each dataset's observables at its measurement times
    (particle filter at the fitted parameters: weighted mean and 5–95% quantiles), for likelihood fits."""
    import pandas as pd

    from .._likelihood import ParticleLikelihood

    values = {**problem.fixed, **problem.nominal(), **fitted}
    pl = ParticleLikelihood(problem, problem.estimated_ids, values, n_particles=max(n_particles, 2), replicates=1)
    rows = []
    # the same seed and one replicate: the smoothed paths trace the genealogy of the very filter summarised (run
    # once: `ParticleLikelihood` keeps its last recorded run)
    smoothed = pl.smoothed(seed=seed + 200, n_paths=SMOOTHED_PATHS)
    for j, series in enumerate(pl.filtered(seed=seed + 200)):
        frame = pd.DataFrame({"time": series.times})
        for o, oid in enumerate(series.observables):
            frame[f"{oid}_mean"] = series.mean[:, o]
            frame[f"{oid}_lower"] = series.lower[:, o]
            frame[f"{oid}_upper"] = series.upper[:, o]
        atomic_write_text(folder / f"filtered_{j}.csv", frame.to_csv(index=False))
        rows.append({"figure": "filtered", "j": j, "dataset": series.dataset, "set": "stochastic"})
        rows[-1] |= {"ensemble": "", "ode": f"filtered_{j}.csv"}
        paths = smoothed[j]
        k = paths.times.size
        frame = pd.DataFrame(
            {"path": np.repeat(np.arange(SMOOTHED_PATHS), k), "time": np.tile(paths.times, SMOOTHED_PATHS)}
        )
        for o, oid in enumerate(paths.observables):
            frame[oid] = paths.values[:, :, o].reshape(-1)
        atomic_write_text(folder / f"smoothed_{j}.csv", frame.to_csv(index=False))
        rows.append({"figure": "smoothed", "j": j, "dataset": series.dataset, "set": "stochastic"})
        rows[-1] |= {"ensemble": "", "ode": f"smoothed_{j}.csv"}
    logging.info("filtering distributions and smoothed paths at the fitted parameters (%d particles)", n_particles)
    return rows

"""Figures: stochastic ensembles against the ODE and data, fit progress, gradient diagnostics.

Every function returns a `matplotlib.figure.Figure` built without `pyplot`, so nothing here needs a
display or changes the global backend; `save_figure` writes it (PNG, PDF or SVG) atomically. Inputs are
duck-typed: an ODE solution is anything with `.times`, `.values` and `.species` (or the tuple
`(times, values, species)`), data is a `pandas.DataFrame` with a `time` column (or a mapping species →
`(times, values)`), so the plots do not depend on the modules that produce them.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._plot_util import COLORS, STYLE, Values, legend_and_title, new_figure, series_from_data, series_from_ode
from ._trajectory import Trajectories, atomic_write
from .errors import ConfigError, DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ._model import Model

__all__ = [
    "plot_ensemble",
    "plot_loss_history",
    "plot_parameter_traces",
    "plot_gradient_diagnostics",
    "save_figure",
    "figure_format",
]

_BANDS = ("sd", "quantile")
_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def plot_ensemble(
    traj: Trajectories,
    *,
    species: Sequence[str] | None = None,
    model: Model | None = None,
    ode: Any = None,
    data: Any = None,
    bands: Sequence[str] = ("sd", "quantile"),
    quantiles: tuple[float, float] = (0.05, 0.95),
    sample_paths: int = 5,
    ax: Axes | None = None,
    title: str | None = None,
    stats: Any = None,
) -> Figure:
    """Plot an ensemble per species: mean, mean ± SD band, quantile band, a few sample paths.

    **Arguments:**

    - `traj`: the `Trajectories` from `simulate`.
    - `species`: species ids to plot, one axes each (default: every species).
    - `model`: the model, for the time unit on the x axis (default: the trajectories' own time unit).
    - `ode`: a deterministic solution to overlay: an object with `.times (T,)`, `.values (T, S)` and
      `.species` (ids), or a tuple `(times, values, species)`. Species it lacks are not overlaid.
    - `data`: observations to draw as points: a `pandas.DataFrame` with a `time` column and one column per
      observed species (NaN = not observed), or a mapping species → `(times, values)`.
    - `bands`: which bands to draw, any of `"sd"` (mean ± one SD, clipped at zero) and `"quantile"`. Both need at least
      two trajectories; with one, only the path is drawn.
    - `quantiles`: lower and upper quantile of the quantile band.
    - `sample_paths`: how many trajectories (the first ones) to draw as thin lines.
    - `ax`: draw into this axes instead of a new figure (only for a single species).
    - `title`: figure title (default: model id, method and ensemble size).
    - `stats`: the ensemble's statistics as a `pandas.DataFrame` in the layout of
      `Trajectories.summary_dataframe` (columns `time`, `species`, `n`, `mean`, `sd` and `q<level>` for both
      `quantiles`). The mean, the bands and the ensemble size then come from it, and `traj` only supplies the
      sample paths (its first trajectories) — so a merged ensemble too large to load can be drawn.

    **Returns:** the `Figure`.

    **Raises:** `ConfigError` for an unknown species, band or quantile; `DataError` for malformed `ode` or
    `data`.
    """
    names = tuple(traj.species) if species is None else tuple(species)
    unknown = [s for s in names if s not in traj.species]
    if unknown or not names:
        raise ConfigError(f"cannot plot species {unknown or '(none)'}; the trajectories have {', '.join(traj.species)}")
    bad = [b for b in bands if b not in _BANDS]
    if bad:
        raise ConfigError(f"unknown band(s) {bad}; choose from {', '.join(_BANDS)}")
    lo, hi = (float(q) for q in quantiles)
    if not 0.0 <= lo < hi <= 1.0:
        raise ConfigError(f"quantiles must satisfy 0 <= low < high <= 1, got {quantiles}")
    if sample_paths < 0:
        raise ConfigError(f"sample_paths must be non-negative, got {sample_paths}")
    if ax is not None and len(names) != 1:
        raise ConfigError(f"ax= draws one species, but {len(names)} were selected; pass species=[...] with one id")
    ode_series = series_from_ode(ode) if ode is not None else {}
    data_series = series_from_data(data) if data is not None else {}
    time_units = model.time_units if model is not None else traj.time_units
    if stats is None:
        n = traj.n_trajectories
        mean, sd = traj.mean(), traj.std()
    else:
        n, mean, sd, q_stats = _from_stats(stats, traj, (lo, hi))
    band_ok = n >= 2  # one path has no spread: an SD or quantile band would be empty

    fig, axes = new_figure(len(names), ax=ax)
    t = traj.times
    q = None
    if band_ok and "quantile" in bands:
        q = traj.quantile(np.array([lo, hi])) if stats is None else q_stats
    with STYLE():
        for a, sid in zip(axes, names):
            j = traj.species.index(sid)
            for i in range(min(sample_paths, traj.n_trajectories)):
                a.plot(
                    t,
                    traj.counts[i, :, j],
                    color=COLORS["path"],
                    lw=0.7,
                    alpha=0.6,
                    zorder=2,
                    label="sample paths" if i == 0 else "_nolegend_",
                )
            if q is not None:
                a.fill_between(
                    t,
                    q[0, :, j],
                    q[1, :, j],
                    color=COLORS["quantile"],
                    lw=0,
                    zorder=1,
                    label=f"{lo:.0%}–{hi:.0%} quantiles",
                )
            if band_ok and "sd" in bands:
                # Counts are non-negative; mean − SD below zero is drawn clipped rather than implying negatives.
                low = np.maximum(mean[:, j] - sd[:, j], 0.0)
                a.fill_between(
                    t, low, mean[:, j] + sd[:, j], color=COLORS["sd"], alpha=0.55, lw=0, zorder=1.5, label="mean ± SD"
                )
            a.plot(t, mean[:, j], color=COLORS["mean"], lw=2.0, zorder=3, label="mean" if n > 1 else "path")
            if sid in ode_series:
                a.plot(*ode_series[sid], color=COLORS["ode"], lw=1.6, ls="--", zorder=4, label="ODE")
            if sid in data_series:
                a.plot(
                    *data_series[sid],
                    ls="none",
                    marker="o",
                    ms=4.5,
                    mfc=COLORS["data"],
                    mec="white",
                    mew=0.6,
                    label="data",
                    zorder=5,
                )
            a.set_xlabel(f"time ({time_units})" if time_units else "time")
            a.set_ylabel(f"{sid} (molecules)")
            if len(names) > 1 or (ax is not None and title is not None):
                a.set_title(sid if ax is None or title is None else title)
            a.margins(x=0.01)
        if title is None:
            what = f"{n} trajectories" if n != 1 else "1 trajectory"
            title = f"{traj.model_id or 'model'}: {traj.method}, {what}"
        legend_and_title(fig, axes, title, own_figure=ax is None)
    return fig


def _from_stats(stats, traj: Trajectories, quantiles: tuple[float, float]):
    """`(n, mean, sd, quantiles)` as `(T, S)` arrays (quantiles `(2, T, S)`) from a summary table."""
    columns = ["mean", "sd", *(f"q{q:g}" for q in quantiles)]
    missing = [c for c in ["time", "species", "n", *columns] if c not in stats.columns]
    if missing:
        raise DataError(f"stats has no column(s) {missing}; it needs time, species, n, {', '.join(columns)}")
    out = np.empty((len(columns), traj.times.size, len(traj.species)))
    for j, sid in enumerate(traj.species):
        rows = stats[stats["species"] == sid]
        if not np.array_equal(rows["time"].to_numpy(dtype=float), traj.times):
            raise DataError(f"stats of species {sid!r} are not at the trajectories' times")
        out[:, :, j] = rows[columns].to_numpy(dtype=float).T
    return int(stats["n"].iloc[0]), out[0], out[1], out[2:]


def plot_loss_history(history: Values | Mapping[str, Values], *, ax: Axes | None = None, log: bool = True) -> Figure:
    """Plot the loss per iteration, with a ± standard-error band when one is given.

    **Arguments:**

    - `history`: losses per iteration, or a mapping with key `loss` and optionally `loss_stderr` (the
      Monte Carlo standard error of each loss estimate).
    - `ax`: draw into this axes instead of a new figure.
    - `log`: logarithmic loss axis (needs positive losses).

    **Returns:** the `Figure`.

    **Raises:** `DataError` for an empty or non-finite history, or non-positive losses with `log=True`.
    """
    if isinstance(history, Mapping):
        if "loss" not in history:
            raise DataError(f"loss history mapping needs a 'loss' key; it has {sorted(history)}")
        loss = np.asarray(history["loss"], dtype=float).reshape(-1)
        err = history.get("loss_stderr")
        stderr = None if err is None else np.asarray([np.nan if e is None else e for e in err], dtype=float).reshape(-1)
        if stderr is not None and not np.any(np.isfinite(stderr)):
            stderr = None  # losses estimated from a pilot carry no standard error: no empty band
    else:
        loss, stderr = np.asarray(history, dtype=float).reshape(-1), None
    if loss.size == 0:
        raise DataError("the loss history is empty")
    if stderr is not None and stderr.shape != loss.shape:
        raise DataError(f"loss_stderr has {stderr.size} values for {loss.size} losses")
    if log and np.any(loss[np.isfinite(loss)] <= 0):
        raise DataError("the loss history has non-positive values, which a log axis cannot show; pass log=False")
    it = np.arange(loss.size)
    fig, (a,) = new_figure(1, ax=ax, size=(5.5, 3.6))
    with STYLE():
        if stderr is not None:
            lower = loss - stderr
            if log:  # a band reaching zero or below cannot be drawn on a log axis; clip it at the axis floor
                lower = np.where(lower > 0, lower, np.nanmin(loss[loss > 0]) * 1e-3)
            a.fill_between(it, lower, loss + stderr, color=COLORS["sd"], alpha=0.5, lw=0, label="± standard error")
        a.plot(it, loss, color=COLORS["mean"], lw=1.8, marker="o" if loss.size <= 30 else None, ms=3, label="loss")
        if log:
            a.set_yscale("log")
        a.set_xlabel("iteration")
        a.set_ylabel("loss")
        a.margins(x=0.01)
        legend_and_title(fig, [a], "Loss per iteration", own_figure=ax is None)
    return fig


def plot_parameter_traces(
    traces: Mapping[str, Values],
    *,
    true_values: Mapping[str, float] | None = None,
    ode_values: Mapping[str, float] | None = None,
) -> Figure:
    """Plot each parameter's value per iteration, with reference lines for the true and ODE-fit values.

    **Arguments:**

    - `traces`: parameter name → its value at each iteration.
    - `true_values`: parameter name → the value that generated the data (drawn where given).
    - `ode_values`: parameter name → the value a deterministic (ODE) fit found (drawn where given).

    **Returns:** the `Figure`, one axes per parameter.

    **Raises:** `DataError` for no parameters or an empty trace.
    """
    if not traces:
        raise DataError("no parameter traces to plot")
    names = list(traces)
    fig, axes = new_figure(len(names), size=(3.9, 2.8))
    with STYLE():
        for a, name in zip(axes, names):
            values = np.asarray(traces[name], dtype=float).reshape(-1)
            if values.size == 0:
                raise DataError(f"the trace of parameter '{name}' is empty")
            a.plot(np.arange(values.size), values, color=COLORS["mean"], lw=1.8, label="estimate")
            if true_values and name in true_values:
                a.axhline(float(true_values[name]), color=COLORS["true"], lw=1.5, ls="--", label="true value")
            if ode_values and name in ode_values:
                a.axhline(float(ode_values[name]), color=COLORS["ode"], lw=1.5, ls=":", label="ODE fit")
            a.set_title(name)
            a.set_xlabel("iteration")
            a.set_ylabel(name)
            a.margins(x=0.01)
        legend_and_title(fig, axes, "Parameter estimates", own_figure=True)
    return fig


def plot_gradient_diagnostics(table) -> Figure:
    """Bar chart of gradient estimates ± standard error, per estimator, one axes per parameter.

    **Arguments:**

    - `table`: a `pandas.DataFrame` with columns `estimator`, `parameter`, `grad`, `stderr`, and optionally
      `reference` (e.g. a finite-difference or analytic gradient), drawn as a black marker.

    **Returns:** the `Figure`.

    **Raises:** `DataError` for missing columns or an empty table.
    """
    need = ["estimator", "parameter", "grad", "stderr"]
    missing = [c for c in need if c not in getattr(table, "columns", [])]
    if missing:
        raise DataError(f"gradient table lacks column(s) {missing}; it needs {need} (and optionally 'reference')")
    if len(table) == 0:
        raise DataError("the gradient table is empty")
    estimators = list(dict.fromkeys(table["estimator"]))
    params = list(dict.fromkeys(table["parameter"]))
    colors = {e: COLORS["cycle"][i % len(COLORS["cycle"])] for i, e in enumerate(estimators)}
    has_ref = "reference" in table.columns and table["reference"].notna().any()
    fig, axes = new_figure(len(params), size=(max(3.2, 1.1 * len(estimators) + 1.4), 3.2))
    with STYLE():
        for a, p in zip(axes, params):
            rows = table[table["parameter"] == p]
            for x, e in enumerate(estimators):
                r = rows[rows["estimator"] == e]
                if r.empty:
                    continue
                g, se = float(r["grad"].iloc[0]), float(r["stderr"].iloc[0])
                # Estimators are named on the x axis, so only the reference marker needs a legend entry.
                a.bar(
                    x,
                    g,
                    0.7,
                    yerr=se if math.isfinite(se) else None,
                    color=colors[e],
                    capsize=4,
                    error_kw={"lw": 1.2, "ecolor": "0.25"},
                    label="_nolegend_",
                )
                if has_ref and math.isfinite(float(r["reference"].iloc[0])):
                    a.plot(
                        [x],
                        [float(r["reference"].iloc[0])],
                        ls="none",
                        marker="D",
                        ms=7,
                        mfc="black",
                        mec="white",
                        label="reference",
                        zorder=5,
                    )
            a.axhline(0.0, color="0.3", lw=0.8)
            a.set_xticks(
                range(len(estimators)),
                estimators,
                rotation=30 if len(estimators) > 3 else 0,
                ha="right" if len(estimators) > 3 else "center",
            )
            a.set_title(f"∂loss/∂{p}")
            a.set_ylabel("gradient")
        legend_and_title(fig, axes, "Gradient estimates ± standard error", own_figure=True)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 150) -> None:
    """Write a figure to `.png`, `.pdf` or `.svg` atomically (temporary file + rename), then close it.

    **Arguments:**

    - `fig`: the figure (from any function here, or any matplotlib figure).
    - `path`: output file; its extension chooses the format. Missing folders are created.
    - `dpi`: resolution of raster output.

    **Returns:** nothing.

    **Raises:** `ConfigError` for another extension; `OSError` if the file cannot be written (no partial
    file is left behind).
    """
    fmt = figure_format(Path(path))
    try:
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi), binary=True)
    finally:
        # Release the figure: pyplot keeps a reference to figures it manages (ours are not managed by it).
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close(fig)


def figure_format(path: str | os.PathLike) -> str:
    """The figure format `save_figure` will write for `path`: `"png"`, `"pdf"` or `"svg"`.

    **Arguments:**

    - `path`: the output file name.

    **Returns:** the format name.

    **Raises:** `ConfigError` for any other extension (so a command can refuse before doing the work).
    """
    suffix = Path(path).suffix
    fmt = _FORMATS.get(suffix.lower())
    if fmt is None:
        raise ConfigError(f"{path}: cannot tell the figure format from '{suffix}'; use .png, .pdf or .svg")
    return fmt

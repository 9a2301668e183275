"""Helpers of `sbmljax.plot`: the house style, figure grids, and reading duck-typed ODE and data inputs."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

Values = Sequence[float] | np.ndarray
"""A series of numbers: a list, tuple or numpy array."""

COLORS = {
    "mean": "#1f4e79",
    "sd": "#6fa8dc",
    "quantile": "#cfe2f3",
    "path": "#595959",
    "ode": "#c0392b",
    "data": "#e67e22",
    "true": "#27ae60",
    "cycle": ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"],
}

_RC: dict[RcKeyType, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
}


@contextlib.contextmanager
def STYLE() -> Iterator[None]:
    """The house style, scoped: artists created inside take it; the caller's rcParams are left alone."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        yield


def new_figure(n: int, *, ax: Axes | None = None, size: tuple[float, float] = (4.3, 3.1)) -> tuple[Figure, list[Axes]]:
    """A constrained-layout figure with `n` axes in a grid of up to 3 (4 beyond 9 panels) columns.

    With `ax` given, draw there instead: its figure and `[ax]`. The figure is not registered with `pyplot`,
    so no display is needed and nothing accumulates in pyplot's figure list.
    """
    if ax is not None:
        return ax.figure, [ax]  # type: ignore[return-value]
    from matplotlib.figure import Figure

    ncols = min(n, 3 if n <= 9 else 4)
    nrows = math.ceil(n / ncols)
    # Room for the figure legend: below a grid, to the right of a single panel.
    width = size[0] * ncols + (0.0 if n > 1 else 1.9)
    height = size[1] * nrows + 0.5 + (0.45 if n > 1 else 0.0)
    with STYLE():
        fig = Figure(figsize=(width, height), layout="constrained")
        grid = fig.subplots(nrows, ncols, squeeze=False)
        axes = list(grid.ravel())
        for extra in axes[n:]:
            fig.delaxes(extra)
    return fig, axes[:n]


def _pair(times, values, what: str) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(times, dtype=float).reshape(-1)
    v = np.asarray(values, dtype=float).reshape(-1)
    if t.shape != v.shape:
        raise DataError(f"{what}: {t.size} times but {v.size} values")
    keep = np.isfinite(t) & np.isfinite(v)  # NaN marks "not observed"
    return t[keep], v[keep]


def series_from_ode(ode: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Species → `(times, values)` from an ODE solution object (`.times`, `.values`, `.species`) or tuple."""
    if isinstance(ode, tuple) and len(ode) == 3:
        times, values, species = ode
    elif all(hasattr(ode, a) for a in ("times", "values", "species")):
        times, values, species = ode.times, ode.values, ode.species
    else:
        raise DataError("ode must have .times, .values and .species, or be a tuple (times, values, species)")
    t = np.asarray(times, dtype=float).reshape(-1)
    v = np.asarray(values, dtype=float)
    species = tuple(species)
    if v.ndim == 1 and len(species) == 1:
        v = v[:, None]
    if v.shape != (t.size, len(species)):
        raise DataError(f"ode values have shape {v.shape}; expected (times, species) = ({t.size}, {len(species)})")
    return {s: (t, v[:, j]) for j, s in enumerate(species)}


def series_from_data(data: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Species → observed `(times, values)` (NaN dropped) from a DataFrame with `time`, or a mapping."""
    if hasattr(data, "columns"):
        if "time" not in data.columns:
            raise DataError(f"data needs a 'time' column; it has {list(data.columns)}")
        return {str(c): _pair(data["time"], data[c], f"data column '{c}'") for c in data.columns if c != "time"}
    if isinstance(data, Mapping):
        out = {}
        for s, pair in data.items():
            try:
                times, values = pair
            except (TypeError, ValueError):
                raise DataError(f"data for '{s}' must be a pair (times, values)") from None
            out[str(s)] = _pair(times, values, f"data for '{s}'")
        return out
    raise DataError("data must be a pandas DataFrame with a 'time' column, or a mapping species -> (times, values)")


def legend_and_title(fig: Figure, axes: Sequence[Axes], title: str, *, own_figure: bool) -> None:
    """One legend for the figure (entries from every axes, deduplicated) and the title.

    On a caller's axes the legend and title go on that axes, not on a figure we do not own.
    """
    handles, labels = {}, []
    for a in axes:
        for h, lab in zip(*a.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = h
                labels.append(lab)
    if not own_figure:
        if labels:
            axes[0].legend([handles[k] for k in labels], labels, loc="best")
        return
    if len(axes) == 1:  # a figure title would collide with the legend on the right
        axes[0].set_title(title, fontsize=12, fontweight="bold")
    else:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    if not labels:
        return
    # Outside the panels, where it cannot cover data or collide with the title.
    if len(axes) == 1:
        fig.legend([handles[k] for k in labels], labels, loc="outside right upper")
    else:
        fig.legend([handles[k] for k in labels], labels, loc="outside lower center", ncols=min(len(labels), 6))

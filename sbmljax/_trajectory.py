"""`Trajectories`: an ensemble of simulated paths recorded at fixed output times."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np


def atomic_write(path: str | os.PathLike, write: Callable[[IO], object], *, binary: bool = False) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`, so a failure leaves
    no partial file (missing folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (see `atomic_write`)."""
    atomic_write(path, lambda f: f.write(text))


@dataclasses.dataclass(frozen=True)
class Trajectories:
    """Molecule counts of `n` trajectories at the output times.

    **Attributes:**

    - `times`: `(T,)` output times (float64), in the model's time unit (`time_units`).
    - `counts`: `(N, T, S)` molecule counts (float64 holding integers for exact methods).
    - `species`: the `S` species ids, in the order of the last axis (every species of the model).
    - `method`, `seed`, `model_id`, `time_units`: provenance.
    - `notes`: anything the run adjusted that a user should know (e.g. rounded initial counts).
    - `n_events`: `(N,)` reaction firings per trajectory (a leap counts all the firings it makes), or `None`.
    """

    times: np.ndarray
    counts: np.ndarray
    species: tuple[str, ...]
    method: str
    seed: int
    model_id: str = ""
    time_units: str = ""
    notes: tuple[str, ...] = ()
    n_events: np.ndarray | None = dataclasses.field(default=None, repr=False)

    @property
    def n_trajectories(self) -> int:
        """Number of trajectories `N`."""
        return int(self.counts.shape[0])

    def __getitem__(self, species: str) -> np.ndarray:
        """`(N, T)` counts of one species."""
        try:
            return self.counts[:, :, self.species.index(species)]
        except ValueError:
            raise KeyError(f"no species {species!r}; species are {', '.join(self.species)}") from None

    def mean(self) -> np.ndarray:
        """`(T, S)` ensemble mean."""
        return self.counts.mean(axis=0)

    def std(self, ddof: int = 1) -> np.ndarray:
        """`(T, S)` ensemble standard deviation (`ddof=1`: the unbiased variance's square root)."""
        if self.n_trajectories <= ddof:
            return np.full(self.counts.shape[1:], np.nan)
        return self.counts.std(axis=0, ddof=ddof)

    def quantile(self, q: float | np.ndarray) -> np.ndarray:
        """Ensemble quantile(s) per time and species: `(T, S)`, or `(Q, T, S)` for several `q`."""
        return np.quantile(self.counts, q, axis=0)

    def to_dataframe(self):
        """A `pandas.DataFrame` with columns `trajectory`, `time` and one per species (long in time)."""
        import pandas as pd

        n, t, s = self.counts.shape
        frame = pd.DataFrame(self.counts.reshape(n * t, s), columns=list(self.species))
        frame.insert(0, "time", np.tile(self.times, n))
        frame.insert(0, "trajectory", np.repeat(np.arange(n), t))
        return frame

    def summary_dataframe(self, quantiles: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)):
        """Per time and species: mean, SD and quantiles, as a long `pandas.DataFrame`."""
        import pandas as pd

        mean, sd = self.mean(), self.std()
        qs = self.quantile(np.asarray(quantiles))
        rows = {
            "time": np.repeat(self.times, len(self.species)),
            "species": np.tile(np.asarray(self.species, dtype=object), len(self.times)),
            "mean": mean.ravel(),
            "sd": sd.ravel(),
        }
        for q, values in zip(quantiles, qs):
            rows[f"q{q:g}"] = values.ravel()
        frame = pd.DataFrame(rows)
        frame.insert(2, "n", self.n_trajectories)
        return frame

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write `to_dataframe()` as CSV, atomically (no partial file on failure)."""
        atomic_write_text(path, self.to_dataframe().to_csv(index=False))

    def __repr__(self) -> str:
        n, t, s = self.counts.shape
        return (
            f"Trajectories(model={self.model_id!r}, method={self.method!r}, n={n}, times={t} "
            f"[{self.times[0]:g}..{self.times[-1]:g}], species={list(self.species)})"
        )

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
      Not SBML `<event>`s: those are `Model.events`.
    - `first_trajectory`: the index of the first trajectory (a seed-chunk of a larger ensemble starts later).
    - `status`: `(N,)` how each trajectory ended, as `RESULTS` names: `"successful"`, `"bad_propensity"`,
      `"negative_count"`, `"max_steps_reached"`, … Only `simulate(..., throw=False)` returns failed ones;
      a failed trajectory's counts are NaN from the first output time it did not reach.
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
    status: np.ndarray | None = dataclasses.field(default=None, repr=False)
    first_trajectory: int = 0

    @property
    def ok(self) -> np.ndarray:
        """`(N,)` whether each trajectory ran to the last output time (all `True` without `status`)."""
        if self.status is None:
            return np.ones(self.n_trajectories, dtype=bool)
        return np.asarray(self.status == "successful", dtype=bool)

    def successful(self) -> Trajectories:
        """The trajectories that ran to the last output time (all of them unless `throw=False` kept failures)."""
        keep = self.ok
        return dataclasses.replace(
            self,
            counts=self.counts[keep],
            n_events=None if self.n_events is None else self.n_events[keep],
            status=None if self.status is None else self.status[keep],
        )

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

    def to_npz(self, path: str | os.PathLike) -> None:
        """Write everything to a compressed `.npz`, atomically; `from_npz` reads it back. One layout serves
        the workflow's seed-chunks, merged ensembles and reports."""
        arrays: dict[str, np.ndarray] = {
            "layout": np.asarray("sbmljax.Trajectories/1"),
            "times": np.asarray(self.times, dtype=np.float64),
            "counts": np.asarray(self.counts),
            "species": np.asarray(self.species, dtype=str),
            "method": np.asarray(self.method),
            "seed": np.asarray(self.seed),
            "model_id": np.asarray(self.model_id),
            "time_units": np.asarray(self.time_units),
            "notes": np.asarray(self.notes, dtype=str),
            "first_trajectory": np.asarray(self.first_trajectory),
        }
        if self.n_events is not None:
            arrays["n_events"] = np.asarray(self.n_events)
        if self.status is not None:
            arrays["status"] = np.asarray(self.status, dtype=str)
        # The ignore: numpy's stub types `**kwds` after `allow_pickle: bool`, so mypy matches a `**dict` against it.
        atomic_write(path, lambda f: np.savez_compressed(f, **arrays), binary=True)  # type: ignore[arg-type]

    @classmethod
    def from_npz(cls, path: str | os.PathLike) -> Trajectories:
        """Read a file written by `to_npz`. **Raises:** `DataError` for a file of another layout."""
        from .errors import DataError

        with np.load(path, allow_pickle=False) as d:
            if "layout" not in d or str(d["layout"]) != "sbmljax.Trajectories/1":
                raise DataError(f"{path}: not a file written by Trajectories.to_npz")
            return cls(
                times=d["times"],
                counts=d["counts"],
                species=tuple(str(s) for s in d["species"]),
                method=str(d["method"]),
                seed=int(d["seed"]),
                model_id=str(d["model_id"]),
                time_units=str(d["time_units"]),
                notes=tuple(str(n) for n in d["notes"]),
                n_events=d["n_events"] if "n_events" in d else None,
                status=d["status"].astype(object) if "status" in d else None,
                first_trajectory=int(d["first_trajectory"]),
            )

    @classmethod
    def concatenate(cls, parts: list[Trajectories]) -> Trajectories:
        """Seed-chunks of one ensemble (in any order) as one: they must tile it without gaps or overlaps and
        share times, species, method and seed. **Raises:** `DataError` naming the first mismatch."""
        from .errors import DataError

        if not parts:
            raise DataError("no trajectories to concatenate")
        parts = sorted(parts, key=lambda p: p.first_trajectory)
        head, expected = parts[0], parts[0].first_trajectory
        for p in parts:
            if p.first_trajectory != expected:
                raise DataError(
                    f"the chunks do not tile the ensemble: a chunk starts at trajectory {p.first_trajectory}, "
                    f"expected {expected}"
                )
            same = (p.species, p.method, p.seed) == (head.species, head.method, head.seed)
            if not same or not np.array_equal(p.times, head.times):
                raise DataError(
                    f"the chunk starting at trajectory {p.first_trajectory} has other times, species, method or seed"
                )
            expected += p.n_trajectories

        def join(field: str):
            values = [getattr(p, field) for p in parts]
            return None if any(v is None for v in values) else np.concatenate(values)

        return dataclasses.replace(
            head,
            counts=np.concatenate([p.counts for p in parts]),
            notes=tuple(dict.fromkeys(n for p in parts for n in p.notes)),
            n_events=join("n_events"),
            status=join("status"),
        )

    def __repr__(self) -> str:
        n, t, s = self.counts.shape
        return (
            f"Trajectories(model={self.model_id!r}, method={self.method!r}, n={n}, times={t} "
            f"[{self.times[0]:g}..{self.times[-1]:g}], species={list(self.species)})"
        )

"""`Dataset`: one experiment's measurements, and its quick CSV form.

A dataset is one realisation of the experiment — one trajectory of the stochastic process — observed at
strictly increasing times; replicates of an experiment are separate datasets. It carries what is needed to
simulate it (condition overrides of parameters and initial counts) and to compare with it (observable and
noise formulas), so the ODE fit and the stochastic losses read the same object.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .._model import Model
from ..errors import DataError
from ._formula import Observable, species_observable

MISSING = frozenset({"", "nan", "na", "n/a"})
"""Cell texts (case-insensitive) read as a missing measurement."""


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """One experiment: measured observables at strictly increasing times.

    **Attributes:**

    - `name`: a label (the PEtab condition id, or the CSV file name).
    - `times`: `(T,)` observation times (float64, strictly increasing, ≥ 0), in the model's time unit.
    - `observables`: the `O` observables (`Observable`: id, formula, noise formula).
    - `values`: `(T, O)` measured values; NaN where an observable was not measured at a time.
    - `noise_parameters`: `(T, O, K)` numeric values of the `noiseParameter{k}_{id}` placeholders of the noise
      formulas (PEtab's per-measurement `noiseParameters`), NaN where not given; `K` may be 0.
    - `initial`: species id → initial molecule count overriding the model's (the experimental condition).
    - `params`: parameter id → value overriding the model's for this experiment.
    - `source`: the file it came from, for messages.
    """

    name: str
    times: np.ndarray
    observables: tuple[Observable, ...]
    values: np.ndarray
    noise_parameters: np.ndarray | None = None
    initial: Mapping[str, float] = dataclasses.field(default_factory=dict)
    params: Mapping[str, float] = dataclasses.field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        values = np.asarray(self.values, dtype=np.float64)
        obs = tuple(self.observables)
        where = self.source or self.name
        if values.shape != (times.size, len(obs)):
            raise DataError(
                f"{where}: values have shape {values.shape}, expected (times, observables) = {(times.size, len(obs))}"
            )
        if not np.all(np.isfinite(times)) or np.any(times < 0):
            raise DataError(f"{where}: times must be finite and ≥ 0")
        if np.any(np.diff(times) <= 0):
            raise DataError(f"{where}: times must be strictly increasing (replicates are separate datasets)")
        if np.any(np.isinf(values)):
            raise DataError(f"{where}: measured values must be finite or NaN (missing)")
        ids = [o.id for o in obs]
        if len(set(ids)) != len(ids):
            raise DataError(f"{where}: observable ids repeat: {ids}")
        npar = self.noise_parameters
        npar = np.zeros((times.size, len(obs), 0)) if npar is None else np.asarray(npar, dtype=np.float64)
        if npar.ndim != 3 or npar.shape[:2] != values.shape:
            raise DataError(f"{where}: noise_parameters must have shape (times, observables, K), got {npar.shape}")
        for a in (times, values, npar):
            a.setflags(write=False)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "noise_parameters", npar)
        object.__setattr__(self, "observables", obs)
        # Plain dicts (copied), not mapping proxies: datasets must pickle to reach worker processes.
        object.__setattr__(self, "initial", {k: float(v) for k, v in self.initial.items()})
        object.__setattr__(self, "params", {k: float(v) for k, v in self.params.items()})

    def __repr__(self) -> str:
        span = f"{self.times[0]:g}..{self.times[-1]:g}" if self.times.size else "none"
        return (
            f"Dataset({self.name!r}, times={self.times.size} [{span}], observables={list(self.observable_ids)}, "
            f"measured={self.n_measurements}, initial={dict(self.initial)}, params={dict(self.params)})"
        )

    @property
    def observable_ids(self) -> tuple[str, ...]:
        """The observable ids, in the order of the last axis of `values`."""
        return tuple(o.id for o in self.observables)

    @property
    def n_measurements(self) -> int:
        """Number of measured (non-NaN) values."""
        return int(np.count_nonzero(~np.isnan(self.values)))

    def to_dataframe(self):
        """A `pandas.DataFrame`: `time` and one column per observable (NaN = not measured)."""
        import pandas as pd

        frame = pd.DataFrame(self.values, columns=list(self.observable_ids))
        frame.insert(0, "time", self.times)
        return frame

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        model: Model,
        *,
        observables: Mapping[str, str] | Sequence[Observable] | None = None,
        noise_sd: float | None = None,
        name: str | None = None,
        initial: Mapping[str, float] | None = None,
        params: Mapping[str, float] | None = None,
    ) -> Dataset:
        """Read the quick form: a CSV with a `time` column and one column per observed quantity.

        Without `observables`, every other column is a species id of `model` and measures that species'
        molecule count. Empty, `NaN` or `NA` cells are missing measurements.

        **Arguments:**

        - `path`: the CSV file.
        - `model`: the model the data belong to (to check the column names).
        - `observables`: column name → formula (e.g. `{"total": "S + I"}`), or `Observable`s; columns are then
          observable ids, or species ids of the model.
        - `noise_sd`: one known noise standard deviation for every value given as a number; `None` (default):
          the noise is unknown (the ODE fit estimates a common variance from the residuals).
        - `name`: the dataset name (default: the file name without suffix).
        - `initial`, `params`: condition overrides (species id → molecule count, parameter id → value).

        **Returns:** the `Dataset`.

        **Raises:** `DataError` naming the file, and the row and column where there is one: missing file, no
        `time` column, unknown or repeated column, non-numeric cell, negative or unsorted times.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such file")
        declared: dict[str, Observable] = {}
        if isinstance(observables, Mapping):
            for oid, formula in observables.items():
                declared[oid] = Observable.parse(oid, formula, noise_sd, where=str(path))
        elif observables is not None:
            declared = {o.id: o for o in observables}
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        rows = [r for r in rows if any(c.strip() for c in r)]
        if not rows:
            raise DataError(f"{path}: the file is empty")
        header = [c.strip() for c in rows[0]]
        if "time" not in header:
            raise DataError(f"{path}: no 'time' column (columns are: {', '.join(header)})")
        seen: set[str] = set()
        for col in header:
            if col in seen:
                raise DataError(f"{path}: column '{col}' appears twice")
            seen.add(col)
            if col != "time" and col not in declared and col not in model.species_ids:
                known = ", ".join(declared) or ", ".join(model.species_ids)
                raise DataError(
                    f"{path}: column '{col}' is not a species of model '{model.id}' or a declared observable (known: {known})"
                )
        if len(rows) < 2:
            raise DataError(f"{path}: no data rows")
        table = np.full((len(rows) - 1, len(header)), np.nan)
        for r, row in enumerate(rows[1:], start=1):
            if len(row) != len(header):
                raise DataError(f"{path}: row {r} (line {r + 1}) has {len(row)} cells, the header has {len(header)}")
            for c, cell in enumerate(row):
                text = cell.strip()
                if text.lower() in MISSING and header[c] != "time":
                    continue
                try:
                    v = float(text)
                except ValueError:
                    raise DataError(
                        f"{path}: row {r} (line {r + 1}), column '{header[c]}': {text!r} is not a number"
                    ) from None
                if not math.isfinite(v):
                    raise DataError(f"{path}: row {r} (line {r + 1}), column '{header[c]}': {text!r} is not finite")
                table[r - 1, c] = v
        ti = header.index("time")
        times = table[:, ti]
        for r in range(len(times)):
            if times[r] < 0:
                raise DataError(f"{path}: row {r + 1} (line {r + 2}), column 'time': negative time {times[r]:g}")
            if r and times[r] <= times[r - 1]:
                raise DataError(
                    f"{path}: row {r + 1} (line {r + 2}), column 'time': times must be strictly increasing "
                    f"({times[r]:g} after {times[r - 1]:g})"
                )
        cols = [c for c in range(len(header)) if c != ti]
        obs = tuple(declared.get(header[c]) or species_observable(header[c], noise_sd) for c in cols)
        return cls(
            name=name or path.stem,
            times=times,
            observables=obs,
            values=table[:, cols],
            initial=dict(initial or {}),
            params=dict(params or {}),
            source=str(path),
        )

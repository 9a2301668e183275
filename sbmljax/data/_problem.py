"""`Problem`: a parameter-estimation problem — model, datasets, estimated and fixed parameters.

It is sbmljax's internal form of a PEtab problem (`load_petab`) or of a quick CSV one
(`problem_from_csv`); the ODE fit and the stochastic fits read it. Parameter values are on the linear
scale everywhere except where a name says `scaled`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from .._model import Model
from ..errors import DataError, ParameterError
from ._dataset import Dataset
from ._observables import check_symbols

Scale = Literal["lin", "log", "log10"]
SCALES: tuple[str, ...] = ("lin", "log", "log10")


@dataclasses.dataclass(frozen=True)
class EstimatedParameter:
    """A parameter to estimate, with PEtab's meaning.

    **Attributes:**

    - `id`: the parameter id (a model parameter, or a parameter of an observable or noise formula).
    - `nominal`: its nominal value, the default start of a fit (linear scale; NaN if none).
    - `lower`, `upper`: bounds (linear scale).
    - `scale`: the scale it is estimated on: `"lin"`, `"log"` (natural) or `"log10"`.
    """

    id: str
    nominal: float
    lower: float
    upper: float
    scale: Scale = "lin"

    @classmethod
    def around(cls, name: str, value: float) -> EstimatedParameter:
        """The default for a parameter given only a start value: bounds three decades either side, estimated
        on a log10 scale (so steps are relative). **Raises:** `ParameterError` for a start that is not
        positive (give explicit bounds then)."""
        v = float(value)
        if not v > 0:
            raise ParameterError(
                f"free parameter '{name}' starts at {v:g}; give (value, lower, upper) for a non-positive start"
            )
        return cls(name, v, v / 1000.0, v * 1000.0, "log10")

    def __post_init__(self):
        if self.scale not in SCALES:
            raise ParameterError(f"parameter '{self.id}': scale {self.scale!r} is not one of {', '.join(SCALES)}")
        lo, hi, nom = float(self.lower), float(self.upper), float(self.nominal)
        if math.isnan(lo) or math.isnan(hi) or not lo < hi:
            raise ParameterError(f"parameter '{self.id}': bounds [{lo:g}, {hi:g}] must be numbers with lower < upper")
        if self.scale != "lin" and lo <= 0:
            raise ParameterError(
                f"parameter '{self.id}': a {self.scale} scale needs a positive lower bound, got {lo:g}"
            )
        if not math.isnan(nom) and not lo <= nom <= hi:
            raise ParameterError(f"parameter '{self.id}': nominal value {nom:g} is outside its bounds [{lo:g}, {hi:g}]")
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        object.__setattr__(self, "nominal", nom)

    def to_scale(self, value: float) -> float:
        """A linear value on this parameter's scale."""
        return {"lin": lambda v: v, "log": math.log, "log10": math.log10}[self.scale](float(value))

    def from_scale(self, scaled: float) -> float:
        """A value on this parameter's scale back on the linear scale."""
        return {"lin": lambda v: v, "log": math.exp, "log10": lambda v: 10.0**v}[self.scale](float(scaled))

    def dlinear_dscaled(self, scaled: float) -> float:
        """`d value / d scaled` at `scaled` (for the delta method)."""
        v = self.from_scale(scaled)
        return {"lin": 1.0, "log": v, "log10": v * math.log(10.0)}[self.scale]


@dataclasses.dataclass(frozen=True, eq=False)
class Problem:
    """A parameter-estimation problem.

    **Attributes:**

    - `model`: the model.
    - `datasets`: the experiments (`Dataset`s), each with its condition overrides.
    - `estimated`: the parameters to estimate (`EstimatedParameter`s).
    - `fixed`: values of the other parameters the problem sets (model parameters overridden by the
      parameter table, and noise or observable parameters); model parameters not listed keep the model's.
    - `source`: where it came from (the PEtab YAML or the CSV files), for messages.
    - `parameter_table`: the PEtab parameter table as read (a `pandas.DataFrame` indexed by `parameterId`),
      so that `write_parameter_table` can write it back unchanged but for the fitted values; `None` for a
      problem built from CSV.
    - `notes`: what the loader adjusted or ignored that a user should know.
    """

    model: Model
    datasets: tuple[Dataset, ...]
    estimated: tuple[EstimatedParameter, ...]
    fixed: Mapping[str, float] = dataclasses.field(default_factory=dict)
    source: str = ""
    parameter_table: Any = dataclasses.field(default=None, repr=False)  # a pandas.DataFrame (imported lazily)
    notes: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "datasets", tuple(self.datasets))
        object.__setattr__(self, "estimated", tuple(self.estimated))
        object.__setattr__(self, "fixed", {k: float(v) for k, v in self.fixed.items()})
        where = self.source or self.model.source
        if not self.datasets:
            raise DataError(f"{where}: the problem has no datasets")
        ids = [p.id for p in self.estimated]
        if len(set(ids)) != len(ids):
            raise ParameterError(f"{where}: estimated parameters repeat: {ids}")
        both = set(ids) & set(self.fixed)
        if both:
            raise ParameterError(f"{where}: parameter(s) {sorted(both)} are both estimated and fixed")
        model_params = set(self.model.parameter_values())
        derived = self.model.rule_targets() | {v for v, _ in self.model.initial_assignments}
        for name in set(ids) | set(self.fixed):
            if name in derived:
                raise ParameterError(
                    f"{where}: parameter '{name}' is computed by a rule or initial assignment of the model; it cannot be set"
                )
        read = set().union(*(o.symbols() for d in self.datasets for o in d.observables))
        for name in ids:
            if name not in model_params and name not in read:
                raise ParameterError(
                    f"{where}: estimated parameter '{name}' is neither a parameter of model '{self.model.id}' nor read "
                    "by an observable or noise formula, so the data cannot determine it"
                )
        for d in self.datasets:
            clash = set(d.params) & set(ids)
            if clash:
                raise ParameterError(f"{where}: dataset '{d.name}' fixes estimated parameter(s) {sorted(clash)}")
            check_symbols(d, self.model, frozenset(ids) | frozenset(self.fixed))

    def __repr__(self) -> str:
        est = ", ".join(f"{p.id} ({p.scale}, [{p.lower:g}, {p.upper:g}])" for p in self.estimated)
        data = ", ".join(f"{d.name}: {d.n_measurements} values" for d in self.datasets)
        return f"Problem(model={self.model.id!r}, estimated=[{est}], fixed={dict(self.fixed)}, datasets=[{data}], source={self.source!r})"

    @property
    def estimated_ids(self) -> tuple[str, ...]:
        """Ids of the estimated parameters, in order."""
        return tuple(p.id for p in self.estimated)

    def nominal(self) -> dict[str, float]:
        """The estimated parameters' nominal values (linear scale)."""
        return {p.id: p.nominal for p in self.estimated}

    def parameters(self, values: Mapping[str, float] | None = None) -> dict[str, float]:
        """All parameter values the problem sets: `fixed`, then the estimated ones (`values`, else nominal).

        **Raises:** `ParameterError` for a name in `values` that is not an estimated parameter.
        """
        values = dict(values or {})
        unknown = set(values) - set(self.estimated_ids)
        if unknown:
            raise ParameterError(
                f"{self.source}: {sorted(unknown)} not estimated parameter(s); estimated: {', '.join(self.estimated_ids)}"
            )
        return {**self.fixed, **self.nominal(), **values}

    def model_parameters(self, dataset: Dataset, values: Mapping[str, float] | None = None) -> dict[str, float]:
        """The `params=` for `sbmljax.simulate` / `reference.ode` of one dataset: model parameters only,
        with the dataset's condition overrides applied."""
        model_params = set(self.model.parameter_values())
        merged = {**self.parameters(values), **dataset.params}
        return {k: v for k, v in merged.items() if k in model_params}

    def scaled_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of the estimated parameters on their scales."""
        lo = np.array([p.to_scale(p.lower) for p in self.estimated])
        hi = np.array([p.to_scale(p.upper) for p in self.estimated])
        return lo, hi


def problem_from_csv(
    model: Model,
    csv_paths: str | os.PathLike | Sequence[str | os.PathLike],
    free_params: Sequence[str | EstimatedParameter],
    *,
    noise_sd: float | None = None,
    observables: Mapping[str, str] | None = None,
) -> Problem:
    """A problem from quick-form CSV files (see `Dataset.from_csv`), one dataset per file.

    **Arguments:**

    - `model`: the model.
    - `csv_paths`: one or more CSV files (each one experiment from the model's initial state).
    - `free_params`: the parameters to estimate: `EstimatedParameter`s, or ids, which get the model's value
      as nominal, bounds nominal/1000 … nominal×1000, and a log10 scale (a parameter whose model value is not
      positive needs an explicit `EstimatedParameter`).
    - `noise_sd`, `observables`: as in `Dataset.from_csv`.

    **Returns:** the `Problem` (no parameter table; `write_parameter_table` builds one).

    **Raises:** `DataError` for a bad file, `ParameterError` for an unknown parameter or one without usable
    default bounds.
    """
    paths = [csv_paths] if isinstance(csv_paths, (str, os.PathLike)) else list(csv_paths)
    datasets = tuple(Dataset.from_csv(p, model, noise_sd=noise_sd, observables=observables) for p in paths)
    values = model.parameter_values()
    estimated = []
    for fp in free_params:
        if isinstance(fp, EstimatedParameter):
            estimated.append(fp)
            continue
        if fp not in values:
            known = ", ".join(values) or "(none)"
            raise ParameterError(f"{model.source}: unknown parameter '{fp}'; the model's parameters are: {known}")
        v = float(values[fp])
        if not v > 0:
            raise ParameterError(
                f"{model.source}: parameter '{fp}' has model value {v:g}; default log10 bounds need a positive value, "
                "so pass an EstimatedParameter with explicit bounds and scale"
            )
        estimated.append(EstimatedParameter(fp, v, v / 1000.0, v * 1000.0, "log10"))
    return Problem(model, datasets, tuple(estimated), source=", ".join(str(p) for p in paths))

"""PEtab tables read cell by cell, so that every problem can be reported with file, row and column.

petab's linter reports most problems in words without a position; these checks run first, on the raw text
of each table, for everything sbmljax needs to be exact about (numbers, scales, supported features). Rows
are counted from 1 below the header (row `r` is line `r + 1` of the file).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd

from ..errors import DataError

REQUIRED = {
    "measurement": ("observableId", "simulationConditionId", "measurement", "time"),
    "observable": ("observableId", "observableFormula", "noiseFormula"),
    "parameter": ("parameterId", "parameterScale", "lowerBound", "upperBound", "nominalValue", "estimate"),
    "condition": ("conditionId",),
}


@dataclasses.dataclass(frozen=True)
class Table:
    """A PEtab table as text: `rows` of `{column: stripped cell text}`, and where it came from."""

    kind: str
    path: Path
    columns: tuple[str, ...]
    rows: tuple[dict[str, str], ...]

    def where(self, row: int, column: str) -> str:
        """`file: row r (line l), column 'c'` for messages; `row` counts from 1."""
        return f"{self.path}: row {row} (line {row + 1}), column '{column}'"

    def cell(self, row: int, column: str) -> str:
        """The text of a cell ('' if the column is absent or the cell empty); `row` counts from 1."""
        return self.rows[row - 1].get(column, "")

    def number(self, row: int, column: str, *, allow_empty: bool = False, allow_inf: bool = False) -> float:
        """A cell as a float (NaN for an empty cell when `allow_empty`).

        **Raises:** `DataError` naming file, row and column for text that is not a number, an empty cell
        (unless allowed) or an infinite value (unless allowed).
        """
        text = self.cell(row, column)
        if text == "" or text.lower() == "nan":
            if allow_empty:
                return math.nan
            raise DataError(f"{self.where(row, column)}: the cell is empty or NaN; a number is required")
        try:
            v = float(text)
        except ValueError:
            raise DataError(f"{self.where(row, column)}: {text!r} is not a number") from None
        if math.isinf(v) and not allow_inf:
            raise DataError(f"{self.where(row, column)}: {text!r} is not finite")
        return v


def read_table(path: Path, kind: str, listed_in: Path) -> Table:
    """Read one PEtab TSV table as text and check its required columns.

    **Arguments:**

    - `path`: the file.
    - `kind`: `"measurement"`, `"observable"`, `"parameter"` or `"condition"`.
    - `listed_in`: the YAML file that names it (for the message when it is missing).

    **Returns:** the `Table`.

    **Raises:** `DataError` naming the file: missing, unreadable, or without a required column.
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file (the {kind} table listed in {listed_in})")
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises several parser error types
        raise DataError(f"{path}: cannot read the {kind} table as tab-separated values: {e}") from None
    columns = tuple(str(c) for c in frame.columns)
    stripped = tuple(c.strip() for c in columns)
    if stripped != columns:
        bad = next(c for c in columns if c != c.strip())
        raise DataError(f"{path}: column name {bad!r} has leading or trailing whitespace")
    missing = [c for c in REQUIRED[kind] if c not in columns]
    if missing:
        raise DataError(
            f"{path}: the {kind} table lacks required column(s) {', '.join(repr(c) for c in missing)} "
            f"(columns are: {', '.join(columns)})"
        )
    rows = tuple({c: str(v).strip() for c, v in zip(columns, values)} for values in frame.itertuples(index=False))
    if not rows:
        raise DataError(f"{path}: the {kind} table has no rows")
    return Table(kind, path, columns, rows)


def check_measurements(t: Table) -> None:
    """Cell checks of a measurement table: numeric finite measurements and times, supported features."""
    for r in range(1, len(t.rows) + 1):
        t.number(r, "measurement")
        time = t.number(r, "time", allow_inf=True)
        if math.isinf(time):
            raise DataError(f"{t.where(r, 'time')}: steady-state measurements (time = inf) are not supported")
        if time < 0:
            raise DataError(f"{t.where(r, 'time')}: negative time {time:g}")
        if t.cell(r, "preequilibrationConditionId"):
            raise DataError(
                f"{t.where(r, 'preequilibrationConditionId')}: pre-equilibration is not supported (every "
                "experiment starts from the model's initial state with its condition applied)"
            )
        for col in ("observableId", "simulationConditionId"):
            if not t.cell(r, col):
                raise DataError(f"{t.where(r, col)}: the cell is empty")


def check_observables(t: Table) -> None:
    """Cell checks of an observable table: known transformations and noise distributions."""
    from ._formula import COUNT_DISTRIBUTIONS, DISTRIBUTIONS, TRANSFORMATIONS

    for r in range(1, len(t.rows) + 1):
        transformation = t.cell(r, "observableTransformation") or "lin"
        if transformation not in TRANSFORMATIONS:
            raise DataError(
                f"{t.where(r, 'observableTransformation')}: transformation {transformation!r} is not one of "
                f"{', '.join(TRANSFORMATIONS)}"
            )
        distribution = t.cell(r, "noiseDistribution") or "normal"
        if distribution not in DISTRIBUTIONS:
            raise DataError(
                f"{t.where(r, 'noiseDistribution')}: noise distribution {distribution!r} is not supported "
                f"(one of {', '.join(DISTRIBUTIONS)})"
            )
        if distribution in COUNT_DISTRIBUTIONS and transformation != "lin":
            raise DataError(
                f"{t.where(r, 'observableTransformation')}: a {distribution} count model takes the 'lin' "
                "transformation only"
            )
        for col in ("observableId", "observableFormula", "noiseFormula"):
            if not t.cell(r, col):
                raise DataError(f"{t.where(r, col)}: the cell is empty")


def check_parameters(t: Table) -> list[str]:
    """Cell checks of a parameter table; returns notes on what is ignored.

    **Raises:** `DataError` naming file, row and column for a bad scale, bound, nominal value or `estimate`,
    or an objective prior (which would change the objective the fits minimise).
    """
    notes = []
    for r in range(1, len(t.rows) + 1):
        pid = t.cell(r, "parameterId")
        if not pid:
            raise DataError(f"{t.where(r, 'parameterId')}: the cell is empty")
        scale = t.cell(r, "parameterScale")
        if scale not in ("lin", "log", "log10"):
            raise DataError(f"{t.where(r, 'parameterScale')}: scale {scale!r} is not one of lin, log, log10")
        estimate = t.cell(r, "estimate")
        if estimate not in ("0", "1"):
            raise DataError(f"{t.where(r, 'estimate')}: {estimate!r} must be 0 or 1")
        if estimate == "1":
            lo, hi = t.number(r, "lowerBound"), t.number(r, "upperBound")
            if not lo < hi:
                raise DataError(f"{t.where(r, 'upperBound')}: upper bound {hi:g} is not above lower bound {lo:g}")
            if scale != "lin" and lo <= 0:
                raise DataError(f"{t.where(r, 'lowerBound')}: a {scale} scale needs a positive lower bound, got {lo:g}")
            t.number(r, "nominalValue", allow_empty=True)
        else:
            t.number(r, "nominalValue")
        if t.cell(r, "objectivePriorType"):
            raise DataError(
                f"{t.where(r, 'objectivePriorType')}: objective priors are not supported (the fits minimise the "
                "likelihood only); remove the prior"
            )
        if t.cell(r, "initializationPriorType"):
            notes.append(f"{t.path}: initializationPriorType of '{pid}' ignored: fits start at the nominal values")
    return notes

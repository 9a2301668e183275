"""`write_parameter_table`: fitted values back into a PEtab parameter table, for other PEtab tools."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from .._trajectory import atomic_write_text
from ..errors import ParameterError
from ._problem import Problem


def write_parameter_table(problem: Problem, fitted: Mapping[str, float], path: str | os.PathLike) -> None:
    """Write the PEtab parameter table with fitted values as `nominalValue`, atomically.

    A problem read from PEtab keeps every column and row of its table; one built from CSV gets a new table
    (`parameterId`, `parameterScale`, `lowerBound`, `upperBound`, `nominalValue`, `estimate`).

    **Arguments:**

    - `problem`: the problem.
    - `fitted`: estimated parameter id → fitted value (linear scale).
    - `path`: the TSV file to write (written through a temporary file and a rename).

    **Raises:** `ParameterError` for a name that is not estimated, or a value that is not finite or lies
    outside the parameter's bounds.
    """
    import pandas as pd

    by_id = {p.id: p for p in problem.estimated}
    for name, value in fitted.items():
        if name not in by_id:
            raise ParameterError(f"{problem.source}: '{name}' is not an estimated parameter ({', '.join(by_id)})")
        v, p = float(value), by_id[name]
        if not math.isfinite(v) or not p.lower <= v <= p.upper:
            raise ParameterError(
                f"{problem.source}: fitted '{name}' = {v:g} is not finite or outside [{p.lower:g}, {p.upper:g}]"
            )
    if problem.parameter_table is not None:
        table = problem.parameter_table.copy()
    else:
        rows = [
            {
                "parameterId": p.id,
                "parameterScale": p.scale,
                "lowerBound": p.lower,
                "upperBound": p.upper,
                "nominalValue": p.nominal,
                "estimate": 1,
            }
            for p in problem.estimated
        ] + [
            {
                "parameterId": k,
                "parameterScale": "lin",
                "lowerBound": v,
                "upperBound": v,
                "nominalValue": v,
                "estimate": 0,
            }
            for k, v in problem.fixed.items()
        ]
        table = pd.DataFrame(rows).set_index("parameterId")
    table["nominalValue"] = table["nominalValue"].astype(float)
    for name, value in fitted.items():
        table.loc[name, "nominalValue"] = float(value)
    atomic_write_text(path, table.to_csv(sep="\t"))

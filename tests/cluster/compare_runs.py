"""Compare the outputs of two runs of the workflow (e.g. local and SLURM) file by file.

Used by tests/test_cluster.py and benchmarks/bench_slurm.py. Every file under `results/` of either run is
compared: npz archives array by array, bitwise (same keys, dtypes, shapes and bytes, so NaNs compare equal);
JSON and tab- or comma-separated tables exactly, except for fields that record wall time (`wall_time_s`,
which differs between any two runs); every other file (figures, HTML) byte for byte.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

TIMING_FIELDS = frozenset({"wall_time_s"})
"""Fields (JSON keys, table columns) that measure wall time and so differ between runs."""


def _drop_timing(value):
    if isinstance(value, dict):
        return {k: _drop_timing(v) for k, v in value.items() if k not in TIMING_FIELDS}
    if isinstance(value, list):
        return [_drop_timing(v) for v in value]
    return value


def _npz_difference(a: Path, b: Path) -> str | None:
    with np.load(a, allow_pickle=False) as fa, np.load(b, allow_pickle=False) as fb:
        if sorted(fa.files) != sorted(fb.files):
            return f"arrays {sorted(fa.files)} vs {sorted(fb.files)}"
        for key in fa.files:
            x, y = fa[key], fb[key]
            if x.dtype != y.dtype or x.shape != y.shape:
                return f"{key}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}"
            if x.tobytes() != y.tobytes():
                return f"{key}: values differ"
    return None


def _table_difference(a: Path, b: Path) -> str | None:
    delimiter = "," if a.suffix == ".csv" else "\t"
    rows = []
    for path in (a, b):
        table = list(csv.reader(io.StringIO(path.read_text()), delimiter=delimiter))
        keep = [i for i, name in enumerate(table[0] if table else []) if name not in TIMING_FIELDS]
        rows.append([[row[i] for i in keep if i < len(row)] for row in table])
    if rows[0] != rows[1]:
        for i, (x, y) in enumerate(zip(rows[0], rows[1])):
            if x != y:
                return f"row {i}: {x} vs {y}"
        return f"{len(rows[0])} vs {len(rows[1])} rows"
    return None


def file_difference(a: Path, b: Path) -> str | None:
    """How two output files differ (one line), or None if they are equal."""
    if a.read_bytes() == b.read_bytes():
        return None
    if a.suffix == ".npz":
        return _npz_difference(a, b)
    if a.suffix == ".json":
        x, y = (_drop_timing(json.loads(p.read_text())) for p in (a, b))
        return None if x == y else "JSON differs (beyond wall_time_s)"
    if a.suffix in (".tsv", ".csv"):
        return _table_difference(a, b)
    return "bytes differ"


def compare_runs(a: Path, b: Path, subdir: str = "results") -> tuple[list[str], list[str]]:
    """Compare every file under `a/subdir` and `b/subdir`.

    **Returns:** `(compared, differences)`: the relative paths compared, and one line per file that differs or
    exists in one run only.
    """
    files_a = {p.relative_to(a) for p in (a / subdir).rglob("*") if p.is_file()}
    files_b = {p.relative_to(b) for p in (b / subdir).rglob("*") if p.is_file()}
    differences = [f"{p}: only in {a}" for p in sorted(files_a - files_b)]
    differences += [f"{p}: only in {b}" for p in sorted(files_b - files_a)]
    compared = sorted(files_a & files_b)
    for rel in compared:
        diff = file_difference(a / rel, b / rel)
        if diff is not None:
            differences.append(f"{rel}: {diff}")
    return [str(p) for p in compared], differences

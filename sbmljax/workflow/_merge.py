"""Streamed merge of an ensemble's seed-chunks (`Trajectories.to_npz` files) into summary statistics, a few
sample paths and, optionally, the whole ensemble as one `.npz` — holding one chunk in memory at a time.

Two passes over the chunks. The first checks that they tile the ensemble and accumulates the sums, the
extremes and whether every count is an integer; the second accumulates the squared deviations from the mean
and a histogram per time and species, and writes the ensemble file member by member. The results equal those
of `Trajectories.concatenate(chunks)` (`mean`, `std`, `quantile`, `summary_dataframe`) bitwise:

- sums run over trajectories in order, as NumPy's reduction over the first axis does in memory (the
  exception is an ensemble with a single time and species, which NumPy sums pairwise);
- quantiles are exact when the counts are integers (every simulator in sbmljax) and the histogram fits in
  `max_bins` bins: the two order statistics NumPy's default (linear) method interpolates are read off the
  histogram, and interpolated with NumPy's formula. Otherwise the histogram has equal-width bins between
  each cell's extremes and the quantiles are approximate, within one bin width of the exact ones
  (`EnsembleSummary.exact_quantiles` is then `False`).

Memory: one chunk, its index array for the histogram, and the histogram (at most `max_bins` integers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import zipfile
from collections.abc import Sequence

import numpy as np

from .._trajectory import Trajectories, atomic_write
from ..errors import DataError
from ._npz import LAYOUT, NpzMember, write_small


@dataclasses.dataclass(frozen=True)
class EnsembleSummary:
    """Per time and species statistics of a merged ensemble of `n` trajectories.

    **Attributes:** `mean`, `sd` (`ddof=1`) and `quantile_values` (`(Q, T, S)`, for `quantiles`) as NumPy
    arrays; `exact_quantiles`; `samples`, the first trajectories in full (a `Trajectories`); `n`.
    """

    n: int
    mean: np.ndarray
    sd: np.ndarray
    quantiles: tuple[float, ...]
    quantile_values: np.ndarray
    exact_quantiles: bool
    samples: Trajectories

    def summary_dataframe(self):
        """The layout of `Trajectories.summary_dataframe`: per time and species `n`, mean, SD, quantiles."""
        import pandas as pd

        times, species = self.samples.times, self.samples.species
        rows = {
            "time": np.repeat(times, len(species)),
            "species": np.tile(np.asarray(species, dtype=object), len(times)),
            "mean": self.mean.ravel(),
            "sd": self.sd.ravel(),
        }
        for q, values in zip(self.quantiles, self.quantile_values, strict=True):
            rows[f"q{q:g}"] = values.ravel()
        frame = pd.DataFrame(rows)
        frame.insert(2, "n", self.n)
        return frame


def _order(paths: Sequence[str | os.PathLike]) -> list:
    firsts = []
    for p in paths:
        with np.load(p, allow_pickle=False) as d:
            if "layout" not in d or str(d["layout"]) != LAYOUT:
                raise DataError(f"{p}: not a file written by Trajectories.to_npz")
            firsts.append(int(d["first_trajectory"]))
    return [p for _, p in sorted(zip(firsts, paths, strict=True), key=lambda fp: fp[0])]


def _running_sum(acc: np.ndarray | None, x: np.ndarray) -> np.ndarray:
    """`acc + x[0] + x[1] + …` in that order (NumPy's in-memory order of a sum over the first axis)."""
    return x.sum(axis=0) if acc is None else np.concatenate([acc[None], x]).sum(axis=0)


def merge_chunks(
    paths: Sequence[str | os.PathLike],
    *,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
    sample_paths: int = 20,
    ensemble: str | os.PathLike | None = None,
    max_bins: int = 2**23,
) -> EnsembleSummary:
    """Merge seed-chunks of one ensemble, one chunk in memory at a time (see the module docstring).

    **Arguments:**

    - `paths`: the chunks' `.npz` files (`Trajectories.to_npz`), in any order; they must tile the ensemble
      from trajectory 0 without gaps or overlaps and share times, species, method and seed.
    - `quantiles`: the quantile levels of the statistics.
    - `sample_paths`: how many trajectories (the first ones) to keep in full.
    - `ensemble`: also write the whole ensemble here, in `Trajectories.to_npz`'s layout (atomically).
    - `max_bins`: the histogram's size limit (integers), which bounds the merge's memory.

    **Returns:** an `EnsembleSummary`.

    **Raises:** `DataError` for a file of another layout or chunks that do not tile one ensemble.
    """
    if not paths:
        raise DataError("no chunks to merge")
    qs = np.asarray(tuple(quantiles), dtype=np.float64)
    ordered = _order(paths)

    # Pass 1: tiling, sums, extremes, integrality, NaNs, the sample paths.
    head = None
    n = 0
    total = lo = hi = None
    integral, has_nan = True, None
    samples: list[np.ndarray] = []
    status_len, have_events, have_status = 1, True, True
    notes: dict[str, None] = {}
    for p in ordered:
        c = Trajectories.from_npz(p)
        if head is None:
            head = c
        if c.first_trajectory != n:
            raise DataError(
                f"the chunks do not tile the ensemble: {p} starts at trajectory {c.first_trajectory}, expected {n}"
            )
        same = (c.species, c.method, c.seed) == (head.species, head.method, head.seed)
        if not same or not np.array_equal(c.times, head.times):
            raise DataError(f"{p}: other times, species, method or seed than the first chunk")
        x = c.counts
        total = _running_sum(total, x)
        nan = np.isnan(x).any(axis=0)
        has_nan = nan if has_nan is None else has_nan | nan
        lo = np.nanmin(x, axis=0, initial=np.inf) if lo is None else np.fmin(lo, np.nanmin(x, axis=0, initial=np.inf))
        hi = np.nanmax(x, axis=0, initial=-np.inf) if hi is None else np.fmax(hi, np.nanmax(x, axis=0, initial=-np.inf))
        finite = x[~np.isnan(x)]
        integral = integral and bool(np.all(finite == np.round(finite)))
        kept = sum(s.shape[0] for s in samples)
        if kept < sample_paths:
            samples.append(x[: sample_paths - kept].copy())
        have_events &= c.n_events is not None
        have_status &= c.status is not None
        if c.status is not None and c.status.size:
            status_len = max(status_len, max(len(str(s)) for s in c.status))
        notes.update(dict.fromkeys(c.notes))
        n += c.n_trajectories
    assert head is not None and total is not None and lo is not None and hi is not None and has_nan is not None
    shape = total.shape
    mean = total / n
    cells = int(np.prod(shape))

    # The histogram: one bin per integer between each cell's extremes, or equal-width bins.
    lo_f, hi_f = lo.ravel(), hi.ravel()
    empty = ~np.isfinite(lo_f)  # a cell with no finite count
    span = np.where(empty, 0.0, hi_f - lo_f)
    exact = integral and int(np.sum(span + 1)) <= max_bins
    if exact:
        widths = (span + 1).astype(np.int64)
        step = np.ones(cells)
    else:
        per_cell = max(1, max_bins // cells)
        widths = np.full(cells, per_cell, dtype=np.int64)
        step = np.where(span > 0, span / per_cell, 1.0)
    offsets = np.concatenate([[0], np.cumsum(widths)[:-1]])
    hist = np.zeros(int(widths.sum()), dtype=np.int64)
    base = np.where(empty, 0.0, lo_f)

    def second_pass(zf: zipfile.ZipFile | None) -> np.ndarray:
        ss = None
        with contextlib.ExitStack() as stack:
            counts = (
                None if zf is None else stack.enter_context(NpzMember(zf, "counts", head.counts.dtype, (n, *shape)))
            )
            for p in ordered:
                c = Trajectories.from_npz(p)
                x = c.counts
                d = x - mean
                d = np.multiply(d, d, out=d)
                ss = _running_sum(ss, d)
                flat = x.reshape(x.shape[0], cells)
                ok = ~np.isnan(flat)
                b = np.floor((flat - base) / step) if not exact else flat - base
                b = np.clip(np.nan_to_num(b), 0, widths - 1).astype(np.int64) + offsets
                np.add(hist, np.bincount(b[ok], minlength=hist.size), out=hist)
                if counts is not None:
                    counts.write(x)
        if zf is not None:
            # A zip file has one member open for writing at a time: the per-trajectory vectors follow.
            vectors = []
            if have_events and head.n_events is not None:
                vectors.append(("n_events", head.n_events.dtype))
            if have_status:
                vectors.append(("status", np.dtype(f"<U{status_len}")))
            for name, dtype in vectors:
                with NpzMember(zf, name, dtype, (n,)) as member:
                    for p in ordered:
                        with np.load(p, allow_pickle=False) as d:
                            member.write(d[name])
            for name, value in (
                ("layout", np.asarray(LAYOUT)),
                ("times", np.asarray(head.times, dtype=np.float64)),
                ("species", np.asarray(head.species, dtype=str)),
                ("method", np.asarray(head.method)),
                ("seed", np.asarray(head.seed)),
                ("model_id", np.asarray(head.model_id)),
                ("time_units", np.asarray(head.time_units)),
                ("notes", np.asarray(tuple(notes), dtype=str)),
                ("first_trajectory", np.asarray(0)),
            ):
                write_small(zf, name, value)
        assert ss is not None
        return ss

    if ensemble is None:
        ss = second_pass(None)
    else:
        result = {}

        def write(f):
            with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
                result["ss"] = second_pass(zf)

        atomic_write(ensemble, write, binary=True)
        ss = result["ss"]
    sd = np.sqrt(ss / (n - 1)) if n > 1 else np.full(shape, np.nan)

    # Quantiles as NumPy's linear method computes them (numpy.lib._function_base_impl._quantile), from the
    # two order statistics around the virtual index (n - 1) q.
    virtual = (n - 1) * qs
    above = virtual >= n - 1
    prev = np.where(above, -1, np.floor(virtual)).astype(np.intp)
    nxt = np.where(above, -1, np.floor(virtual) + 1).astype(np.intp)
    gamma = np.asarray(virtual - prev, dtype=np.float64)
    cum = np.cumsum(hist)
    before = np.concatenate([[0], cum])[offsets]

    def order_statistic(k: np.ndarray) -> np.ndarray:
        k = np.where(k < 0, n - 1, k)  # (Q,) → (Q, cells)
        b = np.searchsorted(cum, before[None, :] + k[:, None], side="right") - offsets[None, :]
        b = np.clip(b, 0, widths - 1)
        return base + (b if exact else (b + 0.5)) * step

    a, bb = order_statistic(prev), order_statistic(nxt)
    t = gamma[:, None]
    diff = bb - a
    values = np.add(a, diff * t)
    np.subtract(bb, diff * (1 - t), out=values, where=np.broadcast_to(t >= 0.5, values.shape))
    values[:, has_nan.ravel() | empty] = np.nan
    samples_counts = np.concatenate(samples) if samples else head.counts[:0]
    sample_traj = Trajectories(
        times=head.times,
        counts=samples_counts,
        species=head.species,
        method=head.method,
        seed=head.seed,
        model_id=head.model_id,
        time_units=head.time_units,
        notes=tuple(notes),
    )
    return EnsembleSummary(
        n=n,
        mean=mean,
        sd=sd,
        quantiles=tuple(float(q) for q in qs),
        quantile_values=values.reshape(len(qs), *shape),
        exact_quantiles=exact,
        samples=sample_traj,
    )

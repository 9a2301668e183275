"""The `.npz` layout of `Trajectories.to_npz`, written and read in pieces: members written chunk by chunk
(`merge_chunks(ensemble=)`), and the first trajectories read without the rest (`ensemble_head`)."""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .._trajectory import Trajectories
from ..errors import DataError

LAYOUT = "sbmljax.Trajectories/1"


class NpzMember:
    """An array member of an `.npz` written in pieces: the `.npy` header for the full shape, then the data."""

    def __init__(self, zf: zipfile.ZipFile, name: str, dtype: np.dtype, shape: tuple[int, ...]):
        self.f = zf.open(name + ".npy", "w", force_zip64=True)
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_2_0(self.f, header)
        self.dtype = np.dtype(dtype)

    def write(self, a: np.ndarray) -> None:
        self.f.write(np.ascontiguousarray(a, dtype=self.dtype).tobytes("C"))

    def close(self) -> None:
        self.f.close()  # idempotent

    def __enter__(self) -> NpzMember:
        return self

    def __exit__(self, *exc) -> None:
        self.close()  # also on an error, so the zip file closes and the error itself is raised


def write_small(zf: zipfile.ZipFile, name: str, a) -> None:
    with zf.open(name + ".npy", "w", force_zip64=True) as f:
        np.lib.format.write_array(f, np.asarray(a), allow_pickle=False)


def ensemble_head(path: str | os.PathLike, k: int) -> Trajectories:
    """The first `k` trajectories of an ensemble file (`Trajectories.to_npz`, or `merge_chunks(ensemble=)`),
    reading only those from the compressed counts — not the whole ensemble. `n_events` and `status` are
    left out. **Raises:** `DataError` for a file of another layout."""
    with np.load(path, allow_pickle=False) as d:
        if "layout" not in d or str(d["layout"]) != LAYOUT:
            raise DataError(f"{path}: not a file written by Trajectories.to_npz")
        meta = {name: d[name] for name in ("times", "species", "method", "seed", "model_id", "time_units", "notes")}
        first = int(d["first_trajectory"])
    with zipfile.ZipFile(path) as zf, zf.open("counts.npy") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if fortran:
            raise DataError(f"{path}: counts are stored in Fortran order")
        k = max(0, min(int(k), shape[0]))
        size = int(np.prod(shape[1:]))
        counts = np.frombuffer(f.read(k * size * dtype.itemsize), dtype=dtype).reshape(k, *shape[1:]).copy()
    return Trajectories(
        times=meta["times"],
        counts=counts,
        species=tuple(str(s) for s in meta["species"]),
        method=str(meta["method"]),
        seed=int(meta["seed"]),
        model_id=str(meta["model_id"]),
        time_units=str(meta["time_units"]),
        notes=tuple(str(n) for n in meta["notes"]),
        first_trajectory=first,
    )

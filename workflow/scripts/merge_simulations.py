"""Rule merge_simulations: merge seed-chunks into ensemble statistics, a sample of full paths, and the ensemble."""

import logging

import numpy as np
from _common import start_log  # workflow/scripts is on sys.path

import sbmljax

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    parts = [np.load(p) for p in sm.input.chunks]
    parts.sort(key=lambda d: int(d["first"]))
    expected = 0
    for path, d in zip(sm.input.chunks, parts, strict=True):
        if int(d["first"]) != expected:
            raise ValueError(
                f"chunks do not tile the ensemble: {path} starts at trajectory {int(d['first'])}, expected {expected}"
            )
        expected += d["counts"].shape[0]
    notes = tuple(dict.fromkeys(str(x) for d in parts for x in d["notes"]))
    traj = sbmljax.Trajectories(
        times=parts[0]["times"],
        counts=np.concatenate([d["counts"] for d in parts]),
        species=tuple(str(s) for s in parts[0]["species"]),
        method=sm.wildcards.method,
        seed=int(parts[0]["seed"]),
        model_id=str(parts[0]["model_id"]),
        time_units=str(parts[0]["time_units"]),
        notes=notes,
    )
    logging.info("merged %d chunks: %r", len(parts), traj)
    traj.summary_dataframe(quantiles=tuple(sm.params.quantiles)).to_csv(sm.output.stats, index=False)
    keep = min(int(sm.params.sample_paths), traj.n_trajectories)
    sbmljax.Trajectories(
        traj.times, traj.counts[:keep], traj.species, traj.method, traj.seed, traj.model_id, traj.time_units, traj.notes
    ).to_csv(sm.output.samples)
    np.savez_compressed(
        sm.output.ensemble,
        times=traj.times,
        counts=traj.counts,
        species=np.asarray(traj.species),
        seed=traj.seed,
        method=traj.method,
        model_id=traj.model_id,
        time_units=traj.time_units,
        notes=np.asarray(traj.notes, dtype=str),
    )
except Exception:
    logging.exception("merge_simulations failed")
    raise

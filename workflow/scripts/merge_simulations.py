"""Rule merge_simulations: merge seed-chunks into ensemble statistics and a sample of full paths."""

import logging

import numpy as np

import sbmljax

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
parts = [np.load(p) for p in sm.input.chunks]
parts.sort(key=lambda d: int(d["first"]))
traj = sbmljax.Trajectories(
    times=parts[0]["times"],
    counts=np.concatenate([d["counts"] for d in parts]),
    species=tuple(str(s) for s in parts[0]["species"]),
    method=sm.wildcards.method,
    seed=0,
    model_id=sm.wildcards.model,
)
logging.info("merged %d chunks, %d trajectories", len(parts), traj.n_trajectories)
traj.summary_dataframe().to_csv(sm.output.stats, index=False)
keep = min(sm.params.sample_paths, traj.n_trajectories)
sbmljax.Trajectories(traj.times, traj.counts[:keep], traj.species, traj.method, 0, traj.model_id).to_csv(sm.output.samples)

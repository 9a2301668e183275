"""Rule simulate_chunk: simulate one seed-chunk of a model's ensemble with one method.

Chunk i of k simulates trajectories [i*n/k, (i+1)*n/k); trajectory j always uses the key fold_in(seed, j),
so the merged chunks equal one big run with the same seed.
"""

import logging

import numpy as np

import sbmljax

sm = snakemake  # noqa: F821
logging.basicConfig(filename=sm.log[0], level=logging.INFO, format="%(asctime)s %(message)s")
n, k, i = sm.params.n_trajectories, sm.params.chunks, int(sm.wildcards.chunk)
first, last = i * n // k, (i + 1) * n // k
model = sbmljax.load_sbml(sm.input.sbml, substance_units=sm.params.substance_units)
t = np.linspace(0.0, float(sm.params.t_end), int(sm.params.points))
traj = sbmljax.simulate(
    model, t, n_trajectories=last - first, first_trajectory=first, seed=sm.params.seed, method=sm.wildcards.method
)
logging.info("simulated trajectories %d..%d of %s with %s", first, last - 1, model.id, sm.wildcards.method)
for note in traj.notes:
    logging.info("note: %s", note)
np.savez_compressed(
    sm.output.counts, times=traj.times, counts=traj.counts, species=np.asarray(traj.species), first=first
)

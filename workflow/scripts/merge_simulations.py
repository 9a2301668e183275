"""Rule merge_simulations: merge seed-chunks into ensemble statistics, a sample of full paths, and the ensemble."""

import dataclasses
import logging

from _common import start_log  # workflow/scripts is on sys.path

import sbmljax

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    parts = [sbmljax.Trajectories.from_npz(p) for p in sm.input.chunks]
    traj = sbmljax.Trajectories.concatenate(parts)
    if traj.first_trajectory != 0:
        raise ValueError(f"the chunks start at trajectory {traj.first_trajectory}, not 0")
    logging.info("merged %d chunks: %r", len(parts), traj)
    traj.summary_dataframe(quantiles=tuple(sm.params.quantiles)).to_csv(sm.output.stats, index=False)
    keep = min(int(sm.params.sample_paths), traj.n_trajectories)
    dataclasses.replace(traj, counts=traj.counts[:keep], n_events=None, status=None).to_csv(sm.output.samples)
    traj.to_npz(sm.output.ensemble)
except Exception:
    logging.exception("merge_simulations failed")
    raise

"""Rule merge_simulations: merge seed-chunks into ensemble statistics, a sample of full paths, and the ensemble,
one chunk in memory at a time (`sbmljax.workflow.merge_chunks`)."""

import logging
import resource

from sbmljax._trajectory import atomic_write_text
from sbmljax.workflow import merge_chunks, start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    merged = merge_chunks(
        list(sm.input.chunks),
        quantiles=tuple(sm.params.quantiles),
        sample_paths=int(sm.params.sample_paths),
        ensemble=sm.output.ensemble,
    )
    atomic_write_text(sm.output.stats, merged.summary_dataframe().to_csv(index=False))
    merged.samples.to_csv(sm.output.samples)
    logging.info(
        "merged %d chunks: %d trajectories, %r; quantiles %s; peak memory %.0f MiB",
        len(sm.input.chunks),
        merged.n,
        merged.samples,
        "exact" if merged.exact_quantiles else "binned (approximate)",
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
except Exception:
    logging.exception("merge_simulations failed")
    raise

"""Rule report_model: the ensemble figure of one model and method (mean, SD and quantile bands, sample
paths), with the reaction-rate ODE overlaid."""

import logging

import pandas as pd

from sbmljax.plot import plot_ensemble, save_figure
from sbmljax.workflow import ensemble_head, start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    # The statistics from the merge, and only the sample paths from the ensemble: it may be too large to load.
    stats = pd.read_csv(sm.input.stats)
    traj = ensemble_head(sm.input.ensemble, int(sm.params.sample_paths))
    species = list(sm.params.species or traj.species)
    unknown = [s for s in species if s not in traj.species]
    if unknown:
        raise ValueError(
            f"config.yaml: models.{sm.wildcards.model}.plot_species: {unknown} are not species of the model "
            f"(species: {', '.join(traj.species)})"
        )
    ode = pd.read_csv(sm.input.ode)
    fig = plot_ensemble(
        traj,
        species=species,
        ode=(ode["time"].to_numpy(), ode[list(traj.species)].to_numpy(), traj.species),
        sample_paths=int(sm.params.sample_paths),
        quantiles=tuple(sm.params.quantiles),
        title=f"{sm.wildcards.model}: {traj.method}, n = {int(stats['n'].iloc[0])}",
        stats=stats,
    )
    save_figure(fig, sm.output.figure)
    logging.info("wrote %s (%d species)", sm.output.figure, len(species))
except Exception:
    logging.exception("report_model failed")
    raise

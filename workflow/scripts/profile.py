"""Rule profile: the profile likelihood of one parameter of one dataset (sbmljax.profile) around its fitted
value, with the 95% MCAP interval. Writes the ProfileResult as JSON and the points as a TSV table."""

import json
import logging

import numpy as np
import pandas as pd

import sbmljax
from sbmljax._trajectory import atomic_write_text
from sbmljax.workflow import load_problem, start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
if sm.threads > 1:  # before JAX's first computation: replicate filters (and IF2 chains) then use every core
    sbmljax.use_cpu_cores(sm.threads)
try:
    cfg = sm.params.config
    problem, _ = load_problem(sm.params.spec)
    fit = sbmljax.FitResult.from_json(sm.input.fit)
    name = sm.wildcards.parameter
    est = {p.id: p for p in problem.estimated}
    if name not in est:
        raise sbmljax.errors.ParameterError(
            f"config.yaml profile.parameters: '{name}' is not estimated in dataset {sm.wildcards.dataset} "
            f"(estimated: {', '.join(est)})"
        )
    p = est[name]
    centre = p.to_scale(fit.params[name])
    width = np.log10(cfg["span"]) if p.scale == "log10" else np.log(cfg["span"]) if p.scale == "log" else None
    if width is None:
        width = (cfg["span"] - 1.0) * abs(fit.params[name])
    lo, hi = p.to_scale(p.lower), p.to_scale(p.upper)
    grid = np.clip(centre + width * np.linspace(-1.0, 1.0, int(cfg["points"])), lo, hi)
    values = sorted({p.from_scale(float(v)) for v in grid})
    start = {k: min(max(v, est[k].lower), est[k].upper) for k, v in fit.params.items()}
    logging.info("profiling %s at %s from %s", name, values, start)
    prof = sbmljax.profile(
        problem,
        None,
        name,
        values,
        start,
        seed=int(cfg["seed"]),
        n_particles=int(cfg["n_particles"]),
        iterations=int(cfg["iterations"]),
        replicates=int(cfg["replicates"]),
    )
    logging.info(
        "MLE %.6g, 95%% interval [%.6g, %.6g] (cutoff %.3g; SE stat %.3g, MC %.3g on the %s scale), %.1f s",
        prof.mle,
        *prof.interval,
        prof.cutoff,
        prof.se_stat,
        prof.se_mc,
        prof.scale,
        prof.wall_time_s,
    )
    table = pd.DataFrame({name: prof.values, "loglik": prof.loglik, "stderr": prof.stderr})
    for other in problem.estimated_ids:
        if other != name:
            table[other] = [q[other] for q in prof.params]
    atomic_write_text(sm.output.table, table.to_csv(sep="\t", index=False))
    atomic_write_text(sm.output.json, json.dumps(prof.to_dict(), indent=2, allow_nan=True))
except Exception:
    logging.exception("profile failed")
    raise

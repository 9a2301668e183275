"""Rule reference_ode: the model's reaction-rate ODE (libRoadRunner CVODE) in molecule counts, as CSV."""

import logging

import numpy as np

import sbmljax
from sbmljax.reference import ode
from sbmljax.workflow import start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    model = sbmljax.load_sbml(sm.input.sbml, substance_units=sm.params.substance_units)
    t = np.linspace(0.0, float(sm.params.t_end), int(sm.params.points))
    sol = ode(model, None, t)
    sol.to_dataframe().to_csv(sm.output.ode, index=False)
    logging.info(
        "solved the ODE of %s at %d times (time unit %s): final counts %s",
        model.id,
        t.size,
        sol.time_units or "unspecified",
        dict(zip(sol.species, np.round(sol.values[-1], 3).tolist(), strict=True)),
    )
except Exception:
    logging.exception("reference_ode failed")
    raise

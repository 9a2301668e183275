"""Rule import_model: load and check an SBML model, write its summary (species, reactions, what is unsupported)."""

import json
import logging

import sbmljax
from sbmljax.workflow import start_log

sm = snakemake  # noqa: F821
start_log(sm.log[0])
try:
    model = sbmljax.load_sbml(sm.input.sbml, substance_units=sm.params.substance_units)
    logging.info("loaded %s: %d species, %d reactions", model.id, len(model.species), len(model.reactions))
    for u in model.unsupported:
        logging.info("unsupported: %s", u.message())
    summary = model.summary()
    # Which simulators would refuse the model, and why (exact methods refuse more than tau-leaping).
    summary["refused_by"] = {
        "exact": [u.message() for u in model.refusals(method_exact=True)],
        "tau_leap": [u.message() for u in model.refusals(method_exact=False)],
    }
    with open(sm.output.summary, "w") as f:
        json.dump(summary, f, indent=2)
except Exception:
    logging.exception("import_model failed")
    raise

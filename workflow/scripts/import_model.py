"""Rule import_model: load and check an SBML model, write its summary (species, reactions, refusals)."""

import json
import logging

import sbmljax

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO, format="%(asctime)s %(message)s")  # noqa: F821
model = sbmljax.load_sbml(snakemake.input.sbml, substance_units=snakemake.params.substance_units)  # noqa: F821
logging.info("loaded %s: %d species, %d reactions", model.id, len(model.species), len(model.reactions))
for u in model.unsupported:
    logging.info("unsupported: %s", u.message())
with open(snakemake.output.summary, "w") as f:  # noqa: F821
    json.dump(model.summary(), f, indent=2)

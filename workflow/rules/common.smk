import os

from snakemake.utils import validate


validate(config, "../schemas/config.schema.yaml")

for _model_id, _spec in config["models"].items():
    if not os.path.isfile(_spec["sbml"]):
        raise ValueError(
            f"config.yaml: models.{_model_id}.sbml: no such file {_spec['sbml']!r}"
        )

MODELS = list(config["models"])
METHODS = config["simulate"]["methods"]
CHUNKS = list(range(config["simulate"]["chunks"]))


def model_param(key):
    """A params function reading config['models'][model][key] (with schema defaults applied)."""
    return lambda wildcards: config["models"][wildcards.model][key]


def all_outputs():
    out = expand("results/import/{model}/summary.json", model=MODELS)
    out += expand(
        "results/simulate/{model}/{method}/stats.csv", model=MODELS, method=METHODS
    )
    return out

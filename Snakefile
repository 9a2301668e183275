# sbmljax workflow: import -> simulate (-> fit -> report) over the models and datasets in config.yaml.
# Run:  snakemake --cores 2         (or --profile profiles/slurm on a cluster)


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/simulate.smk"


rule all:
    input:
        all_outputs(),
    default_target: True

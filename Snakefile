# sbmljax workflow: import -> simulate (seed-chunks, merged) and reference ODE per model; fit ->
# gradient diagnostics per dataset; report figures. Configuration: config.yaml (schema in workflow/schemas/).
# Run:     snakemake --cores 2 && snakemake --report results/report.html
# Cluster: snakemake --profile profiles/slurm   (pip install snakemake-executor-plugin-slurm on the cluster)
# Module:  module sbmljax: snakefile: ".../Snakefile"; config: config["sbmljax"]   (docs/workflow.md)

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/import.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/fit.smk"
include: "workflow/rules/profile.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/check.smk"


rule all:
    default_target: True
    input:
        all_outputs(),

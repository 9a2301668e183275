rule fit:
    input:
        dataset_inputs,
    output:
        json="results/fit/{dataset}/fit.json",
        parameters="results/fit/{dataset}/parameters.tsv",
    params:
        spec=lookup(dpath="{dataset}", within=DATASET_SPECS),
        fit=lookup(dpath="fit", within=config),
        estimators=lookup(dpath="estimators", within=config),
    log:
        "logs/fit/{dataset}.log",
    benchmark:
        "benchmarks/workflow/fit/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        cpus_per_task=1,
    conda:
        "../envs/sbmljax.yaml"
    script:
        "../scripts/fit.py"


rule gradient_diagnostics:
    input:
        unpack(gradient_point),
        data=dataset_inputs,
    output:
        table="results/gradient_diagnostics/{dataset}/gradients.tsv",
    params:
        spec=lookup(dpath="{dataset}", within=DATASET_SPECS),
        config=lookup(dpath="gradient_diagnostics", within=config),
        estimators=lookup(dpath="estimators", within=config),
    log:
        "logs/gradient_diagnostics/{dataset}.log",
    benchmark:
        "benchmarks/workflow/gradient_diagnostics/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        cpus_per_task=1,
    conda:
        "../envs/sbmljax.yaml"
    script:
        "../scripts/gradient_diagnostics.py"

rule fit:
    input:
        dataset_inputs,
    output:
        json=results("fit/{dataset}/fit.json"),
        parameters=results("fit/{dataset}/parameters.tsv"),
    log:
        logs("fit/{dataset}.log"),
    benchmark:
        benchmarks("fit/{dataset}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: lookup(dpath="fit/threads", within=config)
    resources:
        mem_mb=4000,
        runtime=60,
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        spec=lookup(dpath="{dataset}", within=DATASET_SPECS),
        fit=lookup(dpath="fit", within=config),
        estimators=lookup(dpath="estimators", within=config),
    script:
        "../scripts/fit.py"


rule gradient_diagnostics:
    input:
        unpack(gradient_point),
        data=dataset_inputs,
    output:
        table=results("gradient_diagnostics/{dataset}/gradients.tsv"),
    log:
        logs("gradient_diagnostics/{dataset}.log"),
    benchmark:
        benchmarks("gradient_diagnostics/{dataset}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
        cpus_per_task=1,
    params:
        spec=lookup(dpath="{dataset}", within=DATASET_SPECS),
        config=lookup(dpath="gradient_diagnostics", within=config),
        estimators=lookup(dpath="estimators", within=config),
    script:
        "../scripts/gradient_diagnostics.py"


rule simulate_fitted:
    input:
        fit=results("fit/{dataset}/fit.json"),
        data=dataset_inputs,
    output:
        folder=directory(results("simulate_fitted/{dataset}")),
    log:
        logs("simulate_fitted/{dataset}.log"),
    benchmark:
        benchmarks("simulate_fitted/{dataset}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
        cpus_per_task=1,
    params:
        spec=lookup(dpath="{dataset}", within=DATASET_SPECS),
        config=lookup(dpath="report", within=config),
    script:
        "../scripts/simulate_fitted.py"

rule reference_ode:
    input:
        sbml=lookup(dpath="models/{model}/sbml", within=config),
        summary=results("import/{model}/summary.json"),
    output:
        ode=results("reference_ode/{model}/ode.csv"),
    log:
        logs("reference_ode/{model}.log"),
    benchmark:
        benchmarks("reference_ode/{model}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        t_end=lookup(dpath="models/{model}/t_end", within=config),
        points=lookup(dpath="models/{model}/points", within=config),
        substance_units=lookup(dpath="models/{model}/substance_units", within=config),
    script:
        "../scripts/reference_ode.py"

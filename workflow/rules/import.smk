rule import_model:
    input:
        sbml=lookup(dpath="models/{model}/sbml", within=config),
    output:
        summary=results("import/{model}/summary.json"),
    log:
        logs("import_model/{model}.log"),
    benchmark:
        benchmarks("import_model/{model}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        substance_units=lookup(dpath="models/{model}/substance_units", within=config),
    script:
        "../scripts/import_model.py"

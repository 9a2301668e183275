rule import_model:
    input:
        sbml=model_param("sbml"),
    output:
        summary="results/import/{model}/summary.json",
    params:
        substance_units=model_param("substance_units"),
    log:
        "logs/import/{model}.log",
    benchmark:
        "benchmarks/workflow/import/{model}.tsv"
    conda:
        "../envs/sbmljax.yaml"
    script:
        "../scripts/import_model.py"

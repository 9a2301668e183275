# Figures for `snakemake --report results/report.html`: registered with report() and a caption each.


rule report_model:
    input:
        ensemble=results("simulate/{model}/{method}/ensemble.npz"),
        stats=results("simulate/{model}/{method}/stats.csv"),
        ode=results("reference_ode/{model}/ode.csv"),
    output:
        figure=report(
            results("report/{model}/ensemble_{method}.png"),
            caption="../report/ensemble.rst",
            category="Models",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "ensemble ({method}) vs ODE"},
        ),
    log:
        logs("report_model/{model}/{method}.log"),
    benchmark:
        benchmarks("report_model/{model}/{method}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        species=lookup(dpath="models/{model}/plot_species", within=config, default=None),
        sample_paths=lookup(dpath="report/sample_paths", within=config),
        quantiles=lookup(dpath="report/quantiles", within=config),
    script:
        "../scripts/report_model.py"


rule report_dataset:
    input:
        fit=results("fit/{dataset}/fit.json"),
        gradients=results("gradient_diagnostics/{dataset}/gradients.tsv"),
        fitted=results("simulate_fitted/{dataset}"),
        data=dataset_inputs,
    output:
        fit=report(
            results("report/{dataset}/fit.png"),
            caption="../report/fit.rst",
            category="Datasets",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "data vs fit"},
        ),
        means=report(
            results("report/{dataset}/means.png"),
            caption="../report/means.rst",
            category="Datasets",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "mean vs ODE at both fits"},
        ),
        loss=report(
            results("report/{dataset}/loss.png"),
            caption="../report/loss.rst",
            category="Datasets",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "loss"},
        ),
        parameters=report(
            results("report/{dataset}/parameters.png"),
            caption="../report/parameters.rst",
            category="Datasets",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "parameter traces"},
        ),
        gradients=report(
            results("report/{dataset}/gradients.png"),
            caption="../report/gradients.rst",
            category="Datasets",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "gradient estimators"},
        ),
        estimates=report(
            results("report/{dataset}/estimates.tsv"),
            caption="../report/estimates.rst",
            category="Datasets",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "estimates (table)"},
        ),
    log:
        logs("report_dataset/{dataset}.log"),
    benchmark:
        benchmarks("report_dataset/{dataset}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    params:
        spec=lookup(dpath="{dataset}", within=DATASET_SPECS),
        config=lookup(dpath="report", within=config),
    script:
        "../scripts/report_dataset.py"

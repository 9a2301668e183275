# Optional: profile likelihood of chosen parameters (config["profile"]["parameters"]: dataset -> ids) around the
# fitted values, and its report figure.


rule profile:
    input:
        fit=results("fit/{dataset}/fit.json"),
        data=dataset_inputs,
    output:
        json=results("profile/{dataset}/{parameter}.json"),
        table=results("profile/{dataset}/{parameter}.tsv"),
    log:
        logs("profile/{dataset}/{parameter}.log"),
    benchmark:
        benchmarks("profile/{dataset}/{parameter}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: lookup(dpath="profile/threads", within=config)
    resources:
        mem_mb=4000,
        runtime=120,
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        spec=lookup(dpath="{dataset}", within=DATASET_SPECS),
        config=lookup(dpath="profile", within=config),
    script:
        "../scripts/profile.py"


rule report_profile:
    input:
        json=results("profile/{dataset}/{parameter}.json"),
    output:
        figure=report(
            results("report/{dataset}/profile_{parameter}.png"),
            caption="../report/profile.rst",
            category="Datasets",
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "figure": "profile likelihood of {parameter}",
            },
        ),
    log:
        logs("report_profile/{dataset}/{parameter}.log"),
    benchmark:
        benchmarks("report_profile/{dataset}/{parameter}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
        cpus_per_task=1,
    script:
        "../scripts/report_profile.py"

# Optional: scan SBML files or folders (config["check"]["paths"]) with `sbmljax check`, e.g. a whole model
# repository on a cluster node; one row per file in a TSV, and an HTML summary.


rule check:
    input:
        paths=lookup(dpath="check/paths", within=config),
    output:
        tsv=report(
            results("check/checks.tsv"),
            caption="../report/check.rst",
            category="Model check",
            labels={"figure": "sbmljax check (table)"},
        ),
        html=results("check/checks.html"),
    log:
        logs("check/check.log"),
    benchmark:
        benchmarks("check/check.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: lookup(dpath="check/workers", within=config)
    resources:
        mem_mb=lambda wildcards, threads: 2000 * threads,
        runtime=120,
        cpus_per_task=lambda wildcards, threads: threads,
    params:
        t_end=lookup(dpath="check/t_end", within=config),
        timeout=lookup(dpath="check/timeout", within=config),
    script:
        "../scripts/check.py"

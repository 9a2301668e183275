# Each ensemble is split into seed-chunks (independent jobs, e.g. one per cluster node) and merged:
# trajectory i always uses the key fold_in(seed, i), so the merge equals one big run with the same seed.


rule simulate_chunk:
    input:
        sbml=lookup(dpath="models/{model}/sbml", within=config),
        summary=results("import/{model}/summary.json"),
    output:
        counts=temp(results("simulate/{model}/{method}/chunk{chunk}.npz")),
    log:
        logs("simulate_chunk/{model}/{method}/chunk{chunk}.log"),
    benchmark:
        benchmarks("simulate_chunk/{model}/{method}/chunk{chunk}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        cpus_per_task=1,
    params:
        run=lookup(dpath="{model}", within=SIMULATIONS),
    script:
        "../scripts/simulate_chunk.py"


rule merge_simulations:
    input:
        chunks=expand(
            results("simulate/{{model}}/{{method}}/chunk{chunk}.npz"), chunk=CHUNKS
        ),
    output:
        stats=results("simulate/{model}/{method}/stats.csv"),
        samples=results("simulate/{model}/{method}/samples.csv"),
        ensemble=results("simulate/{model}/{method}/ensemble.npz"),
    log:
        logs("merge_simulations/{model}/{method}.log"),
    benchmark:
        benchmarks("merge_simulations/{model}/{method}.tsv")
    conda:
        "../envs/sbmljax.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
        cpus_per_task=1,
    params:
        sample_paths=lookup(dpath="simulate/sample_paths", within=config),
        # The report's quantile band is drawn from these statistics.
        quantiles=sorted({0.05, 0.25, 0.5, 0.75, 0.95, *config["report"]["quantiles"]}),
    script:
        "../scripts/merge_simulations.py"

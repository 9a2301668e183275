rule simulate_chunk:
    input:
        sbml=model_param("sbml"),
        summary="results/import/{model}/summary.json",
    output:
        counts=temp("results/simulate/{model}/{method}/chunk{chunk}.npz"),
    params:
        t_end=model_param("t_end"),
        points=model_param("points"),
        substance_units=model_param("substance_units"),
        n_trajectories=config["simulate"]["n_trajectories"],
        chunks=config["simulate"]["chunks"],
        seed=config["simulate"]["seed"],
    log:
        "logs/simulate/{model}/{method}/chunk{chunk}.log",
    benchmark:
        "benchmarks/workflow/simulate/{model}/{method}/chunk{chunk}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/sbmljax.yaml"
    script:
        "../scripts/simulate_chunk.py"


rule merge_simulations:
    input:
        chunks=expand(
            "results/simulate/{{model}}/{{method}}/chunk{chunk}.npz", chunk=CHUNKS
        ),
    output:
        stats="results/simulate/{model}/{method}/stats.csv",
        samples="results/simulate/{model}/{method}/samples.csv",
    params:
        sample_paths=config["simulate"]["sample_paths"],
    log:
        "logs/simulate/{model}/{method}/merge.log",
    conda:
        "../envs/sbmljax.yaml"
    script:
        "../scripts/merge_simulations.py"

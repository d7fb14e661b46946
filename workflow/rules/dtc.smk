# Distributed Training Across the World (DTS): one torchrun job per training
# run (setup x method x options x defense x seed), one CSV, then tables and
# figures. Ranks are local processes (gloo on CPU, NCCL on GPU); on a cluster
# the profile gives the job its GPUs.

import sharegrad.pipeline.dtc as pipeline_dtc


rule dtc_train:
    input:
        lambda w: pipeline_dtc.dtc_data_file(config, w.cell),
    output:
        run=f"{RESULTS}/dtc/{{cell}}/run.json",
        curves=f"{RESULTS}/dtc/{{cell}}/curves.csv",
    log:
        f"{LOGS}/dtc/{{cell}}.log",
    benchmark:
        f"{LOGS}/dtc/{{cell}}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: pipeline_dtc.dtc_ranks(config) * THREADS
    resources:
        gpu=pipeline_dtc.dtc_ranks(config) if config["device"] != "cpu" else 0,
        runtime=config["dtc"].get("runtime_min", 60),
        mem_mb=2000 * pipeline_dtc.dtc_ranks(config),
    params:
        args=lambda w: pipeline_dtc.dtc_cli_args(config, w.cell),
        ranks=pipeline_dtc.dtc_ranks(config),
    shell:
        "torchrun --standalone --nproc_per_node {params.ranks} -m sharegrad.cli train {params.args}"
        " --out {output.run} --curves {output.curves} > {log} 2>&1"


rule dtc_aggregate:
    input:
        pipeline_dtc.dtc_run_files(config),
    output:
        table=f"{RESULTS}/dtc.csv",
        curves=f"{RESULTS}/dtc_curves.csv",
    log:
        f"{LOGS}/dtc_aggregate.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad aggregate-dtc {input} --out {output.table} --curves {output.curves} > {log} 2>&1"

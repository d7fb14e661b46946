# Distributed Training Across the World (DTS): one torchrun job per training
# run (setup x method x options x defense x seed), one CSV, then tables and
# figures. Ranks are local processes (gloo on CPU, NCCL on GPU); on a cluster
# the profile gives the job its GPUs.

import json

import sharegrad.pipeline_dtc as pipeline_dtc

ALL_TARGETS.extend([
    f"{FIGURES}/dtc_accuracy.md", f"{FIGURES}/dtc_accuracy.html", f"{FIGURES}/dtc_curves.png",
    f"{FIGURES}/dtc_delay_period.png", f"{FIGURES}/dtc_defense_cost.md", f"{FIGURES}/dtc_defense_cost.html",
])


rule dtc_train:
    input:
        lambda w: pipeline_dtc.dtc_data_file(config, w.cell),
    output:
        run=f"{RESULTS}/dtc/{{cell}}/run.json",
        curves=f"{RESULTS}/dtc/{{cell}}/curves.csv",
    params:
        args=lambda w: pipeline_dtc.dtc_cli_args(config, w.cell),
        ranks=pipeline_dtc.dtc_ranks(config),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/dtc/{{cell}}.log",
    benchmark:
        f"{LOGS}/dtc/{{cell}}.benchmark.tsv"
    threads: pipeline_dtc.dtc_ranks(config) * THREADS
    resources:
        gpu=pipeline_dtc.dtc_ranks(config) if config["device"] != "cpu" else 0,
        runtime=config["dtc"].get("runtime_min", 60),
        mem_mb=2000 * pipeline_dtc.dtc_ranks(config),
    shell:
        "torchrun --standalone --nproc_per_node {params.ranks} -m sharegrad.cli train {params.args}"
        " --out {output.run} --curves {output.curves} > {log} 2>&1"


rule dtc_aggregate:
    input:
        pipeline_dtc.dtc_run_files(config),
    output:
        table=f"{RESULTS}/dtc.csv",
        curves=f"{RESULTS}/dtc_curves.csv",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/dtc_aggregate.log",
    shell:
        "sharegrad aggregate-dtc {input} --out {output.table} --curves {output.curves} > {log} 2>&1"


rule figure_dtc_accuracy:
    input:
        f"{RESULTS}/dtc.csv",
    output:
        table=f"{FIGURES}/dtc_accuracy.md",
        html=report(f"{FIGURES}/dtc_accuracy.html", caption="../report/dtc_accuracy.rst", category=DTS_PAPER,
                    subcategory="Distributed training",
                    labels=shown("Final test accuracy per method, against synchronous SGD (table)")),
    params:
        options=json.dumps({"config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dtc_accuracy.log",
    shell:
        "sharegrad figure dtc_accuracy --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"


rule figure_dtc_curves:
    input:
        f"{RESULTS}/dtc_curves.csv",
    output:
        report(f"{FIGURES}/dtc_curves.png", caption="../report/dtc_curves.rst", category=DTS_PAPER,
               subcategory="Distributed training", labels=shown("Training loss and test accuracy over the epochs")),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dtc_curves.log",
    shell:
        "sharegrad figure dtc_curves --csv {input} --out {output} > {log} 2>&1"


rule figure_dtc_delay_period:
    input:
        f"{RESULTS}/dtc.csv",
    output:
        report(f"{FIGURES}/dtc_delay_period.png", caption="../report/dtc_delay_period.rst", category=DTS_PAPER,
               subcategory="Distributed training", labels=shown("Accuracy against delay and period")),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dtc_delay_period.log",
    shell:
        "sharegrad figure dtc_delay_period --csv {input} --out {output} > {log} 2>&1"


rule figure_dtc_defense_cost:
    input:
        f"{RESULTS}/dtc.csv",
    output:
        table=f"{FIGURES}/dtc_defense_cost.md",
        html=report(f"{FIGURES}/dtc_defense_cost.html", caption="../report/dtc_defense_cost.rst", category=DTS_PAPER,
                    subcategory="Distributed training", labels=shown("Accuracy cost of each defense (table)")),
    params:
        options=json.dumps({"config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dtc_defense_cost.log",
    shell:
        "sharegrad figure dtc_defense_cost --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"

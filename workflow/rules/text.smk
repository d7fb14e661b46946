# Deep Leakage from Gradients on text: BERT masked-LM gradients of one sentence
# -> the sentence. One job = one cell (model x attack x defense x level) on a
# range of sentences; then one CSV (its figures: figures.smk, from sharegrad/report/text_*).

from sharegrad.checkpoint import cli_args as checkpoint_args

import sharegrad.pipeline.text as pipeline_text


rule text_corpus:
    output:
        f"data/text/{config['name']}/sentences.json",
    log:
        f"{LOGS}/text/corpus.log",
    conda:
        CONDA_ENV
    params:
        args=pipeline_text.corpus_args(config),
    shell:
        "sharegrad text-corpus {params.args} --out {output} > {log} 2>&1"


rule text_attack:
    input:
        rules.text_corpus.output,
    output:
        directory(f"{RESULTS}/text/{{cell}}/chunk~{{chunk}}"),
    log:
        f"{LOGS}/text/{{cell}}/chunk~{{chunk}}.log",
    benchmark:
        f"{LOGS}/text/{{cell}}/chunk~{{chunk}}.benchmark.tsv"
    conda:
        CONDA_ENV
    threads: THREADS
    resources:
        gpu=1 if config["device"] != "cpu" else 0,
        runtime=600,
        mem_mb=8000,
    params:
        args=lambda w: pipeline_text.text_cli_args(config, w.cell, w.chunk),
        # finished sentences and the running attack's checkpoint, kept across a killed job
        stash=f"{RESULTS}/text/{{cell}}/.stash",
        checkpoint=checkpoint_args(config),
    shell:
        "sharegrad dlg-text --sentences {input} {params.args} --out-dir {output} --stash {params.stash} {params.checkpoint} > {log} 2>&1"


rule text_aggregate:
    input:
        pipeline_text.text_chunk_dirs(config),
    output:
        table=f"{RESULTS}/text.csv",
        snapshots=f"{RESULTS}/text_snapshots.csv",
        curves=f"{RESULTS}/text_curves.csv",
    log:
        f"{LOGS}/text_aggregate.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad aggregate-dlg-text {input} --out {output.table} --snapshots {output.snapshots} --curves {output.curves} > {log} 2>&1"

# Deep Leakage from Gradients on text: BERT masked-LM gradients of one sentence
# -> the sentence. One job = one cell (model x attack x defense x level) on a
# range of sentences; then one CSV; then the figures, which read only the CSVs.

from sharegrad.checkpoint import cli_args as checkpoint_args

import json

import sharegrad.pipeline_text as pipeline_text

TEXT = config["text"]
TEXT_FIGURES = ["text_decoding.md", "text_decoding.html", "text_summary.md", "text_summary.html", "text_length.png",
                "text_defenses.png"]
ALL_TARGETS.extend([f"{FIGURES}/{name}" for name in TEXT_FIGURES])


rule text_corpus:
    output:
        f"data/text/{config['name']}/sentences.json",
    params:
        args=pipeline_text.corpus_args(config),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/text/corpus.log",
    shell:
        "sharegrad text-corpus {params.args} --out {output} > {log} 2>&1"


rule text_attack:
    input:
        rules.text_corpus.output,
    output:
        directory(f"{RESULTS}/text/{{cell}}/chunk~{{chunk}}"),
    params:
        args=lambda w: pipeline_text.text_cli_args(config, w.cell, w.chunk),
        # finished sentences and the running attack's checkpoint, kept across a killed job
        stash=f"{RESULTS}/text/{{cell}}/.stash",
        checkpoint=checkpoint_args(config),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/text/{{cell}}/chunk~{{chunk}}.log",
    benchmark:
        f"{LOGS}/text/{{cell}}/chunk~{{chunk}}.benchmark.tsv"
    threads: THREADS
    resources:
        gpu=1 if config["device"] != "cpu" else 0,
        runtime=600,
        mem_mb=8000,
    shell:
        "sharegrad dlg-text --sentences {input} {params.args} --out-dir {output} --stash {params.stash} {params.checkpoint} > {log} 2>&1"


rule text_aggregate:
    input:
        pipeline_text.text_chunk_dirs(config),
    output:
        table=f"{RESULTS}/text.csv",
        snapshots=f"{RESULTS}/text_snapshots.csv",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/text_aggregate.log",
    shell:
        "sharegrad aggregate-dlg-text {input} --out {output.table} --snapshots {output.snapshots} > {log} 2>&1"


rule figure_text_decoding:
    input:
        rules.text_aggregate.output.snapshots,
    output:
        table=f"{FIGURES}/text_decoding.md",
        html=report(f"{FIGURES}/text_decoding.html", caption="../report/text_decoding.rst", category=DLG_PAPER,
                    subcategory="Text", labels=shown("A sentence decoded over the iterations (table)")),
    params:
        options=json.dumps(TEXT["figures"]["decoding"]),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/text_decoding.log",
    shell:
        "sharegrad figure text_decoding --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"


rule figure_text_summary:
    input:
        rules.text_aggregate.output.table,
    output:
        table=f"{FIGURES}/text_summary.md",
        html=report(f"{FIGURES}/text_summary.html", caption="../report/text_summary.rst", category=DLG_PAPER,
                    subcategory="Text", labels=shown("Token accuracy, ROUGE-L and exact matches per cell (table)")),
    params:
        options=json.dumps({"config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/text_summary.log",
    shell:
        "sharegrad figure text_summary --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"


rule figure_text_length:
    input:
        rules.text_aggregate.output.table,
    output:
        report(f"{FIGURES}/text_length.png", caption="../report/text_length.rst", category=DLG_PAPER,
               subcategory="Text", labels=shown("Recovery against sentence length")),
    params:
        options=json.dumps({}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/text_length.log",
    shell:
        "sharegrad figure text_length --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"


rule figure_text_defenses:
    input:
        rules.text_aggregate.output.table,
    output:
        report(f"{FIGURES}/text_defenses.png", caption="../report/text_defenses.rst", category=DLG_PAPER,
               subcategory="Text", labels=shown("Text recovery per defense and level")),
    params:
        options=json.dumps(TEXT["figures"]["defenses"]),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/text_defenses.log",
    shell:
        "sharegrad figure text_defenses --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"

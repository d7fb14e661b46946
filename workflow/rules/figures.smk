# Figures and tables: each reads only aggregated CSVs, so it rebuilds without
# rerunning any attack or training job.

import json

RECONSTRUCTIONS = config["dlg"]["figures"]["reconstructions"]
ALL_TARGETS.extend(
    [pipeline.reconstruction_figure(name) for name in RECONSTRUCTIONS]
    + [
        "figures/dlg_summary.md",
        "figures/dlg_batch_size.png",
        "figures/dlg_loss_curves.png",
    ]
)


rule figure_dlg_reconstructions:
    input:
        f"{RESULTS}/dlg.csv",
    output:
        report(
            "figures/dlg_reconstructions.png",
            caption="../report/dlg_reconstructions.rst",
            category="Deep Leakage from Gradients",
        ),
    params:
        options=json.dumps(RECONSTRUCTIONS["main"]),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dlg_reconstructions.log",
    shell:
        "sharegrad figure dlg_reconstructions --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"


use rule figure_dlg_reconstructions as figure_dlg_reconstructions_named with:
    output:
        report(
            "figures/dlg_reconstructions_{name}.png",
            caption="../report/dlg_reconstructions.rst",
            category="Deep Leakage from Gradients",
        ),
    params:
        options=lambda w: json.dumps(RECONSTRUCTIONS[w.name]),
    log:
        f"{LOGS}/figures/dlg_reconstructions_{{name}}.log",


rule figure_dlg_batch_size:
    input:
        f"{RESULTS}/dlg.csv",
    output:
        report(
            "figures/dlg_batch_size.png",
            caption="../report/dlg_batch_size.rst",
            category="Deep Leakage from Gradients",
        ),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dlg_batch_size.log",
    shell:
        "sharegrad figure dlg_batch_size --csv {input} --out {output} > {log} 2>&1"


rule figure_dlg_loss_curves:
    input:
        f"{RESULTS}/dlg_curves.csv",
    output:
        report(
            "figures/dlg_loss_curves.png",
            caption="../report/dlg_loss_curves.rst",
            category="Deep Leakage from Gradients",
        ),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dlg_loss_curves.log",
    shell:
        "sharegrad figure dlg_loss_curves --csv {input} --out {output} > {log} 2>&1"


rule figure_dlg_summary:
    input:
        f"{RESULTS}/dlg.csv",
    output:
        report(
            "figures/dlg_summary.md",
            caption="../report/dlg_summary.rst",
            category="Deep Leakage from Gradients",
        ),
    params:
        options=json.dumps({"config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dlg_summary.log",
    shell:
        "sharegrad figure dlg_summary --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"

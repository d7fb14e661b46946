# Figures and tables of the image attacks: each reads only aggregated CSVs, so it
# rebuilds without rerunning any attack or training job.

import json

RECONSTRUCTIONS = pipeline.reconstruction_figures(config)
ALL_TARGETS.extend(
    [pipeline.reconstruction_figure(config, name) for name in RECONSTRUCTIONS]
    + [
        f"{FIGURES}/dlg_summary.md",
        f"{FIGURES}/dlg_summary.html",
        f"{FIGURES}/dlg_batch_size.png",
        f"{FIGURES}/dlg_loss_curves.png",
    ]
)


rule figure_dlg_reconstructions:
    input:
        f"{RESULTS}/dlg.csv",
    output:
        report(
            f"{FIGURES}/dlg_reconstructions.png",
            caption="../report/dlg_reconstructions.rst",
            category=DLG_PAPER,
            subcategory="Images",
            labels=shown("Reconstructions over the iterations"),
        ),
    params:
        options=json.dumps(RECONSTRUCTIONS.get("main", {})),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dlg_reconstructions.log",
    shell:
        "sharegrad figure dlg_reconstructions --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"


use rule figure_dlg_reconstructions as figure_dlg_reconstructions_named with:
    output:
        report(
            f"{FIGURES}/dlg_reconstructions_{{name}}.png",
            caption="../report/dlg_reconstructions.rst",
            category=DLG_PAPER,
            subcategory="Images",
            labels=shown("Reconstructions over the iterations: {name}"),
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
            f"{FIGURES}/dlg_batch_size.png",
            caption="../report/dlg_batch_size.rst",
            category=DLG_PAPER,
            subcategory="Images",
            labels=shown("Success rate and iterations against batch size"),
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
            f"{FIGURES}/dlg_loss_curves.png",
            caption="../report/dlg_loss_curves.rst",
            category=DLG_PAPER,
            subcategory="Images",
            labels=shown("Gradient-match loss over the iterations"),
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
        table=f"{FIGURES}/dlg_summary.md",
        html=report(
            f"{FIGURES}/dlg_summary.html",
            caption="../report/dlg_summary.rst",
            category=DLG_PAPER,
            subcategory="Images",
            labels=shown("Summary per cell: success rate, MSE, labels, time (table)"),
        ),
    params:
        options=json.dumps({"config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dlg_summary.log",
    shell:
        "sharegrad figure dlg_summary --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"

# Figures and tables: each reads only aggregated CSVs, so it rebuilds without
# rerunning any attack or training job.

import json

ALL_TARGETS.extend(["figures/dlg_reconstructions.png", "figures/dlg_summary.md"])


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
        options=json.dumps(config["dlg"]["figures"].get("reconstructions", {})),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/dlg_reconstructions.log",
    shell:
        "sharegrad figure dlg_reconstructions --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"


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

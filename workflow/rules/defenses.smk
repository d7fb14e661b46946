import json

# Defense sweep (DLG section 5): the same image attacks on gradients passed
# through a defense (sharegrad/defenses/), one cell per defense x level x model x
# batch size; `defense: none, level: 0` is the baseline. The cells are image-attack
# cells run by dlg_attack (dlg.smk); sharegrad.pipeline_defenses lists them.

rule defenses_aggregate:
    input:
        pipeline_defenses.chunk_dirs(config),
    output:
        table=f"{RESULTS}/defenses.csv",
        curves=f"{RESULTS}/defenses_curves.csv",
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/defenses_aggregate.log",
    shell:
        "sharegrad aggregate-dlg {input} --out {output.table} --curves {output.curves} > {log} 2>&1"


ALL_TARGETS.extend(
    [
        f"{FIGURES}/defense_curves.png",
        f"{FIGURES}/defense_reconstructions.png",
        f"{FIGURES}/defense_table.md",
        f"{FIGURES}/defense_table.html",
        f"{FIGURES}/defense_summary.md",
        f"{FIGURES}/defense_summary.html",
    ]
)


rule figure_defense_curves:
    input:
        f"{RESULTS}/defenses_curves.csv",
    output:
        report(
            f"{FIGURES}/defense_curves.png",
            caption="../report/defense_curves.rst",
            category=DLG_PAPER,
            subcategory="Defenses",
            labels=shown("Gradient-match loss per defense and level"),
        ),
    params:
        options=json.dumps(pipeline_defenses.figure_options(config, "curves")),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/defense_curves.log",
    shell:
        "sharegrad figure defense_curves --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"


rule figure_defense_reconstructions:
    input:
        f"{RESULTS}/defenses.csv",
    output:
        report(
            f"{FIGURES}/defense_reconstructions.png",
            caption="../report/defense_reconstructions.rst",
            category=DLG_PAPER,
            subcategory="Defenses",
            labels=shown("Reconstructions per defense and level"),
        ),
    params:
        options=json.dumps(pipeline_defenses.figure_options(config, "reconstructions")),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/defense_reconstructions.log",
    shell:
        "sharegrad figure defense_reconstructions --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"


rule figure_defense_table:
    input:
        f"{RESULTS}/defenses.csv",
    output:
        table=f"{FIGURES}/defense_table.md",
        html=report(
            f"{FIGURES}/defense_table.html",
            caption="../report/defense_table.rst",
            category=DLG_PAPER,
            subcategory="Defenses",
            labels=shown("Success rate, SSIM and verdict per defense and level (table)"),
        ),
    params:
        options=json.dumps({"verdict": config["defenses"]["verdict"], "config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/defense_table.log",
    shell:
        "sharegrad figure defense_table --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"


rule figure_defense_summary:
    input:
        f"{RESULTS}/defenses.csv",
    output:
        table=f"{FIGURES}/defense_summary.md",
        html=report(
            f"{FIGURES}/defense_summary.html",
            caption="../report/defense_summary.rst",
            category=DLG_PAPER,
            subcategory="Defenses",
            labels=shown("Which defenses stop the attack, from which level (table)"),
        ),
    params:
        options=json.dumps({"verdict": config["defenses"]["verdict"], "config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/defense_summary.log",
    shell:
        "sharegrad figure defense_summary --csv {input} --out {output.table} --html {output.html}"
        " --options '{params.options}' > {log} 2>&1"

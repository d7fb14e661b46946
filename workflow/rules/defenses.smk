# Defense sweep (DLG section 5): the same image attacks on gradients passed
# through a defense (sharegrad/defenses/), one cell per defense x level x model x
# batch size; `defense: none, level: 0` is the baseline. The cells are image-attack
# cells run by dlg_attack (dlg.smk); sharegrad.pipeline.defenses lists them.

import sharegrad.pipeline.defenses as pipeline_defenses


rule defenses_aggregate:
    input:
        pipeline_defenses.chunk_dirs(config),
    output:
        table=f"{RESULTS}/defenses.csv",
        curves=f"{RESULTS}/defenses_curves.csv",
    log:
        f"{LOGS}/defenses_aggregate.log",
    conda:
        CONDA_ENV
    shell:
        "sharegrad aggregate-dlg {input} --out {output.table} --curves {output.curves} > {log} 2>&1"

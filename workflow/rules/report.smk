# The HTML report (`snakemake --report report.html`): its front page
# (workflow/report/workflow.rst) and a provenance table of every result.
# Included after every stage's rule file, so ALL_TARGETS is complete here.

import os

from sharegrad.provenance import config_hash as _config_hash


report: "../report/workflow.rst"


PROVENANCE_TABLE = f"{FIGURES}/provenance.md"
PROVENANCE_PAGE = f"{FIGURES}/provenance.html"


rule report_provenance:
    input:
        # Every other target first: the table then covers every result of the run.
        [target for target in ALL_TARGETS if target not in (PROVENANCE_TABLE, PROVENANCE_PAGE)],
    output:
        table=PROVENANCE_TABLE,
        html=report(
            PROVENANCE_PAGE,
            caption="../report/provenance.rst",
            category="Provenance",
            subcategory="Every result",
            labels=shown("Commit, settings hash, versions, device and host of every result (table)"),
        ),
    log:
        f"{LOGS}/report_provenance.log",
    conda:
        CONDA_ENV
    params:
        # results/<name>/, the folder above this config's figures/
        results=lambda wildcards, output: os.path.dirname(os.path.dirname(output.table)),
        config_name=config["name"],
        config_hash=_config_hash(config),
    shell:
        "sharegrad provenance --results {params.results} --config-name {params.config_name} "
        "--config-hash {params.config_hash} --out {output.table} > {log} 2>&1"
        " && sharegrad html {output.table} --out {output.html} >> {log} 2>&1"


ALL_TARGETS.extend([PROVENANCE_TABLE, PROVENANCE_PAGE])

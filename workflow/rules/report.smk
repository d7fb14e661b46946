# The HTML report (`snakemake --report report.html`): its front page
# (workflow/report/workflow.rst) and a provenance table of every result.
# Included after every stage's rule file, so ALL_TARGETS is complete here.

import sharegrad.pipeline.report as pipeline_report
from sharegrad.provenance import config_hash as _config_hash


report: "../report/workflow.rst"


PROVENANCE_TABLE, PROVENANCE_PAGE = pipeline_report.provenance_files(config)


rule report_provenance:
    input:
        # Every other target first: the table then covers every result of the run.
        pipeline_report.provenance_inputs(config, ALL_TARGETS),
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
        results=lambda wildcards: pipeline_report.results_folder(config),
        config_name=config["name"],
        config_hash=_config_hash(config),
    shell:
        "sharegrad provenance --results {params.results} --config-name {params.config_name} "
        "--config-hash {params.config_hash} --out {output.table} > {log} 2>&1"
        " && sharegrad html {output.table} --out {output.html} >> {log} 2>&1"


ALL_TARGETS.extend([PROVENANCE_TABLE, PROVENANCE_PAGE])

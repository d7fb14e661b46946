# The HTML report (`snakemake --report report.html`): its front page
# (workflow/report/workflow.rst) and a provenance table of every result.
# Included after every stage's rule file, so ALL_TARGETS is complete here.

from sharegrad.provenance import config_hash as _config_hash


report: "../report/workflow.rst"


PROVENANCE_TABLE = "figures/provenance.md"


rule report_provenance:
    input:
        # Every other target first: the table then covers every result of the run.
        [target for target in ALL_TARGETS if target != PROVENANCE_TABLE],
    output:
        report(PROVENANCE_TABLE, caption="../report/provenance.rst", category="Provenance"),
    params:
        results=RESULTS,
        config_name=config["name"],
        config_hash=_config_hash(config),
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/report_provenance.log",
    shell:
        "sharegrad provenance --results {params.results} --config-name {params.config_name} "
        "--config-hash {params.config_hash} --out {output} > {log} 2>&1"


ALL_TARGETS.append(PROVENANCE_TABLE)

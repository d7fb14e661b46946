# The claims ledger: every claim of experiments/claims.yaml judged on this config's
# aggregated CSVs (a claim no CSV of the config measures reads "not measured").

import sharegrad.pipeline.claims as pipeline_claims

CLAIM_SOURCES = pipeline_claims.claim_sources(config)
ALL_TARGETS.extend([f"{FIGURES}/claims.md", f"{FIGURES}/claims.html"])


rule table_claims_ledger:
    input:
        claims="experiments/claims.yaml",
        csvs=list(CLAIM_SOURCES.values()),
    output:
        ledger=f"{FIGURES}/claims.md",
        html=report(
            f"{FIGURES}/claims.html",
            caption="../report/claims.rst",
            category="Claims ledger",
            subcategory="Both papers",
            labels=shown("Every claim of both papers: verdict on this config's results (table)"),
        ),
        table=f"{RESULTS}/claims.csv",
    log:
        f"{LOGS}/claims_ledger.log",
    conda:
        CONDA_ENV
    params:
        csvs=" ".join(f"--csv {name}={path}" for name, path in CLAIM_SOURCES.items()),
        title=config["name"],
    shell:
        "sharegrad claims --claims {input.claims} {params.csvs} --title 'config {params.title}' "
        "--out {output.ledger} --table {output.table} > {log} 2>&1"
        " && sharegrad html {output.ledger} --out {output.html} >> {log} 2>&1"

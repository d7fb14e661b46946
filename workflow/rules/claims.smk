# The claims ledger: every claim of experiments/claims.yaml judged on this config's
# aggregated CSVs (a claim no CSV of the config measures reads "not measured").

CLAIM_SOURCES = {
    name: path
    for name, path, section in [
        ("dlg", f"{RESULTS}/dlg.csv", "dlg"),
        ("defenses", f"{RESULTS}/defenses.csv", "defenses"),
        ("text", f"{RESULTS}/text.csv", "text"),
        ("dtc", f"{RESULTS}/dtc.csv", "dtc"),
        ("wan", f"{RESULTS}/wan.csv", "wan"),
        ("wan_projection", f"{RESULTS}/wan_projection.csv", "wan"),
    ]
    if section in config
}
ALL_TARGETS.append("figures/claims.md")


rule table_claims_ledger:
    input:
        claims="experiments/claims.yaml",
        csvs=list(CLAIM_SOURCES.values()),
    output:
        ledger=report(
            "figures/claims.md",
            caption="../report/claims.rst",
            category="Claims ledger",
        ),
        table=f"{RESULTS}/claims.csv",
    params:
        csvs=" ".join(f"--csv {name}={path}" for name, path in CLAIM_SOURCES.items()),
        title=config["name"],
    conda:
        CONDA_ENV
    log:
        f"{LOGS}/claims_ledger.log",
    shell:
        "sharegrad claims --claims {input.claims} {params.csvs} --title 'config {params.title}' "
        "--out {output.ledger} --table {output.table} > {log} 2>&1"

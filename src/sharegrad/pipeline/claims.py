"""What the claims ledger's rule (workflow/rules/claims.smk) reads: each aggregated CSV of a config
that can measure a claim, by the name experiments/claims.yaml gives its source.
"""

from __future__ import annotations

from sharegrad.pipeline.common import results_root

# source name -> (the config section that makes it, its CSV below results/<name>/)
SOURCES = {
    "dlg": ("dlg", "dlg.csv"),
    "defenses": ("defenses", "defenses.csv"),
    "text": ("text", "text.csv"),
    "dtc": ("dtc", "dtc.csv"),
    "wan": ("wan", "wan.csv"),
    "wan_projection": ("wan", "wan_projection.csv"),
}


def claim_sources(config: dict) -> dict[str, str]:
    """The CSVs this config makes that the ledger reads (a claim none of them measures reads "not measured")."""
    root = results_root(config)
    return {name: f"{root}/{csv}" for name, (section, csv) in SOURCES.items() if section in config}

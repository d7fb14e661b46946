# Helpers shared by the rules. The logic lives in sharegrad.pipeline, one module per
# rule file (tested without Snakemake); this file only binds sharegrad.pipeline.common
# to the loaded config.

import sharegrad.pipeline.common as pipeline_common

RESULTS = pipeline_common.results_root(config)
# Every figure and table of this config (and nothing of another's).
FIGURES = pipeline_common.figures_root(config)
LOGS = f"logs/{config['name']}"
THREADS = config.get("threads", 1)
# For `--software-deployment-method conda`: every rule runs in the project's
# environment (relative to the rule files in workflow/rules/).
CONDA_ENV = "../../environment.yml"


wildcard_constraints:
    cell=r"[A-Za-z_]+~[^/]+(/[A-Za-z_]+~[^/]+)*",
    chunk=r"\d+-\d+",


# Each stage's .smk file appends the figures and tables it renders; `rule all`
# asks for all of them.
ALL_TARGETS = []


def all_targets():
    return list(ALL_TARGETS)


# The report's groups: one category per paper, a subcategory per stage; the claims
# ledger's category sorts first (the report orders categories alphabetically).
DLG_PAPER = "Deep Leakage from Gradients"
DTS_PAPER = "Distributed Training Across the World"


def shown(what):
    """An item's title in the report: what it shows, not its file name."""
    return {"item": what}

# Helpers shared by the rules. The logic lives in sharegrad.pipeline (tested
# without Snakemake); this file only binds it to the loaded config.

import sharegrad.pipeline as pipeline

RESULTS = pipeline.results_root(config)
LOGS = f"logs/{config['name']}"
THREADS = config.get("threads", 1)


wildcard_constraints:
    cell=r"[A-Za-z_]+~[^/]+(/[A-Za-z_]+~[^/]+)*",
    chunk=r"\d+-\d+",


def all_targets():
    return [
        "figures/dlg_reconstructions.png",
        "figures/dlg_summary.md",
    ]

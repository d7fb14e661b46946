# sharegrad: reproduce Deep Leakage from Gradients and Distributed Training
# Across the World (Zhu, Han et al., NeurIPS 2019).
#
#   snakemake --cores all                                    # paper.yaml, GPU workstation
#   snakemake --cores 2 --configfile experiments/smoke.yaml  # tiny CPU subset
#   snakemake --profile workflow/profiles/slurm              # cluster
#
# The rules are thin: each calls the `sharegrad` CLI; the logic is in src/.

from snakemake.utils import min_version

min_version("9.0")


# paper.yaml is the default; a config given with --configfile replaces it whole
# (no key-by-key merge, so a smoke run never inherits a paper-scale grid).
if not workflow.overwrite_configfiles:

    configfile: "experiments/paper.yaml"


import sharegrad.pipeline.common

# The schema (one line per problem: the field, the value, the allowed values) and its defaults;
# then every name in it (models, attacks and their settings, defenses, sync methods,
# figures) against the registries, so a typo stops here, not when its job runs.
sharegrad.pipeline.common.validate_config(config, f"{workflow.basedir}/experiments/schema.yaml")
sharegrad.pipeline.common.check_names(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/dlg.smk"


# name, seed, device, data and dlg are required; every other stage runs only when
# its section is in the config.
if "defenses" in config:

    include: "workflow/rules/defenses.smk"


if "text" in config:

    include: "workflow/rules/text.smk"


if "dtc" in config:

    include: "workflow/rules/dtc.smk"


if "wan" in config:

    include: "workflow/rules/wan.smk"


# After every stage: one rule per registered figure or table (sharegrad/report/) whose
# section is in the config, reading the stages' CSVs.
include: "workflow/rules/figures.smk"
# After every stage that writes a CSV: the claims ledger reads them all.
include: "workflow/rules/claims.smk"
# After every stage: the report front page and the provenance table of all results.
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),


# Last, so it sees every rule: GPU requests and local rules by rule name.
include: "workflow/rules/cluster.smk"

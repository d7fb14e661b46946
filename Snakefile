# sharegrad: reproduce Deep Leakage from Gradients and Distributed Training
# Across the World (Zhu, Han et al., NeurIPS 2019).
#
#   snakemake --cores all                                    # paper.yaml, GPU workstation
#   snakemake --cores 2 --configfile experiments/smoke.yaml  # tiny CPU subset
#   snakemake --profile workflow/profiles/slurm              # cluster
#
# The rules are thin: each calls the `sharegrad` CLI; the logic is in src/.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "experiments/paper.yaml"


validate(config, "experiments/schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/dlg.smk"
include: "workflow/rules/defenses.smk"
include: "workflow/rules/text.smk"
include: "workflow/rules/dtc.smk"
include: "workflow/rules/wan.smk"
include: "workflow/rules/figures.smk"


rule all:
    input:
        all_targets(),
    default_target: True

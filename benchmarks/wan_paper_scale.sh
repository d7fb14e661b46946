#!/usr/bin/env bash
# The DTS testbed emulated at paper scale on CPU ranks: the jobs of experiments/wan_paper_scale_cpu.yaml
# (4 ranks, 300 ms, 15 Mb/s, 25.6M parameters through the emulated link, each forward+backward padded to
# 0.2 s; a latency sweep at delay 20), run through the overlay's own Snakemake command, then kept in
# results/cpu/wan_paper_scale_cpu/ (CSVs, gzip JSON records, table, figures, README) and the ledger
# regenerated. About 35 minutes on this 2-core machine: the sends dominate, a dense sync of 25.6M
# parameters takes 82 s at 15 Mb/s, so most methods measure one or two cycles after their warm-up
# (`--min-cycles 1`, `--point-budget-s 60`, `--settle-steps 1`); a rerun keeps every finished job.
#   bash benchmarks/wan_paper_scale.sh
# The kept records were measured by an earlier form of this script that spelled each job's arguments
# itself (the same arguments the rule passes, with a 120 s collective timeout), then placed at the paths
# the rule writes, where the pipeline's aggregate read them.
set -euo pipefail
cd "$(dirname "$0")/.."
sharegrad kept-results --only wan_paper_scale_cpu

#!/bin/bash
# the other core (issue 21, ninth session): LeNet batch size 2 to 1250 steps, the label multiset, 3 batches, in a
# second clean worktree of 355c2f7 (run21m's loop was stopped while its joint-label attacks ran, so that the
# multiset runs here at the same time instead of after them)
W=/work/main/results/run21n
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
C=results/dlg_iterations_bs2_cpu/dlg/model~lenet/batch_size~2/attack~dlg/line_search~strong_wolfe
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/dlg_iterations_bs2_cpu.yaml --rerun-incomplete \
  --keep-going --config dlg_engine=sequential attacks_per_job=1 -- \
  $C/labels~multiset/defense~none/level~0/iterations~1250/chunk~{0-1,1-2,2-3} 2>&1 | tail -3
echo "end $(date -u +%T)"

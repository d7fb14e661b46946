#!/bin/bash
# core A after the published registration attack (issue 21, ninth session): LeNet batch size 2 to 1250 steps,
# joint labels then the multiset, 3 batches each, one attack per job, in a clean worktree of 355c2f7
# (ninth session: this loop was stopped while its joint-label attacks ran; the multiset ran in run21n at the
# same time instead: issue21_run21n.sh)
while [ -e /proc/12479 ]; do sleep 20; done  # 12479: the snakemake of the published registration attack (run21h)
W=/work/main/results/run21m
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
C=results/dlg_iterations_bs2_cpu/dlg/model~lenet/batch_size~2/attack~dlg/line_search~strong_wolfe
for l in joint multiset; do
  echo "=== $l $(date -u +%T)"
  snakemake --cores 1 --configfile experiments/smoke.yaml experiments/dlg_iterations_bs2_cpu.yaml --rerun-incomplete \
    --keep-going --config dlg_engine=sequential attacks_per_job=1 -- \
    $C/labels~$l/defense~none/level~0/iterations~1250/chunk~{0-1,1-2,2-3} 2>&1 | tail -3
done
echo "end $(date -u +%T)"

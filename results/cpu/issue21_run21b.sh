#!/bin/bash
# LeNet iterations-to-success chunks still missing (issue 21), one core, niced, one target at a time
W=/work/main/results/run21b
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
C=results/dlg_iterations_cpu/dlg/model~lenet
S=attack~dlg/line_search~strong_wolfe
for t in batch_size~2/$S/labels~multiset/defense~none/level~0/iterations~1200/chunk~2-3 \
  batch_size~8/$S/labels~multiset/defense~none/level~0/iterations~3000/chunk~0-1 \
  batch_size~8/$S/labels~joint/defense~none/level~0/iterations~3000/chunk~0-1 \
  batch_size~8/$S/labels~multiset/defense~none/level~0/iterations~3000/chunk~1-2 \
  batch_size~8/$S/labels~joint/defense~none/level~0/iterations~3000/chunk~1-2 \
  batch_size~8/$S/labels~multiset/defense~none/level~0/iterations~3000/chunk~2-3 \
  batch_size~8/$S/labels~joint/defense~none/level~0/iterations~3000/chunk~2-3; do
  echo "=== $t $(date -u +%T)"
  snakemake --cores 1 --configfile experiments/smoke.yaml experiments/dlg_iterations_cpu.yaml --config dlg_engine=sequential attacks_per_job=1 -- $C/$t 2>&1 | tail -3
done
echo "end $(date -u +%T)"

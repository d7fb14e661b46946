#!/bin/bash
# ResNet18-sigmoid batch 8, the second batch (images 8-15), multiset then joint labels, 300 steps (issue 21),
# one core, niced; starts when run21e (the Zen lines' published attack) ends
while pgrep -f "bash run21e.sh" >/dev/null; do sleep 30; done
W=/work/main/results/run21g
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
C=results/dlg_resnet_bs8_cpu/dlg/model~resnet18_sigmoid/batch_size~8/attack~dlg/line_search~strong_wolfe
for l in multiset joint; do
  echo "=== $l $(date -u +%T)"
  snakemake --cores 1 --configfile experiments/smoke.yaml experiments/dlg_resnet_bs8_cpu.yaml --rerun-incomplete \
    --config dlg_engine=sequential attacks_per_job=1 -- $C/labels~$l/defense~none/level~0/iterations~300/chunk~1-2 2>&1 | tail -3
done
echo "end $(date -u +%T)"

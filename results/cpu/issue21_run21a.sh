#!/bin/bash
# ResNet18-sigmoid batch 8 (issue 21), one core, niced
W=/work/main/results/run21a
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/dlg_resnet_bs8_cpu.yaml --config dlg_engine=sequential attacks_per_job=1 -- results/dlg_resnet_bs8_cpu/dlg.csv
echo "end $(date -u +%T) rc=$?"

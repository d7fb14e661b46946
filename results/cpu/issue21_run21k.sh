#!/bin/bash
# core B (issue 21, ninth session): ResNet18 batch 8, joint labels, images 8-15 (run21g, resumes from its checkpoint),
# then the token-set attack on the Henson sentence, random bert-base, 100 steps, in its own worktree (run21i, same
# commit as run21h) so that two snakemakes never share a working directory
W=/work/main/results/run21g
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
C=results/dlg_resnet_bs8_cpu/dlg/model~resnet18_sigmoid/batch_size~8/attack~dlg/line_search~strong_wolfe
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/dlg_resnet_bs8_cpu.yaml --rerun-incomplete \
  --config dlg_engine=sequential attacks_per_job=1 -- $C/labels~joint/defense~none/level~0/iterations~300/chunk~1-2 2>&1 | tail -3
W=/work/main/results/run21i
cd $W && export PYTHONPATH=$W/src
echo "=== tokenset henson $(date -u +%T) $(git rev-parse HEAD)"
C=results/text_slides_bert_random_100_cpu/text/model~bert_base_random
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_bert_random_100_cpu.yaml --rerun-incomplete \
  --keep-going -- $C/attack~text_dlg_tokenset/defense~none/level~0/chunk~0-1 2>&1 | tail -3
echo "end $(date -u +%T)"

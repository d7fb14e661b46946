#!/bin/bash
# core B after run21k (issue 21, ninth session): the token-set attack on the registration sentence, random
# bert-base, 100 steps, in run21i (taken over from run21j, whose loop was stopped after its published attack
# started, so that both cores stay busy to the end)
while pgrep -f "bash run21k.sh" >/dev/null; do sleep 20; done
W=/work/main/results/run21i
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "=== tokenset registration $(date -u +%T) $(git rev-parse HEAD)"
C=results/text_slides_bert_random_100_cpu/text/model~bert_base_random
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_bert_random_100_cpu.yaml --rerun-incomplete \
  --keep-going -- $C/attack~text_dlg_tokenset/defense~none/level~0/chunk~1-2 2>&1 | tail -3
echo "end $(date -u +%T)"

#!/bin/bash
# slide sentences, random bert-base, to 100 steps (issue 21), the published attack first, one core, niced;
# starts when run21f (the token-set Zen lines) ends; resumes from its checkpoints when rerun
while pgrep -f "bash run21f.sh" >/dev/null; do sleep 30; done
W=/work/main/results/run21h
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
C=results/text_slides_bert_random_100_cpu/text/model~bert_base_random
for a in text_dlg text_dlg_tokenset; do
  snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_bert_random_100_cpu.yaml --rerun-incomplete \
    --keep-going -- $C/attack~$a/defense~none/level~0/chunk~0-1 $C/attack~$a/defense~none/level~0/chunk~1-2 2>&1 | tail -3
done
echo "end $(date -u +%T)"

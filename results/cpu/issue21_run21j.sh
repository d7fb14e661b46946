#!/bin/bash
# core A (issue 21, ninth session): random bert-base to 100 steps in run21h: the published attack on both slide
# sentences (Henson resumes from its step-51 checkpoint), then the token-set attack on the registration sentence
# (ninth session: this loop was stopped once its second target had started, so its third, the token-set
# attack on the registration sentence, ran on the other core in run21i instead: issue21_run21l.sh)
W=/work/main/results/run21h
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
C=results/text_slides_bert_random_100_cpu/text/model~bert_base_random
for t in attack~text_dlg/defense~none/level~0/chunk~0-1 attack~text_dlg/defense~none/level~0/chunk~1-2 \
         attack~text_dlg_tokenset/defense~none/level~0/chunk~1-2; do
  echo "=== $t $(date -u +%T)"
  snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_bert_random_100_cpu.yaml --rerun-incomplete \
    --keep-going -- $C/$t 2>&1 | tail -3
done
echo "end $(date -u +%T)"

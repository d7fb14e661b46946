#!/bin/bash
# slide sentences, random bert-base, both text attacks, 30 steps (issue 21), one core, niced; starts when run21b ends
while pgrep -f "bash run21b.sh" >/dev/null; do sleep 30; done
W=/work/main/results/run21f
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_bert_random_cpu.yaml --rerun-incomplete --keep-going -- results/text_slides_bert_random_cpu/text.csv
echo "end $(date -u +%T) rc=$?"

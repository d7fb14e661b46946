#!/bin/bash
# BERT slide sentences on MiniLM-L6 (issue 21), one core, niced
W=/work/main/results/run21c
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_minilm_cpu.yaml -- results/text_slides_minilm_cpu/text.csv
echo "end $(date -u +%T) rc=$?"

#!/bin/bash
# published text attack, slide sentences, MiniLM-L6, 100 steps (issue 21), one core, niced
W=/work/main/results/run21d
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_minilm_100_cpu.yaml -- results/text_slides_minilm_100_cpu/text.csv
echo "end $(date -u +%T) rc=$?"

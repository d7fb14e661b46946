#!/bin/bash
# Zen lines, MiniLM-L6, both text attacks, 100 steps (issue 21), one core, niced; starts when run21c ends
while pgrep -f "bash run21c.sh" >/dev/null; do sleep 30; done
W=/work/main/results/run21e
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_zen_minilm_100_cpu.yaml --rerun-incomplete --keep-going -- results/text_zen_minilm_100_cpu/text.csv
echo "end $(date -u +%T) rc=$?"

#!/bin/bash
# Zen lines, MiniLM-L6, the published text attack, 100 steps (issue 21), one core, niced; starts when run21c ends.
# The token-set attack's chunks run from run21f.sh in the same worktree (--nolock there: disjoint outputs).
while pgrep -f "bash run21c.sh" >/dev/null; do sleep 30; done
W=/work/main/results/run21e
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
Z=results/text_zen_minilm_100_cpu/text/model~minilm_l6_offline/attack~text_dlg/defense~none/level~0
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_zen_minilm_100_cpu.yaml --rerun-incomplete --keep-going \
  -- data/text/text_zen_minilm_100_cpu/sentences.json $(for i in 0 1 2 3 4 5 6 7; do echo $Z/chunk~$i-$((i+1)); done)
echo "end $(date -u +%T) rc=$?"

#!/bin/bash
# slide sentences, random bert-base, both text attacks, 30 steps (issue 21), one core, niced; starts when run21b
# ends; then the token-set attack on the Zen lines on MiniLM-L6, 100 steps, in run21e's worktree (--nolock:
# run21e.sh runs the published attack's chunks there, disjoint outputs; the corpus file is made first by it)
while pgrep -f "bash run21b.sh" >/dev/null; do sleep 30; done
W=/work/main/results/run21f
cd $W && source /work/main/.venv/bin/activate && export PYTHONPATH=$W/src HF_HUB_OFFLINE=1
echo "start $(date -u +%T) $(git rev-parse HEAD)"
snakemake --cores 1 --configfile experiments/smoke.yaml experiments/text_slides_bert_random_cpu.yaml --rerun-incomplete --keep-going -- results/text_slides_bert_random_cpu/text.csv
echo "bert end $(date -u +%T) rc=$?"
W=/work/main/results/run21e
cd $W && export PYTHONPATH=$W/src
while [ ! -s data/text/text_zen_minilm_100_cpu/sentences.json ]; do sleep 30; done
Z=results/text_zen_minilm_100_cpu/text/model~minilm_l6_offline/attack~text_dlg_tokenset/defense~none/level~0
snakemake --cores 1 --nolock --configfile experiments/smoke.yaml experiments/text_zen_minilm_100_cpu.yaml --keep-going \
  -- $(for i in 0 1 2 3 4 5 6 7; do echo $Z/chunk~$i-$((i+1)); done)
echo "end $(date -u +%T) rc=$?"

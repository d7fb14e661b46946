#!/bin/bash
# Gather what issue 21's background runs finished into results/cpu/: each from its worktree (where the records
# are), aggregated by the checkout's sharegrad (the records keep the commit that made them).
set -u
source /work/main/.venv/bin/activate && export HF_HUB_OFFLINE=1
K=/work/main/results/cpu
finished() { # folders holding a finished record (attack~*.json or sentence~*.json)
  for d in $(ls -d $1 2>/dev/null); do ls $d/$2 >/dev/null 2>&1 && echo $d; done; }
# ResNet18-sigmoid batch 8
cd /work/main/results/run21a
D=$(finished "results/dlg_resnet_bs8_cpu/dlg/*/*/*/*/*/*/*/*/chunk~*" "attack~*.json")
if [ -n "$D" ]; then
  sharegrad aggregate-dlg $D --out results/dlg_resnet_bs8_cpu/dlg.csv --curves results/dlg_resnet_bs8_cpu/dlg_curves.csv
  sharegrad keep-records --csv results/dlg_resnet_bs8_cpu/dlg.csv --out $K/dlg_resnet_bs8_cpu
  cp results/dlg_resnet_bs8_cpu/dlg_curves.csv $K/dlg_resnet_bs8_cpu/
else echo "dlg_resnet_bs8_cpu: no finished attack"; fi
# text, slide sentences, MiniLM: the published attack at 100 steps (run21d), both attacks at 300 (run21c)
for pair in run21d:text_slides_minilm_100_cpu run21c:text_slides_minilm_cpu; do
  cd /work/main/results/${pair%%:*}; N=${pair##*:}
  D=$(finished "results/$N/text/*/*/*/*/chunk~*" "sentence~*.json")
  if [ -n "$D" ]; then
    sharegrad aggregate-dlg-text $D --out results/$N/text.csv --snapshots results/$N/text_snapshots.csv
    sharegrad keep-records --csv results/$N/text.csv --out $K/$N
    cp results/$N/text_snapshots.csv $K/$N/
  else echo "$N: no finished sentence"; fi
done

#!/bin/bash
# Gather what issue 21's background runs finished into results/cpu/: each from its worktree (where the records
# are), aggregated by the checkout's sharegrad (the records keep the commit that made them).
set -u
source /work/main/.venv/bin/activate && export HF_HUB_OFFLINE=1
K=/work/main/results/cpu
finished() { # folders holding a finished record (attack~*.json or sentence~*.json)
  for d in $(ls -d $1 2>/dev/null); do ls $d/$2 >/dev/null 2>&1 && echo $d; done; }
join_from() { # join_from WORKTREE GLOB RECORD: copy WORKTREE's finished folders matching GLOB into this one
  for d in $(cd "../$1" 2>/dev/null && finished "$2" "$3"); do
    [ -d "$d" ] || { mkdir -p "$(dirname "$d")" && cp -r "../$1/$d" "$d"; }; done; }
resnet() { # ResNet18-sigmoid batch 8
cd /work/main/results/run21a
# the second batch (images 8-15) ran in run21g, at the overlay's two-batch commit: its finished chunk folders
# join the first batch's here, so one table holds both
join_from run21g "results/dlg_resnet_bs8_cpu/dlg/*/*/*/*/*/*/*/*/chunk~1-2" "attack~*.json"
D=$(finished "results/dlg_resnet_bs8_cpu/dlg/*/*/*/*/*/*/*/*/chunk~*" "attack~*.json")
if [ -n "$D" ]; then
  sharegrad aggregate-dlg $D --out results/dlg_resnet_bs8_cpu/dlg.csv --curves results/dlg_resnet_bs8_cpu/dlg_curves.csv
  sharegrad keep-records --csv results/dlg_resnet_bs8_cpu/dlg.csv --out $K/dlg_resnet_bs8_cpu
  cp results/dlg_resnet_bs8_cpu/dlg_curves.csv $K/dlg_resnet_bs8_cpu/
  R=$K/dlg_resnet_bs8_cpu
  for d in $D; do l=$(echo $d | sed 's/.*labels~\([a-z]*\).*/\1/')
    for p in $d/attack~*.png; do cp $p $R/${l}_$(basename $p .png | tr -d '~')_reconstruction.png; done; done
  # the slides-style grid per label strategy, one row per batch, from the arrays (here, not kept)
  for l in $(for d in $D; do echo $d | sed 's/.*labels~\([a-z]*\).*/\1/'; done | sort -u); do
    sharegrad figure dlg_reconstructions --csv results/dlg_resnet_bs8_cpu/dlg.csv --out $R/dlg_reconstructions_$l.png \
      --options "{\"model\": \"resnet18_sigmoid\", \"batch_size\": 8, \"labels\": \"$l\", \"rows\": 2}"; done
  sharegrad figure dlg_per_image --csv $R/dlg.csv --out $R/dlg_per_image.md
  sharegrad figure dlg_summary --csv $R/dlg.csv --out $R/dlg_summary.md --options '{"config": "dlg_resnet_bs8_cpu"}'
  sharegrad figure dlg_loss_curves --csv $R/dlg_curves.csv --out $R/dlg_loss_curves.png
else echo "dlg_resnet_bs8_cpu: no finished attack"; fi
}
text() { # text: slide sentences on MiniLM, the published attack at 100 steps (run21d), both attacks at 300 (run21c);
# 8 Zen lines on MiniLM, both attacks at 100 (run21e); slide sentences on the random bert-base, both at 30 (run21f)
# and at 100 (run21h, with run21i)
for pair in run21d:text_slides_minilm_100_cpu run21c:text_slides_minilm_cpu run21e:text_zen_minilm_100_cpu \
    run21f:text_slides_bert_random_cpu run21h:text_slides_bert_random_100_cpu; do
  cd /work/main/results/${pair%%:*}; N=${pair##*:}
  # the random bert-base's token-set attack on the Henson sentence ran in run21i (same commit as run21h, its own
  # worktree so that two snakemakes never share one): its finished chunk folders join run21h's
  [ "$N" = text_slides_bert_random_100_cpu ] && join_from run21i "results/$N/text/*/*/*/*/chunk~*" "sentence~*.json"
  D=$(finished "results/$N/text/*/*/*/*/chunk~*" "sentence~*.json")
  if [ -n "$D" ]; then
    sharegrad aggregate-dlg-text $D --out results/$N/text.csv --snapshots results/$N/text_snapshots.csv \
      --curves results/$N/text_curves.csv
    sharegrad keep-records --csv results/$N/text.csv --out $K/$N
    cp results/$N/text_snapshots.csv results/$N/text_curves.csv $K/$N/
    sharegrad figure text_summary --csv $K/$N/text.csv --out $K/$N/text_summary.md --options "{\"config\": \"$N\"}"
    sharegrad figure text_loss_curves --csv $K/$N/text_curves.csv --out $K/$N/text_loss_curves.png
    # one decoding table per attack, of the slide sentences (or, where there are none, of every sentence)
    python -c "import pandas as p, json; t = p.read_csv('$K/$N/text.csv'); s = sorted(t.sentence_id.unique())
for a in sorted(t.attack.unique()):
    print(a, json.dumps({'attack': a, 'every': 10, **({} if any(i.startswith('slide') for i in s) else {'sentences': s})}))" |
    while read -r a o; do
      sharegrad figure text_decoding --csv $K/$N/text_snapshots.csv --out $K/$N/text_decoding_$a.md --options "$o"; done
  else echo "$N: no finished sentence"; fi
done
# every text cell of the issue in one table: per sentence, model, attack and budget (a sentence two runs read
# at the same budget is counted once; text_summary refuses if they decode it differently)
cd $K && sharegrad figure text_summary --out text_issue21_summary.md --options '{"config": "issue 21 text cells"}' \
  --csv $(ls text_slides_minilm_100_cpu/text.csv text_slides_minilm_cpu/text.csv text_zen_minilm_100_cpu/text.csv \
          text_slides_bert_random_cpu/text.csv text_slides_bert_random_100_cpu/text.csv 2>/dev/null)
}
lenet() { # LeNet iterations to success (run21b): the chunks finished there whose records are not kept yet, then the
# table and figures again from every kept record
cd /work/main/results/run21b
L=$K/dlg_iterations_cpu
NEW=""
for d in $(finished "results/dlg_iterations_cpu/dlg/*/*/*/*/*/*/*/*/chunk~*" "attack~*.json"); do
  [ -d "$L/records/${d#results/dlg_iterations_cpu/}" ] || NEW="$NEW $d"; done
if [ -n "$NEW" ]; then
  sharegrad aggregate-dlg $NEW --out results/dlg_iterations_cpu/dlg_new.csv --curves results/dlg_iterations_cpu/dlg_new_curves.csv
  sharegrad keep-records --csv results/dlg_iterations_cpu/dlg_new.csv --out $L
  rm -f $L/dlg_new.csv
  cd $L
  sharegrad aggregate-dlg $(find records -name "attack~*.json" -printf "%h\n" | sort -u) --out dlg.csv --curves dlg_curves.csv
  sharegrad figure dlg_summary --csv dlg.csv --out dlg_summary.md
  sharegrad figure dlg_loss_curves --csv dlg_curves.csv --out dlg_loss_curves.png
  sharegrad figure dlg_batch_size --csv dlg.csv --out dlg_batch_size.png
else echo "dlg_iterations_cpu: nothing new"; fi
# batch size 1 is in dlg_cpu (issue 4's run), ResNet18 at batch size 8 in dlg_resnet_bs8_cpu; the table reads them,
# and batch size 2 to 1250 steps in dlg_iterations_bs2_cpu, once it has a finished attack
cd $L && sharegrad figure dlg_iterations --csv ../dlg_cpu/dlg.csv dlg.csv ../dlg_resnet_bs8_cpu/dlg.csv \
  $(ls ../dlg_iterations_bs2_cpu/dlg.csv 2>/dev/null) --out dlg_iterations.md
}
bs2() { # LeNet batch size 2 to 1250 steps (run21m), past the ledger's refutation budget of 1204
cd /work/main/results/run21m
# the multiset ran in run21n (same commit, the other core): its finished chunk folders join run21m's
join_from run21n "results/dlg_iterations_bs2_cpu/dlg/*/*/*/*/*/*/*/*/chunk~*" "attack~*.json"
D=$(finished "results/dlg_iterations_bs2_cpu/dlg/*/*/*/*/*/*/*/*/chunk~*" "attack~*.json")
if [ -n "$D" ]; then
  sharegrad aggregate-dlg $D --out results/dlg_iterations_bs2_cpu/dlg.csv --curves results/dlg_iterations_bs2_cpu/dlg_curves.csv
  sharegrad keep-records --csv results/dlg_iterations_bs2_cpu/dlg.csv --out $K/dlg_iterations_bs2_cpu
  cp results/dlg_iterations_bs2_cpu/dlg_curves.csv $K/dlg_iterations_bs2_cpu/
  cd $K/dlg_iterations_bs2_cpu
  sharegrad figure dlg_summary --csv dlg.csv --out dlg_summary.md --options '{"config": "dlg_iterations_bs2_cpu"}'
  sharegrad figure dlg_loss_curves --csv dlg_curves.csv --out dlg_loss_curves.png
else echo "dlg_iterations_bs2_cpu: no finished attack"; fi
}
# usage: issue21_finish.sh [resnet] [text] [lenet] [bs2] (default: all four; lenet's table reads bs2's CSV, so bs2 first)
for part in ${@:-resnet text bs2 lenet}; do $part; done

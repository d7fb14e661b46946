#!/bin/bash
# second half of the CPU acceptance run: the published attack, MiniLM then random bert-base
cd "$(dirname "$0")/../../.." && source .venv/bin/activate && export HF_HUB_OFFLINE=1
R=results/cpu/text_acceptance
PUB='{"line_search":"strong_wolfe","max_iter":20,"snapshot_every":1,"init_std":"embeddings","decode":"cosine"}'
run() { # model attack ids
  echo "=== $1 $2 $3 start $(date -u +%T)"
  sharegrad dlg-text --sentences $R/sentences.json --ids $3 --model $1 --attack $2 --attack-config "$PUB" \
    --budgets 1,2,5 --threads 1 --out-dir $R/model~$1,attack~$2,defense~none,level~0 2>&1 | grep -v "it/s\]"
  echo "=== $1 $2 end $(date -u +%T)"
}
run minilm_l6_offline text_dlg slide_henson,slide_registration,zen_00,zen_04,zen_09,zen_15,zen_07,zen_11,zen_13,zen_16,zen_12,zen_18
run bert_base_random text_dlg ${BERT_IDS:-slide_henson,slide_registration,zen_00,zen_07,zen_12,zen_18}

#!/bin/bash
# The text attack's CPU acceptance run: both slide sentences + 10 Zen of Python sentences,
# MiniLM-L6 offline vs random bert-base, token-set variant and published attack, 5 outer steps.
cd "$(dirname "$0")/../../.." && source .venv/bin/activate && export HF_HUB_OFFLINE=1
R=results/cpu/text_acceptance
IDS=slide_henson,slide_registration,zen_00,zen_04,zen_09,zen_15,zen_07,zen_11,zen_13,zen_16,zen_12,zen_18
sharegrad text-corpus --out $R/sentences.json
PUB='{"line_search":"strong_wolfe","max_iter":20,"snapshot_every":1,"init_std":"embeddings","decode":"cosine"}'
TOK='{"line_search":"strong_wolfe","max_iter":20,"snapshot_every":1,"decode":"cosine"}'
run() { # model attack config
  echo "=== $1 $2 start $(date -u +%T)"
  sharegrad dlg-text --sentences $R/sentences.json --ids $IDS --model $1 --attack $2 --attack-config "$3" \
    --budgets 1,2,5 --threads 1 --out-dir $R/model~$1,attack~$2,defense~none,level~0 2>&1 | grep -v "it/s\]" 
  echo "=== $1 $2 end $(date -u +%T)"
}
run minilm_l6_offline text_dlg_tokenset "$TOK"
run bert_base_random text_dlg_tokenset "$TOK"
run minilm_l6_offline text_dlg "$PUB"
run bert_base_random text_dlg "$PUB"

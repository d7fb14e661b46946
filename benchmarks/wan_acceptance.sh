#!/usr/bin/env bash
# The WAN acceptance run: every method of paper.yaml's wan section at the paper's link
# (300 ms, 15 Mb/s), 2 CPU ranks of one thread each, then the CSV and the table.
#   bash benchmarks/wan_acceptance.sh [out_dir]
# Re-measured after top-k DTS kept momentum consistent, into results/cpu/wan_acceptance.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/wan_acceptance}
mkdir -p "$out"
common=(--dataset digits --data-root data/digits/digits.npz --model digits_cnn --batch-size 64 --lr 0.05
        --momentum 0.9 --weight-decay 5e-4 --latency-ms 300 --bandwidth-mbps 15 --min-steps 20 --min-cycles 2
        --point-budget-s 30 --baseline-steps 40 --threads 1)
run() {  # name, method options...
  local name=$1; shift
  if [ -s "$out/$name.json" ]; then echo "== $name: kept"; return; fi
  echo "== $name ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
  torchrun --standalone --nproc_per_node 2 -m sharegrad.cli wan-measure "$@" "${common[@]}" \
    --out "$out/$name.json" 2>&1 | grep -E "scalability|Error" || true
}
run sync --method sync
run sync_topk --method dgc --ratio 0.01
run delayed20 --method delayed --delay 20
run delayed20_topk --method delayed_sparse_topk --delay 20 --period 1 --ratio 0.01
run sparse20 --method sparse --period 20
run sparse20_topk --method delayed_sparse_topk --delay 0 --period 20 --ratio 0.01
run ds20_20 --method delayed_sparse --delay 20 --period 20
run ds20_20_topk --method delayed_sparse_topk --delay 20 --period 20 --ratio 0.01
run localsgd20 --method localsgd --period 20
run powersgd2 --method powersgd --powersgd-rank 2
run diloco100 --method diloco --period 100
run streaming_diloco100 --method streaming_diloco --period 100 --fragments 4 --overlap 5
sharegrad aggregate-wan "$out"/*.json --out "$out/wan.csv"
sharegrad wan-project --inputs "$(python -c "import json, yaml; print(json.dumps(yaml.safe_load(open('experiments/paper.yaml'))['wan']['paper_scale']))")" --out "$out/wan_projection.csv" > /dev/null
# Accuracy column: the digits acceptance sweep (benchmarks/dtc_digits_acceptance.py), which has a row for
# every method above; the smoke pipeline's dtc.csv where it does not exist.
dtc=()
if [ -f results/cpu/dtc_acceptance_digits.csv ]; then dtc=(results/cpu/dtc_acceptance_digits.csv)
elif [ -f results/smoke/dtc.csv ]; then dtc=(results/smoke/dtc.csv); fi
sharegrad figure wan_table --csv "$out/wan.csv" "$out/wan_projection.csv" "${dtc[@]}" --out "$out/wan_table.md" \
  --options '{"config": "acceptance (benchmarks/wan_acceptance.sh)", "latency_ms": 300, "bandwidth_mbps": 15}'

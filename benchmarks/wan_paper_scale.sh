#!/usr/bin/env bash
# The DTS testbed emulated at paper scale on CPU ranks (experiments/wan_paper_scale_cpu.yaml states the
# same cell for the pipeline): 4 ranks, 300 ms, 15 Mb/s, a payload of 25.6M parameters (ResNet-50) through
# the emulated link, each forward+backward padded to 0.2 s of compute; then a latency sweep at delay 20 with
# the same compute on a fast link; then the CSV, the projection beside it and the table.
#   bash benchmarks/wan_paper_scale.sh [out_dir]     (about 35 minutes; a rerun skips every finished method)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/wan_paper_scale}
mkdir -p "$out"
overlay=experiments/wan_paper_scale_cpu.yaml
setting() {  # a value of the wan section of smoke.yaml with the overlay on it, as the pipeline reads it
  python -c "import json, sys, yaml; c = yaml.safe_load(open('experiments/smoke.yaml'))['wan']
c.update(yaml.safe_load(open('$overlay'))['wan']); v = eval(sys.argv[1], {}, c)
print(json.dumps(v) if isinstance(v, dict) else v)" "$1"
}
common=(--dataset digits --data-root data/digits/digits.npz --model digits_cnn --batch-size 64 --lr 0.05
        --momentum 0.9 --weight-decay 5e-4 --compute-s "$(setting "setup['compute_s']")"
        --min-steps 40 --min-cycles 1 --point-budget-s 60 --baseline-steps 10 --settle-steps 1 --threads 1)
paper=(--payload-parameters "$(setting "setup['payload_parameters']")" --latency-ms 300 --bandwidth-mbps 15)
run() {  # name, options...
  local name=$1; shift
  if [ -s "$out/$name.json" ]; then echo "== $name: kept"; return; fi
  echo "== $name ($(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%H:%M:%S))"
  torchrun --standalone --nproc_per_node 4 -m sharegrad.cli wan-measure "$@" "${common[@]}" \
    --out "$out/$name.json.part" 2>&1 | grep -E "scalability|Error" || true
  if [ -s "$out/$name.json.part" ]; then mv "$out/$name.json.part" "$out/$name.json"; fi
}
if [ "${2:-}" != "--sweep-only" ]; then
  run sync --method sync "${paper[@]}"
  run sync_topk --method dgc --ratio 0.01 "${paper[@]}"
  run ds20_20_topk_gather --method delayed_sparse_topk --delay 20 --period 20 --ratio 0.01 --topk-exchange all_gather "${paper[@]}"
  run ds20_20_topk --method delayed_sparse_topk --delay 20 --period 20 --ratio 0.01 "${paper[@]}"
  run delayed20_topk_gather --method delayed_sparse_topk --delay 20 --period 1 --ratio 0.01 --topk-exchange all_gather "${paper[@]}"
  run delayed20_topk --method delayed_sparse_topk --delay 20 --period 1 --ratio 0.01 "${paper[@]}"
  run sparse20_topk_gather --method delayed_sparse_topk --delay 0 --period 20 --ratio 0.01 --topk-exchange all_gather "${paper[@]}"
  run sparse20_topk --method delayed_sparse_topk --delay 0 --period 20 --ratio 0.01 "${paper[@]}"
  run delayed20 --method delayed --delay 20 "${paper[@]}"
  run sparse20 --method sparse --period 20 "${paper[@]}"
  run ds20_20 --method delayed_sparse --delay 20 --period 20 "${paper[@]}"
  run diloco100 --method diloco --period 100 "${paper[@]}"
  run streaming_diloco100 --method streaming_diloco --period 100 --fragments 4 --overlap 5 "${paper[@]}"
fi
# delay20_hides_6s: scalability against latency at delay 20 with the paper's compute per step, on a link
# fast enough that the bytes do not decide (the model's own payload: this CPU cannot all-reduce 25.6M
# parameters every 0.2 s, which a dense delay-20 update at that size would need).
run latency_sweep_delayed20 --method delayed --delay 20 --latency-ms 0 1000 2000 3000 4000 5000 6000 8000 \
  --bandwidth-mbps "$(setting "paper_scale['fast_bandwidth_mbps']")"
sharegrad aggregate-wan "$out"/*.json --out "$out/wan.csv"
sharegrad wan-project --inputs "$(setting paper_scale)" --out "$out/wan_projection.csv" > /dev/null
sharegrad figure wan_table --csv "$out/wan.csv" "$out/wan_projection.csv" --out "$out/wan_table.md" \
  --options '{"config": "wan_paper_scale_cpu (benchmarks/wan_paper_scale.sh)", "latency_ms": 300, "bandwidth_mbps": 15}'
sharegrad figure wan_utilisation --csv "$out/wan.csv" "$out/wan_projection.csv" --out "$out/wan_utilisation.png" \
  --options '{"config": "wan_paper_scale_cpu (benchmarks/wan_paper_scale.sh)"}'

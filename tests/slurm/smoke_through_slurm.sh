#!/usr/bin/env bash
# Run the smoke pipeline (whatever experiments/smoke.yaml holds today) through
# the project's SLURM profile on a throw-away single-node SLURM cluster, check
# its CSVs equal those of a local run, and tear the cluster down. Needs root.
#
#   tests/slurm/smoke_through_slurm.sh                        # also runs the local reference
#   tests/slurm/smoke_through_slurm.sh --reference results/smoke   # reuse `make demo`'s results
#   tests/slurm/smoke_through_slurm.sh --configfile experiments/smoke.yaml --configfile fewer_steps.yaml \
#       -- results/smoke/dlg.csv                               # later config files override earlier keys;
#                                                              # after --: snakemake arguments for both runs
#
# Both runs happen in scratch folders (links to Snakefile, workflow/,
# experiments/), so the repository's results/ stay untouched.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
export PATH="$repo/.venv/bin:$PATH"
reference=""
configfiles=()
while [ $# -gt 0 ]; do
  case $1 in
    --reference) reference=$(cd "$2" && pwd); shift 2 ;;
    --configfile) configfiles+=("$(realpath "$2")"); shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--reference RESULTS_DIR] [--configfile FILE] [-- SNAKEMAKE_ARGS...]" >&2; exit 2 ;;
  esac
done
extra=("$@")
[ ${#configfiles[@]} -gt 0 ] || configfiles=("$repo/experiments/smoke.yaml")
name=$(python -c "import yaml, sys; print([yaml.safe_load(open(f)).get('name') for f in sys.argv[1:] if yaml.safe_load(open(f)).get('name')][-1])" "${configfiles[@]}")

scratch() {
  local dir
  dir=$(mktemp -d -t "sharegrad-run-$1.XXXXXX")
  ln -s "$repo/Snakefile" "$repo/workflow" "$repo/experiments" "$dir/"
  echo "$dir"
}

scratch_dirs=()
state=$("$repo/tests/slurm/up.sh")
cleanup() {
  "$repo/tests/slurm/down.sh" "$state"
  # KEEP_SCRATCH=1 keeps both runs' folders for a look at their results and logs.
  [ "${KEEP_SCRATCH:-0}" = 1 ] || rm -rf "${scratch_dirs[@]}"
}
trap cleanup EXIT
export SLURM_CONF=$state/slurm.conf
echo "== SLURM up: $(sinfo -h -o '%P %D node(s) %c CPUs %T')"

if [ -z "$reference" ]; then
  local_dir=$(scratch local); scratch_dirs+=("$local_dir")
  echo "== local run in $local_dir"
  (cd "$local_dir" && snakemake "${extra[@]}" --workflow-profile "$repo/workflow/profiles/ci" --configfile "${configfiles[@]}")
  reference=$local_dir/results/$name
fi

slurm_dir=$(scratch slurm); scratch_dirs+=("$slurm_dir")
echo "== SLURM run in $slurm_dir"
start=$(date +%s)
# No accounting database here: squeue instead of sacct (sacct would fail and the
# plugin would wait forever), and a short first status check (default 40 s).
(cd "$slurm_dir" && snakemake "${extra[@]}" --workflow-profile "$repo/workflow/profiles/slurm" --configfile "${configfiles[@]}" \
   --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 --slurm-no-account --latency-wait 5)
echo "== SLURM run took $(( $(date +%s) - start )) s"

submitted=$(grep -c '_slurm_rpc_submit_batch_job: JobId=' "$state/slurmctld.log" || true)
echo "== jobs submitted through sbatch: $submitted"
# The plugin puts the rule name in each job's comment.
squeue -h -t all -o '%k|%T' | sed -E 's/^rule_([A-Za-z0-9_]+)_wildcards.*\|/\1 /; s/^rule_([A-Za-z0-9_]+)\|/\1 /' \
  | sort | uniq -c | sed 's/^/   /'
echo "== compare $reference (local) with $slurm_dir/results/$name (SLURM)"
# with targets after --, the SLURM run made only some of the reference's CSVs: compare those
subset=()
[ ${#extra[@]} -eq 0 ] || subset=(--subset)
sharegrad compare-results "${subset[@]}" "$reference" "$slurm_dir/results/$name"

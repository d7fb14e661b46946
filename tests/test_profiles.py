"""Profiles and resources by rule name: what each job of paper.yaml asks for."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sharegrad.pipeline import cluster

ROOT = Path(__file__).resolve().parents[1]
PROFILES = ROOT / "workflow" / "profiles"


def profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


@pytest.mark.parametrize("name, expected", [
    ("dlg_attack", "gpu"), ("text_attack", "gpu"), ("dtc_train", "gpu"), ("train_dtc", "gpu"), ("text_dlg", "gpu"),
    ("dlg_aggregate", "light"), ("aggregate_train", "light"), ("figure_dtc_train_curves", "light"),
    ("table_defense_summary", "light"), ("cifar100", "light"), ("embedded_images", "light"), ("all", "light"),
    ("lpips_weights", "light"), ("report_provenance", "light"), ("wan_model", "cpu"),
])
def test_rule_classes(name, expected):
    assert cluster.rule_class(name) == expected


def test_gpu_request_follows_device_and_keeps_rule_choices():
    gpu_config, cpu_config = {"device": "auto"}, {"device": "cpu"}
    assert cluster.gpu_request(gpu_config, "dlg_attack", {}) == 1
    assert cluster.gpu_request(gpu_config, "dlg_attack", {"gpu": 0}) == 1
    assert cluster.gpu_request(gpu_config, "dlg_attack", {"gpu": 2}) is None  # the rule's own count stays
    assert cluster.gpu_request(gpu_config, "dtc_train", {"ranks": 4}) == 4
    assert cluster.gpu_request(gpu_config, "dlg_aggregate", {}) is None
    # A CPU config never asks a scheduler for a GPU, whatever the rule says.
    assert cluster.gpu_request(cpu_config, "dlg_attack", {"gpu": 1}) == 0
    assert cluster.gpu_request(cpu_config, "wan_model", {"gpu": 1}) == 0


def test_slurm_profile_is_what_a_user_copies():
    slurm = profile("slurm")
    assert slurm["executor"] == "slurm"
    resources = dict(entry.split("=", 1) for entry in slurm["default-resources"])
    assert {"runtime", "mem_mb", "cpus_per_task"} <= set(resources)
    assert "slurm_extra" not in resources, "GPUs go through gpu/gres, never slurm_extra"
    text = (PROFILES / "slurm" / "config.yaml").read_text()
    assert "CHANGE" in text and "slurm_partition" in text and "slurm_account" in text
    assert slurm["jobs"] >= 1 and slurm["slurm-logdir"]


def test_workstation_profile_caps_gpus_and_runs_unattended():
    default = profile("default")
    assert any(entry.startswith("gpu=") for entry in default["resources"])
    assert default["keep-going"] and default["rerun-incomplete"] and default["printshellcmds"]
    # Snakemake only finds a default workflow profile under profiles/ next to the Snakefile.
    assert (ROOT / "profiles" / "default" / "config.yaml").resolve() == (PROFILES / "default" / "config.yaml").resolve()
    # Keys that would override the SLURM profile when both are loaded must not be here.
    assert "default-resources" not in default and "executor" not in default and "jobs" not in default


def dry_run_jobs(*args: str) -> list[tuple[str, bool, str]]:
    """(rule, is_local, resources line) for every job of a dry run."""
    run = subprocess.run([sys.executable, "-m", "snakemake", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    jobs = []
    for block in re.split(r"\n(?=\[[^\]]+\]\n)", run.stdout):
        match = re.search(r"^(local)?rule (\w+):", block, re.M)
        if match:
            resources = re.search(r"^\s+resources: (.*)$", block, re.M)
            jobs.append((match.group(2), bool(match.group(1)), resources.group(1) if resources else ""))
    assert jobs, run.stdout[-2000:]
    return jobs


def gpus(resources: str) -> int:
    match = re.search(r"\bgpu=(\d+)", resources)
    return int(match.group(1)) if match else 0


def test_paper_dry_run_with_slurm_profile_gives_every_attack_and_training_job_a_gpu():
    jobs = dry_run_jobs("--profile", str(PROFILES / "slurm"))
    heavy = [job for job in jobs if cluster.rule_class(job[0]) == "gpu"]
    assert heavy, "paper.yaml has attack jobs"
    assert all(gpus(resources) >= 1 and not local for _, local, resources in heavy)
    # A dry run prints every job as "rule"; which ones stay local is checked by the real
    # SLURM run (tests/test_slurm_cluster.py): there only the attacks go through sbatch.
    assert all(gpus(resources) == 0 for name, _, resources in jobs if cluster.rule_class(name) != "gpu")


def test_cpu_config_asks_for_no_gpu():
    jobs = dry_run_jobs("--workflow-profile", str(PROFILES / "slurm"), "--configfile", "experiments/smoke.yaml")
    assert all(gpus(resources) == 0 for _, _, resources in jobs)

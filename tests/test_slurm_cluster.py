"""The SLURM profile on a real single-node SLURM (tests/slurm/up.sh).

Needs root (munged and slurmd) and Debian's munge/slurm packages (up.sh installs
them with apt-get when missing). Elsewhere the tests are skipped, saying why.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SLURM = ROOT / "tests" / "slurm"
# Without slurmdbd, sacct fails and the plugin would never learn a job ended.
TEST_CLUSTER_FLAGS = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5",
                      "--slurm-no-account"]


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "SLURM tests skipped: they need root to start munged/slurmctld/slurmd (CI runs them as root)"
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        return "SLURM tests skipped: no slurmctld and no apt-get to install Debian's munge/slurm packages"
    if Path("/etc/slurm/slurm.conf").exists() and "sharegrad" not in Path("/etc/slurm/slurm.conf").read_text()[:80]:
        return "SLURM tests skipped: this machine has its own /etc/slurm/slurm.conf; the test cluster would clash"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture
def slurm_cluster():
    up = subprocess.run([str(SLURM / "up.sh")], capture_output=True, text=True, timeout=300)
    if up.returncode != 0 and shutil.which("slurmctld") is None:
        pytest.skip(f"SLURM tests skipped: Debian's munge/slurm packages could not be installed: {up.stderr[-300:]}")
    assert up.returncode == 0, up.stderr
    state = up.stdout.strip().splitlines()[-1]
    yield Path(state)
    subprocess.run([str(SLURM / "down.sh"), state], timeout=120)


def _submitted_jobs(state: Path) -> int:
    return (state / "slurmctld.log").read_text().count("_slurm_rpc_submit_batch_job: JobId=")


def test_failing_rule_ends_the_run_naming_rule_and_log(slurm_cluster, tmp_path):
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(SLURM / "failing.smk"), "-d", str(tmp_path),
         "--workflow-profile", str(ROOT / "workflow" / "profiles" / "slurm"), *TEST_CLUSTER_FLAGS],
        capture_output=True, text=True, timeout=300, env=_env())
    elapsed = time.monotonic() - start
    output = run.stdout + run.stderr
    assert run.returncode not in (0, 124), output[-3000:]
    assert "Error in rule broken_attack" in output, output[-3000:]
    assert "logs/broken_attack.log" in output
    assert "this job fails on purpose" in (tmp_path / "logs" / "broken_attack.log").read_text()
    assert _submitted_jobs(slurm_cluster) == 1, "the failing job must have gone through sbatch"
    print(f"failing rule: exit {run.returncode} after {elapsed:.0f} s")


@pytest.mark.skipif(os.environ.get("SHAREGRAD_SLURM_SMOKE_FOLLOWS") == "1",
                    reason="skipped here: .ci/run runs the whole smoke pipeline through SLURM next (make slurm-smoke)")
def test_pipeline_through_slurm_profile_matches_local_run(tmp_path):
    """The real Snakefile, shrunk to two short attacks; smoke_through_slurm.sh does the rest."""
    overlay = tmp_path / "fewer_steps.yaml"
    # one LeNet cell (smoke.yaml's other DLG grids would add jobs), two attacks of 3 steps
    overlay.write_text("dlg:\n  grids:\n    - {model: [lenet], batch_size: [1], attack: [dlg], line_search: [strong_wolfe],"
                       " labels: [joint]}\n  attacks_per_cell: 2\n  chunk_size: 1\n"
                       "  attack_settings:\n    dlg: {iterations: 3, snapshot_every: 1}\n")
    run = subprocess.run(
        [str(SLURM / "smoke_through_slurm.sh"), "--configfile", str(ROOT / "experiments" / "smoke.yaml"),
         "--configfile", str(overlay), "--", "results/smoke/dlg.csv",
         # one attack per job on both sides (the profiles' own attacks_per_job would make one job)
         "--config", "attacks_per_job=1"],
        capture_output=True, text=True, timeout=900, env=_env())
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "== jobs submitted through sbatch: 2" in output, output[-2000:]
    assert "dlg.csv: same: 2 rows" in output
    assert "all 2 CSV files agree" in output

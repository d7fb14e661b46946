"""compare-results: the check that a SLURM run gave the local run's numbers."""

import subprocess
import sys

import pandas as pd
import pytest

from sharegrad.stages.compare_results import compare_folders, machine_column


def write(folder, name, frame):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)


@pytest.fixture
def runs(tmp_path):
    table = pd.DataFrame({"attack_index": [0, 1], "model": ["lenet", "lenet"], "mse": [1e-4, 2e-3],
                          "psnr": [40.0, 26.99], "wall_time_s": [3.0, 4.0], "device": ["cpu:x86_64"] * 2})
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    write(local, "dlg.csv", table)
    # Another machine: other wall times and device, rows in another order, float noise.
    other = table.assign(wall_time_s=[9.0, 7.5], device="cuda:H100", mse=table.mse * (1 + 1e-9)).iloc[::-1]
    write(slurm, "dlg.csv", other)
    return local, slurm, table


def test_machine_columns_are_left_out():
    assert machine_column("wall_time_s") and machine_column("seconds_per_evaluation") and machine_column("host")
    assert machine_column("engine")  # the profile picks it (attacks per job), not the experiment
    assert not machine_column("mse") and not machine_column("first_success_step") and not machine_column("labels")


def test_same_metrics_in_any_row_order_agree(runs):
    local, slurm, _ = runs
    [result] = compare_folders(local, slurm)
    assert result.problems == [] and result.rows == 2
    assert "wall_time_s" in result.ignored and "mse" in result.compared


def test_a_changed_metric_or_missing_file_is_reported(runs):
    local, slurm, table = runs
    write(slurm, "dlg.csv", table.assign(psnr=[40.0, 27.5]))
    write(local, "extra/curves.csv", table)
    results = {r.name: r for r in compare_folders(local, slurm)}
    assert any("psnr" in p for p in results["dlg.csv"].problems)
    assert results["extra/curves.csv"].problems


def test_cli_exits_2_naming_the_file(runs, cli_env):
    local, slurm, table = runs
    write(slurm, "dlg.csv", table.assign(mse=[5e-1, 2e-3]))
    run = subprocess.run([sys.executable, "-m", "sharegrad.cli", "compare-results", str(local), str(slurm)],
                         capture_output=True, text=True, env=cli_env)
    assert run.returncode == 2
    assert "dlg.csv" in run.stdout + run.stderr and "Traceback" not in run.stderr


def test_subset_compares_only_what_the_checked_run_made(runs):
    local, slurm, table = runs
    write(local, "extra/curves.csv", table)  # the reference ran more targets than the checked run
    assert [r.name for r in compare_folders(local, slurm, subset=True)] == ["dlg.csv"]
    write(slurm, "only_here.csv", table)  # but a CSV the reference lacks is still a problem
    results = {r.name: r for r in compare_folders(local, slurm, subset=True)}
    assert results["only_here.csv"].problems and not results["dlg.csv"].problems

"""The Snakemake side: config validation, the full paper DAG, lint."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def snakemake(*args, cwd=ROOT):
    exe = Path(sys.executable).parent / "snakemake"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture
def clean_checkout(tmp_path):
    """The workflow files without any data or results, as on a fresh clone."""
    for name in ("Snakefile", "experiments", "workflow"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    return tmp_path


def test_paper_dag_builds_without_data(clean_checkout):
    proc = snakemake("-n", "--cores", "1", cwd=clean_checkout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "cifar100" in out  # the download rule is part of the DAG
    from sharegrad.pipeline.dlg import dlg_cells, dlg_chunks

    config = yaml.safe_load((ROOT / "experiments" / "paper.yaml").read_text())
    # the workstation profile (loaded by itself) sets the engine and attacks per job
    profile = yaml.safe_load((ROOT / "workflow" / "profiles" / "default" / "config.yaml").read_text())
    config.update({k: yaml.safe_load(v) for k, v in (entry.split("=", 1) for entry in profile.get("config", []))})
    assert config.get("attacks_per_job") and config.get("dlg_engine") == "batched"
    expected = len(dlg_cells(config)) * len(dlg_chunks(config))
    count = [line for line in out.splitlines() if line.startswith("dlg_attack ")]
    assert count and int(count[0].split()[-1]) >= expected


def test_schema_refuses_negative_batch_size_naming_the_field(clean_checkout):
    config = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())
    config["dlg"]["grids"][0]["batch_size"] = [-1]
    bad = clean_checkout / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake("-n", "--cores", "1", "--configfile", str(bad), cwd=clean_checkout)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "batch_size" in out and "-1" in out


def test_schema_refuses_unknown_key(clean_checkout):
    config = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())
    config["dlg"]["attack_per_cell"] = 3
    bad = clean_checkout / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    proc = snakemake("-n", "--cores", "1", "--configfile", str(bad), cwd=clean_checkout)
    assert proc.returncode != 0 and "attack_per_cell" in proc.stdout + proc.stderr


def test_lint_is_clean():
    proc = snakemake("--lint", "--cores", "1")
    assert "Congratulations" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-3000:]


def test_environment_yml_pins_match_pyproject():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_lines = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    for pin in ("torch==", "torchvision=="):
        assert [d for d in deps if d.startswith(pin)] == [d for d in pip_lines if d.startswith(pin)]
    assert "-e ." in pip_lines

"""Plug-ins are one file: the README's three examples (a defense, an attack that declares
its settings, a figure that registers its inputs and caption) are copied as written, each as one file, into a
copy of the package, and a tiny config runs them through a real `snakemake` run; no other file is touched.
So the README's examples cannot rot, and what they claim (paths spell only the settings an attack takes,
the figure's rule follows from its module, the defense's level is a variance) is checked."""

import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def readme_plugins() -> dict[str, str]:
    """path -> code of every README Python block that opens with ``# src/sharegrad/...py``."""
    text = (ROOT / "README.md").read_text()
    return {path: code for code, path in re.findall(r"```python\n(# (src/sharegrad/\S+\.py)\n.*?)```", text, re.S)}


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts
            and ".egg-info" not in str(p)}


def test_readme_shows_one_plugin_file_per_kind():
    folders = {Path(path).parent.name for path in readme_plugins()}
    assert folders == {"defenses", "attacks", "report"}


def test_readme_defense_level_is_a_variance_like_the_builtin_gaussian():
    from sharegrad.defenses import DEFENSES, apply_defense

    (path, code), = [(p, c) for p, c in readme_plugins().items() if "/defenses/" in p]
    exec(compile(code, path, "exec"), {"__name__": "readme_defense"})
    try:
        zeros = [torch.zeros(200_000, dtype=torch.float64)]
        for level in (1e-4, 1e-2):
            mine = apply_defense("uniform_noise", level, zeros, seed=0)[0]
            builtin = apply_defense("gaussian", level, zeros, seed=0)[0]
            assert float(mine.var()) == pytest.approx(level, rel=0.02)
            assert float(mine.var()) == pytest.approx(float(builtin.var()), rel=0.03)
    finally:
        DEFENSES._entries.pop("uniform_noise", None)


def run(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(checkout),
           # the copied package (with the plug-ins) before the installed one
           "PYTHONPATH": str(checkout / "src")}
    proc = subprocess.run([SNAKEMAKE, *args], cwd=checkout, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


def test_readme_plugins_run_through_the_pipeline_as_one_file_each(tmp_path):
    for name in ("Snakefile", "experiments", "workflow", "environment.yml", "src"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, tmp_path / name)
    for name in ("data/embedded", "data/weights"):  # inputs the data rules would make; copied to save time
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, tmp_path / name)
    before = digests(tmp_path)
    plugins = readme_plugins()
    for path, code in plugins.items():
        assert not (tmp_path / path).exists()
        (tmp_path / path).write_text(code)
    changed = {p for p, d in digests(tmp_path).items() if before.get(p) != d}
    assert changed == set(plugins)  # one new file each, nothing else touched

    config = {"name": "plug", "seed": 0, "device": "cpu", "data": {"image_dataset": "embedded", "split": "train"},
              "dlg": {"grids": [{"model": ["lenet"], "batch_size": [1], "attack": ["adam_dlg"],
                                 "defense": ["uniform_noise"], "level": [1.0e-4], "iterations": [20]}],
                      "attacks_per_cell": 1, "success_mse": 1.0e-3, "chunk_size": 1,
                      "attack_settings": {"adam_dlg": {"lr": 0.05, "snapshot_every": 5}}}}
    (tmp_path / "plug.yaml").write_text(yaml.safe_dump(config))

    dry = run(tmp_path, "-n", "--cores", "1", "--configfile", "plug.yaml")
    assert "figure_final_loss" in dry.stdout  # the figure's rule follows from its module
    assert "line_search~" not in dry.stdout and "labels~" not in dry.stdout  # the attack takes neither

    figure = "figures/plug/final_loss.png"
    run(tmp_path, figure, "figures/plug/dlg_summary.md", "--cores", "2", "--configfile", "plug.yaml")
    assert (tmp_path / figure).stat().st_size > 0
    cell = tmp_path / "results/plug/dlg/model~lenet/batch_size~1/attack~adam_dlg/defense~uniform_noise/level~0.0001"
    (record,) = (cell / "iterations~20/chunk~0-1").glob("attack~*.json")
    parameters = json.loads(record.read_text())["parameters"]
    # only the settings it declares and the config gives, the budget from the cell; no line search, no labels
    assert parameters["attack_config"] == {"iterations": 20, "lr": 0.05, "snapshot_every": 5}
    assert parameters["attack"] == "adam_dlg" and parameters["defense"] == "uniform_noise"
    summary = (tmp_path / "figures/plug/dlg_summary.md").read_text()
    assert "| adam_dlg " in summary and "uniform_noise" in summary


def test_every_pipeline_figure_has_a_caption_and_reads_csvs_its_section_makes():
    """A registered figure without caption text uses workflow/report/NAME.rst: it must exist; its inputs are CSVs."""
    from sharegrad.report import FIGURES

    specs = [getattr(FIGURES.get(name), "figure_spec", None) for name in FIGURES.names()]
    specs = [spec for spec in specs if spec is not None]
    assert len(specs) >= 19
    config = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())
    for spec in specs:
        assert spec.caption or (ROOT / "workflow" / "report" / f"{spec.name}.rst").exists(), spec.name
        assert spec.section in ("dlg", "defenses", "text", "dtc", "wan") and spec.title, spec.name
        assert all(path.endswith(".csv") for path in spec.input_files(config)), spec.name

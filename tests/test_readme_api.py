"""The README's Python API example runs as written, and the claims file travels with the package.

The example is run in an empty folder (no checkout around it, as after ``pip install .``) and must
recover its image; the package built from this tree carries copies of experiments/claims.yaml and
its schema that are identical to the checkout's, and ``sharegrad.claims`` falls back to them."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def api_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## The Python API\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return block


def test_the_readme_api_example_recovers_its_image_in_an_empty_folder(tmp_path):
    (tmp_path / "example.py").write_text(api_example())
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    found = re.search(r"image MSE (\S+), label (\d+) \(true (\d+)\), gradient-match loss (\S+)", proc.stdout)
    assert found, proc.stdout
    assert float(found.group(1)) < 1e-3  # recovered under the pipeline's default threshold
    assert found.group(2) == found.group(3)


def test_the_package_carries_the_claims_file_and_its_schema_unchanged(tmp_path):
    """A wheel built from this tree (setup.py's hook copies them in) holds byte-identical copies."""
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path / "wheel"), str(ROOT)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    if proc.returncode != 0 and "No module named" in proc.stderr:
        pytest.skip(f"cannot build a wheel here: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "wheel").glob("sharegrad-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in ("claims.yaml", "claims.schema.yaml"):
            assert archive.read(f"sharegrad/claims/files/{name}") == (ROOT / "experiments" / name).read_bytes()


def test_without_a_checkout_the_claims_come_from_the_package(tmp_path, monkeypatch):
    import sharegrad.claims as claims

    packaged = tmp_path / "files"
    packaged.mkdir()
    for name in ("claims.yaml", "claims.schema.yaml"):
        (packaged / name).write_bytes((ROOT / "experiments" / name).read_bytes())
    monkeypatch.setattr(claims, "REPO_ROOT", tmp_path / "no-checkout")
    monkeypatch.setattr(claims, "PACKAGED", packaged)
    assert claims._data_file("claims.yaml") == packaged / "claims.yaml"
    monkeypatch.setattr(claims, "REPO_ROOT", ROOT)
    assert claims._data_file("claims.yaml") == ROOT / "experiments" / "claims.yaml"  # a checkout's own first


def test_the_readmes_demo_time_is_a_fresh_render_of_the_smoke_plan(monkeypatch):
    """The README's demo block (make demo's time on the 2-core CPU and its outputs) is what the command it
    names writes now: a kept measurement or a figure added since makes it stale, and this fails naming
    the command that brings it up to date."""
    import shlex

    from sharegrad.stages.plan import DEMO_END, demo_text

    monkeypatch.chdir(ROOT)  # the command's paths are relative to the checkout
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"<!-- demo time: written by `(sharegrad plan [^`]*)`", readme).group(1)
    startup = float(re.search(r"start-up ([0-9.]+) s per job", readme).group(1))
    words = shlex.split(command)[2:]
    configs = [words[i + 1] for i, w in enumerate(words) if w == "--config"]
    profile = next((words[i + 1] for i, w in enumerate(words) if w == "--profile"), None)
    made, fresh = demo_text(configs, profile, [Path("results/cpu"), Path("results/gpu")], startup)
    assert made == command
    start = readme.index("<!-- demo time:")
    kept = readme[start:readme.index(DEMO_END) + len(DEMO_END)]
    assert kept == fresh, f"README.md's demo time is stale: run `{command}` (or make plan)"
    assert "make demo" in readme[:start] and "**" in fresh  # a time, not "no measurement"

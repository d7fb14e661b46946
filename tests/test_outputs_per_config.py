"""Two configs run one after the other in one checkout: each writes its own figures and tables
(figures/<name>/), neither overwrites the other's, and each report holds only its own items,
tables rendered as HTML and titled by what they show. Both configs have only the required sections
(name, seed, device, data, dlg), so this also runs such a config to its figures."""

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def tiny(name: str, batch_size: int) -> dict:
    """Only the required sections; one LeNet attack of 2 outer steps."""
    return {"name": name, "seed": 0, "device": "cpu", "data": {"image_dataset": "embedded", "split": "train"},
            "dlg": {"grids": [{"model": ["lenet"], "batch_size": [batch_size], "attack": ["dlg"], "iterations": [2]}],
                    "attacks_per_cell": 1, "success_mse": 1.0e-3, "chunk_size": 1}}


def run(checkout: Path, *args: str) -> subprocess.CompletedProcess:
    env_path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    proc = subprocess.run([SNAKEMAKE, *args], cwd=checkout, capture_output=True, text=True, timeout=600,
                          env={"PATH": env_path, "HOME": str(checkout)})
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc


def report_index(page: Path) -> tuple[dict, dict]:
    """The report's own ``categories`` and ``results`` objects (Snakemake 9's html_reporter)."""
    text = page.read_text()
    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", text).group(1))
    results = json.loads(re.search(r"var results = (\{.*?\});\n", text).group(1))
    return categories, results


def decoded(entry: dict) -> str:
    return base64.b64decode(entry["data_uri"].split(",", 1)[1]).decode()


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.mark.slow
def test_two_configs_in_one_checkout_keep_their_own_outputs_and_reports(tmp_path):
    for name in ("Snakefile", "experiments", "workflow", "environment.yml"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    for name, batch_size in (("alpha", 1), ("beta", 2)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(tiny(name, batch_size)))

    run(tmp_path, "--cores", "2", "--configfile", "alpha.yaml")
    alpha = tmp_path / "figures" / "alpha"
    before = digests(alpha)
    run(tmp_path, "--cores", "2", "--configfile", "beta.yaml")
    beta = tmp_path / "figures" / "beta"
    assert digests(alpha) == before  # beta's run touched none of alpha's figures or tables
    assert set(digests(beta)) == set(before)  # and made the same set of its own
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["alpha", "beta"]
    assert not list((tmp_path / "results").glob("*/figures"))  # figures only at the top level
    expected = {"dlg_reconstructions.png", "dlg_batch_size.png", "dlg_loss_curves.png", "dlg_summary.html", "dlg_iterations.html",
                "dlg_threshold.png", "claims.html", "provenance.html"}

    for name, other in (("alpha", "beta"), ("beta", "alpha")):
        page = tmp_path / "results" / name / "report.html"
        run(tmp_path, "--cores", "1", "--configfile", f"{name}.yaml", "--report", str(page))
        categories, results = report_index(page)
        items = {path for subcategories in categories.values() for paths in subcategories.values() for path in paths}
        assert {Path(path).name for path in items} == expected
        assert all(path.startswith(f"figures/{name}/") for path in items), items
        assert f"results/{other}/" not in json.dumps(categories) and f"figures/{other}/" not in json.dumps(categories)
        # the claims ledger sorts first (the report orders categories by name); no "Other" group
        assert sorted(categories)[0] == "Claims ledger"
        assert "Other" not in {sub for subcategories in categories.values() for sub in subcategories}
        assert categories["Deep Leakage from Gradients"]["Images"]
        for path in items:
            entry = results[path]
            assert entry["labels"] and entry["labels"]["item"] != Path(path).name  # titled by what it shows
        tables = [path for path in items if path.endswith(".html")]
        for path in tables:  # shown inline: an HTML page with the table itself, not a download
            assert results[path]["mime_type"] == "text/html"
            assert "<table>" in decoded(results[path])
        ledger = decoded(results[f"figures/{name}/claims.html"])
        assert f"config {name}" in ledger and f"config {other}" not in ledger

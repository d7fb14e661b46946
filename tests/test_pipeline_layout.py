"""The pipeline package mirrors the workflow: one module of sharegrad.pipeline per rule file, and each
rule file that binds Python helpers imports its own module."""

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "workflow" / "rules"
PACKAGE = ROOT / "src" / "sharegrad" / "pipeline"


def test_one_pipeline_module_per_rule_file():
    rules = sorted(p.stem for p in RULES.glob("*.smk"))
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    assert modules == rules


def test_each_module_names_its_rule_file_and_imports():
    for path in RULES.glob("*.smk"):
        module = importlib.import_module(f"sharegrad.pipeline.{path.stem}")
        assert f"workflow/rules/{path.stem}.smk" in (module.__doc__ or ""), path.stem


def test_no_flat_pipeline_modules_beside_the_package():
    flat = sorted(p.name for p in (ROOT / "src" / "sharegrad").glob("pipeline*.py"))
    assert flat == []


def test_rule_files_import_only_their_own_or_shared_pipeline_modules():
    """A rule file's helpers come from its own module (or, through common.smk, the shared one); another
    stage's module is named where the rule really reads that stage's cells (the defense sweep runs DLG's)."""
    allowed = {"dlg": {"data", "defenses"}}
    for path in RULES.glob("*.smk"):
        used = set(re.findall(r"sharegrad\.pipeline\.(\w+)", path.read_text()))
        assert used <= {path.stem, *allowed.get(path.stem, ())}, (path.name, used)

"""A run is stamped dirty, naming the files, when code it may have used is modified or untracked.

The README's "add one file" workflow makes an untracked plug-in (a defense) that the pipeline uses at
once; the records of such a run must not carry the bare commit as if it were clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sharegrad.provenance import git_state

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = "src/sharegrad/defenses/sign_flip.py"
PLUGIN_TEXT = '''from sharegrad.defenses import register_defense


@register_defense("sign_flip")
def sign_flip(gradients, level, generator):
    return [-g for g in gradients]
'''

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def small_checkout(root: Path) -> str:
    """A committed tree shaped like the project's: package, workflow, configs, results."""
    for path, text in {"src/sharegrad/defenses/noise.py": "x = 1\n", "workflow/rules/dlg.smk": "# rules\n",
                       "experiments/smoke.yaml": "name: smoke\n", "README.md": "# readme\n",
                       ".gitignore": "__pycache__/\n/results/\n"}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    return git(root, "rev-parse", "HEAD").strip()


def test_untracked_plugin_makes_the_commit_dirty_and_is_named(tmp_path):
    head = small_checkout(tmp_path)
    assert git_state(tmp_path) == (head, [])
    # results, logs and ignored caches are what a run writes: they do not make the code dirty
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "dlg.csv").write_text("a\n1\n")
    (tmp_path / "src" / "sharegrad" / "__pycache__").mkdir()
    (tmp_path / "src" / "sharegrad" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "notes.txt").write_text("scratch\n")
    assert git_state(tmp_path) == (head, [])
    (tmp_path / PLUGIN).write_text(PLUGIN_TEXT)
    assert git_state(tmp_path) == (head + "-dirty", [PLUGIN])
    # asked from inside the package, as the records do, the answer is the same
    assert git_state(tmp_path / "src" / "sharegrad") == (head + "-dirty", [PLUGIN])


def test_modified_and_untracked_files_under_workflow_and_experiments_are_named(tmp_path):
    head = small_checkout(tmp_path)
    (tmp_path / "workflow" / "rules" / "dlg.smk").write_text("# rules, changed\n")
    (tmp_path / "experiments" / "mine.yaml").write_text("name: mine\n")
    assert git_state(tmp_path) == (head + "-dirty", ["experiments/mine.yaml", "workflow/rules/dlg.smk"])
    git(tmp_path, "add", "experiments/mine.yaml")  # staged but not committed is still not the commit
    assert git_state(tmp_path)[0] == head + "-dirty"


def test_outside_a_checkout_the_commit_is_unknown(tmp_path):
    assert git_state(tmp_path) == ("unknown", [])


def test_a_record_of_a_copy_with_an_untracked_plugin_names_it(tmp_path):
    """End to end: a clean copy of this repository carrying this working tree's provenance code, a plug-in
    added as one untracked file, and the provenance block a record carries, computed inside that copy."""
    copy = tmp_path / "copy"
    git(tmp_path, "clone", "-q", "--shared", str(ROOT), str(copy))
    shutil.copyfile(ROOT / "src" / "sharegrad" / "provenance.py", copy / "src" / "sharegrad" / "provenance.py")
    git(copy, "commit", "-q", "--allow-empty", "-m", "this working tree's provenance code", "--",
        "src/sharegrad/provenance.py")
    head = git(copy, "rev-parse", "HEAD").strip()
    code = ("import json, torch; from sharegrad.provenance import provenance; "
            "b = provenance(torch.device('cpu'), {}); print(json.dumps([b['git_commit'], b['git_changed_files']]))")

    def block():
        env = {**os.environ, "PYTHONPATH": str(copy / "src")}
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, env=env,
                             check=True, timeout=120).stdout
        return json.loads(out.strip().splitlines()[-1])

    assert block() == [head, []]
    (copy / PLUGIN).write_text(PLUGIN_TEXT)
    assert block() == [head + "-dirty", [PLUGIN]]


def test_the_report_names_what_made_a_commit_dirty(tmp_path):
    from sharegrad.stages.common import write_json
    from sharegrad.stages.provenance_report import render

    block = {"git_commit": "abc-dirty", "git_changed_files": [PLUGIN], "config_hash": "h", "device": "cpu"}
    write_json(tmp_path / "dlg" / "attack~0.json", {"provenance": block})
    write_json(tmp_path / "dlg" / "attack~1.json", {"provenance": {**block, "git_commit": "def", "git_changed_files": []}})
    text = render(tmp_path, "smoke", "abcd")
    assert f"`abc-dirty`: `{PLUGIN}`" in text and "`def`:" not in text

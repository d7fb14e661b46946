"""What a reader of the repository meets says what was done and why, not where or in which round of work.

No tracked text file names a development machine's folders, an internal work-item number or a round
of work, and no script waits on a process id (a one-off script tied to one machine's run). The
examples below are pieced together so that this file does not match its own patterns."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "a development machine's folder": r"(^|[^\w.~-])/(work|tmp|root|home)/",
    "a work-item number": r"\bissue ?#?[0-9]+|\bissue[0-9]+|(^|[\s(\[,;])#[0-9]+\b(?![0-9a-fA-F;])",
    "a round of work": r"\bsess" r"ions?\b",
    "a wait on a process id": r"/proc/(\$|[0-9])|\bwhile \[ -e /proc|\btail --pid\b|\bwait_for_pid\b",
}
# Words that are someone else's vocabulary, not ours: pytest's fixture scope.
ALLOWED = [re.compile(r"""scope=["']sess""" r"""ion["']""")]

pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                                reason="needs git and this repository's history")


def hits(pattern: str) -> list[str]:
    """``path:line: text`` for every tracked text file's line matching ``pattern`` (binary files skipped)."""
    found = subprocess.run(["git", "grep", "-I", "-n", "-i", "-P", pattern], cwd=ROOT, capture_output=True,
                           text=True)
    assert found.returncode in (0, 1), found.stderr
    return [line for line in found.stdout.splitlines() if not any(a.search(line) for a in ALLOWED)]


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_no_tracked_file_names(what):
    found = hits(FORBIDDEN[what])
    assert not found, f"{len(found)} line(s) name {what}:\n" + "\n".join(line[:200] for line in found[:30])


@pytest.mark.parametrize("text, what", [
    ("cd /" "work/main && make", "a development machine's folder"),
    ("mktemp -d /" "tmp/x.XXXX", "a development machine's folder"),
    ("(iss" "ue 17)", "a work-item number"),
    ("iss" "ue21_finish.sh", "a work-item number"),
    ("fixed in #" "21.", "a work-item number"),
    ("finished over two sess" "ions", "a round of work"),
    ("while [ -e /pr" "oc/12479 ]; do sleep 20; done", "a wait on a process id"),
])
def test_the_patterns_catch_what_they_are_for(text, what):
    assert re.search(FORBIDDEN[what], text, re.IGNORECASE)


@pytest.mark.parametrize("text", ["results/dlg/model~lenet/attack~0.json", "color: #222;", "##27 tokens",
                                  "sparse p=5 over 16 steps issues 4 collectives",
                                  "tests/tmp_path", "~/.cache/x", '@pytest.fixture(scope="sess' 'ion")',
                                  "cut -d' ' -f1 /proc/loadavg"])
def test_the_patterns_leave_ordinary_text_alone(text):
    matched = [w for w, p in FORBIDDEN.items() if re.search(p, text, re.IGNORECASE)]
    assert not matched or any(a.search(text) for a in ALLOWED), matched

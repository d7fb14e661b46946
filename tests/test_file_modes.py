"""Every result file gets one mode: 0666 less the umask (JSON records were 0600, the rest 0644)."""

import os
import stat

import pandas as pd
import pytest

from sharegrad.report.style import plt, save, write_text
from sharegrad.stages.common import write_csv, write_json


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_records_tables_and_figures_share_one_mode(tmp_path, umask):
    previous = os.umask(umask)
    try:
        write_json(tmp_path / "dlg" / "attack~0.json", {"seed": 0})
        write_csv(tmp_path / "dlg.csv", pd.DataFrame({"a": [1]}))
        write_text(tmp_path / "figures" / "table.md", "| a |\n|---|\n| 1 |\n")
        fig, _ = plt.subplots()
        save(fig, tmp_path / "figures" / "figure.png")
    finally:
        os.umask(previous)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 4
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in files} == {p.name: 0o666 & ~umask for p in files}
    assert not list(tmp_path.rglob(".*tmp*"))  # no temporary file left behind

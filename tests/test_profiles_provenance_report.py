"""The report's provenance table reads every result JSON's provenance block."""

import pytest
import torch

from sharegrad.errors import UserError
from sharegrad.provenance import provenance
from sharegrad.stages.common import write_json
from sharegrad.stages.provenance_report import collect, render


def test_table_groups_results_by_commit_device_and_host(tmp_path):
    block = provenance(torch.device("cpu"), {"seed": 0})
    for i in range(3):
        write_json(tmp_path / "dlg" / "cell" / f"attack~{i}.json", {"provenance": block, "seed": i})
    write_json(tmp_path / "text" / "sentence~0.json", {"provenance": {**block, "host": "node7", "slurm_job_id": "9"}})
    write_json(tmp_path / "other.json", {"no": "provenance"})
    write_json(tmp_path / "dlg" / ".stash" / "attack~0.json", {"provenance": block, "seed": 0})  # a copy
    table = collect(tmp_path)
    assert len(table) == 4 and set(table.stage) == {"dlg", "text"}
    text = render(tmp_path, "smoke", "abcd")
    assert "`abcd`" in text and block["git_commit"] in text and "node7" in text
    assert "| dlg " in text and "|         3 |" in text


def test_no_results_is_a_user_error(tmp_path):
    with pytest.raises(UserError):
        render(tmp_path, "smoke", "abcd")

"""Each workstation job claims its own GPU (sharegrad.provenance.claim_gpu)."""

import subprocess
import sys

from sharegrad import provenance


def test_jobs_get_different_cards_until_all_are_held(tmp_path):
    first = provenance.claim_gpu(2, tmp_path)
    second = provenance.claim_gpu(2, tmp_path)
    assert {first, second} == {(0, True), (1, True)}
    index, exclusive = provenance.claim_gpu(2, tmp_path)  # a third job: asked to share
    assert not exclusive and index in (0, 1)
    for handle in provenance._CLAIMED[-2:]:
        handle.close()
    provenance._CLAIMED[-2:] = []


def test_a_claim_ends_with_its_process(tmp_path):
    code = f"from sharegrad import provenance; print(provenance.claim_gpu(1, {str(tmp_path)!r}))"
    for _ in range(2):  # the second process gets card 0 again: the first one's lock died with it
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
        assert out.strip() == "(0, True)"


def test_results_record_where_they_ran(monkeypatch):
    import torch

    monkeypatch.setenv("SLURM_JOB_ID", "42")
    record = provenance.provenance(torch.device("cpu"), {"seed": 0})
    assert record["slurm_job_id"] == "42"
    assert {"git_commit", "config_hash", "versions", "device", "host"} <= set(record)
    assert record["config_hash"] == provenance.config_hash({"seed": 0}) != provenance.config_hash({"seed": 1})

"""sharegrad kept-check: which keys it sets aside, that any other difference fails it, and which jobs it runs."""

import gzip
import json
from pathlib import Path

import pytest

from sharegrad.errors import UserError
from sharegrad.stages import kept_check


def record(**changes):
    base = {"kind": "dlg_image", "seed": 3, "final_loss": 1.25e-5, "loss_curve": [2.0, 1.0, 0.5],
            "images": [{"mse": 1e-4, "ssim": 0.99}], "wall_time_s": 11.0, "cpu_time_s": 10.0,
            "seconds_per_evaluation": 0.003,
            "provenance": {"git_commit": "a" * 40, "git_changed_files": [], "host": "vm", "slurm_job_id": "",
                           "cuda_visible_devices": "", "versions": {"torch": "2.14.1"}, "config_hash": "c1"}}
    for key, value in changes.items():
        if key.startswith("provenance_"):
            base["provenance"][key[len("provenance_"):]] = value
        else:
            base[key] = value
    return base


def test_timings_and_where_it_ran_are_set_aside():
    fresh = record(wall_time_s=99.0, cpu_time_s=1.0, seconds_per_evaluation=1.0, provenance_git_commit="b" * 40,
                   provenance_git_changed_files=[], provenance_host="node7", provenance_slurm_job_id="123")
    assert kept_check.canonical(record()) == kept_check.canonical(fresh)


@pytest.mark.parametrize("change,where", [
    ({"final_loss": 1.2500001e-5}, "final_loss"),
    ({"loss_curve": [2.0, 1.0, 0.25]}, "loss_curve[2]"),
    ({"images": [{"mse": 1e-4, "ssim": 0.98}]}, "images[0].ssim"),
    ({"provenance_config_hash": "c2"}, "provenance.config_hash"),
    ({"provenance_versions": {"torch": "2.15.0"}}, "provenance.versions.torch"),
])
def test_any_other_difference_is_found_and_named(change, where):
    kept, fresh = record(), record(**change)
    assert kept_check.canonical(kept) != kept_check.canonical(fresh)
    found = kept_check.differences(kept_check.comparable(kept), kept_check.comparable(fresh))
    assert found and found[0].startswith(where + ":"), found


def test_nan_equals_nan_in_a_record():
    assert kept_check.differences({"x": float("nan")}, {"x": float("nan")}) == []
    assert kept_check.differences({"x": float("nan")}, {"x": 1.0})


def write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt") as handle:
        json.dump(data, handle)


def test_the_jobs_are_the_chunk_folders_of_the_matching_records(tmp_path):
    folder = tmp_path / "results" / "cpu" / "x_cpu"
    cell = "dlg/model~lenet/defense~int8/level~0"
    for chunk, attack in (("0-2", 0), ("0-2", 1), ("2-4", 2)):
        write(folder / "records" / cell / f"chunk~{chunk}" / f"attack~{attack}.json.gz", record())
    write(folder / "records" / "dlg/model~lenet/defense~fp16/level~0/chunk~0-2/attack~0.json.gz", record())
    records = kept_check.kept_records(folder, "defense~int8")
    assert len(records) == 3
    assert kept_check.jobs("x_cpu", folder, records) == [Path("results/x_cpu") / cell / "chunk~0-2",
                                                          Path("results/x_cpu") / cell / "chunk~2-4"]
    with pytest.raises(UserError, match="no kept record of x_cpu"):
        kept_check.kept_records(folder, "defense~gaussian")
    write(folder / "records" / "wan/method~sync/points.json.gz", record())
    with pytest.raises(UserError, match="only records of attack jobs"):
        kept_check.jobs("x_cpu", folder, kept_check.kept_records(folder, "wan/"))

"""The WAN section of the configs: strict schema, jobs and their command lines, the CLI's refusals."""

from __future__ import annotations

import copy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from sharegrad import pipeline_wan
from sharegrad.cli import build_parser
from sharegrad.errors import UserError
from sharegrad.stages.wan import spec_from_args

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "experiments" / "schema.yaml")


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["smoke", "paper"])
def test_both_configs_pass_the_schema_and_every_job_parses_on_the_cli(name):
    config = load(name)
    validate(config, SCHEMA)
    jobs = pipeline_wan.wan_jobs(config)
    assert len(jobs) == len(config["wan"]["methods"])
    parser = build_parser()
    for job, path in zip(jobs, pipeline_wan.wan_run_files(config)):
        cell = path.split("/wan/")[1].removesuffix("/points.json")
        args = parser.parse_args(["wan-measure", *shlex.split(pipeline_wan.wan_cli_args(config, cell)),
                                  "--out", "x.json"])
        spec = spec_from_args(args)
        assert spec.method == job["method"]
        assert (spec.delay, spec.period, spec.ratio) == (job["delay"], job["period"], job["ratio"])
        assert spec.latencies_ms == [float(v) for v in config["wan"]["latency_ms"]]


def test_paper_grid_is_the_issue_grid():
    wan = load("paper")["wan"]
    assert wan["latency_ms"] == [0, 10, 50, 100, 300, 1000, 6000]
    assert wan["bandwidth_mbps"] == [15, 100, 1000, 10000]


@pytest.mark.parametrize("change,field", [
    (lambda w: w["setup"].update(batch_size=0), "batch_size"),
    (lambda w: w.update(ranks=1), "ranks"),
    (lambda w: w["methods"].append({"method": "sync", "speed": 3}), "speed"),
    (lambda w: w["paper_scale"].pop("compute_source"), "compute_source"),
])
def test_schema_refuses_a_bad_wan_section(change, field):
    config = copy.deepcopy(load("smoke"))
    change(config["wan"])
    with pytest.raises(Exception, match=field):
        validate(config, SCHEMA)


@pytest.mark.parametrize("entry,message", [
    ({"method": "sync", "delay": 4}, "takes no delay"),
    ({"method": "ddp"}, "ddp"),
    ({"method": "sync", "bogus": 1}, "unknown key"),
])
def test_jobs_refuse_options_a_method_would_ignore(entry, message):
    config = copy.deepcopy(load("smoke"))
    config["wan"]["methods"] = [entry]
    with pytest.raises(UserError, match=message):
        pipeline_wan.wan_jobs(config)


def test_cli_refuses_negative_latency_in_one_line():
    result = subprocess.run([sys.executable, "-m", "sharegrad.cli", "wan-measure", "--latency-ms", "-5",
                             "--bandwidth-mbps", "15", "--out", "x.json"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "latency" in result.stderr and "Traceback" not in result.stderr

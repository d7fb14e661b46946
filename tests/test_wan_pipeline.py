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

from sharegrad.pipeline import wan as pipeline_wan
from sharegrad.cli import build_parser
from sharegrad.errors import UserError
from sharegrad.stages.wan import spec_from_args

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "experiments" / "schema.yaml")


def load(name: str) -> dict:
    if name == "wan_paper_scale_cpu":  # an overlay on smoke.yaml, merged as Snakemake merges it
        config = load("smoke")
        overlay = yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text())
        config["wan"].update(overlay["wan"])
        config["name"] = overlay["name"]
        return config
    return yaml.safe_load((ROOT / "experiments" / f"{name}.yaml").read_text())


@pytest.mark.parametrize("name", ["smoke", "paper", "wan_paper_scale_cpu"])
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
        entry = config["wan"]["methods"][jobs.index(job)]
        assert spec.latencies_ms == [float(v) for v in entry.get("latency_ms", config["wan"]["latency_ms"])]
        assert spec.bandwidths_mbps == [float(v) for v in entry.get("bandwidth_mbps", config["wan"]["bandwidth_mbps"])]
        assert spec.compute_s == config["wan"]["setup"].get("compute_s")
        payload = entry["payload_parameters"] if "payload_parameters" in entry \
            else config["wan"]["setup"].get("payload_parameters")
        assert spec.payload_parameters == payload
        assert spec.topk_exchange == job.get("topk_exchange", "slotted")
        assert (spec.fragments, spec.overlap) == (job.get("fragments", 1), job.get("overlap", 0))


def test_paper_scale_overlay_is_the_issue_cell():
    """4 ranks, 300 ms, 15 Mb/s, ResNet-50's 25.6M parameters, 0.2 s of compute per step."""
    wan = load("wan_paper_scale_cpu")["wan"]
    assert (wan["ranks"], wan["latency_ms"], wan["bandwidth_mbps"]) == (4, [300], [15])
    assert (wan["setup"]["payload_parameters"], wan["setup"]["compute_s"]) == (25_600_000, 0.2)
    methods = {(m["method"], m.get("delay", 0), m.get("period", 1), m.get("topk_exchange", "slotted"))
               for m in wan["methods"] if "latency_ms" not in m}
    for wanted in [("sync", 0, 1, "slotted"), ("delayed", 20, 1, "slotted"), ("sparse", 0, 20, "slotted"),
                   ("delayed_sparse", 20, 20, "slotted"), ("delayed_sparse_topk", 20, 20, "slotted"),
                   ("delayed_sparse_topk", 20, 20, "all_gather"), ("diloco", 0, 100, "slotted")]:
        assert wanted in methods


def test_paths_of_jobs_without_the_new_keys_are_unchanged():
    """Old results stay found: a job's path spells the newer keys only when its entry gives them."""
    config = load("smoke")
    assert pipeline_wan.wan_run_files(config)[0] == ("results/smoke/wan/method~sync/delay~0/period~1/ratio~0.01/"
                                                     "powersgd_rank~2/warmup_steps~0/points.json")


def test_paper_grid_is_the_issue_grid():
    wan = load("paper")["wan"]
    assert wan["latency_ms"] == [0, 10, 50, 100, 300, 1000, 6000]
    assert wan["bandwidth_mbps"] == [15, 100, 1000, 10000]


@pytest.mark.parametrize("change,field", [
    (lambda w: w["setup"].update(batch_size=0), "batch_size"),
    (lambda w: w.update(ranks=1), "ranks"),
    (lambda w: w["methods"].append({"method": "sync", "speed": 3}), "speed"),
    (lambda w: w["paper_scale"].pop("compute_source"), "compute_source"),
    (lambda w: w["setup"].update(compute_s=0), "compute_s"),
    (lambda w: w["setup"].update(compute_s="fast"), "compute_s"),
    (lambda w: w["setup"].update(payload_parameters=0), "payload_parameters"),
    (lambda w: w["setup"].update(payload_parameters=2.5e7 + 0.5), "payload_parameters"),
    (lambda w: w["methods"].append({"method": "delayed_sparse_topk", "topk_exchange": "ring"}), "topk_exchange"),
    (lambda w: w["steps"].update(settle_steps=0), "settle_steps"),
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
    ({"method": "sync", "topk_exchange": "all_gather"}, "takes no topk_exchange"),
    ({"method": "sync", "fragments": 2}, "takes no fragments"),
    ({"method": "powersgd", "payload_parameters": 1000000}, "PowerSGD's bytes do not scale"),
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


@pytest.mark.parametrize("args,message", [
    (["--compute-s", "0"], "--compute-s must be"),
    (["--payload-parameters", "0"], "--payload-parameters must be"),
    (["--payload-parameters", "100"], "smaller than model digits_cnn's 38282"),
    (["--topk-exchange", "all_gather"], "applies to delayed_sparse_topk only"),
])
def test_cli_refuses_bad_emulation_settings_in_one_line(args, message, digits_file):
    result = subprocess.run([sys.executable, "-m", "sharegrad.cli", "wan-measure", "--latency-ms", "0",
                             "--bandwidth-mbps", "15", "--data-root", str(digits_file), *args, "--out", "x.json"],
                            capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

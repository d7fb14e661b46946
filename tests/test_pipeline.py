"""What the rules ask of the config: cells, chunks, paths and CLI arguments."""

import shlex

import pytest
import yaml

from sharegrad import grid
from sharegrad.pipeline import dlg as pipeline
from sharegrad.errors import UserError


@pytest.fixture
def smoke(repo_root):
    return yaml.safe_load((repo_root / "experiments" / "smoke.yaml").read_text())


def test_cell_paths_round_trip():
    cell = {"model": "lenet", "batch_size": 8, "level": 0.01}
    assert grid.parse_cell_path(grid.cell_path(cell)) == {"model": "lenet", "batch_size": "8", "level": "0.01"}
    with pytest.raises(ValueError):
        grid.parse_cell_path("model-lenet")


def test_cells_spell_defaults_and_budget(smoke):
    cells = pipeline.dlg_cells(smoke)
    first = cells[0]
    assert list(first)[:8] == pipeline.DLG_CELL_KEYS
    assert first["defense"] == "none" and first["level"] == 0
    assert first["iterations"] == smoke["dlg"]["attack_settings"]["dlg"]["iterations"]
    short = [c for c in cells if c["model"] == "resnet18_sigmoid"][0]
    assert short["iterations"] == 2 and short["attacks"] == 1


def test_chunks_cover_every_attack_once(smoke):
    smoke["dlg"]["attacks_per_cell"], smoke["dlg"]["chunk_size"] = 10, 4
    assert pipeline.dlg_chunks(smoke) == ["0-4", "4-8", "8-10"]
    assert pipeline.dlg_chunks(smoke, {"attacks": 1}) == ["0-1"]


def test_profile_sets_the_engine_and_attacks_per_job(smoke):
    smoke["dlg"]["attacks_per_cell"], smoke["dlg"]["chunk_size"] = 10, 4
    cells = pipeline.dlg_cells(smoke)
    dlg_cell = next(c for c in cells if c["attack"] == "dlg")
    other = next(c for c in cells if c["attack"] != "dlg")
    assert "--engine" not in pipeline.dlg_cli_args(smoke, pipeline.cell_path(dlg_cell), "0-4")  # default: sequential
    smoke.update(dlg_engine="batched", attacks_per_job=6)
    assert pipeline.dlg_chunks(smoke) == ["0-6", "6-10"]  # the profile's K replaces the experiment's chunk_size
    args = shlex.split(pipeline.dlg_cli_args(smoke, pipeline.cell_path(dlg_cell), "0-6"))
    assert args[args.index("--engine") + 1] == "batched"
    assert "--engine" not in pipeline.dlg_cli_args(smoke, pipeline.cell_path(other), "0-2")  # not a batched attack


@pytest.mark.parametrize("key,value,message", [("dlg_engine", "turbo", "dlg_engine must be one of"),
                                               ("attacks_per_job", 0, "attacks_per_job must be a positive"),
                                               ("attacks_per_job", "64", "attacks_per_job must be a positive")])
def test_bad_engine_settings_name_the_key(smoke, key, value, message):
    smoke[key] = value
    with pytest.raises(UserError, match=message):
        pipeline.dlg_chunks(smoke) if key == "attacks_per_job" else pipeline.attack_engine(smoke)


def test_cli_args_carry_the_cell(smoke):
    cell = pipeline.dlg_cells(smoke)[0]
    args = shlex.split(pipeline.dlg_cli_args(smoke, pipeline.cell_path(cell), "4-8"))
    assert args[args.index("--model") + 1] == "lenet"
    assert args[args.index("--indices") + 1] == "4:8"
    assert '"iterations": 300' in args[args.index("--attack-config") + 1]


def test_idlg_with_a_batch_is_refused(smoke):
    smoke["dlg"]["grids"] = [{"model": ["lenet"], "batch_size": [8], "attack": ["dlg"], "labels": ["idlg"]}]
    with pytest.raises(UserError, match="idlg"):
        pipeline.dlg_cells(smoke)


def test_a_model_the_batched_engine_is_slower_for_stays_sequential(smoke):
    smoke.update(dlg_engine="batched", attacks_per_job=4)
    cells = [c for c in pipeline.dlg_cells(smoke) if c["attack"] == "dlg"]
    for cell in cells:
        args = shlex.split(pipeline.dlg_cli_args(smoke, pipeline.cell_path(cell), "0-4"))
        engine = args[args.index("--engine") + 1] if "--engine" in args else "sequential"
        assert engine == ("batched" if cell["model"] in pipeline.BATCHED_MODELS else "sequential"), cell
    assert {c["model"] for c in cells} - set(pipeline.BATCHED_MODELS)  # the smoke grid has such a model


def test_dtc_runs_diloco_with_its_inner_steps_as_the_period():
    from sharegrad.pipeline.dtc import dtc_cli_args, dtc_cells
    from sharegrad import grid

    config = {"device": "cpu", "dtc": {"ranks": 2, "seeds": [0], "comm_timeout": 60,
                                       "setups": {"digits": {"dataset": "digits", "model": "digits_cnn", "epochs": 1,
                                                             "batch_size": 8, "lr": 0.1, "momentum": 0.5,
                                                             "weight_decay": 0.0, "schedule": "cosine"}},
                                       "runs": [{"method": ["diloco", "streaming_diloco"], "period": [20]}]}}
    for cell in dtc_cells(config):
        args = dtc_cli_args(config, grid.cell_path(cell)).split()
        assert args[args.index("--period") + 1] == "20", cell["method"]


def test_dtc_passes_each_method_exactly_the_options_it_takes():
    """Asked of the registered methods, not listed by hand: DTS with top-k takes delay, period and ratio."""
    from sharegrad.pipeline.dtc import method_takes

    takes = {m: {k for k in ("delay", "period", "ratio", "powersgd_rank", "warmup_steps") if method_takes(m, k)}
             for m in ("sync", "delayed", "sparse_nocomp", "delayed_sparse", "delayed_sparse_topk", "dgc",
                       "localsgd", "powersgd", "diloco")}
    assert takes == {"sync": set(), "delayed": {"delay"}, "sparse_nocomp": {"period"},
                     "delayed_sparse": {"delay", "period"}, "delayed_sparse_topk": {"delay", "period", "ratio"},
                     "dgc": {"ratio"}, "localsgd": {"period", "warmup_steps"}, "powersgd": {"powersgd_rank", "warmup_steps"},
                     "diloco": {"period"}}


def test_dtc_runs_dts_with_top_k_through_the_pipeline():
    from sharegrad import grid
    from sharegrad.pipeline.dtc import dtc_cells, dtc_cli_args

    config = {"device": "cpu", "dtc": {"ranks": 2, "seeds": [0], "comm_timeout": 60,
                                       "setups": {"digits": {"dataset": "digits", "model": "digits_cnn", "epochs": 1,
                                                             "batch_size": 8, "lr": 0.1, "momentum": 0.5,
                                                             "weight_decay": 0.0, "schedule": "cosine"}},
                                       "runs": [{"method": ["delayed_sparse_topk"], "delay": [20], "period": [20],
                                                 "ratio": [0.01]}, {"method": ["sync"], "period": [4]}]}}
    cells = dtc_cells(config)
    args = dtc_cli_args(config, grid.cell_path(cells[0])).split()
    assert [args[args.index(f"--{k}") + 1] for k in ("delay", "period", "ratio")] == ["20", "20", "0.01"]
    with pytest.raises(UserError, match="method sync takes no period"):
        dtc_cli_args(config, grid.cell_path(cells[1]))


def test_a_new_sync_method_is_passed_the_options_its_file_declares_and_no_other():
    """One declaration in the method's file (``register_sync(..., options=...)``) decides what the trainer
    accepts and what the DTS and WAN stages pass: with it dropped, each of the three asserts fails."""
    from sharegrad import grid
    from sharegrad.pipeline import wan as pipeline_wan
    from sharegrad.pipeline.dtc import dtc_cells, dtc_cli_args
    from sharegrad.sync import SYNC_METHODS, SyncOptions, build_sync_method, register_sync
    from sharegrad.sync.dts import DelayedSparse

    @register_sync("delayed_for_test", options=("delay",))
    def delayed_for_test(options: SyncOptions):
        return DelayedSparse(options.delay, 1, compensate=True)

    try:
        assert build_sync_method("delayed_for_test", SyncOptions(delay=3)).name == "delayed_for_test"
        with pytest.raises(UserError, match="'delayed_for_test' takes no period"):
            build_sync_method("delayed_for_test", SyncOptions(delay=3, period=2))

        setups = {"digits": {"dataset": "digits", "model": "digits_cnn", "epochs": 1, "batch_size": 8, "lr": 0.1,
                             "momentum": 0.5, "weight_decay": 0.0, "schedule": "cosine"}}
        config = {"device": "cpu", "dtc": {"ranks": 2, "seeds": [0], "comm_timeout": 60, "setups": setups,
                                           "runs": [{"method": ["delayed_for_test"], "delay": [5]},
                                                    {"method": ["delayed_for_test"], "period": [4]}]}}
        ok, bad = dtc_cells(config)
        args = dtc_cli_args(config, grid.cell_path(ok)).split()
        assert args[args.index("--delay") + 1] == "5" and "--period" not in args
        with pytest.raises(UserError, match="method delayed_for_test takes no period"):
            dtc_cli_args(config, grid.cell_path(bad))

        assert pipeline_wan.method_takes("delayed_for_test", "delay")
        assert not any(pipeline_wan.method_takes("delayed_for_test", k)
                       for k in ("period", "ratio", "powersgd_rank", "fragments", "topk_exchange"))
    finally:
        SYNC_METHODS._entries.pop("delayed_for_test", None)


def test_a_sync_method_cannot_declare_an_option_the_trainer_lacks():
    from sharegrad.sync import SYNC_METHODS, SyncOptions, register_sync, sync_method_options

    @register_sync("misdeclared_for_test", options=("latency",))
    def misdeclared_for_test(options: SyncOptions):
        raise AssertionError("never built")

    try:
        with pytest.raises(UserError, match="declares option\\(s\\) \\['latency'\\]"):
            sync_method_options("misdeclared_for_test")
    finally:
        SYNC_METHODS._entries.pop("misdeclared_for_test", None)

"""Every name in a config is checked against the registries before any job starts (the Snakefile calls
sharegrad.pipeline.common.check_names right after the schema), naming the field and the valid choices;
a stage is offered only its own models (image or text); every section but the required ones is optional."""

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sharegrad.pipeline import common as pipeline_config
from sharegrad.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SMOKE = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())


def typo(path: list, value) -> dict:
    config = copy.deepcopy(SMOKE)
    holder = config
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return config


# The four typos a new user met: each must stop `snakemake -n`, naming the field and the valid names.
TYPOS = {
    "model": (typo(["dlg", "grids", 0, "model"], ["lenet5"]), "dlg.grids[0].model", "lenet5", "resnet18_sigmoid"),
    "defense": (typo(["defenses", "grids", 1, "defense"], ["fp61"]), "defenses.grids[1].defense", "fp61", "fp16"),
    "attack": (typo(["dlg", "grids", 3, "attack"], ["invertin_gradients"]), "dlg.grids[3].attack",
               "invertin_gradients", "inverting_gradients"),
    "attack setting": (typo(["dlg", "attack_settings", "dlg"], {"iterations": 300, "snapshot_evry": 10}),
                       "dlg.attack_settings.dlg", "snapshot_evry", "snapshot_every"),
}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """The workflow files without data or results, as on a fresh clone."""
    root = tmp_path_factory.mktemp("checkout")
    for name in ("Snakefile", "experiments", "workflow", "environment.yml"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, root / name)
    return root


def dry_run(checkout: Path, config: dict) -> subprocess.CompletedProcess:
    path = checkout / f"{config['name']}-{abs(hash(yaml.safe_dump(config)))}.yaml"
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "--cores", "1", "--configfile",
                           str(path)], cwd=checkout, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("kind", list(TYPOS))
def test_each_typo_stops_the_dry_run_naming_field_and_choices(checkout, kind):
    config, field, wrong, valid = TYPOS[kind]
    proc = dry_run(checkout, config)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = next((line for line in out.splitlines() if field in line), None)
    assert line is not None, out[-3000:]
    assert wrong in line and valid in line, line
    assert "dlg_attack" not in out  # stopped before any job was planned


def test_smoke_and_paper_configs_name_only_registered_things():
    assert pipeline_config.name_problems(SMOKE) == []
    assert pipeline_config.name_problems(yaml.safe_load((ROOT / "experiments" / "paper.yaml").read_text())) == []


def test_image_and_text_stages_are_offered_only_their_own_models_and_attacks():
    image, text = pipeline_config.model_names("image"), pipeline_config.model_names("text")
    assert "lenet" in image and "bert_tiny_random" in text and not set(image) & set(text)
    problems = pipeline_config.name_problems(typo(["dlg", "grids", 0, "model"], ["bert_tiny_random"]))
    assert len(problems) == 1 and "dlg.grids[0].model" in problems[0] and "bert" not in problems[0].split(";")[1]
    problems = pipeline_config.name_problems(typo(["text", "grids", 0, "model"], ["lenet"]))
    assert len(problems) == 1 and "text.grids[0].model" in problems[0] and "bert_tiny_random" in problems[0]
    problems = pipeline_config.name_problems(typo(["text", "grids", 0, "attack"], ["dlg"]))
    assert len(problems) == 1 and "text.grids[0].attack" in problems[0] and "text_dlg" in problems[0]


@pytest.mark.parametrize("path,value,field", [
    (["dtc", "runs", 0, "method"], ["synk"], "dtc.runs[0].method"),
    (["wan", "methods", 0, "method"], "synk", "wan.methods[0].method"),
    (["dtc", "runs", 5, "defense"], ["gausian"], "dtc.runs[5].defense"),
    (["dlg", "figures", "reconstructions", "main", "model"], "lenett", "dlg.figures.reconstructions.main.model"),
    (["text", "attack_settings", "text_dlg"], {"max_itr": 5}, "text.attack_settings.text_dlg"),
    (["dlg", "attack_settings", "dlgg"], {}, "dlg.attack_settings.dlgg"),
])
def test_other_names_are_checked_too(path, value, field):
    problems = pipeline_config.name_problems(typo(path, value))
    assert len(problems) == 1 and problems[0].startswith(field), problems
    with pytest.raises(UserError, match=field.replace("[", r"\[").replace("]", r"\]")):
        pipeline_config.check_names(typo(path, value))


def test_a_config_of_the_required_sections_alone_plans_its_figures(checkout):
    config = {key: copy.deepcopy(SMOKE[key]) for key in ("name", "seed", "device", "data", "dlg")}
    config["name"] = "required_only"
    del config["dlg"]["figures"], config["dlg"]["attack_settings"]  # optional inside dlg too
    proc = dry_run(checkout, config)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    for rule in ("dlg_attack", "figure_dlg_summary", "figure_dlg_reconstructions", "table_claims_ledger",
                 "report_provenance"):
        assert f"\n{rule} " in out
    for rule in ("text_attack", "dtc_train", "wan_measure", "defenses_aggregate"):
        assert rule not in out


def test_training_models_register_like_image_models():
    """DTS models are a registry (sharegrad/train/models/), not a dict and a schema enum: a registered one is
    accepted by the config check and built by the trainer's builder; an unknown one names the registered."""
    from torch import nn

    from sharegrad.train.models import TRAIN_MODELS, build_train_model, register_train_model

    config = typo(["dtc", "setups", "digits", "model"], "tiny_mlp_for_test")
    assert any("dtc.setups.digits.model" in p and "digits_cnn" in p for p in pipeline_config.name_problems(config))
    if "tiny_mlp_for_test" not in TRAIN_MODELS.names():
        @register_train_model("tiny_mlp_for_test")
        def tiny_mlp(num_classes, in_channels):
            return nn.Sequential(nn.Flatten(), nn.Linear(in_channels * 64, num_classes))
    try:
        assert not pipeline_config.name_problems(config)
        assert isinstance(build_train_model("tiny_mlp_for_test", 10, 1, seed=0), nn.Sequential)
    finally:
        TRAIN_MODELS._entries.pop("tiny_mlp_for_test", None)


def test_a_cell_setting_given_to_an_attack_that_takes_none_is_named():
    """An attack declares its cell settings; a grid giving it another one stops before any job."""
    from sharegrad.attacks import ATTACKS, register_attack

    if "takes_nothing_for_test" not in ATTACKS.names():
        @register_attack("takes_nothing_for_test", modality="image", settings={"iterations": 10}, cell_settings={})
        def takes_nothing(model, target, config, *, seed, observer=None):
            raise AssertionError("not run")
    try:
        config = typo(["dlg", "grids", 0, "attack"], ["takes_nothing_for_test"])
        problems = pipeline_config.name_problems(config)
        assert any(p.startswith("dlg.grids[0].line_search: attack takes_nothing_for_test takes no line_search")
                   for p in problems), problems
        del config["dlg"]["grids"][0]["line_search"], config["dlg"]["grids"][0]["labels"]
        assert not [p for p in pipeline_config.name_problems(config) if "takes_nothing" in p]
    finally:
        ATTACKS._entries.pop("takes_nothing_for_test", None)


def overlays() -> list[tuple[str, str]]:
    """(overlay, base) for every experiments/*.yaml whose header says which config it lays over."""
    found = []
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        first = path.read_text().splitlines()[0]
        for base in ("smoke", "paper"):
            if first.startswith(f"# Overlay on {base}.yaml"):
                found.append((path.stem, base))
    return found


def test_the_overlays_are_found():
    names = dict(overlays())
    assert names.get("dlg_resnet_bs8_cpu") == "smoke" and names.get("paper_small") == "paper"


@pytest.mark.parametrize("overlay,base", overlays())
def test_every_overlay_on_its_base_passes_the_snakefile_checks(overlay, base):
    """What the Snakefile does with `--configfile BASE OVERLAY`: snakemake's recursive update, the schema, the
    names. An overlay key the schema does not know (a figure option added without its schema entry) fails here,
    not hours later when someone reruns a kept result."""
    import jsonschema
    from snakemake.utils import update_config

    config = yaml.safe_load((ROOT / "experiments" / f"{base}.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "experiments" / f"{overlay}.yaml").read_text()))
    jsonschema.validate(config, yaml.safe_load((ROOT / "experiments" / "schema.yaml").read_text()))
    pipeline_config.check_names(config)

"""DLG on text end to end on a tiny BERT: CLI errors, config helpers, aggregation and every text figure."""

import json
import subprocess
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from sharegrad.pipeline import text as pipeline_text
from sharegrad.data.text import Sentence, read_sentences, write_sentences, zen_of_python
from sharegrad.stages.aggregate_dlg_text import curves, flatten
from sharegrad.stages.aggregate_dlg import read_records
from sharegrad.stages.dlg_text import TextAttackSpec, run_sentences

from conftest import venv_bin


def run_cli(args, env):
    return subprocess.run([venv_bin("sharegrad"), *args], capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture
def sentences_file(tmp_path):
    path = tmp_path / "sentences.json"
    write_sentences(path, [Sentence("short", "test", "Readability counts."),
                           Sentence("long", "test", "Now is better than never, although never is often better.")])
    return path


def test_corpus_is_real_offline_text_within_length_bounds(tmp_path, cli_env):
    out = tmp_path / "s.json"
    result = run_cli(["text-corpus", "--out", str(out), "--min-tokens", "5", "--max-tokens", "30"], cli_env)
    assert result.returncode == 0, result.stderr
    sentences = read_sentences(out)
    assert [s.id for s in sentences[:2]] == ["slide_henson", "slide_registration"]
    corpus = [s for s in sentences if s.source == "zen_of_python"]
    assert len(corpus) >= 10 and all(s.text in zen_of_python() for s in corpus)


def test_wrong_model_name_is_a_one_line_error(sentences_file, tmp_path, cli_env):
    result = run_cli(["dlg-text", "--sentences", str(sentences_file), "--model", "bert_huge",
                      "--out-dir", str(tmp_path / "out")], cli_env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "unknown model 'bert_huge'" in result.stderr


def test_over_long_sentence_is_a_one_line_error(sentences_file, tmp_path, cli_env):
    result = run_cli(["dlg-text", "--sentences", str(sentences_file), "--model", "bert_tiny_random",
                      "--max-tokens", "6", "--out-dir", str(tmp_path / "out")], cli_env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "'long' has 12 tokens, more than max_tokens=6" in result.stderr


def test_hub_model_offline_fails_with_a_clear_message(sentences_file, tmp_path, cli_env):
    env = {**cli_env, "HF_HUB_OFFLINE": "1"}
    result = run_cli(["dlg-text", "--sentences", str(sentences_file), "--model", "bert_base_hub",
                      "--hub-name", "bert-base-uncased", "--out-dir", str(tmp_path / "out")], env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "could not load 'bert-base-uncased' from the Hugging Face hub" in result.stderr


@pytest.mark.parametrize("name", ["paper", "smoke"])
def test_configs_validate_and_give_text_jobs(repo_root, name):
    config = yaml.safe_load((repo_root / f"experiments/{name}.yaml").read_text())
    jsonschema.validate(config, yaml.safe_load((repo_root / "experiments/schema.yaml").read_text()))
    dirs = pipeline_text.text_chunk_dirs(config)
    assert len(dirs) == len(set(dirs)) > 0
    cell, chunk = dirs[0].split("/text/")[1].rsplit("/chunk~", 1)
    args = pipeline_text.text_cli_args(config, cell, chunk)
    assert f"--indices {chunk.replace('-', ':')}" in args
    assert any("defense~none" not in d for d in dirs)  # a defense sweep is configured


def test_pipeline_from_attack_to_every_text_figure(sentences_file, tmp_path):
    from sharegrad.report import FIGURES

    spec = TextAttackSpec(model="bert_tiny_random", attack="text_dlg_tokenset", budgets=[1, 2],
                          attack_config={"max_iter": 2, "snapshot_every": 1})
    sentences = read_sentences(sentences_file)
    records = run_sentences(spec, sentences[:1], [0], tmp_path / "none")
    defended = TextAttackSpec(**{**spec.__dict__, "defense": "gaussian", "defense_level": 1e-2})
    run_sentences(defended, sentences[:1], [0], tmp_path / "gauss")
    assert records[0]["weights"]["layers"] == 2 and "random init" in records[0]["weights"]["weights"]
    assert set(records[0]["at_budget"]) == {"1", "2"}
    table, snapshots = flatten(read_records([tmp_path / "none", tmp_path / "gauss"]))
    curves(read_records([tmp_path / "none", tmp_path / "gauss"])).to_csv(tmp_path / "curves.csv", index=False)
    table.to_csv(tmp_path / "text.csv", index=False)
    snapshots.to_csv(tmp_path / "snap.csv", index=False)
    assert len(table) == 4 and set(table.defense) == {"none", "gaussian"}
    FIGURES.get("text_decoding")([tmp_path / "snap.csv"], tmp_path / "dec.md",
                                 {"model": "bert_tiny_random", "defense": "none", "sentences": ["short"], "every": 1})
    text = (tmp_path / "dec.md").read_text()
    assert "| Iters=0 |" in text and "| Iters=2 |" in text and "readability counts" in text
    FIGURES.get("text_summary")([tmp_path / "text.csv"], tmp_path / "sum.md", {"config": "test"})
    FIGURES.get("text_loss_curves")([tmp_path / "curves.csv"], tmp_path / "loss.png", {})
    assert (tmp_path / "loss.png").stat().st_size > 1000
    for name in ("text_length", "text_defenses"):
        FIGURES.get(name)([tmp_path / "text.csv"], tmp_path / f"{name}.png", {})
        assert (tmp_path / f"{name}.png").stat().st_size > 1000

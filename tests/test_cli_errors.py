"""What a new user sees on bad input: one line naming the file or field and the problem, exit 2,
nothing written. Each case is one a user met (a figure fed a corrupt CSV, an empty index range, a
config typo), run through the CLI in-process."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from sharegrad.cli import main
from sharegrad.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SMOKE = yaml.safe_load((ROOT / "experiments" / "smoke.yaml").read_text())
SCHEMA = ROOT / "experiments" / "schema.yaml"
# the head of a real aggregated dlg.csv and one row of it
DLG_CSV = ROOT / "results" / "cpu" / "dlg_iterations_cpu" / "dlg.csv"


def one_line_error(capsys, argv, *words) -> str:
    """Run ``sharegrad argv``; it must exit 2 with one line on stderr holding every word."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("sharegrad: error: ")
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def full_csv() -> str:
    return DLG_CSV.read_text()


@pytest.mark.parametrize("content, problem", [
    ("", "is empty"),
    (full_csv().splitlines()[0] + "\n", "no rows"),
    (full_csv()[:len(full_csv().splitlines()[0]) + 40], "middle of a row"),
    ("a,b\n1,2\n", "none of the columns"),
    ("attack,model,mse\ndlg,lenet,0.1\n", "lacks the column"),
])
@pytest.mark.parametrize("figure, suffix", [("dlg_summary", ".md"), ("dlg_iterations", ".md"),
                                            ("dlg_batch_size", ".png")])
def test_figure_on_a_corrupt_csv_is_one_line_naming_the_file(tmp_path, capsys, content, problem, figure, suffix):
    if problem == "none of the columns" and figure != "dlg_summary":
        problem = "lacks the column"  # these read a named column before they group
    csv = tmp_path / "dlg.csv"
    csv.write_text(content)
    out = tmp_path / "figures" / f"out{suffix}"
    one_line_error(capsys, ["figure", figure, "--csv", str(csv), "--out", str(out)], str(csv), problem)
    assert not out.exists() and not list(tmp_path.glob("figures/*"))


def test_figure_with_the_wrong_kind_of_output_is_refused_before_drawing(tmp_path, capsys):
    one_line_error(capsys, ["figure", "dlg_summary", "--csv", str(DLG_CSV), "--out", str(tmp_path / "t.png")],
                   "is a table", ".md")
    one_line_error(capsys, ["figure", "dlg_batch_size", "--csv", str(DLG_CSV), "--out", str(tmp_path / "f.md")],
                   "is a figure", ".png")
    assert not list(tmp_path.iterdir())


def test_figure_help_lists_every_figure(capsys):
    from sharegrad.report import FIGURES

    with pytest.raises(SystemExit):
        main(["figure", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in FIGURES.names():
        assert name in text


@pytest.mark.parametrize("indices", ["3:1", "2:2", "-1", "1,1"])
def test_dlg_indices_that_select_nothing_or_nonsense_exit_2(tmp_path, capsys, indices):
    one_line_error(capsys, ["dlg", "--indices", indices, "--out-dir", str(tmp_path / "out")], "--indices")
    assert not (tmp_path / "out").exists()


def test_missing_data_root_names_the_command_that_fills_it(tmp_path, capsys):
    root = tmp_path / "nowhere"
    line = one_line_error(capsys, ["dlg", "--data-root", str(root), "--out-dir", str(tmp_path / "o")], str(root))
    assert f"sharegrad data embedded --root {root}`" in line


def test_dlg_help_describes_every_option_and_lists_attack_settings(capsys):
    from sharegrad.attacks import ATTACKS

    with pytest.raises(SystemExit):
        main(["dlg", "--help"])
    out = capsys.readouterr().out
    options = out.split("options:", 1)[1].split("\n\n", 1)[0]
    # an option line with nothing after its metavar (and no continuation line) has no help
    entries = re.split(r"\n  (?=-)", "\n" + options.strip("\n"))
    undescribed = [e.split()[0] for e in entries if e.strip() and len(e.split("  ")) < 2 and "\n" not in e.strip()]
    assert not undescribed, undescribed
    text = " ".join(out.split())
    for key in ATTACKS.get("dlg").settings:
        assert f"{key}=" in text


# ------------------------------------------------------------------ the config and its schema
def check(config: dict) -> dict:
    from sharegrad.pipeline.common import validate_config

    return validate_config(config, SCHEMA)


def test_a_config_needs_only_what_the_readme_says():
    """The README's list of required keys is the schema's, and a config with only those (dlg with only
    grids and attacks_per_cell) gets the defaults."""
    readme = " ".join((ROOT / "README.md").read_text().split())
    schema = yaml.safe_load(SCHEMA.read_text())
    said = re.search(r"Only (.+?) are required", readme).group(1)
    assert sorted(re.findall(r"`([a-z_.]+)`", said)) == sorted(
        schema["required"] + [f"dlg.{k}" for k in schema["properties"]["dlg"]["required"]])
    config = {k: copy.deepcopy(SMOKE[k]) for k in schema["required"]}
    for key in ("success_mse", "chunk_size"):
        del config["dlg"][key]
    check(config)
    assert config["dlg"]["success_mse"] == 1e-3 and config["dlg"]["chunk_size"] == 8


@pytest.mark.parametrize("change, expected", [
    (lambda c: c["data"].update(image_dataset="embeded"),
     "data.image_dataset: 'embeded' is not allowed; choose one of embedded, cifar100, cifar10"),
    (lambda c: c["dlg"]["grids"][0].update(line_search=["strong-wolfe"]),
     "dlg.grids[0].line_search[0]: 'strong-wolfe' is not allowed; choose one of none, strong_wolfe"),
    (lambda c: c["dlg"].update(succes_mse=1e-3), "dlg: unknown key(s) succes_mse; allowed: "),
    (lambda c: c["dlg"].update(chunk_size=0), "dlg.chunk_size: 0 must be >= 1"),
    (lambda c: c["wan"].update(ranks="two"), "wan.ranks: 'two' is not of type integer"),
])
def test_a_schema_error_is_one_line_with_the_field_the_value_and_the_choices(change, expected):
    config = copy.deepcopy(SMOKE)
    change(config)
    with pytest.raises(UserError) as caught:
        check(config)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2 and lines[1].strip().startswith(expected), lines


def test_plan_writes_no_csv_unless_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plan", "--config", str(ROOT / "experiments" / "smoke.yaml"), "--startup-s", "1",
                 "--measurements", str(ROOT / "results" / "cpu")]) == 0
    assert not list(tmp_path.rglob("*")), list(tmp_path.rglob("*"))
    out = tmp_path / "p.csv"
    assert main(["plan", "--config", str(ROOT / "experiments" / "smoke.yaml"), "--startup-s", "1",
                 "--measurements", str(ROOT / "results" / "cpu"), "--out", str(out)]) == 0
    assert out.exists()


def test_a_schema_typo_stops_snakemake_with_a_short_message(tmp_path):
    """Through the Snakefile: a few lines, the field, the value and the choices (jsonschema's own message
    printed the field's whole schema, up to hundreds of lines)."""
    import shutil
    import subprocess
    import sys

    for name in ("Snakefile", "experiments", "workflow"):  # a fresh clone's workflow, away from the checkout
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    config = copy.deepcopy(SMOKE)
    config["dlg"]["grids"][1]["labels"] = ["multisets"]
    bad = tmp_path / "typo.yaml"
    bad.write_text(yaml.safe_dump(config))
    exe = Path(sys.executable).parent / "snakemake"
    proc = subprocess.run([str(exe), "-n", "--cores", "1", "--configfile", str(bad)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert ("dlg.grids[1].labels[0]: 'multisets' is not allowed; choose one of joint, idlg, multiset, known, auto"
            in out), out
    assert len(out.splitlines()) <= 12, out


@pytest.mark.parametrize("content, problem", [("", "is empty"),
                                              (full_csv()[:len(full_csv().splitlines()[0]) + 40], "middle of a row")])
def test_claims_on_an_empty_or_truncated_csv_is_one_line_and_writes_nothing(tmp_path, capsys, content, problem):
    csv = tmp_path / "dlg.csv"
    csv.write_text(content)
    out = tmp_path / "ledger" / "claims.md"
    one_line_error(capsys, ["claims", "--csv", f"dlg={csv}", "--out", str(out)], str(csv), problem)
    assert not (tmp_path / "ledger").exists()

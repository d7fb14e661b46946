"""`sharegrad kept-results`: every kept CPU overlay is found, its command read from its header, and what is
kept (records, README) follows from the files, not from a list typed by hand."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from sharegrad.errors import UserError
from sharegrad.stages import kept
from sharegrad.stages.keep_records import keep, read_record, record_path

ROOT = Path(__file__).resolve().parents[1]


def test_every_cpu_overlay_is_a_kept_result_with_a_command_it_can_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    overlays = kept.discover(Path("."))
    assert sorted(o.path.name for o in overlays) == sorted(p.name for p in (ROOT / "experiments").glob("*_cpu.yaml"))
    for overlay in overlays:
        command = overlay.snakemake_command()
        assert command[:5] == ["snakemake", "--cores", str(overlay.cores), "--configfile", kept.BASE_CONFIG]
        assert "--rerun-incomplete" in command and "--keep-going" in command
        assert overlay.tables and all(t.startswith(f"results/{overlay.name}/") for t in overlay.targets)


def test_the_ledger_reads_every_kept_overlay_table(monkeypatch):
    """A kept overlay's table the ledger does not read would be a kept result no claim is judged on, unless
    the inputs file leaves it out and says why."""
    import yaml

    monkeypatch.chdir(ROOT)
    document = yaml.safe_load(kept.LEDGER_INPUTS.read_text())
    listed = {str(p) for v in document["csv"].values() for p in (v if isinstance(v, list) else [v])}
    left_out = document.get("not_read") or {}
    assert not listed & set(left_out), "a table both read and left out"
    assert all(str(why).strip() for why in left_out.values()), "a table left out must say why"
    for overlay in kept.discover(Path(".")):
        for table in overlay.tables:
            if (overlay.folder / table).exists():
                name = f"{overlay.name}/{table}"
                assert name in listed or name in left_out, f"{overlay.folder / table} is not in {kept.LEDGER_INPUTS}"


def write_overlay(root: Path, name: str, command: str) -> Path:
    path = root / "experiments" / f"{name}_cpu.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# What it runs.\n{command}\n# Why.\nname: {name}_cpu\ndlg:\n  attacks_per_cell: 1\n")
    return path


def test_the_header_command_is_parsed_with_its_settings_and_targets(tmp_path):
    path = write_overlay(tmp_path, "a", "#   snakemake --cores 1 --configfile experiments/smoke.yaml "
                                        "experiments/a_cpu.yaml \\\n#     --config dlg_engine=sequential "
                                        "attacks_per_job=1 -- results/a_cpu/dlg.csv")
    overlay = kept.parse_overlay(path)
    assert overlay.name == "a_cpu" and overlay.cores == 1
    assert overlay.settings == ["dlg_engine=sequential", "attacks_per_job=1"]
    assert overlay.targets == ["results/a_cpu/dlg.csv"] and overlay.sections == ["dlg"]
    assert overlay.about == "What it runs. Why."


@pytest.mark.parametrize("command, problem", [
    ("# no command here", "does not state the snakemake command"),
    ("#   snakemake --cores 1 --configfile experiments/paper.yaml experiments/a_cpu.yaml -- results/a_cpu/dlg.csv",
     "must read --configfile experiments/smoke.yaml"),
    ("#   snakemake --cores 1 --configfile experiments/smoke.yaml experiments/a_cpu.yaml -- results/other/dlg.csv",
     "must make results/a_cpu/"),
    ("#   snakemake --cores 1 --forceall --configfile experiments/smoke.yaml experiments/a_cpu.yaml -- "
     "results/a_cpu/dlg.csv", "'--forceall'"),
])
def test_an_overlay_whose_command_cannot_be_run_is_named(tmp_path, command, problem):
    path = write_overlay(tmp_path, "a", command)
    with pytest.raises(UserError, match=problem):
        kept.parse_overlay(path)


def test_records_are_kept_compressed_and_byte_stable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = Path("results/a_cpu/dlg/model~lenet/batch_size~1/chunk~0-1/attack~0.json")
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"seed": 0, "curve": list(range(200))}))
    pd.DataFrame([{"arrays": str(record.with_suffix(".npz")), "git_commit": "abc"}]).to_csv("dlg.csv", index=False)
    assert keep(Path("dlg.csv"), Path("kept")) == (1, 1)
    target = Path("kept/records") / record_path(str(record.with_suffix(".npz")))
    assert target.name == "attack~0.json.gz" and target.parent.name == "chunk~0-1"
    first = target.read_bytes()
    assert read_record(target) == json.loads(record.read_text())
    assert len(first) < record.stat().st_size and gzip.decompress(first) == record.read_bytes()
    assert first[4:8] == b"\0\0\0\0" and not first[3] & 0x08  # the gzip header holds no time and no file name
    keep(Path("dlg.csv"), Path("kept"))
    assert target.read_bytes() == first  # so the same record keeps the same bytes


def test_the_readme_counts_kept_records_per_cell_and_names_rows_without_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "smoke.yaml").write_text((ROOT / "experiments" / "smoke.yaml").read_text())
    path = write_overlay(tmp_path, "a", "#   snakemake --cores 1 --configfile experiments/smoke.yaml "
                                        "experiments/a_cpu.yaml -- results/a_cpu/dlg.csv")
    overlay = kept.parse_overlay(path.relative_to(tmp_path))
    cell = "model~lenet/batch_size~1/attack~dlg/line_search~strong_wolfe/labels~joint/defense~none/level~0/iterations~10"
    runs = [f"results/a_cpu/dlg/{cell}/chunk~{i}-{i + 1}/attack~{i}.npz" for i in range(3)]
    folder = tmp_path / "results" / "cpu" / "a_cpu"
    (folder / "records").mkdir(parents=True)
    pd.DataFrame([{"arrays": r, "git_commit": "c" * 40} for r in runs]).to_csv(folder / "dlg.csv", index=False)
    for run in runs[:2]:  # the third run's record was not kept
        target = folder / "records" / record_path(run)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(b"{}"))
    assert kept.kept_records(overlay) == {cell: (2, 3)}
    table = pd.DataFrame([{"overlay": "a_cpu", "device": "cpu", "stage": "dlg", "cell": cell, "units": 3,
                           "unit": "attacks"}])
    text = kept.readme(overlay, table)
    assert f"| `{cell}` | 3 | 3 | 2/3 | `cccccccccccc` |" in text
    assert f"- dropped: `{cell}`: 1 of its 3 rows have no kept record" in text


def test_every_ledger_row_without_a_full_trace_is_named_as_dropped_with_why(tmp_path):
    rows = [("a", "traced", "records 3/3 kept; 1 commit(s)"),
            ("b", "untraced", "records 0/40 kept; 4 commit(s), 2 dirty"),
            ("c", "partly", "records 2/3 kept; 1 commit(s)"),
            ("d", "dirty", "records 4/4 kept; 4 commit(s), 1 dirty"),
            ("e", "benchmark", "no per-run record paths in the CSV")]
    cells = tmp_path / "claims_cells.csv"
    pd.DataFrame([{"claim": c, "cell": cell, "trace": t} for c, cell, t in rows]).to_csv(cells, index=False)
    lines = kept.dropped_rows(cells)
    assert [line.split("`")[1] for line in lines] == ["b", "c", "d", "e"]
    assert "40 of its 40 runs have no kept record; some of its runs were made from code with uncommitted" in lines[0]
    assert "1 of its 3 runs have no kept record (ledger: records 2/3 kept" in lines[1]
    assert "names no per-run record" in lines[3]
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{kept.TRACE_BEGIN}\nold\n{kept.TRACE_END}\nrest\n")
    assert kept.write_block(readme, kept.TRACE_BEGIN, kept.TRACE_END, lines)
    assert readme.read_text() == "intro\n" + "\n".join([kept.TRACE_BEGIN, *lines, kept.TRACE_END]) + "\nrest\n"
    # every row traced: the block says so, with the count, rather than stay empty
    pd.DataFrame([{"claim": "a", "cell": "x", "trace": "records 3/3 kept; 1 commit(s)"}] * 2).to_csv(cells, index=False)
    assert kept.dropped_rows(cells) == ["None: each of the ledger's 2 rows traces to kept records made at clean commits."]


def test_the_dry_run_lists_every_kept_cell_and_runs_nothing(monkeypatch, capsys):
    from sharegrad.cli import main

    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(kept, "run_overlay", lambda *a, **k: pytest.fail("a dry run ran an overlay"))
    assert main(["kept-results", "-n", "--startup-s", "1"]) in (0, None)
    out = capsys.readouterr().out
    overlays = kept.discover(Path("."))
    table = kept.cell_table(overlays, 1.0)
    cells = table[table.device == table.device.iloc[0]]
    assert out.startswith("Cost from `sharegrad plan`")
    for overlay in overlays:
        assert f"== {overlay.name} ({overlay.path}): snakemake" in out
    for row in cells.itertuples():
        assert f"  {row.stage} {row.cell}: " in out
    assert out.rstrip().endswith(f"{len(overlays)} overlays, {len(cells)} kept cells; nothing run (dry run)")


@pytest.mark.parametrize("run,cell", [
    ("results/x_cpu/dlg/model~lenet/batch_size~1/chunk~0-10/attack~1.npz", "model~lenet/batch_size~1"),
    ("results/x_cpu/text/model~m/attack~t/level~0/chunk~0-1/sentence~s.json", "model~m/attack~t/level~0"),
    ("results/x_cpu/dtc/setup~digits/method~sync/seed~0/run.json", "setup~digits/method~sync/seed~0"),
    ("results/x_cpu/wan/method~sync/delay~0/points.json", "method~sync/delay~0"),
])
def test_a_kept_record_is_counted_in_the_plans_cell(run, cell):
    """Each stage's record paths map onto the cell the plan lists, so a README counts its records per cell."""
    assert kept._cell_of(run) == cell

"""Stage: ``sharegrad kept-results``: the kept CPU results under results/cpu/, from their overlays, in one command.

Each kept result is declared by a config overlay ``experiments/*_cpu.yaml`` (its cells, budgets and
images) on ``experiments/smoke.yaml``. The overlay's header states the Snakemake command that runs it
(cores, ``--config`` settings such as the engine and attacks per job, and the CSVs it makes); this
stage reads that command, so the overlay is the one place that says how its result is made:

    sharegrad kept-results -n                  # every kept cell, what is kept of it, and the cost from the plan
    sharegrad kept-results                     # run every overlay (resumable), keep, regenerate
    sharegrad kept-results --only NAME --no-run   # regenerate NAME's kept files from its kept records only

A run goes through Snakemake with ``--rerun-incomplete --keep-going``: a killed run is resumed by
running the same command again (finished attacks are stashed, running ones checkpointed; see the
README). What finished is kept under ``results/cpu/NAME/``: the aggregated CSVs and the per-run records
(gzip-compressed JSON below ``records/``); the figures and tables the pipeline draws for the overlay's
sections are where every config's go, ``figures/NAME/``. Then, from what is kept, the tables are rendered again, each folder's README is
written (cells, records kept per cell, what made each file) and the claims ledger is regenerated.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sharegrad.errors import UserError

BASE_CONFIG = "experiments/smoke.yaml"
OVERLAYS = "experiments/*_cpu.yaml"
KEPT = Path("results/cpu")
FIGURES = Path("figures")  # figures/<config name>/, as the pipeline writes them (pipeline.common.figures_root)
LEDGER_INPUTS = KEPT / "ledger_inputs.yaml"
LEDGER_COMMAND = ["claims", "--inputs", str(LEDGER_INPUTS), "--title", "kept CPU acceptance runs",
                  "--out", str(KEPT / "claims.md")]
# What each stage's aggregate rule writes (the first file names the per-run records) and what made it.
TABLES = {
    "dlg.csv": (["dlg_curves.csv"], "one row per image of every finished DLG attack (`sharegrad aggregate-dlg`)"),
    "defenses.csv": (["defenses_curves.csv"],
                     "one row per image of every finished attack on defended gradients (`sharegrad aggregate-dlg`)"),
    "text.csv": (["text_snapshots.csv", "text_curves.csv"],
                 "one row per sentence and budget of every finished text attack (`sharegrad aggregate-dlg-text`)"),
    "dtc.csv": (["dtc_curves.csv"], "one row per distributed training run (`sharegrad aggregate-dtc`)"),
    "wan.csv": (["wan_projection.csv"], "one row per method and emulated link point (`sharegrad wan`)"),
}
COMPANIONS = {
    "dlg_curves.csv": "the gradient-match loss and image error per outer step of every attack",
    "defenses_curves.csv": "the gradient-match loss and image error per outer step of every defended attack",
    "text_snapshots.csv": "the tokens each text attack decoded at every snapshot",
    "text_curves.csv": "the gradient-match loss and token accuracy per outer step of every text attack",
    "dtc_curves.csv": "accuracy and loss per epoch of every training run",
    "wan_projection.csv": "the analytic model's projection of every method to other links",
}
SECTION_OF = {"dlg.csv": "dlg", "defenses.csv": "defenses", "text.csv": "text", "dtc.csv": "dtc", "wan.csv": "wan"}
GENERATED = "<!-- written by `sharegrad kept-results` from the files in this folder; edit the overlay, not this file -->"


@dataclass
class Overlay:
    """One kept result: its overlay file and the Snakemake command its header states."""

    path: Path
    name: str
    about: str
    cores: int
    settings: list[str] = field(default_factory=list)  # --config KEY=VALUE
    targets: list[str] = field(default_factory=list)

    @property
    def folder(self) -> Path:
        return KEPT / self.name

    @property
    def figures_folder(self) -> Path:
        return FIGURES / self.name

    @property
    def tables(self) -> list[str]:
        return [Path(t).name for t in self.targets if Path(t).name in TABLES]

    @property
    def sections(self) -> list[str]:
        return [SECTION_OF[t] for t in self.tables]

    def snakemake_command(self, cores: int | None = None) -> list[str]:
        command = ["snakemake", "--cores", str(cores or self.cores), "--configfile", BASE_CONFIG, str(self.path)]
        command += ["--config", *self.settings] if self.settings else []
        return command + ["--rerun-incomplete", "--keep-going", "--"] + self.targets


def _header(text: str) -> list[str]:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return lines


def parse_overlay(path: Path) -> Overlay:
    """The overlay's name and the Snakemake command its header comment states; a one-line error otherwise."""
    import yaml

    text = path.read_text()
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})") from None
    name = config.get("name")
    if not name:
        raise UserError(f"{path}: an overlay of a kept result needs a name")
    header = _header(text)
    start = next((i for i, line in enumerate(header) if line.startswith("snakemake ")), None)
    if start is None:
        raise UserError(f"{path}: its header does not state the snakemake command that runs it "
                        "(a comment line starting with 'snakemake ')")
    end = start
    while header[end].endswith("\\") and end + 1 < len(header):
        end += 1
    words = shlex.split(" ".join(line.rstrip("\\").strip() for line in header[start:end + 1]))
    about = " ".join(line for i, line in enumerate(header) if not start <= i <= end)
    cores, settings, targets, configfiles, i = 1, [], [], [], 1
    while i < len(words):
        word = words[i]
        if word == "--cores" and i + 1 < len(words):
            cores, i = int(words[i + 1]), i + 2
        elif word in ("--configfile", "--config", "--"):
            j = i + 1
            while j < len(words) and not words[j].startswith("--"):
                j += 1
            {"--configfile": configfiles, "--config": settings, "--": targets}[word].extend(words[i + 1:j])
            i = j
        else:
            raise UserError(f"{path}: its snakemake command has {word!r}, which kept-results does not pass on")
    if configfiles != [BASE_CONFIG, f"experiments/{path.name}"]:
        raise UserError(f"{path}: its snakemake command must read --configfile {BASE_CONFIG} experiments/{path.name}, "
                        f"not {' '.join(configfiles)}")
    wrong = [t for t in targets if not t.startswith(f"results/{name}/")]
    if wrong or not any(Path(t).name in TABLES for t in targets):
        raise UserError(f"{path}: its snakemake command must make results/{name}/ and one of "
                        f"{', '.join(TABLES)}; it names {' '.join(targets) or 'no target'}")
    return Overlay(path=path, name=name, about=about, cores=cores, settings=settings, targets=targets)


def discover(root: Path = Path("."), only: list[str] | None = None) -> list[Overlay]:
    overlays = [parse_overlay(p) for p in sorted(root.glob(OVERLAYS))]
    if only:
        unknown = sorted(set(only) - {o.name for o in overlays})
        if unknown:
            raise UserError(f"no overlay named {', '.join(unknown)}; kept overlays: "
                            + ", ".join(o.name for o in overlays))
        overlays = [o for o in overlays if o.name in only]
    return overlays


def overlay_config(overlay: Overlay) -> dict:
    """The merged config the overlay's command runs (base, overlay, then its --config settings)."""
    import yaml

    from sharegrad.stages.plan import load_config

    config = load_config([BASE_CONFIG, str(overlay.path)])
    for setting in overlay.settings:
        key, _, value = setting.partition("=")
        config[key] = yaml.safe_load(value)
    return config


# ---------------------------------------------------------------- the cells, their cost and what is kept


def cell_table(overlays: list[Overlay], startup_s: float):
    """One row per overlay, cell and measured device class: units, evaluations, hours (from the plan)."""
    import pandas as pd

    from sharegrad.plan import load_measurements, plan

    measurements = load_measurements([r for r in (KEPT, Path("results/gpu")) if r.exists()], startup_s)
    tables = []
    for overlay in overlays:
        try:
            table = plan(overlay_config(overlay), measurements)
        except UserError as exc:  # the run would refuse the same config: say which and go on with the rest
            print(f"{overlay.name}: no plan ({exc})", file=sys.stderr)
            continue
        tables.append(table[table.stage.isin(overlay.sections)].assign(overlay=overlay.name))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def kept_records(overlay: Overlay) -> dict[str, tuple[int, int]]:
    """Per cell path (as the plan spells it): (runs with a kept record, runs in the kept CSV)."""
    import pandas as pd

    from sharegrad.stages.keep_records import record_column, record_path

    counts: dict[str, tuple[int, int]] = {}
    for name in overlay.tables:
        csv = overlay.folder / name
        if not csv.exists():
            continue
        table = pd.read_csv(csv)
        column = record_column(table)
        if column is None:
            continue
        for run in sorted(set(table[column].dropna())):
            cell = _cell_of(str(run))
            kept, total = counts.get(cell, (0, 0))
            counts[cell] = (kept + (overlay.folder / "records" / record_path(str(run))).exists(), total + 1)
    return counts


def _cell_of(run: str) -> str:
    """``results/NAME/STAGE/model~M/.../chunk~A-B/attack~I.npz`` -> ``model~M/...`` (the plan's cell): from the
    first ``key~value`` folder to the chunk (or the file: a training run's ``.../seed~0/run.json``)."""
    parts = Path(run).parts
    start = next((i for i, p in enumerate(parts) if "~" in p), 0)
    chunk = next((i for i, p in enumerate(parts) if p.startswith("chunk~")), len(parts) - 1)
    return "/".join(parts[start:chunk])


def list_cells(overlays: list[Overlay], table) -> str:
    lines = []
    device = table.device.iloc[0] if len(table) else None
    for overlay in overlays:
        counts = kept_records(overlay)
        lines += [f"== {overlay.name} ({overlay.path}): " + " ".join(shlex.quote(w) for w in
                                                                     overlay.snakemake_command())]
        rows = table[(table.overlay == overlay.name) & (table.device == device)]
        for row in rows.itertuples():
            kept, total = counts.get(row.cell, (0, 0))
            lines.append(f"  {row.stage} {row.cell}: {row.units:g} {row.unit}; kept: "
                         + (f"records {kept}/{total}" if total else "nothing yet"))
    return "\n".join(lines)


def cost_text(overlays: list[Overlay], table) -> str:
    """The plan's hours per overlay and device class, and the total, before anything runs."""
    lines = ["Cost from `sharegrad plan` (kept measurements; cells without one are not in the hours):"]
    for device, rows in table.groupby("device", sort=False):
        measured = rows.dropna(subset=["hours"])
        lines.append(f"- {device}: {measured.hours.sum():.1f} h for the {len(measured)} of {len(rows)} kept "
                     f"cells measured on it, jobs one after another")
        for name, cells in rows.groupby("overlay", sort=True):
            done = cells.dropna(subset=["hours"])
            lines.append(f"  - {name}: {done.hours.sum():.2f} h ({len(done)} of {len(cells)} cells, "
                         f"{cells.units.sum():g} {cells.unit.iloc[0]})")
    return "\n".join(lines)


# ---------------------------------------------------------------- running and keeping


def figure_targets(overlay: Overlay, config: dict) -> dict[str, tuple[object, dict]]:
    """The pipeline's figures and tables of the overlay's sections: file name -> (spec, options)."""
    from sharegrad.pipeline.figures import pipeline_figures

    out = {}
    for spec in pipeline_figures(config):
        if spec.section in overlay.sections:
            for stem, options in spec.outputs(config).items():
                out[f"{stem}.md" if spec.table else f"{stem}.png"] = (spec, options)
    return out


def run_overlay(overlay: Overlay, cores: int | None) -> tuple[int, list[str]]:
    """The overlay's own command (its return code), then the figures of its sections in a second call whose
    failures do not count: an overlay inherits the base config's figure instances, some of which draw cells
    it does not have. Returns (return code, the figures that were not drawn)."""
    snakemake = Path(sys.executable).with_name("snakemake")
    program = str(snakemake) if snakemake.exists() else "snakemake"
    command = overlay.snakemake_command(cores)
    print("$ " + " ".join(shlex.quote(w) for w in command), flush=True)
    code = subprocess.run([program, *command[1:]]).returncode
    if code != 0:
        return code, []
    names = list(figure_targets(overlay, overlay_config(overlay)))
    figures = [str(overlay.figures_folder / name) for name in names]
    subprocess.run([program, *command[1:command.index("--")], "--", *figures], capture_output=True)
    return code, [n for n, f in zip(names, figures) if not Path(f).exists()]


def keep_overlay(overlay: Overlay) -> list[str]:
    """Copy what the overlay's run made (CSVs and records) into its kept folder; what was kept. Its figures
    need no copy: the run drew them in figures/NAME/ itself."""
    import shutil

    import pandas as pd

    from sharegrad.stages.keep_records import keep, record_column

    done = []
    source = Path("results") / overlay.name
    for name in overlay.tables:
        if not (source / name).exists():
            print(f"{overlay.name}: no {source / name} (nothing finished); its kept files stay as they are")
            continue
        if record_column(pd.read_csv(source / name)) is None:  # training and WAN rows name no per-run record
            overlay.folder.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, overlay.folder / name)
            done.append(name)
        else:
            rows, records = keep(source / name, overlay.folder)
            done.append(f"{name} ({rows} rows, {records} records)")
        for companion in TABLES[name][0]:
            if (source / companion).exists():
                shutil.copyfile(source / companion, overlay.folder / companion)
    return done


# ---------------------------------------------------------------- regenerating from what is kept


def render_tables(overlay: Overlay) -> tuple[list[str], dict[str, str]]:
    """The overlay's tables and figures drawn again from its kept CSVs: (written, {file: why not}). A figure
    that needs the attacks' arrays (the reconstructions) cannot be: the arrays are not kept, so the one a
    run drew stays as it is."""
    config = overlay_config(overlay)
    written, refused = [], {}
    for name, (spec, options) in figure_targets(overlay, config).items():
        inputs = [overlay.folder / Path(p).name for p in spec.input_files(config)]
        if not all(p.exists() for p in inputs):
            continue
        try:
            overlay.figures_folder.mkdir(parents=True, exist_ok=True)
            spec.render(inputs, overlay.figures_folder / name, options)
        except FileNotFoundError:
            continue  # the arrays a CSV names are not kept; a run redraws this figure
        except UserError as exc:  # the pipeline's rule would refuse the same way: say so, keep going
            refused[name] = str(exc)
            continue
        written.append(name)
    return written, refused


def readme(overlay: Overlay, table, refused: dict[str, str] | None = None, redrawn: list[str] | None = None) -> str:
    """What is in the overlay's kept folder and what made each file; every number read off the files."""
    import pandas as pd

    from sharegrad.stages.keep_records import record_column

    config = overlay_config(overlay)
    figures = figure_targets(overlay, config)
    counts = kept_records(overlay)
    device = table.device.iloc[0] if len(table) else None
    cells = table[(table.overlay == overlay.name) & (table.device == device)]
    lines = [GENERATED, f"# Kept results of `{overlay.path}`", "", overlay.about, "",
             "Made by `make cpu-results ONLY=" + overlay.name + "`, which runs the overlay's own command",
             "", "```bash", " ".join(shlex.quote(w) for w in overlay.snakemake_command()), "```", "",
             "(resumable: run it again after an interruption), keeps what finished here and writes this page.", "",
             "## Cells", "", "| cell | runs in the overlay | runs in the kept CSV | records kept | commits |",
             "|---|---:|---:|---:|---|"]
    commits = {}
    for name in overlay.tables:
        csv = overlay.folder / name
        if csv.exists():
            frame = pd.read_csv(csv)
            column = record_column(frame)
            if "git_commit" in frame and column is not None:  # training rows name no per-run record
                for run, commit in zip(frame[column], frame.git_commit):
                    commits.setdefault(_cell_of(str(run)), set()).add(str(commit))
    dropped = []
    for row in cells.itertuples():
        kept, total = counts.get(row.cell, (0, 0))
        names = sorted(commits.get(row.cell, []))
        lines.append(f"| `{row.cell}` | {row.units:g} | {total or '-'} | {f'{kept}/{total}' if total else '-'} | "
                     + (", ".join(f"`{c[:12]}{'-dirty' if c.endswith('-dirty') else ''}`" for c in names) or "-")
                     + " |")
        if total and kept < total:
            dropped.append(f"- dropped: `{row.cell}`: {total - kept} of its {total} rows have no kept record (the "
                           "run kept only its aggregated CSV), so they cannot be traced to a run; rerunning the "
                           "overlay replaces them")
        elif any(c.endswith("-dirty") for c in names):
            dropped.append(f"- dropped: `{row.cell}`: made from a working tree with uncommitted changes, so its "
                           "records name no commit that reproduces them")
    unnamed = [n for n in overlay.tables if (overlay.folder / n).exists()
               and record_column(pd.read_csv(overlay.folder / n, nrows=1)) is None]
    if unnamed:
        lines += ["", f"{', '.join(f'`{n}`' for n in unnamed)} names no per-run record (a training or WAN run keeps "
                      "only its aggregated rows), so its rows cannot be traced to a record."]
    if dropped:
        lines += ["", "Dropped: rows that cannot be traced to a kept record made at a clean commit. The claims ledger "
                      "still reads them (its trace column says `records 0/N kept` or names the dirty commits) until "
                      "the overlay's run replaces them; do not quote them as this project's measurement.", "",
                  *dropped]
    lines += ["", "## Files", ""]
    described = set()
    for name in overlay.tables:
        if (overlay.folder / name).exists():
            lines.append(f"- `{name}`: {TABLES[name][1]}"
                         + (", kept with its records" if (overlay.folder / "records").exists() else ""))
            described.add(name)
        for companion in TABLES[name][0]:
            if (overlay.folder / companion).exists():
                lines.append(f"- `{companion}`: {COMPANIONS[companion]}")
                described.add(companion)
    if (overlay.folder / "records").exists():
        lines.append("- `records/`: the JSON record of every kept run (gzip; parameters, seed, metrics, curves, "
                     "wall time, device, package versions, git commit), at the path the pipeline wrote it below "
                     f"`results/{overlay.name}/`")
        described.add("records")
    # README.md sits at results/cpu/NAME/: the figures' folder from there
    up = "../" * len(overlay.folder.parts) + overlay.figures_folder.as_posix()
    if any((overlay.figures_folder / name).exists() for name in figures):
        lines += ["", f"Its figures and tables are in [`{overlay.figures_folder.as_posix()}/`]({up}/), where the "
                      "pipeline draws every config's:", ""]
    drawn = set()
    for name, (spec, _) in sorted(figures.items()):
        if (overlay.figures_folder / name).exists():
            how = ("drawn again from the kept CSVs" if name in (redrawn or []) else
                   "drawn by the overlay's run from its attacks' arrays, which are not kept")
            lines.append(f"- [`{name}`]({up}/{name}): {spec.title} (`sharegrad figure {spec.name}`, {how})")
            drawn.add(name)
    for name, why in sorted((refused or {}).items()):
        lines.append(f"- `{name}` (`sharegrad figure {figures[name][0].name}`, an instance the overlay inherits) is not "
                     f"drawn for it: {why}")
    described.add("README.md")
    others = [p.name for p in overlay.folder.iterdir() if p.name not in described] if overlay.folder.exists() else []
    if overlay.figures_folder.exists():
        others += [f"{overlay.figures_folder.as_posix()}/{p.name}" for p in overlay.figures_folder.iterdir()
                   if p.name not in drawn]
    others = sorted(others)
    if others:
        lines += ["", "Kept from earlier runs of this overlay and not made by the command above (drawn with "
                      "options the overlay does not declare): " + ", ".join(f"`{n}`" for n in others) + "."]
    return "\n".join(lines) + "\n"


INDEX_BEGIN, INDEX_END = "<!-- kept-results: begin -->", "<!-- kept-results: end -->"


def index(overlays: list[Overlay], table) -> str:
    """One line per kept overlay: its folder, overlay, cells, and how many of its runs trace to a record."""
    device = table.device.iloc[0] if len(table) else None
    lines = []
    for overlay in overlays:
        counts = kept_records(overlay)
        cells = table[(table.overlay == overlay.name) & (table.device == device)]
        kept = sum(k for k, _ in counts.values())
        total = sum(t for _, t in counts.values())
        dropped = sum(1 for k, t in counts.values() if k < t)
        state = (f"records {kept}/{total} kept" if total else
                 "rows name no per-run record" if (overlay.folder / overlay.tables[0]).exists() else "not run yet")
        lines.append(f"- `{overlay.name}/` from `{overlay.path}`: {len(cells)} cell{'s' * (len(cells) != 1)}, {state}"
                     + (f"; {dropped} cell(s) dropped (see its README)" if dropped else ""))
    return "\n".join([INDEX_BEGIN, *lines, INDEX_END])


def write_index(readme_path: Path, overlays: list[Overlay], table) -> bool:
    """Rewrite the generated block of ``readme_path`` (between the markers); False if it has none."""
    lines = index(overlays, table).split("\n")[1:-1]  # the block's lines, without its markers
    return write_block(readme_path, INDEX_BEGIN, INDEX_END, lines)


TRACE_BEGIN, TRACE_END = "<!-- ledger-trace: begin -->", "<!-- ledger-trace: end -->"
FULL_TRACE = re.compile(r"^records (\d+)/\1 kept; \d+ commit\(s\)$")


def dropped_rows(cells_csv: Path) -> list[str]:
    """One line per ledger row (claim and cell) whose trace is not "records N/N kept" at clean commits."""
    import pandas as pd

    if not cells_csv.exists():
        return []
    lines = []
    for row in pd.read_csv(cells_csv).itertuples():
        trace = str(row.trace)
        if FULL_TRACE.match(trace):
            continue
        why = []
        if trace.startswith("no per-run record"):
            why.append("its CSV names no per-run record (a benchmark's table, not a pipeline run)")
        found = re.match(r"records (\d+)/(\d+) kept", trace)
        if found and found.group(1) != found.group(2):
            why.append(f"{int(found.group(2)) - int(found.group(1))} of its {found.group(2)} runs have no kept record")
        if "dirty" in trace:
            why.append("some of its runs were made from code with uncommitted changes")
        lines.append(f"- dropped: `{row.claim}` ({row.cell}): " + "; ".join(why) + f" (ledger: {trace})")
    rows = len(pd.read_csv(cells_csv))
    return lines or [f"None: each of the ledger's {rows} rows traces to kept records made at clean commits."]


def write_block(readme_path: Path, begin: str, end: str, lines: list[str]) -> bool:
    """Rewrite the generated block of ``readme_path`` between ``begin`` and ``end``; False if it has none."""
    if not readme_path.exists():
        return False
    text = readme_path.read_text()
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    readme_path.write_text(head + "\n".join([begin, *lines, end]) + rest.split(end, 1)[1])
    return True


def text_summary(overlays: list[Overlay]) -> Path | None:
    """Every kept text cell in one table (per sentence, model, attack and budget)."""
    csvs = [o.folder / "text.csv" for o in overlays if (o.folder / "text.csv").exists()]
    if not csvs:
        return None
    from sharegrad.report import FIGURES

    out = KEPT / "text_summary_kept.md"
    FIGURES.get("text_summary")(csvs, out, {"config": "kept CPU text cells"})
    return out


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("kept-results",
                              help="run, keep and regenerate the kept CPU results (experiments/*_cpu.yaml)")
    p.add_argument("-n", "--dry-run", action="store_true", help="list every kept cell and its cost; run nothing")
    p.add_argument("--only", default=None, help="comma-separated overlay names (default: every overlay)")
    p.add_argument("--cores", type=int, default=None, help="cores for Snakemake (default: the overlay's own)")
    p.add_argument("--no-run", action="store_true",
                   help="do not run Snakemake: regenerate tables, READMEs and the ledger from what is kept")
    p.add_argument("--startup-s", type=float, default=None,
                   help="seconds of start-up per job in the cost (default: measured now, as sharegrad plan)")

    def handler(args):
        from sharegrad.report.style import write_text
        from sharegrad.stages.plan import measure_startup

        if not Path(BASE_CONFIG).exists():
            raise UserError(f"{BASE_CONFIG} not found: run from the repository's top folder")
        only = [n for n in (args.only or "").split(",") if n]
        overlays = discover(Path("."), only or None)
        if not overlays:
            raise UserError(f"no overlay {OVERLAYS}")
        startup = args.startup_s if args.startup_s is not None else measure_startup()
        table = cell_table(overlays, startup)
        print(cost_text(overlays, table), flush=True)
        if args.dry_run:
            print(list_cells(overlays, table))
            cells = len(table[table.device == table.device.iloc[0]]) if len(table) else 0
            print(f"{len(overlays)} overlays, {cells} kept cells; nothing run (dry run)")
            return
        failed = []
        for overlay in overlays:
            if not args.no_run:
                code, not_drawn = run_overlay(overlay, args.cores)
                if code != 0:
                    failed.append(overlay.name)  # --keep-going: what finished is still kept below
                if not_drawn:
                    print(f"{overlay.name}: not drawn (cells the overlay does not have; see "
                          f"logs/{overlay.name}/figures/): {', '.join(not_drawn)}", flush=True)
                print(f"{overlay.name}: kept " + (", ".join(keep_overlay(overlay)) or "nothing new"), flush=True)
            if overlay.folder.exists():
                tables, refused = render_tables(overlay)
                write_text(overlay.folder / "README.md", readme(overlay, table, refused, tables))
                print(f"{overlay.name}: wrote {overlay.folder}/README.md"
                      + (f" and {', '.join(tables)}" if tables else ""))
        every = discover(Path("."))
        if write_index(KEPT / "README.md", every, cell_table(every, startup) if only else table):
            print(f"wrote the list of kept results in {KEPT / 'README.md'}")
        summary = text_summary(every)
        if summary:
            print(f"wrote {summary}")
        ledger = subprocess.run([sys.executable, "-m", "sharegrad.cli", *LEDGER_COMMAND])
        if ledger.returncode != 0:
            raise UserError("the claims ledger could not be regenerated (its error is above)")
        if write_block(KEPT / "README.md", TRACE_BEGIN, TRACE_END, dropped_rows(KEPT / "claims_cells.csv")):
            print(f"wrote the ledger rows that cannot be traced in {KEPT / 'README.md'}")
        if failed:
            raise UserError(f"some jobs of {', '.join(failed)} failed (their logs are under logs/NAME/); what "
                            "finished is kept; run the same command again to resume the rest")

    p.set_defaults(handler=handler)

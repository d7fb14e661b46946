"""Stage: ``sharegrad plan``: the expected jobs, attacks, evaluations and hours of a config, per device class.

    sharegrad plan --config experiments/paper.yaml                       # the table (--out: also a CSV)
    sharegrad plan --config experiments/smoke.yaml --compare logs/smoke  # beside a run's benchmark files

Measurements come from the kept CSVs under ``--measurements`` (default: results/cpu and
results/gpu); see ``sharegrad.plan`` for what is read and how.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from sharegrad.errors import UserError


def measure_startup() -> float:
    """Seconds a stage process needs before it does any work: an import of the image stage, timed
    three times, the fastest kept (the others mostly measure what else the machine is doing)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import sharegrad.stages.dlg_images"], check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def load_config(paths: list[str]) -> dict:
    """The configs given, later ones updating earlier ones key by key (as Snakemake merges them)."""
    import yaml

    def merge(base: dict, extra: dict) -> dict:
        for key, value in extra.items():
            base[key] = merge(dict(base[key]), value) if isinstance(value, dict) and isinstance(
                base.get(key), dict) else value
        return base

    config: dict = {}
    for path in paths:
        try:
            config = merge(config, yaml.safe_load(Path(path).read_text()) or {})
        except (OSError, yaml.YAMLError) as exc:
            raise UserError(f"cannot read config {path}: {exc}") from None
    return config


def profile_settings(folder: Path) -> dict:
    """The ``config:`` entries (KEY=VALUE) of a Snakemake profile, as the pipeline reads them."""
    import yaml

    try:
        profile = yaml.safe_load((folder / "config.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read the profile {folder}/config.yaml: {exc}") from None
    settings = {}
    for entry in profile.get("config", []):
        key, _, value = str(entry).partition("=")
        settings[key] = yaml.safe_load(value)
    return settings


DEFAULT_MEASUREMENTS = ["results/cpu", "results/gpu"]


def command_line(args) -> str:
    parts = ["sharegrad plan"] + [f"--config {c}" for c in args.config]
    parts += [f"--profile {args.profile}"] if args.profile else []
    parts += [f"--measurements {m}" for m in args.measurements or []]
    parts += [f"--startup-s {args.startup_s:g}"] if args.startup_s is not None else []
    return " ".join(parts)


def _sources(text: str, keep: int = 3) -> str:
    names = text.split(", ")
    return text if len(names) <= keep else ", ".join(names[:keep]) + f" and {len(names) - keep} more"


def _hours(value) -> str:
    return "no measurement" if value is None or value != value else (
        f"{value * 60:.1f} min" if value < 1 else f"{value:.1f} h")


def _unmeasured_groups(missing, keep: int = 3) -> str:
    """The unmeasured cells grouped by stage and model, most cells first (then most attacks or runs)."""
    groups = (missing.groupby(["stage", "model"], dropna=False)
              .agg(cells=("cell", "size"), units=("units", "sum"), unit=("unit", "first"),
                   evaluations=("evaluations", lambda e: e.dropna().sum()))
              .reset_index().sort_values(["cells", "units"], ascending=False))
    parts = []
    for row in groups.head(keep).itertuples():
        evaluations = f", up to {row.evaluations:.3g} evaluations" if row.evaluations else ""
        parts.append(f"{row.stage} on {row.model} ({row.cells} cells, {row.units:g} {row.unit}{evaluations})")
    if len(groups) > keep:
        rest = groups.iloc[keep:]
        parts.append(f"{len(rest)} smaller group(s) ({int(rest.cells.sum())} cells)")
    return "; ".join(parts)


def headline(table, summary) -> str:
    """Per device class: how many cells the time covers of how many, and which cells dominate the rest."""
    lines = ["## Headline", ""]
    for device, rows in summary.groupby("device", sort=False):
        overall = rows[rows.stage == "all"].iloc[0]
        measured = int(overall.cells - overall.unmeasured)
        line = (f"- **{device}: {_hours(overall.hours) if measured else 'no measurement'} for the {measured} of "
                f"{int(overall.cells)} cells measured on it**")
        if overall.unmeasured:
            missing = table[(table.device == device) & table.hours.isna()]
            line += (f"; the time leaves out the other {int(overall.unmeasured)} cells, mostly "
                     + _unmeasured_groups(missing))
        lines.append(line)
    return "\n".join(lines + [""])


def document(config_paths: list[str], profile: str | None, roots: list[Path], startup: float,
             top: int = 5) -> tuple[str, object, object]:
    """The plan as printed and as ``--markdown`` writes it, with its table and per-stage totals.

    The start-up is rounded to what the text shows, so the text alone is enough to render it again."""
    from types import SimpleNamespace

    from sharegrad.plan import load_measurements, plan, totals

    config = load_config(config_paths)
    if profile:
        config.update(profile_settings(Path(profile)))
    if "name" not in config or "dlg" not in config:
        raise UserError("the config needs at least name and dlg")
    startup = round(startup, 2)
    measurements = load_measurements([r for r in roots if r.exists()], startup)
    table = plan(config, measurements)
    summary = totals(table)
    made_by = command_line(SimpleNamespace(config=config_paths, profile=profile, startup_s=None,
                                           measurements=[str(r) for r in roots]
                                           if [str(r) for r in roots] != DEFAULT_MEASUREMENTS else None))
    text = (f"# Plan of config {config['name']}\n\nMade by `{made_by}`: start-up "
            f"{startup:g} s per job; costs from {len(measurements.sources)} kept measurement CSVs under "
            f"{', '.join(str(r) for r in roots)}. Times are wall time of one job after another on one device "
            f"of the class; cells without a measurement are not in the times.\n\n"
            + headline(table, summary) + "\n" + render(table, summary, top))
    return text, table, summary


DEMO_START = "<!-- demo time: written by `{command}`; rerun it (make plan) instead of editing -->"
DEMO_END = "<!-- end of demo time -->"


def demo_text(config_paths: list[str], profile: str | None, roots: list[Path], startup: float) -> tuple[str, str]:
    """The README's account of a config's run on this project's 2-core CPU: the plan's time on the CPU
    class with the config's threads per job, which cells it leaves out, and what each figure and table
    shows (their registered titles), as the block ``--readme`` writes between DEMO_START and DEMO_END.
    Returns (the command that writes it, the block's text)."""
    from types import SimpleNamespace

    from sharegrad.pipeline.figures import pipeline_figures

    _, table, summary = document(config_paths, profile, roots, startup)
    config = load_config(config_paths)
    threads = int(config.get("threads", 1))
    device = next((d for d in summary.device.unique()
                   if str(d).startswith("cpu") and str(d).endswith(f"/ {threads} thread(s)")), None)
    command = command_line(SimpleNamespace(config=config_paths, profile=profile, startup_s=None, measurements=None))
    command += " --readme README.md"
    name = config["name"]
    if device is None:
        timing = (f"The plan has no measurement of this project's 2-core CPU with {threads} thread(s) per job, so "
                  "it gives no time for it.")
    else:
        overall = summary[(summary.device == device) & (summary.stage == "all")].iloc[0]
        measured = int(overall.cells - overall.unmeasured)
        timing = (f"On this project's 2-core CPU, {threads} thread(s) per job as `experiments/{name}.yaml` sets, "
                  f"the plan puts its jobs at **{_hours(overall.hours)}** run one after another, for the "
                  f"{measured} of {int(overall.cells)} cells it has measurements of (start-up {round(startup, 2):g} s "
                  "per job)")
        if overall.unmeasured:
            missing = table[(table.device == device) & table.hours.isna()]
            timing += f"; not in that time: {_unmeasured_groups(missing)}"
        timing += (". `make demo` runs two jobs at a time (`--cores 2`), so a quiet machine takes less and one "
                   "busy with other work more; setting up `.venv` the first time (`make venv`: torch and the rest "
                   "from the package index) comes on top.")
    lines = [DEMO_START.format(command=command), timing, "",
             f"What it writes in `figures/{name}/` (each item's title in the report):", "",
             "- `claims.md`: the claims ledger, every claim of `experiments/claims.yaml` judged on this config"]
    for spec in sorted(pipeline_figures(config), key=lambda s: s.name):
        for stem in spec.outputs(config):
            suffix = f": {stem[len(spec.name) + 1:]}" if stem != spec.name else ""
            lines.append(f"- `{stem}.{'md' if spec.table else 'png'}`: {spec.title}{suffix}")
    return command, "\n".join(lines + [DEMO_END])


def write_readme_block(readme: Path, block: str) -> None:
    """Replace the demo-time block of ``readme`` (from DEMO_START's opening to DEMO_END) with ``block``."""
    text = readme.read_text()
    opening = DEMO_START.split("`")[0]
    start, end = text.find(opening), text.find(DEMO_END)
    if start < 0 or end < start:
        raise UserError(f"{readme} has no demo-time block ({opening}... {DEMO_END}) to rewrite")
    from sharegrad.report.style import write_text

    write_text(readme, text[:start] + block + text[end + len(DEMO_END):])


def render(table, summary, top: int) -> str:
    lines = []
    for device, rows in summary.groupby("device", sort=False):
        lines += [f"## {device}", "", "| stage | cells | jobs | attacks / runs | time of the measured cells | cells without a measurement |",
                  "|---|---:|---:|---:|---:|---:|"]
        for row in rows.itertuples():
            time = "no measurement" if row.unmeasured == row.cells else _hours(row.hours)
            lines.append(f"| {row.stage} | {row.cells} | {row.jobs} | {row.units:g} | {time} | {row.unmeasured} |")
        cells = table[table.device == device]
        heavy = cells.dropna(subset=["hours"]).sort_values("hours", ascending=False).head(top)
        lines += ["", f"Dominant cells ({device}):", ""]
        for row in heavy.itertuples():
            lines.append(f"- {row.stage} `{row.cell}`: {_hours(row.hours)} ({row.units:g} {row.unit}, "
                         f"evaluations per unit: {row.evaluations_from}; cost: from {_sources(row.cost_from)})")
        missing = cells[cells.hours.isna()]
        if len(missing):
            lines += ["", f"No measurement ({device}, {len(missing)} cells; all are in the CSV):", ""]
            lines += [f"- {row.stage} `{row.cell}`: {row.cost_from}" for row in missing.head(top).itertuples()]
            if len(missing) > top:
                lines.append(f"- ... and {len(missing) - top} more")
        lines.append("")
    return "\n".join(lines)


def register_cli(subparsers) -> None:
    p = subparsers.add_parser("plan", help="expected jobs, evaluations and hours of a config, per device class")
    p.add_argument("--config", action="append", required=True, help="config YAML (repeat to overlay)")
    p.add_argument("--measurements", action="append", default=None,
                   help="folders of kept CSVs to read costs from (default: results/cpu, results/gpu)")
    p.add_argument("--startup-s", type=float, default=None,
                   help="seconds of start-up per job (default: measured now, one stage import)")
    p.add_argument("--profile", default=None,
                   help="a workflow profile folder whose config: entries (dlg_engine, attacks_per_job) apply")
    p.add_argument("--compare", default=None, help="a run's log folder (logs/NAME): planned vs benchmark files")
    p.add_argument("--out", default=None,
                   help="also write the plan as this CSV, with its totals (and, with --compare, the comparison) beside it")
    p.add_argument("--markdown", default=None, help="also write the printed plan to this Markdown file")
    p.add_argument("--top", type=int, default=5, help="dominant cells listed per device")
    p.add_argument("--readme", default=None,
                   help="rewrite this file's demo-time block (the config's time on the 2-core CPU and its outputs)")

    def handler(args):
        from sharegrad.plan import compare
        from sharegrad.stages.common import write_csv

        roots = [Path(r) for r in (args.measurements or DEFAULT_MEASUREMENTS)]
        startup = args.startup_s if args.startup_s is not None else measure_startup()
        text, table, summary = document(args.config, args.profile, roots, startup, args.top)
        if args.readme:
            _, block = demo_text(args.config, args.profile, roots, startup)
            write_readme_block(Path(args.readme), block)
        config = load_config(args.config)
        print(text)
        if args.markdown:
            from sharegrad.report.style import write_text

            write_text(Path(args.markdown), text)
        out = Path(args.out) if args.out else None  # nothing written unless asked
        if out is not None:
            write_csv(out, table)
            write_csv(out.with_name(out.stem + "_totals.csv"), summary)
        if args.compare:
            checked = compare(table, Path(args.compare))
            print(f"## Plan against the run in {args.compare}\n")
            print("| device | rule | planned | measured | measured / planned | cells without a measurement |")
            print("|---|---|---:|---:|---:|---:|")
            for row in checked.itertuples():
                measured = "no benchmark files" if row.measured_s is None else f"{row.measured_s:.0f} s"
                ratio = "-" if row.ratio is None or row.ratio != row.ratio else f"{row.ratio:.2f}"
                print(f"| {row.device} | {row.rule} | {row.planned_s:.0f} s | {measured} | {ratio} | "
                      f"{row.unmeasured_cells} |")
            if out is not None:
                write_csv(out.with_name(out.stem + "_vs_run.csv"), checked)
        if out is not None:
            print(f"\nwrote {out}")

    p.set_defaults(handler=handler)

"""Stage: ``sharegrad plan``: the expected jobs, attacks, evaluations and hours of a config, per device class.

    sharegrad plan --config experiments/paper.yaml                       # table + results/plan/paper.csv
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
    p.add_argument("--out", default=None, help="CSV of the plan (default: results/plan/NAME.csv)")
    p.add_argument("--markdown", default=None, help="also write the printed plan to this Markdown file")
    p.add_argument("--top", type=int, default=5, help="dominant cells listed per device")

    def handler(args):
        from sharegrad.plan import compare, load_measurements, plan, totals
        from sharegrad.stages.common import write_csv

        config = load_config(args.config)
        if args.profile:
            config.update(profile_settings(Path(args.profile)))
        if "name" not in config or "dlg" not in config:
            raise UserError("the config needs at least name and dlg")
        roots = [Path(r) for r in (args.measurements or ["results/cpu", "results/gpu"])]
        startup = args.startup_s if args.startup_s is not None else measure_startup()
        measurements = load_measurements([r for r in roots if r.exists()], startup)
        table = plan(config, measurements)
        summary = totals(table)
        text = (f"# Plan of config {config['name']}\n\nMade by `{command_line(args)}`: start-up "
                f"{startup:.1f} s per job; costs from {len(measurements.sources)} kept measurement CSVs under "
                f"{', '.join(str(r) for r in roots)}. Times are wall time of one job after another on one device "
                f"of the class; cells without a measurement are not in the times.\n\n"
                + render(table, summary, args.top))
        print(text)
        if args.markdown:
            from sharegrad.report.style import write_text

            write_text(Path(args.markdown), text)
        out = Path(args.out or f"results/plan/{config['name']}.csv")
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
            write_csv(out.with_name(out.stem + "_vs_run.csv"), checked)
        print(f"\nwrote {out}")

    p.set_defaults(handler=handler)

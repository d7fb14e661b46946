"""What a config will cost before it runs: jobs, attacks or runs, evaluations or steps, and hours.

Every attack's cost is its number of gradient-match evaluations times the cost of one
evaluation for its model, batch size and device; a training run's is its steps over its
measured steps per second. Nothing is invented:

- cost of one evaluation: the speed benchmarks' kept CSVs (``*/throughput/*.csv``,
  ``*/eval_limit/*.csv``: rows with ``model`` and ``ms_per_evaluation``), else the kept
  attack results (``seconds_per_evaluation`` of dlg/defenses/text CSVs), each row naming its
  device; a device class is a (device, threads) pair of those rows;
- evaluations per attack: the median over finished kept attacks of the same model, batch
  size, attack, line search, labels and budget, else the budget's upper bound (outer steps
  times the optimiser's most evaluations per step), marked as such;
- training: kept DTS runs of the same setup (total steps) and model and method (steps/s);
- a job's start-up: measured (``sharegrad plan`` times one stage import) or given.

A cell without a measurement for a device says "no measurement" and how to get one.
``compare`` puts the plan beside a run's ``benchmark:`` files, per rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

BENCHMARK_HINT = {
    "image": "benchmarks/attack_throughput.py --model MODEL (or benchmarks/eval_limit.py)",
    "text": "benchmarks/eval_limit.py, or run the text cell once (sharegrad dlg-text)",
    "train": "run the DTS setup once (sharegrad train), then keep its dtc.csv",
}
STAGE_RULES = {"image": "dlg_attack", "text": "text_attack", "train": "dtc_train", "wan": "wan_measure"}


@dataclass
class Measurements:
    evaluation: pd.DataFrame  # source, device, threads, engine, model, batch_size, tokens, ms_per_evaluation
    attacks: pd.DataFrame  # kept image attacks: model, batch_size, attack, line_search, labels, iterations, evaluations
    text: pd.DataFrame  # kept text attacks: model, attack, steps, evaluations, n_tokens
    train: pd.DataFrame  # kept DTS runs: dataset, model, method, epochs, batch_size, total_steps, steps_per_s
    startup_s: float = 0.0
    sources: list[str] = field(default_factory=list)


def _read(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None


def _device_of(csv: Path) -> str:
    """A benchmark CSV without a device column: the machine its JSON twin names."""
    import json

    try:
        machine = json.loads(csv.with_suffix(".json").read_text())["machine"]
        return f"cpu:{machine['processor']}" if machine.get("processor") else "unknown device"
    except (OSError, ValueError, KeyError, TypeError):
        return f"unknown device ({csv.name})"


def load_measurements(roots: list[Path], startup_s: float = 0.0) -> Measurements:
    evaluation, attacks, text, train, sources = [], [], [], [], []
    for root in roots:
        for path in sorted(Path(root).rglob("*.csv")):
            if "records" in path.parts:
                continue
            table = _read(path)
            if table is None or "model" not in table:
                continue
            if "ms_per_evaluation" in table:  # a speed benchmark
                if "size_kind" in table:  # benchmarks/eval_limit.py: size is a batch size or a token count
                    batch = table["size"].where(table.size_kind == "batch", 1)
                    tokens = table["size"].where(table.size_kind == "tokens", math.nan)
                else:
                    batch, tokens = table.get("batch_size", 1), table.get("tokens", math.nan)
                rows = table.assign(source=str(path), batch_size=batch, tokens=tokens,
                                    engine=table.get("engine", "sequential"), threads=table.get("threads", 1),
                                    device=table["device"] if "device" in table else _device_of(path))
                evaluation.append(rows[["source", "device", "threads", "engine", "model", "batch_size", "tokens",
                                        "ms_per_evaluation"]])
                sources.append(str(path))
            elif {"seconds_per_evaluation", "evaluations", "batch_size", "iterations"} <= set(table.columns):
                per_attack = table.drop_duplicates("arrays" if "arrays" in table else "attack_index")
                engine = per_attack.engine if "engine" in per_attack else "sequential"
                evaluation.append(pd.DataFrame({
                    "source": str(path), "device": per_attack.device, "threads": 1, "engine": engine,
                    "model": per_attack.model, "batch_size": per_attack.batch_size, "tokens": math.nan,
                    "ms_per_evaluation": 1000 * per_attack.seconds_per_evaluation}))
                attacks.append(per_attack[["model", "batch_size", "attack", "line_search", "labels", "iterations",
                                           "defense", "level", "evaluations", "status"]].assign(source=str(path)))
                sources.append(str(path))
            elif {"seconds_per_evaluation", "evaluations", "n_tokens", "steps"} <= set(table.columns):
                per_run = table.drop_duplicates(["model", "attack", "defense", "level", "sentence_id"])
                evaluation.append(pd.DataFrame({
                    "source": str(path), "device": per_run.device, "threads": 1, "engine": "sequential",
                    "model": per_run.model, "batch_size": 1, "tokens": per_run.n_tokens,
                    "ms_per_evaluation": 1000 * per_run.seconds_per_evaluation}))
                text.append(per_run[["model", "attack", "steps", "evaluations", "n_tokens", "status"]]
                            .assign(source=str(path)))
                sources.append(str(path))
            elif {"method", "final_test_accuracy"} <= set(table.columns):
                steps_per_s = table.get("mean_steps_per_s", table.get("steps_per_s_last_epoch"))
                if steps_per_s is None:
                    continue
                train.append(pd.DataFrame({
                    "dataset": table.get("dataset"), "model": table.model, "method": table.method,
                    "epochs": table.get("epochs"), "batch_size": table.get("batch_size"),
                    "total_steps": table.get("total_steps", math.nan), "steps_per_s": steps_per_s,
                    "source": str(path)}))
                sources.append(str(path))
    frame = lambda parts, cols: pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)  # noqa: E731
    return Measurements(
        evaluation=frame(evaluation, ["source", "device", "threads", "engine", "model", "batch_size", "tokens",
                                      "ms_per_evaluation"]),
        attacks=frame(attacks, ["model", "batch_size", "attack", "line_search", "labels", "iterations", "defense",
                                "level", "evaluations", "status", "source"]),
        text=frame(text, ["model", "attack", "steps", "evaluations", "n_tokens", "status", "source"]),
        train=frame(train, ["dataset", "model", "method", "epochs", "batch_size", "total_steps", "steps_per_s",
                            "source"]),
        startup_s=startup_s, sources=sources)


def device_classes(m: Measurements) -> list[tuple[str, int]]:
    if m.evaluation.empty:
        return []
    pairs = m.evaluation[["device", "threads"]]
    return sorted({(str(d), int(t)) for d, t in zip(pairs.device, pairs.threads)})  # 1, 1.0 and "1" are one class


def _engine_family(engine: str) -> str:
    return "batched" if str(engine).startswith("batched") else "sequential"


def evaluation_cost(m: Measurements, device: tuple[str, int], model: str, batch_size: int, engine: str,
                    tokens: float | None = None) -> tuple[float | None, str]:
    """Median ms per evaluation on ``device`` for the model and batch size (the engine's own rows first)."""
    rows = m.evaluation[(m.evaluation.device.astype(str) == device[0])
                        & (m.evaluation.threads.astype(float) == device[1])
                        & (m.evaluation.model == model) & (m.evaluation.batch_size == batch_size)]
    if rows.empty:
        return None, "no measurement"
    same = rows[rows.engine.map(_engine_family) == _engine_family(engine)]
    note = ""
    if same.empty:
        same, note = rows, f" ({_engine_family(rows.engine.iloc[0])} engine's cost)"
    if tokens is not None and same.tokens.notna().any():
        nearest = (same.tokens - tokens).abs()
        same = same[nearest == nearest.min()]
    sources = sorted({Path(s).name for s in same.source})
    return float(same.ms_per_evaluation.median()), f"{', '.join(sources)}{note}"


def _upper_bound_evaluations(attack: str, settings: dict, iterations: int) -> int:
    if attack.startswith("inverting"):
        return iterations  # Adam: one evaluation per step
    max_iter = int(settings.get("max_iter", 20))
    if settings.get("line_search", "none") == "none":
        per_step = max_iter  # torch.optim.LBFGS without a line search: one closure call per inner iteration
    else:  # strong Wolfe: it stops once max_eval (1.25 max_iter) is reached, overshooting by at most one search
        per_step = 2 * (max_iter * 5 // 4)
    return iterations * per_step + 1  # and the stage's final evaluation


def _cell_engine(engine: str, cell: dict, attacks: int, jobs: int) -> str:
    """The engine the pipeline gives the cell's jobs (dlg_cli_args): batched only for the attacks and
    models it is faster for, and never for a job of one attack."""
    from sharegrad.pipeline import dlg as pipeline_dlg

    batched = (engine == "batched" and cell["attack"] in pipeline_dlg.BATCHED_ATTACKS
               and cell["model"] in pipeline_dlg.BATCHED_MODELS and jobs and attacks / jobs > 1)
    return "batched" if batched else "sequential"


def image_rows(config: dict, m: Measurements, cells: list[dict], stage: str) -> list[dict]:
    from sharegrad.pipeline import dlg as pipeline_dlg

    engine, per_job = pipeline_dlg.attack_engine(config)
    section = config["dlg"]
    rows = []
    for cell in cells:
        attacks = int(cell.get("attacks", section["attacks_per_cell"]))
        jobs = len(pipeline_dlg.dlg_chunks(config, cell))
        settings = {**section["attack_settings"].get(cell["attack"], {}),
                    **{k: cell[k] for k in ("line_search",) if k in cell}}
        iterations = int(cell.get("iterations", settings.get("iterations", 300)))
        similar = m.attacks[(m.attacks.model == cell["model"]) & (m.attacks.batch_size == cell["batch_size"])
                            & (m.attacks.attack == cell["attack"]) & (m.attacks.status == "finished")]
        for key in ("line_search", "labels"):
            if key in cell:
                similar = similar[similar[key].astype(str) == str(cell[key])]
        for key in ("defense", "level"):  # the same defense where measured, else the attack under any
            narrowed = similar[similar[key].astype(str) == str(cell.get(key))] if key in similar else similar
            similar = narrowed if len(narrowed) else similar
        kept = similar[similar.iterations == iterations]
        if len(kept):
            evaluations, how = float(kept.evaluations.median()), f"median of {len(kept)} kept attacks"
        elif len(similar):  # the same attack at other budgets: its evaluations per outer step, times this budget
            per_step = (similar.evaluations / similar.iterations).median()
            budgets = ", ".join(str(int(b)) for b in sorted(similar.iterations.unique()))
            evaluations = float(per_step * iterations)
            how = f"scaled from {len(similar)} kept attacks at budget {budgets}"
        else:
            evaluations, how = _upper_bound_evaluations(cell["attack"], settings, iterations), "upper bound"
        rows.append({"stage": stage, "rule": "dlg_attack", "kind": "image", "cell": pipeline_dlg.cell_path(cell),
                     "model": cell["model"], "batch_size": cell["batch_size"], "tokens": None, "jobs": jobs,
                     "units": attacks, "unit": "attacks", "evaluations_per_unit": evaluations,
                     "evaluations_from": how, "engine": _cell_engine(engine, cell, attacks, jobs)})
    return rows


def text_rows(config: dict, m: Measurements) -> list[dict]:
    from sharegrad import grid
    from sharegrad.pipeline import text as pipeline_text

    section = config["text"]
    budget = max(section["budgets"])
    rows = []
    for cell, sentences in pipeline_text.text_cells(config):
        settings = {"line_search": "strong_wolfe", **section.get("attack_settings", {}).get(cell["attack"], {})}
        kept = m.text[(m.text.model == cell["model"]) & (m.text.attack == cell["attack"]) & (m.text.steps == budget)]
        if len(kept):
            evaluations, how = float(kept.evaluations.median()), f"median of {len(kept)} kept sentences"
        else:
            evaluations, how = _upper_bound_evaluations(cell["attack"], settings, budget), "upper bound"
        tokens = float(kept.n_tokens.median()) if len(kept) else None
        rows.append({"stage": "text", "rule": "text_attack", "kind": "text", "cell": grid.cell_path(cell),
                     "model": cell["model"], "batch_size": 1, "tokens": tokens,
                     "jobs": math.ceil(sentences / section["sentences_per_job"]), "units": sentences,
                     "unit": "sentences", "evaluations_per_unit": evaluations, "evaluations_from": how,
                     "engine": "sequential"})
    return rows


def train_rows(config: dict, m: Measurements) -> list[dict]:
    from sharegrad import grid
    from sharegrad.pipeline import dtc as pipeline_dtc

    section = config["dtc"]
    rows = []
    for cell in pipeline_dtc.dtc_cells(config):
        setup = section["setups"][cell["setup"]]
        same_setup = m.train[(m.train.dataset == setup["dataset"]) & (m.train.model == setup["model"])
                             & (m.train.epochs == setup["epochs"]) & (m.train.batch_size == setup["batch_size"])
                             & m.train.total_steps.notna()]
        speed = m.train[(m.train.model == setup["model"]) & (m.train.method == cell["method"])]
        if speed.empty:
            speed = m.train[m.train.model == setup["model"]]
        steps = float(same_setup.total_steps.median()) if len(same_setup) else None
        steps_from = f"{len(same_setup)} kept runs"
        if steps is None:
            steps, steps_from = _steps_from_data(setup, int(section["ranks"])), "the data set's size"
        rate = float(speed.steps_per_s.median()) if len(speed) else None
        rows.append({"stage": "dtc", "rule": "dtc_train", "kind": "train", "cell": grid.cell_path(cell),
                     "model": setup["model"], "batch_size": setup["batch_size"], "tokens": None, "jobs": 1,
                     "units": 1, "unit": "runs", "steps": steps, "steps_per_s": rate,
                     "evaluations_from": (f"steps: {steps_from}; speed: {len(speed)} kept runs"
                                          if steps and rate else "no measurement")})
    return rows


# Training-set sizes fixed by each data set's definition (digits: scikit-learn's 1797 less the 25% test split
# that `sharegrad data digits` writes), so a plan says the same whether or not the data is on disk yet.
TRAIN_SIZES = {"digits": 1347, "cifar10": 50000, "cifar100": 50000}


def _steps_from_data(setup: dict, ranks: int) -> float | None:
    """Epochs times steps per epoch, from the data set's known size or, for another, its data on disk."""
    from sharegrad.train.data import load_train_data, steps_per_epoch

    size = TRAIN_SIZES.get(setup["dataset"])
    if size is None:
        try:
            size = len(load_train_data(setup["dataset"], setup.get("data_root")).y_train)
        except Exception:  # noqa: BLE001 - data not prepared or not downloadable: no measurement
            return None
    return float(setup["epochs"] * steps_per_epoch(size, ranks, setup["batch_size"]))


def wan_rows(config: dict) -> list[dict]:
    from sharegrad import grid
    from sharegrad.pipeline import wan as pipeline_wan

    section = config["wan"]
    points = len(section["latency_ms"]) * len(section["bandwidth_mbps"])
    budget = float(section["steps"]["point_budget_s"])
    return [{"stage": "wan", "rule": "wan_measure", "kind": "wan", "cell": grid.cell_path(job),
             "model": section["setup"]["model"], "batch_size": section["setup"]["batch_size"], "tokens": None,
             "jobs": 1, "units": points, "unit": "link points", "seconds_per_unit": budget,
             "evaluations_from": "-", "cost_note": "wan.steps.point_budget_s per point (the stage's own time limit)"}
            for job in pipeline_wan.wan_jobs(config)]


def plan(config: dict, m: Measurements) -> pd.DataFrame:
    """One row per cell and device class: jobs, units, evaluations, hours (or no measurement)."""
    from sharegrad.pipeline import defenses as pipeline_defenses
    from sharegrad.pipeline import dlg as pipeline_dlg

    cells = image_rows(config, m, pipeline_dlg.dlg_cells(config), "dlg")
    if config.get("defenses"):
        cells += image_rows(config, m, pipeline_defenses.cells(config), "defenses")
    if config.get("text"):
        cells += text_rows(config, m)
    if config.get("dtc"):
        cells += train_rows(config, m)
    if config.get("wan"):
        cells += wan_rows(config)
    rows = []
    for device in device_classes(m) or [("no device measured", 1)]:
        for cell in cells:
            row = {**cell, "device": f"{device[0]} / {device[1]} thread(s)"}
            startup = cell["jobs"] * m.startup_s
            if cell["kind"] in ("image", "text"):
                cost, source = evaluation_cost(m, device, cell["model"], cell["batch_size"], cell["engine"],
                                               cell["tokens"])
                row["ms_per_evaluation"], row["cost_from"] = cost, source
                row["evaluations"] = cell["units"] * cell["evaluations_per_unit"]
                row["hours"] = (startup + row["evaluations"] * cost / 1000) / 3600 if cost is not None else None
            elif cell["kind"] == "train":
                row["cost_from"] = cell["evaluations_from"]
                row["hours"] = ((startup + cell["steps"] / cell["steps_per_s"]) / 3600
                                if cell["steps"] and cell["steps_per_s"] else None)
            else:  # wan: its own time budget, whatever the device
                row["cost_from"] = cell["cost_note"]
                row["hours"] = (startup + cell["units"] * cell["seconds_per_unit"]) / 3600
            if row["hours"] is None:
                row["cost_from"] = f"no measurement: {BENCHMARK_HINT[cell['kind']]}"
            rows.append(row)
    return pd.DataFrame(rows)


def totals(table: pd.DataFrame) -> pd.DataFrame:
    """Per device and stage: jobs, units, hours over measured cells, and how many cells lack a measurement."""
    grouped = table.groupby(["device", "stage"], sort=False)
    out = grouped.agg(cells=("cell", "size"), jobs=("jobs", "sum"), units=("units", "sum"),
                      hours=("hours", lambda h: h.dropna().sum()),
                      unmeasured=("hours", lambda h: int(h.isna().sum()))).reset_index()
    overall = out.groupby("device", sort=False).agg(cells=("cells", "sum"), jobs=("jobs", "sum"),
                                                     units=("units", "sum"), hours=("hours", "sum"),
                                                     unmeasured=("unmeasured", "sum")).reset_index()
    overall["stage"] = "all"
    return pd.concat([out, overall[out.columns]], ignore_index=True)


def compare(table: pd.DataFrame, logs: Path) -> pd.DataFrame:
    """Planned hours per rule beside the summed wall time of that rule's ``benchmark:`` files under ``logs``."""
    measured: dict[str, float] = {}
    prefixes = {"dlg": "dlg_attack", "text": "text_attack", "dtc": "dtc_train", "wan": "wan_measure"}
    for file in Path(logs).rglob("*.benchmark.tsv"):
        area = file.relative_to(logs).parts[0]
        rule = prefixes.get(area)
        bench = _read_tsv(file)
        if rule and bench is not None:
            measured[rule] = measured.get(rule, 0.0) + float(bench["s"].iloc[0])
    rows = []
    for (device, rule), group in table.groupby(["device", "rule"], sort=False):
        planned = group.hours.dropna().sum() * 3600
        actual = measured.get(rule)
        rows.append({"device": device, "rule": rule, "planned_s": planned, "measured_s": actual,
                     "ratio": actual / planned if actual and planned else None,
                     "unmeasured_cells": int(group.hours.isna().sum())})
    return pd.DataFrame(rows)


def _read_tsv(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None

"""Markdown table: iterations to success per batch size, beside the paper's recalled figures.

One row per undefended cell (attack, dataset, model, line search, labels, budget) and batch size:
images, how many came back (95% Wilson interval), the median outer step at which an image first
fell below the success threshold, counting an image never recovered as never
(``sharegrad.metrics.iterations``, which the ledger, the summary and the figure call too, so all
agree: the median is a number only if more than half came back), and, for the attacks the claims
name, the paper's iterations for that batch size from the claims file (group
``iterations_to_success``; recalled, not read off the paper). Reads one or more ``dlg.csv``
(several runs' tables are read as one: batch size 1 often comes from another run than 2-8).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sharegrad.errors import UserError
from sharegrad.metrics.iterations import iterations_to_success
from sharegrad.report import register_figure
from sharegrad.report.dlg_batch_size import SERIES, paper_iterations
from sharegrad.report.stats import wilson_interval
from sharegrad.report.style import write_text

def paper_attacks() -> set[str]:
    """The attacks the paper's iterations are compared with: those the claims file's cells name."""
    from sharegrad.claims import claims_in_group

    found = set()
    for claim in claims_in_group("iterations_to_success"):
        wanted = claim["measure"]["cells"].get("attack", [])
        found |= set(wanted if isinstance(wanted, list) else [wanted])
    return found


def rows(table: pd.DataFrame) -> pd.DataFrame:
    paper = paper_iterations()
    out = []
    for key, cell in table.groupby(["batch_size"] + SERIES, sort=True, dropna=False):
        info = dict(zip(["batch_size"] + SERIES, key))
        measured = iterations_to_success(cell)
        low, high = wilson_interval(measured.recovered, measured.images)
        # the paper's figure is DLG's: another attack's row gets none, never reads as DLG's
        reference = paper.get(int(info["batch_size"])) if info["attack"] in paper_attacks() else None
        out.append({
            # the attack first: a table that mixes attacks must never let one read as another
            "attack": info["attack"],
            "batch size": int(info["batch_size"]), "dataset": info["dataset"], "model": info["model"], "labels": info["labels"],
            "line search": info["line_search"], "budget (outer steps)": f"{info['iterations']:g}",
            "images": measured.images,
            "recovered [95% CI]": f"{measured.recovered}/{measured.images} [{low:.0%}, {high:.0%}]",
            "median steps to success": measured.value_text(),
            "paper (recalled)": "-" if reference is None else f"{reference:g}",
            "budget / paper": "-" if reference is None else f"{info['iterations'] / reference:.2f}",
        })
    return pd.DataFrame(out)


@register_figure("dlg_iterations", section="dlg", inputs=["dlg.csv"], table=True, subcategory="Images",
                 title="Iterations to success per batch size, beside the paper's (table)")
def render(csv_paths: list[Path], output: Path, options: dict) -> None:
    table = pd.concat([pd.read_csv(p) for p in csv_paths], ignore_index=True)
    if "defense" in table:
        table = table[table.defense.astype(str) == "none"]
    if table.empty:
        raise UserError("dlg_iterations needs undefended attacks (defense none)")
    threshold = table.success_mse.iloc[0] if "success_mse" in table else None
    head = ("# DLG on images: iterations to success per batch size\n\n"
            + (f"Success: image MSE < {threshold:g} after optimal matching, attack not diverged. " if threshold else "")
            + "Median: the outer step at which an image first fell below the threshold, an image never recovered "
            "counting as never, so it is a number only if more than half the images came back. Paper: the DLG "
            "paper's iterations per batch size on CIFAR, recalled (experiments/claims.yaml), shown only beside "
            f"the attacks its claims name ({', '.join(sorted(paper_attacks()))}); budget / paper below 1 "
            "means the run stopped before the paper's figure.\n")
    write_text(output, head + "\n" + rows(table).to_markdown(index=False, disable_numparse=True) + "\n")

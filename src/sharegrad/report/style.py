"""One seaborn style for every figure, helpers every figure shares, and an atomic save."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402  (re-exported: the figure modules draw with it)
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator  # noqa: E402
from matplotlib.transforms import ScaledTranslation  # noqa: E402

# seaborn's "paper" context and colour-blind palette, ticks without a grid box; sizes this project's.
sns.set_theme(context="paper", style="ticks", palette="colorblind",
              rc={"figure.dpi": 110, "savefig.dpi": 130, "font.size": 9, "axes.titlesize": 9, "axes.labelsize": 9,
                  "legend.fontsize": 7, "axes.spines.top": False, "axes.spines.right": False,
                  "axes.grid": True, "grid.color": "0.92", "grid.linewidth": 0.6})


def palette(count: int) -> list:
    """``count`` distinguishable colours of the shared palette."""
    return sns.color_palette("colorblind", max(count, 1))


def dodge(ax, index: int, count: int, step_points: float = 5.0):
    """A transform that draws series ``index`` of ``count`` a few points left or right of its x, so intervals
    at the same x do not hide each other. The data stay where they are: only the drawing moves."""
    offset = (index - (count - 1) / 2) * step_points / 72
    return ax.transData + ScaledTranslation(offset, 0, ax.figure.dpi_scale_trans)


def include(ax, x, y) -> None:
    """Fit the axes to points drawn through a dodged transform (autoscaling skips those)."""
    points = [(a, b) for a, b in zip(x, y) if a == a and b == b]
    if points:
        ax.update_datalim(points)
        ax.margins(x=0.1, y=0.05)  # room for the dodged points at either end
        ax.autoscale_view()


def plain_ticks(axis, values) -> None:
    """Ticks at ``values`` only, labelled as plain numbers (no 3x10^0 minor labels on a log axis)."""
    values = sorted({float(v) for v in values if v == v})
    axis.set_major_locator(FixedLocator(values))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def save(fig, output: Path) -> None:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    sns.despine(fig)
    tmp = output.with_name(f".{output.stem}.tmp{output.suffix}")
    fig.savefig(tmp, format=output.suffix[1:], bbox_inches="tight")
    plt.close(fig)
    tmp.replace(output)


def write_text(output: Path, text: str) -> None:
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text)
    tmp.replace(output)

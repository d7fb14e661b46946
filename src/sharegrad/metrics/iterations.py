"""Iterations to success: the one computation every table, figure and the claims ledger use.

The median outer step at which an image first fell below the success threshold, over all the
cell's images, an image never recovered (or whose attack diverged) counting as never: the median
is a number only if more than half the images came back (the middle one, or both middle ones of an
even count), and the text says how many did. A median
over the recovered images alone would read 48 for a cell where one image in ten came back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class IterationsToSuccess:
    median: float  # outer steps; inf: fewer than half recovered; nan: no images
    recovered: int  # images that came back within the budget
    images: int
    budget: float | None  # the cell's largest budget (outer steps), where the rows say

    def value_text(self, budget: bool = True) -> str:
        """``48``, or ``not reached within 50`` (``budget=False``: ``not reached``)."""
        if math.isnan(self.median):
            return "no images"
        return (f"{self.median:.0f}" if math.isfinite(self.median)
                else "not reached" + (f" within {self.budget:g}" if budget and self.budget is not None else ""))

    def text(self, budget: bool = True) -> str:
        """The value, then how many came back: ``not reached within 50 (1/4 recovered)``."""
        return f"{self.value_text(budget)} ({self.recovered}/{self.images} recovered)"


def iterations_to_success(rows: pd.DataFrame) -> IterationsToSuccess:
    """From a cell's per-image rows (``success``, ``first_success_step``, and ``iterations`` if present)."""
    success = rows.success.astype(bool).to_numpy()
    steps = np.where(success, pd.to_numeric(rows.first_success_step, errors="coerce").to_numpy(dtype=float), np.inf)
    # a success without a recorded step cannot be placed: it counts as never rather than as step 0
    steps = np.where(np.isnan(steps), np.inf, steps)
    median = float(np.median(steps)) if len(steps) else math.nan
    budget = (float(pd.to_numeric(rows.iterations, errors="coerce").max())
              if "iterations" in rows and rows.iterations.notna().any() else None)
    return IterationsToSuccess(median=median, recovered=int(np.isfinite(steps).sum()), images=len(steps),
                               budget=budget)

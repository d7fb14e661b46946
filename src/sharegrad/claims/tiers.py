"""Whether a reconstructed image counts as recovered, under each of the two success tiers.

*pixel_exact*: MSE against the true image (after the optimal matching of a batch) below the
run's ``success_mse``, the CSV's ``success`` column. *recognisable*: the perceptual criterion of
the claims file's ``tiers`` (LPIPS with AlexNet at most its threshold). Under both, an attack
that diverged recovers nothing, however close its last image happens to be.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sharegrad.claims import success_tiers
from sharegrad.errors import UserError

PIXEL_EXACT, RECOGNISABLE = "pixel_exact", "recognisable"
TIERS = (PIXEL_EXACT, RECOGNISABLE)
LABELS = {PIXEL_EXACT: "pixel-exact", RECOGNISABLE: "recognisable"}


def recognisable_lpips() -> float:
    return float(success_tiers()[RECOGNISABLE]["at_most"])


def _not_diverged(rows: pd.DataFrame) -> pd.Series:
    if "status" not in rows:
        return pd.Series(True, index=rows.index)
    return rows.status.astype(str) != "diverged"


def has_tier(rows: pd.DataFrame, tier: str) -> bool:
    """Whether the rows carry what the tier needs (a run without LPIPS weights has no recognisable tier)."""
    if tier == PIXEL_EXACT:
        return "success" in rows
    return "lpips" in rows and pd.to_numeric(rows.lpips, errors="coerce").notna().any()


def recovered(rows: pd.DataFrame, tier: str, threshold: float | None = None) -> pd.Series:
    """Per image: recovered under ``tier`` (``threshold``: another MSE or LPIPS bound than the tier's)."""
    if tier == PIXEL_EXACT:
        if threshold is None:
            hits = rows.success.astype(bool)
        else:
            hits = pd.to_numeric(rows.mse, errors="coerce") < threshold
    elif tier == RECOGNISABLE:
        bound = recognisable_lpips() if threshold is None else threshold
        hits = pd.to_numeric(rows.lpips, errors="coerce") <= bound
    else:
        raise UserError(f"unknown success tier {tier!r}; known: {', '.join(TIERS)}")
    return (hits.fillna(False).astype(bool) & _not_diverged(rows)).astype(bool)


def firm_scales(tier: str) -> list[float]:
    """The multiples of the tier's threshold a success-rate verdict must hold at (claims file; none: not checked)."""
    return [float(s) for s in success_tiers()[tier].get("firm_scales", [])]


def threshold_text(rows: pd.DataFrame, tier: str, scale: float = 1.0) -> str:
    """The tier's threshold times ``scale``, as a table prints it (the runs' own MSE threshold, or LPIPS)."""
    if tier == PIXEL_EXACT:
        base = pd.to_numeric(rows.success_mse, errors="coerce").dropna().unique() if "success_mse" in rows else []
        return f"MSE {base[0] * scale:.0e}" if len(base) == 1 else f"{scale:g} x each run's MSE threshold"
    return f"LPIPS {recognisable_lpips() * scale:.2g}"


def recovered_scaled(rows: pd.DataFrame, tier: str, scale: float) -> pd.Series:
    """Per image: recovered under ``tier`` with its threshold times ``scale`` (each run's own MSE threshold)."""
    if tier == PIXEL_EXACT:
        if "success_mse" not in rows or "mse" not in rows:
            raise UserError("these rows have no mse and success_mse columns to move the threshold on")
        hits = pd.to_numeric(rows.mse, errors="coerce") < pd.to_numeric(rows.success_mse, errors="coerce") * scale
        return (hits.fillna(False).astype(bool) & _not_diverged(rows)).astype(bool)
    return recovered(rows, tier, recognisable_lpips() * scale)


def classify(rows: pd.DataFrame) -> np.ndarray:
    """Per image, the words a grid labels it with: diverged, pixel-exact, recognisable or not recovered."""
    exact = recovered(rows, PIXEL_EXACT).to_numpy()
    near = recovered(rows, RECOGNISABLE).to_numpy() if has_tier(rows, RECOGNISABLE) else np.zeros(len(rows), bool)
    diverged = ~_not_diverged(rows).to_numpy()
    return np.where(diverged, "diverged", np.where(exact, "pixel-exact",
                                                   np.where(near, "recognisable", "not recovered")))

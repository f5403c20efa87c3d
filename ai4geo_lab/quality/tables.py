"""Tidy tables of height errors by zone: everywhere, by slope class, by land-cover class."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ai4geo_lab.quality.coregistration import slope_aspect
from ai4geo_lab.quality.metrics import height_errors

SLOPE_CLASSES_DEG: tuple[float, ...] = (0.0, 5.0, 15.0, 30.0, 90.0)
COLUMNS = ["zone", "n", "completeness", "bias_m", "rmse_m", "nmad_m", "le90_m"]


def _row(zone: str, pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None) -> dict:
    e = height_errors(pred, ref, mask)
    return {"zone": zone, "n": e["n"], "completeness": e["valid_fraction"], "bias_m": e["bias"],
            "rmse_m": e["rmse"], "nmad_m": e["nmad"], "le90_m": e["le90"]}


def height_table(pred: np.ndarray, ref: np.ndarray, gsd: float, landcover: np.ndarray | None = None,
                 legend: Mapping[int, tuple[str, tuple[int, int, int]]] | None = None,
                 slope_classes: Sequence[float] = SLOPE_CLASSES_DEG) -> pd.DataFrame:
    """Height errors of ``pred`` against ``ref``: one row for all pixels, one per slope class (slope of the
    reference) and one per land-cover class present (if ``landcover`` is given)."""
    rows = [_row("all", pred, ref, None)]
    slope = np.degrees(slope_aspect(np.nan_to_num(ref, nan=float(np.nanmedian(ref))), gsd)[0])
    for lo, hi in itertools.pairwise(slope_classes):
        mask = (slope >= lo) & (slope < hi)
        if mask.any():
            rows.append(_row(f"slope {lo:g}–{hi:g}°", pred, ref, mask))
    if landcover is not None:
        for code in sorted(int(c) for c in np.unique(landcover) if c):
            name = legend[code][0] if legend and code in legend else str(code)
            rows.append(_row(f"land cover: {name}", pred, ref, landcover == code))
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.replace({np.nan: math.nan})

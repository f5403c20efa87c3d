"""Tidy tables of height errors by zone: everywhere, by slope class, by land-cover class, and by surface
(open ground, roofs, the band along walls where stereo DSMs smear building edges)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ai4geo_lab.metrics import height_errors
from ai4geo_lab.quality.coregistration import slope_aspect

SLOPE_CLASSES_DEG: tuple[float, ...] = (0.0, 5.0, 15.0, 30.0, 90.0)
#: half-width (metres) of the band along building outlines counted as "walls", not as roof or ground
WALL_BAND_M = 1.5
#: land-cover codes of buildings and of vegetation (neither is ground), in the shared legend
BUILDING_CODE = 1
VEGETATION_CODES = (3,)
COLUMNS = ["zone", "n", "completeness", "bias_m", "rmse_m", "nmad_m", "le90_m"]


def _row(zone: str, pred: np.ndarray, ref: np.ndarray, mask: np.ndarray | None) -> dict:
    e = height_errors(pred, ref, mask)
    return {"zone": zone, "n": e["n"], "completeness": e["valid_fraction"], "bias_m": e["bias"],
            "rmse_m": e["rmse"], "nmad_m": e["nmad"], "le90_m": e["le90"]}


def surface_zones(buildings: np.ndarray, gsd: float, band_m: float = WALL_BAND_M,
                  vegetation: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Masks of ``ground`` (neither building nor vegetation, farther than ``band_m`` from any building),
    ``roofs`` (buildings farther than ``band_m`` inside their outline), ``walls`` (the band of ±``band_m``
    around outlines) and ``roofs + ground`` (the first two), from a building mask at ``gsd`` metres."""
    from scipy.ndimage import distance_transform_edt

    b = np.asarray(buildings, bool)
    outside = distance_transform_edt(~b, sampling=gsd) if b.any() else np.full(b.shape, np.inf)
    inside = distance_transform_edt(b, sampling=gsd)
    veg = np.zeros(b.shape, bool) if vegetation is None else np.asarray(vegetation, bool)
    ground = ~b & ~veg & (outside > band_m)
    roofs = b & (inside > band_m)
    walls = (b & (inside <= band_m)) | (~b & (outside <= band_m))
    return {"ground": ground, "roofs": roofs, "walls": walls, "roofs + ground": roofs | ground}


def height_table(pred: np.ndarray, ref: np.ndarray, gsd: float, landcover: np.ndarray | None = None,
                 legend: Mapping[int, tuple[str, tuple[int, int, int]]] | None = None,
                 slope_classes: Sequence[float] = SLOPE_CLASSES_DEG, wall_band_m: float = WALL_BAND_M
                 ) -> pd.DataFrame:
    """Height errors of ``pred`` against ``ref``: one row for all pixels, one per surface zone (ground, roofs,
    the wall band and roofs + ground, if ``landcover`` is given: see :func:`surface_zones`), one per slope class
    (slope of the reference) and one per land-cover class present."""
    rows = [_row("all", pred, ref, None)]
    if landcover is not None:
        zones = surface_zones(landcover == BUILDING_CODE, gsd, wall_band_m, np.isin(landcover, VEGETATION_CODES))
        rows += [_row(f"surface: {name}", pred, ref, mask) for name, mask in zones.items() if mask.any()]
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

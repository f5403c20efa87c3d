"""3D change detection between two dates from DSM differences: pure functions on one tile."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_opening

from ai4geo_lab.change.classes import CHANGE_CLASSES
from ai4geo_lab.geo.masks import remove_small_components

CODE = {name: code for code, (name, _) in CHANGE_CLASSES.items()}


@dataclass(frozen=True)
class ChangeRules:
    """Thresholds of the change rules (heights in metres)."""

    min_height_change: float = 3.0
    object_height: float = 2.5
    veg_ndvi: float = 0.3
    min_area_px: int = 20
    opening: int = 1


def dsm_change(dsm1: np.ndarray, dsm2: np.ndarray, ndsm1: np.ndarray, ndsm2: np.ndarray,
               ndvi1: np.ndarray | None = None, ndvi2: np.ndarray | None = None,
               params: ChangeRules | None = None) -> np.ndarray:
    """Change classes (:data:`~ai4geo_lab.change.classes.CHANGE_CLASSES`) from two dates' surfaces.

    demolished: a non-vegetated object at date 1, gone at date 2 (DSM drop ≥ min_height_change);
    new: no object at date 1, a non-vegetated one at date 2 (DSM rise); raised: an object at both dates
    that rose; cleared trees: a tall vegetated object at date 1, gone at date 2. Without NDVI every object
    counts as built. Small or thin detections are removed.
    """
    p = params or ChangeRules()
    valid = np.isfinite(dsm1) & np.isfinite(dsm2) & np.isfinite(ndsm1) & np.isfinite(ndsm2)
    diff = np.where(valid, dsm2 - dsm1, 0.0)
    obj1 = np.nan_to_num(ndsm1) >= p.object_height
    obj2 = np.nan_to_num(ndsm2) >= p.object_height
    veg1 = np.nan_to_num(ndvi1, nan=0.0) >= p.veg_ndvi if ndvi1 is not None else np.zeros(diff.shape, bool)
    veg2 = np.nan_to_num(ndvi2, nan=0.0) >= p.veg_ndvi if ndvi2 is not None else np.zeros(diff.shape, bool)
    down, up = diff <= -p.min_height_change, diff >= p.min_height_change
    masks = {
        CODE["demolished building"]: obj1 & ~veg1 & ~obj2 & down,
        CODE["new building"]: ~obj1 & obj2 & ~veg2 & up,
        CODE["raised building"]: obj1 & obj2 & ~veg1 & ~veg2 & up,
        CODE["cleared trees"]: obj1 & veg1 & ~obj2 & down,
    }
    out = np.zeros(diff.shape, np.uint8)
    structure = np.ones((2 * p.opening + 1,) * 2, bool) if p.opening else None
    for code, mask in masks.items():
        mask = mask & valid
        if structure is not None:
            mask = binary_opening(mask, structure=structure)
        mask = remove_small_components(mask, p.min_area_px)
        out[mask] = code
    return out


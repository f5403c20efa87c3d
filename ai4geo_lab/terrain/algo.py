"""DTM and nDSM from a DSM: pure functions on one tile."""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import distance_transform_edt, gaussian_filter, grey_opening

from ai4geo_lab.errors import ConfigError


def fill_nodata(raster: np.ndarray, max_distance_px: int | None = None) -> np.ndarray:
    """NaN holes filled with the nearest valid value (up to ``max_distance_px`` away, if given)."""
    holes = np.isnan(raster)
    if not holes.any() or holes.all():
        return raster.copy()
    dist, idx = distance_transform_edt(holes, return_indices=True)
    out = raster[tuple(idx)]
    if max_distance_px is not None:
        out[dist > max_distance_px] = np.nan
    return out


def morphological_dtm(dsm: np.ndarray, gsd: float, max_object_size_m: float = 60.0, smooth_m: float = 5.0,
                      ground_threshold_m: float = 1.5) -> np.ndarray:
    """DTM by grey-scale morphological opening.

    An opening (minimum then maximum filter) with a square window wider than the largest above-ground object
    removes buildings and trees; pixels close to the opening (within ``ground_threshold_m``) are taken as
    ground and keep their own height, the others take the opening's; a Gaussian of ``smooth_m`` smooths the
    result, which is then clipped to stay below the DSM. NaN stays NaN.
    """
    if gsd <= 0 or max_object_size_m <= 0:
        raise ConfigError("gsd and max_object_size_m must be positive")
    nan = np.isnan(dsm)
    filled = fill_nodata(dsm.astype(np.float32))
    if np.isnan(filled).all():
        return filled
    size = max(3, math.ceil(max_object_size_m / gsd) | 1)
    opened = grey_opening(filled, size=(size, size))
    ground = (filled - opened) < ground_threshold_m
    dtm = np.where(ground, filled, opened)
    if smooth_m > 0:
        dtm = gaussian_filter(dtm, sigma=smooth_m / gsd, mode="nearest")
    dtm = np.minimum(dtm, filled).astype(np.float32)
    dtm[nan] = np.nan
    return dtm


def ndsm(dsm: np.ndarray, dtm: np.ndarray) -> np.ndarray:
    """Height above ground: DSM − DTM, clipped at 0 (NaN kept)."""
    with np.errstate(invalid="ignore"):
        return np.clip(dsm - dtm, 0, None).astype(np.float32)

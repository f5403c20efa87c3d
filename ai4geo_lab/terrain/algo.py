"""DTM and nDSM from a DSM: pure functions on one tile."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.ndimage import distance_transform_edt, gaussian_filter, grey_closing, grey_opening, map_coordinates

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


def _block_percentile(raster: np.ndarray, cell: int, q: float) -> np.ndarray:
    """The ``q``-th percentile of each ``cell × cell`` block (NaN ignored), on a grid ``cell`` times coarser."""
    rows, cols = raster.shape
    pr, pc = -rows % cell, -cols % cell
    padded = np.pad(raster, ((0, pr), (0, pc)), mode="edge")
    blocks = padded.reshape(padded.shape[0] // cell, cell, padded.shape[1] // cell, cell)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        return np.nanpercentile(blocks, q, axis=(1, 3)).astype(np.float32)


def morphological_dtm(dsm: np.ndarray, gsd: float, max_object_size_m: float = 60.0, smooth_m: float = 5.0,
                      ground_threshold_m: float = 1.5, cell_m: float = 2.0) -> np.ndarray:
    """DTM by grey-scale morphological opening on a robust coarse grid.

    The DSM is first reduced to cells of about ``cell_m`` holding their 10th percentile (isolated low
    outliers of stereo matching vanish there, where a plain opening would spread them); a closing of
    three cells fills the remaining small pits; an opening with a square window wider than the largest
    above-ground object removes buildings and trees. Back at full resolution, pixels within
    ``ground_threshold_m`` of that surface are ground and keep their own height, the others take the
    opening's; a Gaussian of ``smooth_m`` smooths the result, clipped to stay below the DSM. NaN stays NaN.
    """
    if gsd <= 0 or max_object_size_m <= 0:
        raise ConfigError("gsd and max_object_size_m must be positive")
    nan = np.isnan(dsm)
    filled = fill_nodata(dsm.astype(np.float32))
    if np.isnan(filled).all():
        return filled
    cell = max(1, round(cell_m / gsd))
    coarse = fill_nodata(_block_percentile(filled, cell, 10.0))
    coarse = grey_closing(coarse, size=(3, 3))
    size = max(3, math.ceil(max_object_size_m / (gsd * cell)) | 1)
    opened = grey_opening(coarse, size=(size, size))
    rows, cols = filled.shape
    rr = (np.arange(rows) + 0.5) / cell - 0.5
    cc = (np.arange(cols) + 0.5) / cell - 0.5
    surface = map_coordinates(opened, np.meshgrid(rr, cc, indexing="ij"), order=1, mode="nearest")
    ground = np.abs(filled - surface) < ground_threshold_m
    dtm = np.where(ground, filled, surface)
    if smooth_m > 0:
        dtm = gaussian_filter(dtm, sigma=smooth_m / gsd, mode="nearest")
    dtm = np.minimum(dtm, filled).astype(np.float32)
    dtm[nan] = np.nan
    return dtm


def ndsm(dsm: np.ndarray, dtm: np.ndarray) -> np.ndarray:
    """Height above ground: DSM − DTM, clipped at 0 (NaN kept)."""
    with np.errstate(invalid="ignore"):
        return np.clip(dsm - dtm, 0, None).astype(np.float32)

"""DTM and nDSM from a DSM: pure functions on one tile."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import sparse
from scipy.ndimage import (
    binary_dilation,
    binary_fill_holes,
    distance_transform_edt,
    gaussian_filter,
    grey_closing,
    grey_erosion,
    grey_opening,
    label,
    map_coordinates,
)
from scipy.sparse.linalg import cg

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.geo.masks import remove_small_components


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
    blocks: np.ndarray = padded.reshape(padded.shape[0] // cell, cell, padded.shape[1] // cell, cell).swapaxes(1, 2)
    blocks = blocks.reshape(blocks.shape[0], blocks.shape[1], cell * cell)
    if not np.isnan(blocks).any():  # the usual case, vectorised (nanpercentile loops over blocks in Python)
        return np.percentile(blocks, q, axis=-1).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        return np.nanpercentile(blocks, q, axis=-1).astype(np.float32)


def _objects(coarse: np.ndarray, opened: np.ndarray, cell_size_m: float, slope: float,
             threshold_m: float) -> np.ndarray:
    """Cells of objects on the coarse grid, told from terrain that the opening cut by their steep rims.

    A cell is steep when it stands more than ``slope`` (plus half ``threshold_m`` of noise) above the lowest
    of its neighbours: steep cells line the walls of buildings and cover tree crowns (clusters under three
    cells are noise). Cells above the opening that are not steep belong to the terrain when they reach the
    ground without crossing steep cells (a hill top), to an object when steep cells enclose them (a roof;
    on a slope a flat opening may leave a low roof in place, and the enclosure still finds it).
    """
    rise = coarse - grey_erosion(coarse, size=(3, 3))
    steep = rise > slope * cell_size_m * math.sqrt(2) + threshold_m / 2
    steep = binary_dilation(remove_small_components(steep, 3))
    above = coarse - opened
    ground = np.abs(above) < threshold_m
    labels, n = label((above >= threshold_m) & ~steep)
    reaches = np.bincount(labels[binary_dilation(ground)], minlength=n + 1).astype(bool)
    reaches[0] = True
    return binary_dilation(binary_fill_holes(steep) | ~reaches[labels])


def _block_mean(values: np.ndarray, mask: np.ndarray, cell: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` over the ``mask`` pixels of each ``cell × cell`` block, and that mask's share."""
    rows, cols = values.shape
    pad = ((0, -rows % cell), (0, -cols % cell))

    def blocks(a: np.ndarray) -> np.ndarray:
        a = np.pad(a, pad)
        return a.reshape(a.shape[0] // cell, cell, a.shape[1] // cell, cell).sum(axis=(1, 3))

    count = blocks(mask.astype(np.float32))
    total = blocks(np.where(mask, values, 0).astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).astype(np.float32), count / cell**2


def _membrane(values: np.ndarray, known: np.ndarray, prior: np.ndarray, pull: float = 1e-4) -> np.ndarray:
    """``values`` at ``known`` cells, and at the others the membrane (Laplace) surface spanned by them.

    A membrane is exact on planes and smooth on curved relief. ``pull`` ties each unknown cell weakly to
    ``prior``, which decides where no known cell is within reach (an unknown region without a known border).
    """
    unknown = ~known
    n = int(unknown.sum())
    out = np.where(known, values, prior).astype(np.float64)
    if n == 0:
        return out.astype(np.float32)
    rows, cols = values.shape
    index = np.full(values.shape, -1, np.int64)
    index[unknown] = np.arange(n)
    r, c = np.nonzero(unknown)
    diag = np.full(n, pull)
    rhs = pull * prior[unknown].astype(np.float64)
    off_i, off_j = [], []
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nr, nc = r + dr, c + dc
        inside = (nr >= 0) & (nr < rows) & (nc >= 0) & (nc < cols)
        nr, nc = nr[inside], nc[inside]
        i = np.flatnonzero(inside)
        diag[i] += 1
        nb_known = known[nr, nc]
        rhs[i[nb_known]] += out[nr[nb_known], nc[nb_known]]
        off_i.append(i[~nb_known])
        off_j.append(index[nr[~nb_known], nc[~nb_known]])
    oi, oj = np.concatenate(off_i), np.concatenate(off_j)
    rows_ij = np.r_[np.arange(n), oi]
    cols_ij = np.r_[np.arange(n), oj]
    matrix = sparse.csr_matrix((np.r_[diag, -np.ones(oi.size)], (rows_ij, cols_ij)), shape=(n, n))
    solution, _ = cg(matrix, rhs, x0=out[unknown], rtol=1e-7, maxiter=2000)
    out[unknown] = solution
    return out.astype(np.float32)


def morphological_dtm(dsm: np.ndarray, gsd: float, max_object_size_m: float = 60.0, smooth_m: float = 5.0,
                      slope_tolerance: float = 0.3, ground_threshold_m: float = 1.5,
                      cell_m: float = 2.0) -> np.ndarray:
    """DTM by grey-scale morphological opening on a robust coarse grid, with the relief it cuts put back.

    The DSM is first reduced to cells of about ``cell_m`` holding their 10th percentile (isolated low
    outliers of stereo matching vanish there, where a plain opening would spread them); a closing of
    three cells fills the remaining small pits; an opening with a square window wider than the largest
    above-ground object removes buildings and trees. Back at full resolution, pixels within
    ``ground_threshold_m`` of that surface are ground and keep their own height.

    An opening also cuts hill tops and ridges, by up to slope × window / 2. With ``slope_tolerance`` (the
    steepest terrain, rise over run) > 0, objects are instead what rims steeper than that enclose; every
    other pixel not below the opening is ground, and under objects the DTM is the membrane (Laplace
    surface) spanned by the surrounding ground, on the coarse grid. ``slope_tolerance=0`` keeps the plain
    opening. A Gaussian of ``smooth_m`` smooths the result, clipped to stay below the DSM. NaN stays NaN.
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
    above = filled - surface
    ground = np.abs(above) < ground_threshold_m
    if slope_tolerance > 0:
        objects = _objects(coarse, opened, gsd * cell, slope_tolerance, ground_threshold_m)
        objects = np.repeat(np.repeat(objects, cell, axis=0), cell, axis=1)[:rows, :cols]
        ground = (ground | (above > 0)) & ~objects
        mean, share = _block_mean(filled, ground, cell)
        membrane = _membrane(mean, share >= 0.5, opened)
        surface = map_coordinates(membrane, np.meshgrid(rr, cc, indexing="ij"), order=1, mode="nearest")
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

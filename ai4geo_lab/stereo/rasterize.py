"""From triangulated points to a ground grid: binning, fusion of several pairs, and filling of small holes.
Pure functions on arrays."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.ndimage import distance_transform_edt, label, uniform_filter


def bin_points(col: np.ndarray, row: np.ndarray, values: list[np.ndarray], shape: tuple[int, int],
               ) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-cell weighted means of ``values`` at points of fractional grid position ``(col, row)`` (cell ``(i, j)``
    spans ``[j, j+1) × [i, i+1)``), each point spread over the four cells nearest to it with bilinear weights; and
    the summed weights. Cells whose weight is below 0.25 (no point nearer than about half a cell) are NaN.
    """
    x, y = np.asarray(col, np.float64) - 0.5, np.asarray(row, np.float64) - 0.5  # from cell centres
    j0, i0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - j0, y - i0
    size = shape[0] * shape[1]
    weight = np.zeros(size)
    totals = [np.zeros(size) for _ in values]
    for di, dj, w in ((0, 0, (1 - fy) * (1 - fx)), (0, 1, (1 - fy) * fx), (1, 0, fy * (1 - fx)), (1, 1, fy * fx)):
        i, j = i0 + di, j0 + dj
        ok = (i >= 0) & (i < shape[0]) & (j >= 0) & (j < shape[1])
        idx = i[ok] * shape[1] + j[ok]
        weight += np.bincount(idx, weights=w[ok], minlength=size)
        for total, v in zip(totals, values, strict=True):
            total += np.bincount(idx, weights=(w * v)[ok], minlength=size)
    means = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for total in totals:
            mean = (total / weight).reshape(shape).astype(np.float32)
            mean[weight.reshape(shape) < 0.25] = np.nan
            means.append(mean)
    return means, weight.reshape(shape)


def close_gaps(dsm: np.ndarray, min_neighbours: int = 5) -> np.ndarray:
    """Empty cells with at least ``min_neighbours`` of their 8 neighbours set, given their neighbours' mean (the
    gaps that binning leaves where image pixels are a little larger than ground cells)."""
    valid = np.isfinite(dsm)
    filled = np.where(valid, dsm, 0).astype(np.float64)
    n = uniform_filter(valid.astype(np.float64), 3, mode="constant") * 9
    s = uniform_filter(filled, 3, mode="constant") * 9
    gap = ~valid & (n >= min_neighbours - 0.01)
    out = dsm.copy()
    out[gap] = (s[gap] / n[gap]).astype(np.float32)
    return out


def fuse(heights: list[np.ndarray], tolerance_m: float, weights: list[float] | None = None,
         ) -> tuple[np.ndarray, np.ndarray]:
    """Several pairs' heights of one grid fused per cell: the weighted mean of the pairs within ``tolerance_m`` of
    their median (weights: e.g. each pair's squared height sensitivity; default equal).

    Returns the fused heights and the number of pairs that agree (a cell seen by one pair only counts 1; by two
    that disagree, 0, and is left empty).
    """
    stack = np.stack(heights).astype(np.float32)
    w = np.ones(len(heights)) if weights is None else np.asarray(weights, np.float64)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells
        median = np.nanmedian(stack, axis=0)
        agree = np.abs(stack - median) <= tolerance_m
        count = agree.sum(axis=0)
        seen = np.isfinite(stack).sum(axis=0)
        wsum = np.tensordot(w, agree, axes=1)
        fused = (np.tensordot(w, np.where(agree, stack, 0.0), axes=1) / wsum).astype(np.float32)
    fused[count == 0] = np.nan
    fused[(seen >= 2) & (count < 2)] = np.nan
    count[(seen >= 2) & (count < 2)] = 0
    return fused, count.astype(np.uint8)


def fill_small_holes(dsm: np.ndarray, max_hole_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Holes of at most ``max_hole_px`` cells inside the surface filled by smooth interpolation from their edges.

    Holes touching the grid's border are left (what lies beyond is not known). Returns the filled surface and the
    mask of filled cells.
    """
    holes = ~np.isfinite(dsm)
    filled_mask = np.zeros(dsm.shape, bool)
    if max_hole_px <= 0 or not holes.any() or holes.all():
        return dsm, filled_mask
    labels, n = label(holes, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    small = sizes <= max_hole_px
    small[0] = False
    small[border] = False
    filled_mask = small[labels]
    if not filled_mask.any():
        return dsm, filled_mask
    # from the nearest edge value, relaxed towards the mean of the edges (values stay within the edges' range)
    nearest = distance_transform_edt(holes, return_distances=False, return_indices=True)
    base = dsm[tuple(nearest)].astype(np.float64)
    for _ in range(int(np.sqrt(max_hole_px)) * 2 + 2):
        smooth = uniform_filter(base, 3, mode="nearest")
        base[filled_mask] = smooth[filled_mask]
    out = dsm.copy()
    out[filled_mask] = base[filled_mask]
    return out, filled_mask

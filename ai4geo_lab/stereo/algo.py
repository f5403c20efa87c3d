"""Ground-space plane-sweep stereo with normalised cross-correlation: pure functions on one tile.

For every pixel of a ground grid and every candidate height, both images are sampled where their RPC models
project that 3D point; the height whose two image neighbourhoods correlate best wins (winner takes all),
refined to a fraction of the height step by a parabola through the neighbouring scores. Two classic guards
against the blunders of window matching beside height jumps: shiftable windows (each pixel takes the best
window containing it) and one surface point per image pixel (occluded or fattened pixels lose to the
better-correlating point that claims the same image pixel).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import distance_transform_edt, map_coordinates, maximum_filter, median_filter, uniform_filter

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.geo.rpc import HeightSweep


@dataclass(frozen=True)
class StereoResult:
    """A tile's heights (NaN where rejected) and the best correlation score of each pixel."""

    dsm: np.ndarray
    score: np.ndarray


def ground_heights(hmin: float, hmax: float, gsd: float, base_to_height: float, margin_m: float = 3.0) -> np.ndarray:
    """Candidate heights whose step moves the parallax by about half a pixel."""
    step = 0.5 * gsd / max(base_to_height, 1e-3)
    return np.arange(hmin - margin_m, hmax + margin_m + step, step)


_NO_SCORE = np.float32(-2.0)  # below any NCC: marks windows that touch nodata


def _normalised(image: np.ndarray) -> np.ndarray:
    """The image divided by its mean (keeps float32 correlation sums well conditioned)."""
    image = image.astype(np.float32)
    mean = np.nanmean(image) if np.isfinite(image).any() else 1.0
    return image / (mean if mean else 1.0)


def _warp(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    return map_coordinates(image, [rows - origin[0], cols - origin[1]], order=1, mode="constant", cval=np.nan,
                           prefilter=False)


def ncc(a: np.ndarray, b: np.ndarray, window: int, min_var: float = 1e-6) -> np.ndarray:
    """Zero-mean normalised cross-correlation of two aligned images over ``window × window`` neighbourhoods.

    Windows whose variance is below ``min_var`` in either image (textureless, or lost in float32 rounding for
    images of mean about 1) score NaN.
    """
    ma, mb = uniform_filter(a, window), uniform_filter(b, window)
    va = uniform_filter(a * a, window) - ma * ma
    vb = uniform_filter(b * b, window) - mb * mb
    cov = uniform_filter(a * b, window) - ma * mb
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.clip(cov / np.sqrt(np.maximum(va, min_var) * np.maximum(vb, min_var)), -1, 1)
    out[(va < min_var) | (vb < min_var)] = np.nan
    return out


def nan_median(array: np.ndarray, size: int) -> np.ndarray:
    """Median filter that ignores NaN (holes are filled by their nearest value, filtered, then restored)."""
    holes = np.isnan(array)
    if holes.all():
        return array
    if holes.any():
        idx = distance_transform_edt(holes, return_distances=False, return_indices=True)
        filled = array[tuple(idx)]
    else:
        filled = array
    out = median_filter(filled, size=size)
    out[holes] = np.nan
    return out


def _image_cell(sweep: HeightSweep, h: float) -> float:
    """Side, in image pixels, of a ground-grid pixel seen in the image (at least 1)."""
    rows, cols = sweep.project(h)
    if rows.ndim != 2 or min(rows.shape) < 2:
        return 1.0
    dr_y, dc_y = np.nanmedian(np.diff(rows, axis=0)), np.nanmedian(np.diff(cols, axis=0))
    dr_x, dc_x = np.nanmedian(np.diff(rows, axis=1)), np.nanmedian(np.diff(cols, axis=1))
    return max(1.0, float(np.sqrt(abs(dr_y * dc_x - dr_x * dc_y))))


def _losers(sweep: HeightSweep, dsm: np.ndarray, score: np.ndarray, min_dh: float) -> np.ndarray:
    """Ground pixels that lose their image pixel to a point at another height.

    One image pixel shows one surface point: when ground pixels whose heights differ by more than ``min_dh``
    project onto the same image pixel, the one that correlates best keeps its height and the others are
    rejected (favouring the higher point, which a camera would see, lets fattened roof edges win).
    """
    ok = np.isfinite(dsm) & np.isfinite(score)
    idx = np.flatnonzero(ok)
    out = np.zeros(dsm.shape, bool)
    if idx.size < 2:
        return out
    cell = _image_cell(sweep, float(np.median(dsm.ravel()[idx])))
    rows, cols = sweep.project(np.where(ok, dsm, np.median(dsm.ravel()[idx])))
    r = np.floor(rows.ravel()[idx] / cell + 0.5).astype(np.int64)
    c = np.floor(cols.ravel()[idx] / cell + 0.5).astype(np.int64)
    key = (r - r.min()) * (int(c.max() - c.min()) + 1) + (c - c.min())
    order = np.argsort(key, kind="stable")
    idx, key = idx[order], key[order]
    sc, h = score.ravel()[idx].astype(np.float64), dsm.ravel()[idx].astype(np.float64)
    start = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(start) - 1
    starts = np.flatnonzero(start)
    by_score = np.lexsort((sc, group))  # within each image pixel, by score
    ends = np.r_[starts[1:], len(idx)] - 1
    winner = by_score[ends][group]  # the best claimant of each pixel's image pixel
    lose = (np.abs(h - h[winner]) > min_dh) & (sc < sc[winner])
    out.ravel()[idx[lose]] = True
    return out


def plane_sweep_ncc(
    left: np.ndarray,
    right: np.ndarray,
    left_sweep: HeightSweep,
    right_sweep: HeightSweep,
    heights: np.ndarray,
    left_origin: tuple[int, int] = (0, 0),
    right_origin: tuple[int, int] = (0, 0),
    window: int = 5,
    min_score: float = 0.5,
    median: int = 3,
    shiftable: bool = True,
    unique_dh: float | None = None,
) -> StereoResult:
    """Heights of the ground grid prepared in the two sweeps, from the two image windows.

    ``left_origin``/``right_origin`` are the (row, col) of each window's first pixel in its full image.
    Pixels whose best score is below ``min_score``, whose best height is at either end of ``heights``
    (no bracket) or whose images are NaN are NaN in the DSM.

    ``shiftable``: a pixel's score at a height is the best of the ``window × window`` windows containing it
    (not only the centred one), which keeps windows straddling a roof edge from fattening the roof.
    ``unique_dh``: when two ground pixels whose heights differ by more than this project onto the same image
    pixel of either view, the worse-correlating one is rejected (occlusions; the ground-space analogue of a
    left-right check). ``None``: three height steps; ``0`` or less: no check.
    """
    if window < 3 or window % 2 == 0:
        raise ConfigError(f"the NCC window must be odd and ≥ 3, got {window}")
    heights = np.asarray(heights, dtype=np.float64)
    if heights.ndim != 1 or heights.size < 3 or np.any(np.diff(heights) <= 0):
        raise ConfigError("heights must be at least 3 increasing values")
    a_img, b_img = _normalised(left), _normalised(right)
    shape = np.shape(left_sweep.coefs[0][0])
    best = np.full(shape, -np.inf, np.float32)
    best_i = np.zeros(shape, np.int32)
    before = np.full(shape, np.nan, np.float32)
    after = np.full(shape, np.nan, np.float32)
    prev = np.full(shape, np.nan, np.float32)
    for i, h in enumerate(heights):
        a = _warp(a_img, *left_sweep.project(h), left_origin)
        b = _warp(b_img, *right_sweep.project(h), right_origin)
        nodata = np.isnan(a) | np.isnan(b)
        s = ncc(np.where(nodata, 0, a), np.where(nodata, 0, b), window).astype(np.float32)
        # windows touching nodata score below any NCC, so that shifting never picks them (a box filter of the
        # NaN mask, not of NaN values: scipy's running sums would carry a NaN to the end of the line)
        s[uniform_filter(nodata.astype(np.float32), window) > 0.5 / window**2] = _NO_SCORE
        s[np.isnan(s)] = _NO_SCORE
        if shiftable:
            s = maximum_filter(s, window)
        s[s == _NO_SCORE] = np.nan
        fresh = (best_i == i - 1) & ~(s > best)
        after[fresh] = s[fresh]
        better = s > best  # NaN compares False
        best[better] = s[better]
        best_i[better] = i
        before[better] = prev[better]
        after[better] = np.nan
        prev = s
    # parabolic refinement on the scores at best−1, best, best+1
    denom = before - 2 * best + after
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = np.where(denom < 0, 0.5 * (before - after) / denom, 0.0)
    offset = np.clip(np.nan_to_num(offset), -0.5, 0.5)
    step = np.gradient(heights)[best_i]
    dsm = (heights[best_i] + offset * step).astype(np.float32)
    bad = ~np.isfinite(best) | (best < min_score) | (best_i == 0) | (best_i == len(heights) - 1)
    dsm[bad] = np.nan
    if unique_dh is None:
        unique_dh = 3 * float(np.mean(np.diff(heights)))
    if unique_dh > 0:
        losers = [_losers(sweep, dsm, best, unique_dh) for sweep in (left_sweep, right_sweep)]
        dsm[losers[0] | losers[1]] = np.nan
    if median:
        dsm = nan_median(dsm, median)
    score = np.where(np.isfinite(best), best, np.nan).astype(np.float32)
    return StereoResult(dsm, score)

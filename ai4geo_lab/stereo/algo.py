"""Ground-space plane-sweep stereo with normalised cross-correlation: pure functions on one tile.

For every pixel of a ground grid and every candidate height, both images are sampled where their RPC models
project that 3D point; the height whose two image neighbourhoods correlate best wins (winner takes all),
refined to a fraction of the height step by a parabola through the neighbouring scores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import distance_transform_edt, map_coordinates, median_filter, uniform_filter

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


def _normalised(image: np.ndarray) -> np.ndarray:
    """The image divided by its mean (keeps float32 correlation sums well conditioned)."""
    image = image.astype(np.float32)
    mean = np.nanmean(image) if np.isfinite(image).any() else 1.0
    return image / (mean if mean else 1.0)


def _warp(image: np.ndarray, rows: np.ndarray, cols: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    return map_coordinates(image, [rows - origin[0], cols - origin[1]], order=1, mode="constant", cval=np.nan,
                           prefilter=False)


def ncc(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    """Zero-mean normalised cross-correlation of two aligned images over ``window × window`` neighbourhoods."""
    ma, mb = uniform_filter(a, window), uniform_filter(b, window)
    va = uniform_filter(a * a, window) - ma * ma
    vb = uniform_filter(b * b, window) - mb * mb
    cov = uniform_filter(a * b, window) - ma * mb
    with np.errstate(invalid="ignore", divide="ignore"):
        return cov / np.sqrt(np.maximum(va, 1e-12) * np.maximum(vb, 1e-12))


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
) -> StereoResult:
    """Heights of the ground grid prepared in the two sweeps, from the two image windows.

    ``left_origin``/``right_origin`` are the (row, col) of each window's first pixel in its full image.
    Pixels whose best score is below ``min_score``, whose best height is at either end of ``heights``
    (no bracket) or whose images are NaN are NaN in the DSM.
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
        s = ncc(np.nan_to_num(a), np.nan_to_num(b), window).astype(np.float32)
        s[~(np.isfinite(uniform_filter(a, window)) & np.isfinite(uniform_filter(b, window)))] = np.nan
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
    if median:
        dsm = nan_median(dsm, median)
    score = np.where(np.isfinite(best), best, np.nan).astype(np.float32)
    return StereoResult(dsm, score)

"""Dense matching of a rectified pair: semi-global matching (OpenCV's StereoSGBM), left–right consistency, sub-pixel
disparities, and a per-pixel confidence (the normalised cross-correlation of the match). Pure functions on arrays.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt, median_filter, uniform_filter

#: Percentiles of the pair's valid pixels mapped to 1 and 255 for 8-bit matching (0 marks nodata).
STRETCH_PERCENTILES = (0.5, 99.5)


def to_uint8_pair(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each image stretched linearly from its own percentiles to 1–255 (so that two dates, or two gains, look
    alike); NaN becomes 0."""

    def stretch(image: np.ndarray) -> np.ndarray:
        valid = np.isfinite(image)
        out = np.zeros(image.shape, np.uint8)
        if not valid.any():
            return out
        lo, hi = np.percentile(image[valid], STRETCH_PERCENTILES)
        scale = 254.0 / max(float(hi - lo), 1e-6)
        out[valid] = np.clip((image[valid] - lo) * scale + 1, 1, 255).astype(np.uint8)
        return out

    return stretch(left), stretch(right)


def sgm_disparity(left: np.ndarray, right: np.ndarray, dmin: float, dmax: float, block: int = 5,
                  smooth: tuple[float, float] = (8.0, 32.0), uniqueness: int = 5, lr_max_diff: int = 1,
                  speckle: tuple[int, int] = (64, 2)) -> np.ndarray:
    """Disparity ``x_left − x_right`` (float32 px, NaN where rejected) of two rectified 8-bit images.

    ``dmin``/``dmax``: the disparities searched. ``smooth``: SGM's penalties for changes of one and of more than
    one disparity, per pixel of the ``block × block`` cost window. ``uniqueness``: margin (%) by which the best cost
    must beat the second. ``lr_max_diff``: left–right consistency (px). ``speckle``: regions smaller than this many
    pixels whose disparities stay within this range (px) are removed. Pixels whose window touches nodata (0) are NaN.
    """
    min_d = math.floor(dmin)
    num = max(16, math.ceil((math.ceil(dmax) - min_d + 1) / 16) * 16)
    pad = num + abs(min_d) + block  # OpenCV leaves the first min_d + num columns unmatched
    lpad = cv2.copyMakeBorder(left, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
    rpad = cv2.copyMakeBorder(right, 0, 0, pad, 0, cv2.BORDER_CONSTANT, value=0)
    area = block * block
    matcher = cv2.StereoSGBM.create(
        minDisparity=min_d, numDisparities=num, blockSize=block, P1=int(smooth[0] * area),
        P2=int(smooth[1] * area), disp12MaxDiff=lr_max_diff, uniquenessRatio=uniqueness,
        speckleWindowSize=speckle[0], speckleRange=speckle[1], preFilterCap=31, mode=cv2.STEREO_SGBM_MODE_HH)
    raw = matcher.compute(lpad, rpad)[:, pad:]
    disp = raw.astype(np.float32) / 16.0
    disp[raw <= (min_d - 1) * 16] = np.nan
    disp[(disp < dmin) | (disp > dmax)] = np.nan
    # nodata: the left window, and the right pixel the match lands on
    holes = uniform_filter((left == 0).astype(np.float32), block) > 0
    disp[holes] = np.nan
    rows, cols = np.nonzero(np.isfinite(disp))
    xr = np.rint(cols - disp[rows, cols]).astype(np.int64)
    bad = (xr < 0) | (xr >= right.shape[1])
    bad[~bad] = right[rows[~bad], xr[~bad]] == 0
    disp[rows[bad], cols[bad]] = np.nan
    return disp


def nan_median(array: np.ndarray, size: int) -> np.ndarray:
    """Median filter that ignores NaN (holes are filled by their nearest value, filtered, then restored)."""
    holes = np.isnan(array)
    if holes.all():
        return array
    filled = array
    if holes.any():
        idx = distance_transform_edt(holes, return_distances=False, return_indices=True)
        filled = array[tuple(idx)]
    out = median_filter(filled, size=size)
    out[holes] = np.nan
    return out


def _half(image: np.ndarray) -> np.ndarray:
    """An 8-bit image at half resolution; a pixel touching nodata (0) stays nodata."""
    size = (image.shape[1] // 2, image.shape[0] // 2)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small[cv2.resize((image == 0).astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0] = 0
    return small


def occluded(disp: np.ndarray, candidate: np.ndarray, where: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """Of the pixels ``where``, those whose ``candidate`` disparity sends them to a right-image pixel that a matched
    pixel (``disp``) already shows with a disparity higher by more than ``margin``: hidden behind it."""
    rows, cols = disp.shape
    claimed = np.full((rows, cols), -np.inf)
    r, c = np.nonzero(np.isfinite(disp))
    xr = np.rint(c - disp[r, c]).astype(np.int64)
    ok = (xr >= 0) & (xr < cols)
    np.maximum.at(claimed, (r[ok], xr[ok]), disp[r[ok], c[ok]])
    out = np.zeros((rows, cols), bool)
    r, c = np.nonzero(where)
    xr = np.rint(c - candidate[r, c]).astype(np.int64)
    ok = (xr >= 0) & (xr < cols)
    out[r[ok], c[ok]] = claimed[r[ok], xr[ok]] > candidate[r[ok], c[ok]] + margin
    return out


def row_background(disp: np.ndarray) -> np.ndarray:
    """Per pixel, the lower of the nearest valid disparities to its left and right on its row (NaN if none): what
    an occluded pixel most likely shows, the background."""
    rows, cols = disp.shape
    valid = np.isfinite(disp)
    idx = np.broadcast_to(np.arange(cols), (rows, cols))
    left_i = np.maximum.accumulate(np.where(valid, idx, -1), axis=1)  # nearest valid at or before each column
    rev = np.maximum.accumulate(np.where(valid[:, ::-1], idx, -1), axis=1)[:, ::-1]
    right_i = np.where(rev >= 0, cols - 1 - rev, cols)  # nearest valid at or after each column
    r = np.broadcast_to(np.arange(rows)[:, None], (rows, cols))
    from_left = np.where(left_i >= 0, disp[r, np.clip(left_i, 0, None)], np.nan)
    from_right = np.where(right_i < cols, disp[r, np.clip(right_i, None, cols - 1)], np.nan)
    with np.errstate(invalid="ignore"):
        return np.fmin(from_left, from_right)


#: Level of pixels filled from their row's background (:func:`row_background`).
OCCLUSION_FILL = 254


def multiscale_disparity(left: np.ndarray, right: np.ndarray, dmin: float, dmax: float, levels: int = 1,
                         fill_occlusions: bool = True, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sgm_disparity`, then the pixels it rejected taken from matching at half, quarter… resolution.

    Coarser matching sees past the small disagreements that make full-resolution matching reject a pixel (a
    repetitive facade, a little texture); occlusions stay unmatched at every level. Returns the disparities and
    the level each pixel was matched at (0: full resolution, 1: half…, 255: none). Pixels a coarse match would put
    behind a matched one are occlusions: with ``fill_occlusions`` they take their row's background disparity
    (level :data:`OCCLUSION_FILL`).
    """
    disp = sgm_disparity(left, right, dmin, dmax, **options)
    level = np.where(np.isfinite(disp), 0, 255).astype(np.uint8)
    occlusions = np.zeros(disp.shape, bool)
    small_l, small_r, factor = left, right, 1
    for lev in range(1, levels + 1):
        small_l, small_r, factor = _half(small_l), _half(small_r), factor * 2
        if min(small_l.shape) < 32:
            break
        coarse = sgm_disparity(small_l, small_r, dmin / factor, dmax / factor, **options) * factor
        up = cv2.resize(np.nan_to_num(coarse, nan=-1e6), (left.shape[1], left.shape[0]),
                        interpolation=cv2.INTER_NEAREST)
        take = ~np.isfinite(disp) & (left > 0) & (up > -1e5)
        hidden = occluded(disp, up, take)
        occlusions |= hidden
        take &= ~hidden
        disp[take] = up[take]
        level[take] = lev
    if fill_occlusions and occlusions.any():
        background = row_background(disp)
        fill = occlusions & ~np.isfinite(disp) & np.isfinite(background)
        disp[fill] = background[fill]
        level[fill] = OCCLUSION_FILL
    return disp, level


def match_confidence(left: np.ndarray, right: np.ndarray, disparity: np.ndarray, window: int = 5) -> np.ndarray:
    """Zero-mean NCC (−1…1) between the left image and the right image moved by the disparity, per pixel."""
    rows, cols = left.shape
    map_x = (np.arange(cols, dtype=np.float32)[None, :] - np.nan_to_num(disparity, nan=-1e4)).astype(np.float32)
    map_y = np.repeat(np.arange(rows, dtype=np.float32)[:, None], cols, axis=1)
    a = left.astype(np.float32)
    b = cv2.remap(right.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                  borderValue=np.nan)
    nodata = ~np.isfinite(a) | ~np.isfinite(b)
    a, b = np.where(nodata, 0, a), np.where(nodata, 0, b)  # NaN would spread through scipy's running sums
    ma, mb = uniform_filter(a, window), uniform_filter(b, window)
    va = uniform_filter(a * a, window) - ma * ma
    vb = uniform_filter(b * b, window) - mb * mb
    cov = uniform_filter(a * b, window) - ma * mb
    with np.errstate(invalid="ignore", divide="ignore"):
        ncc = cov / np.sqrt(np.maximum(va, 1e-3) * np.maximum(vb, 1e-3))
    ncc = np.clip(ncc, -1, 1).astype(np.float32)
    ncc[~np.isfinite(disparity) | (uniform_filter(nodata.astype(np.float32), window) > 0.5 / window**2)] = np.nan
    return ncc


def _shifted(right: np.ndarray, disparity: np.ndarray) -> np.ndarray:
    """The right image sampled at ``x − disparity`` on each left pixel (NaN outside)."""
    rows, cols = right.shape
    map_x = (np.arange(cols, dtype=np.float32)[None, :] - disparity).astype(np.float32)
    map_y = np.repeat(np.arange(rows, dtype=np.float32)[:, None], cols, axis=1)
    return cv2.remap(right.astype(np.float32), map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=np.nan)


def _ncc(a: np.ndarray, b: np.ndarray, window: int) -> np.ndarray:
    nodata = ~np.isfinite(a) | ~np.isfinite(b)
    a, b = np.where(nodata, 0, a), np.where(nodata, 0, b)  # NaN would spread through scipy's running sums
    ma, mb = uniform_filter(a, window), uniform_filter(b, window)
    va = uniform_filter(a * a, window) - ma * ma
    vb = uniform_filter(b * b, window) - mb * mb
    cov = uniform_filter(a * b, window) - ma * mb
    with np.errstate(invalid="ignore", divide="ignore"):
        ncc = cov / np.sqrt(np.maximum(va, 1e-3) * np.maximum(vb, 1e-3))
    ncc = np.clip(ncc, -1, 1).astype(np.float32)
    ncc[uniform_filter(nodata.astype(np.float32), window) > 0.5 / window**2] = np.nan
    return ncc


def refine_subpixel(left: np.ndarray, right: np.ndarray, disparity: np.ndarray, window: int = 5,
                    step: float = 0.5) -> np.ndarray:
    """Disparities refined to a fraction of a pixel: the peak of a parabola through the windows' correlation at
    the disparity and ``± step`` (kept where that peak lies within the step)."""
    base = np.nan_to_num(disparity, nan=0.0).astype(np.float32)
    a = left.astype(np.float32)
    scores = [_ncc(a, _shifted(right, base + o), window) for o in (-step, 0.0, step)]
    s0, s1, s2 = scores
    denom = s0 - 2 * s1 + s2
    with np.errstate(invalid="ignore", divide="ignore"):
        offset = 0.5 * (s0 - s2) / denom
    ok = np.isfinite(disparity) & (denom < 0) & (np.abs(offset) <= 1.0)
    out = disparity.copy()
    out[ok] = disparity[ok] + offset[ok] * step
    return out

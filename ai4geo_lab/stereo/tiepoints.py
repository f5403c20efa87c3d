"""Sparse tie points between two sensor images and the heights they show: pure functions on in-memory arrays.

Features (SIFT) are matched on (downsampled) image windows with Lowe's ratio test; each match is triangulated
with the two RPC projections (least squares over longitude, latitude and height), and matches whose rays miss
each other by more than a few pixels are dropped: the sensor models are the geometric check, no RANSAC.
The heights of the surviving points give the range a dense matcher has to search (:func:`search_range`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ai4geo_lab.errors import MissingDependencyError

#: ``(lon, lat, h) → (row, col)`` in an image's full-resolution pixels.
Projection = Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: Lowe's ratio: a match is kept when its descriptor distance is below this fraction of the second best's.
RATIO = 0.8
#: Largest distance (full-resolution pixels) between a match and the projections of its triangulated point.
MAX_RESIDUAL_PX = 2.0
#: Metres searched below the lowest tie points (ground lower than any matched feature: river beds, cuttings).
GROUND_MARGIN_M = 10.0
#: Metres searched above the highest tie points: roofs that sparse matching missed or the upper percentile cut,
#: about ten storeys.
BUILDING_MARGIN_M = 30.0
#: Percentiles of the tie points' heights taken as the observed range (the rest is treated as blunders).
PERCENTILES = (1.0, 99.0)


@dataclass(frozen=True)
class TiePoints:
    """Matched points: image positions (full-resolution (row, col), ``(n, 2)``), ground positions and the
    distance (px) between each match and the projections of its ground point; ``matched``: matches before the
    geometric check."""

    left: np.ndarray
    right: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    height: np.ndarray
    residual_px: np.ndarray
    matched: int

    def __len__(self) -> int:
        return int(self.height.size)

    def subset(self, keep: np.ndarray) -> TiePoints:
        """The points where ``keep`` is True."""
        return TiePoints(self.left[keep], self.right[keep], self.lon[keep], self.lat[keep], self.height[keep],
                         self.residual_px[keep], self.matched)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An 8-bit version of an image stretched between its 0.5th and 99.5th percentiles (NaN → 0)."""
    image = np.asarray(image, dtype=np.float32)
    valid = np.isfinite(image)
    if not valid.any():
        return np.zeros(image.shape, np.uint8)
    lo, hi = np.percentile(image[valid], (0.5, 99.5))
    scaled = (np.where(valid, image, lo) - lo) / max(float(hi - lo), 1e-6) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Block mean by ``factor`` (NaN-aware; the last partial blocks are dropped)."""
    if factor <= 1:
        return np.asarray(image, dtype=np.float32)
    rows, cols = (s // factor * factor for s in image.shape)
    blocks = np.asarray(image[:rows, :cols], np.float32).reshape(rows // factor, factor, cols // factor, factor)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks stay NaN
        return np.nanmean(blocks, axis=(1, 3))


def match_features(a: np.ndarray, b: np.ndarray, ratio: float = RATIO,
                   max_features: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """SIFT matches between two 8-bit images (mutual best matches passing the ratio test): ``(n, 2)`` (row, col)
    arrays of the keypoints in ``a`` and in ``b`` (pixel centres at integers)."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - OpenCV is a core dependency
        raise MissingDependencyError("tie points need OpenCV", "pip install opencv-python-headless") from exc
    sift = cv2.SIFT_create(nfeatures=max_features)  # type: ignore[attr-defined]  # absent from OpenCV's stubs
    ka, da = sift.detectAndCompute(a, (a > 0).astype(np.uint8) * 255)
    kb, db = sift.detectAndCompute(b, (b > 0).astype(np.uint8) * 255)
    empty = np.zeros((0, 2))
    if da is None or db is None or len(ka) < 2 or len(kb) < 2:
        return empty, empty
    matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 4}, {"checks": 64})  # KD-trees
    forward = matcher.knnMatch(da, db, k=2)
    backward = {m[0].queryIdx: m[0].trainIdx for m in matcher.knnMatch(db, da, k=1) if m}
    pairs = [(m.queryIdx, m.trainIdx) for m, n in (p for p in forward if len(p) == 2)
             if m.distance < ratio * n.distance and backward.get(m.trainIdx) == m.queryIdx]
    if not pairs:
        return empty, empty
    ia, ib = np.array(pairs).T
    pa = np.array([(ka[i].pt[1], ka[i].pt[0]) for i in ia])
    pb = np.array([(kb[i].pt[1], kb[i].pt[0]) for i in ib])
    return pa, pb


def triangulate(left: np.ndarray, right: np.ndarray, left_project: Projection, right_project: Projection,
                start: tuple[float, float, float], iterations: int = 12) -> tuple[np.ndarray, ...]:
    """Ground points ``(lon, lat, h)`` seen at ``left``/``right`` (``(n, 2)`` (row, col)), by Gauss-Newton least
    squares on the four image coordinates, and each point's residual (px): how far the two rays miss."""
    n = len(left)
    x = np.tile(np.asarray(start, dtype=np.float64), (n, 1))
    steps = np.array([1e-6, 1e-6, 0.1])  # finite-difference steps: degrees, degrees, metres

    def residuals(p: np.ndarray) -> np.ndarray:
        rl, cl = left_project(p[:, 0], p[:, 1], p[:, 2])
        rr, cr = right_project(p[:, 0], p[:, 1], p[:, 2])
        return np.column_stack([rl - left[:, 0], cl - left[:, 1], rr - right[:, 0], cr - right[:, 1]])

    for _ in range(iterations):
        f = residuals(x)
        jac = np.stack([(residuals(x + np.eye(3)[k] * steps[k]) - f) / steps[k] for k in range(3)], axis=2)
        jt = np.transpose(jac, (0, 2, 1))
        normal = jt @ jac + np.eye(3) * 1e-12
        with np.errstate(all="ignore"):
            dx = np.linalg.solve(normal, -(jt @ f[:, :, None]))[:, :, 0]
        dx[~np.isfinite(dx).all(axis=1)] = 0.0
        x += dx
        if np.all(np.abs(dx[:, 2]) < 1e-3):
            break
    residual = np.sqrt(np.sum(residuals(x) ** 2, axis=1))
    return x[:, 0], x[:, 1], x[:, 2], residual


def tie_points(left: np.ndarray, right: np.ndarray, left_project: Projection, right_project: Projection,
               start: tuple[float, float, float], left_origin: tuple[int, int] = (0, 0),
               right_origin: tuple[int, int] = (0, 0), factor: int = 1,
               max_residual_px: float = MAX_RESIDUAL_PX) -> TiePoints:
    """Tie points between two image windows (NaN where no data) whose first pixels are ``*_origin`` (row, col)
    in their full images, matched after downsampling by ``factor``, triangulated and checked with the models.

    ``start``: a ground point (lon, lat, h) inside the area, where the least squares start. A match is kept when
    its rays miss by less than ``max_residual_px`` full-resolution pixels (plus the downsampling's own error).
    """
    a, b = (to_uint8(downsample(im, factor)) for im in (left, right))
    pa, pb = match_features(a, b)
    matched = len(pa)

    def full(p: np.ndarray, origin: tuple[int, int]) -> np.ndarray:  # block centre → full-resolution pixel
        return np.asarray(origin, np.float64) + (p + 0.5) * factor - 0.5

    pa, pb = full(pa, left_origin), full(pb, right_origin)
    if matched == 0:
        empty = np.zeros(0)
        return TiePoints(pa, pb, empty, empty, empty, empty, 0)
    lon, lat, h, residual = triangulate(pa, pb, left_project, right_project, start)
    points = TiePoints(pa, pb, lon, lat, h, residual, matched)
    return points.subset(np.isfinite(h) & (residual < max_residual_px + 0.5 * (factor - 1)))


def search_range(heights: np.ndarray, precision_m: float = 0.0, percentiles: tuple[float, float] = PERCENTILES,
                 below_m: float = GROUND_MARGIN_M, above_m: float = BUILDING_MARGIN_M) -> tuple[float, float]:
    """Heights to search for a surface whose sparse points are at ``heights``: their ``percentiles``, widened by
    ``precision_m`` (the triangulation's own uncertainty) and by ``below_m`` under and ``above_m`` over them."""
    heights = np.asarray(heights, dtype=np.float64)
    heights = heights[np.isfinite(heights)]
    if heights.size == 0:
        raise ValueError("no heights")
    lo, hi = np.percentile(heights, percentiles)
    return float(lo - precision_m - below_m), float(hi + precision_m + above_m)

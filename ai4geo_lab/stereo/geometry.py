"""Geometry of an image pair shared by both DSM engines: how strongly the pair sees heights."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Protocol

import numpy as np

from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.geo.rpc import ArrayLike


class Projects(Protocol):
    """Anything projecting ground points to image (row, col): an RPC model or a sensor image."""

    def project(self, lon: ArrayLike, lat: ArrayLike, h: ArrayLike) -> tuple[np.ndarray, np.ndarray]: ...


#: Smallest height sensitivity (pixels of parallax per metre) for a pair to be usable (B/H ≈ 0.05 at 0.5 m/px).
MIN_PARALLAX_PX_PER_M = 0.1


def height_sensitivity(a: Projects, b: Projects, lon: float, lat: float, h: float) -> float:
    """Parallax (pixels per metre of height) between two images at a ground point: the pair's stereo strength."""
    (ra0, ca0), (ra1, ca1) = a.project(lon, lat, h - 50), a.project(lon, lat, h + 50)
    (rb0, cb0), (rb1, cb1) = b.project(lon, lat, h - 50), b.project(lon, lat, h + 50)
    return float(np.hypot((ra1 - ra0) - (rb1 - rb0), (ca1 - ca0) - (cb1 - cb0))) / 100.0


def choose_pairs(sensors: Sequence[Projects], where: tuple[float, float, float]) -> list[tuple[int, int]]:
    """Pairs to match: for two images the pair; for more, the most nadir image with each other image.

    Pairs whose height sensitivity is below :data:`MIN_PARALLAX_PX_PER_M` are dropped (too small a base).
    """
    if len(sensors) < 2:
        raise ConfigError(f"stereo needs at least two images, got {len(sensors)}", "give a pair or a tri-stereo set")
    lon, lat, h = where

    def lean(s: Projects) -> float:  # how far the image point moves per metre of height: off-nadir angle
        (r0, c0), (r1, c1) = s.project(lon, lat, h - 50), s.project(lon, lat, h + 50)
        return float(np.hypot(r1 - r0, c1 - c0))

    if len(sensors) == 2:
        candidates = [(0, 1)]
    else:
        ref = int(np.argmin([lean(s) for s in sensors]))
        candidates = [(ref, i) for i in range(len(sensors)) if i != ref]
    pairs = [p for p in candidates if height_sensitivity(sensors[p[0]], sensors[p[1]], lon, lat, h)
             >= MIN_PARALLAX_PX_PER_M]
    if not pairs:
        best = max(combinations(range(len(sensors)), 2),
                   key=lambda p: height_sensitivity(sensors[p[0]], sensors[p[1]], lon, lat, h))
        if height_sensitivity(sensors[best[0]], sensors[best[1]], lon, lat, h) < MIN_PARALLAX_PX_PER_M:
            raise InvalidInputError("the images see the ground from almost the same direction: no stereo base",
                                    "give images taken from different angles (a stereo pair)")
        pairs = [best]
    return pairs

"""Geometry of an image pair shared by both DSM engines: how strongly the pair sees heights."""

from __future__ import annotations

from typing import Protocol

import numpy as np

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

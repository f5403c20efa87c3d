"""Shaded relief of elevation models."""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import sobel


def hillshade(dem: np.ndarray, gsd: float, azimuth_deg: float = 315.0, altitude_deg: float = 45.0) -> np.ndarray:
    """Cosine of the sun's incidence on each pixel of a north-up DEM (0: facing away, 1: facing the sun).

    ``azimuth_deg`` clockwise from north, ``altitude_deg`` above the horizon; NaN stays NaN.
    """
    gx = sobel(dem, axis=1) / (8 * gsd)   # d z / d east
    gy = -sobel(dem, axis=0) / (8 * gsd)  # d z / d north (rows go south)
    az, el = math.radians(azimuth_deg), math.radians(altitude_deg)
    sun = (math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el))
    cos_i = (-gx * sun[0] - gy * sun[1] + sun[2]) / np.sqrt(gx**2 + gy**2 + 1)
    return np.clip(cos_i, 0.0, 1.0).astype(np.float32)

"""A sensor image projected onto a surface: the ortho image of a window of a ground grid, pure (no files written).

Each ground cell (its centre, at its height) is projected into the image by the sensor model and the image is
sampled there bilinearly. Cells without a height take the median height of the window (their place in the image
is then only as good as that guess); cells the image does not see are NaN. Hidden faces are not detected: behind
a tall building a near-nadir view shows the roof twice (the facade's cells take the roof's pixels).
"""

from __future__ import annotations

import numpy as np
from affine import Affine
from pyproj import Transformer
from rasterio.windows import Window
from scipy.ndimage import map_coordinates

from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.sensor import SensorImage


def image_coordinates(sensor: SensorImage, transform: Affine, crs: str, heights: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Image (row, col) of the centres of a grid window's cells at ``heights`` (NaN heights: the median)."""
    rows, cols = heights.shape
    x = transform.c + transform.a * (np.arange(cols) + 0.5)
    y = transform.f + transform.e * (np.arange(rows) + 0.5)
    gx, gy = np.meshgrid(x, y)
    finite = np.isfinite(heights)
    guess = float(np.median(heights[finite])) if finite.any() else float(np.mean(sensor.height_range))
    h = np.where(finite, heights, guess)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(gx, gy)
    r, c = sensor.project(lon, lat, h)
    return np.asarray(r, np.float64), np.asarray(c, np.float64)


def ortho_window(sensor: SensorImage, transform: Affine, crs: str, heights: np.ndarray, band: int = 1,
                 margin: int = 2) -> np.ndarray:
    """The image's values (float32, NaN where it does not see) on a ground window of ``heights`` (metres, the
    window's ``transform`` and ``crs``)."""
    r, c = image_coordinates(sensor, transform, crs, heights)
    out = np.full(heights.shape, np.nan, np.float32)
    inside = (r >= -0.5) & (c >= -0.5) & (r <= sensor.shape[0] - 0.5) & (c <= sensor.shape[1] - 0.5)
    if not inside.any():
        return out
    r0 = max(0, int(np.floor(r[inside].min())) - margin)
    c0 = max(0, int(np.floor(c[inside].min())) - margin)
    r1 = min(sensor.shape[0], int(np.ceil(r[inside].max())) + margin + 1)
    c1 = min(sensor.shape[1], int(np.ceil(c[inside].max())) + margin + 1)
    image, _ = read_window(sensor.image, Window(c0, r0, c1 - c0, r1 - r0), band)
    values = map_coordinates(image, [r[inside] - r0, c[inside] - c0], order=1, mode="nearest")
    out[inside] = values
    return out


def ortho_agreement(left: np.ndarray, right: SensorImage, transform: Affine, crs: str,
                    heights: np.ndarray) -> dict[str, float]:
    """How well a DSM lays two images on each other: the correlation of ``left`` (an ortho image on the grid of
    ``heights``) with the ``right`` image projected on the same heights (``ncc``) and on a flat surface at their
    median (``ncc_flat``), and the shift (px) between the two orthos by phase correlation (``shift_px``)."""
    import cv2

    on_dsm = ortho_window(right, transform, crs, heights)
    on_flat = ortho_window(right, transform, crs, np.full_like(heights, np.nanmedian(heights)))
    ok = np.isfinite(left) & np.isfinite(on_dsm) & np.isfinite(on_flat) & np.isfinite(heights)
    (dx, dy), _ = cv2.phaseCorrelate(np.where(ok, left, 0).astype(np.float32),
                                     np.where(ok, on_dsm, 0).astype(np.float32))
    return {"ncc": float(np.corrcoef(left[ok], on_dsm[ok])[0, 1]),
            "ncc_flat": float(np.corrcoef(left[ok], on_flat[ok])[0, 1]), "shift_px": float(np.hypot(dx, dy)),
            "share": float(ok.mean())}

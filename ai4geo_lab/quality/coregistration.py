"""Horizontal co-registration offset between two elevation models (Nuth & Kääb, 2011).

On sloped terrain, a horizontal shift (dx, dy) of a DEM produces elevation differences
dh = a·cos(b − ψ)·tan α + c, with α the slope and ψ the aspect; fitting a, b, c by least squares over the
sloped pixels gives the shift (dx = a·sin b, dy = a·cos b). Iterating on the shifted DEM refines it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import shift as nd_shift


def slope_aspect(dem: np.ndarray, gsd: float) -> tuple[np.ndarray, np.ndarray]:
    """Slope (radians) and aspect (radians clockwise from north, downslope direction) of a north-up DEM."""
    dzdy, dzdx = np.gradient(dem, gsd)
    dzdn = -dzdy  # rows go south
    slope = np.arctan(np.hypot(dzdx, dzdn))
    aspect = np.arctan2(-dzdx, -dzdn) % (2 * math.pi)
    return slope, aspect


def nuth_kaab(dem: np.ndarray, ref: np.ndarray, gsd: float, iterations: int = 4,
              min_slope_deg: float = 3.0, max_abs_dh: float | None = None,
              stable: np.ndarray | None = None, min_pixels: int = 1000) -> dict[str, float]:
    """Horizontal shift (dx east, dy north, metres) of ``dem`` relative to ``ref``, and the vertical bias left.

    A DEM whose features sit 1 m east of the reference's gives ``dx_m ≈ 1``. Differences larger than
    ``max_abs_dh`` (default: 5 NMAD of the differences, at least 0.5 m) are outliers (walls, occlusions,
    changes) and do not take part in the fit; so do pixels outside ``stable`` (e.g. buildings, whose walls
    are not terrain). With fewer than ``min_pixels`` sloped stable pixels the offset is NaN: not estimable.

    Returns ``{"dx_m", "dy_m", "dz_m", "n"}``; NaN when too few sloped pixels exist.
    """
    slope, aspect = slope_aspect(ref.astype(np.float64), gsd)
    if max_abs_dh is None:
        d = (dem - ref)[np.isfinite(dem - ref)]
        nmad = 1.4826 * float(np.median(np.abs(d - np.median(d)))) if d.size else 0.0
        max_abs_dh = max(0.5, 5 * nmad)
    dx = dy = 0.0
    n = 0
    for _ in range(iterations):
        shifted = nd_shift(dem.astype(np.float64), (dy / gsd, -dx / gsd), order=1, mode="nearest") \
            if (dx or dy) else dem.astype(np.float64)
        dh = shifted - ref
        ok = np.isfinite(dh) & (slope > math.radians(min_slope_deg)) & (np.abs(dh) < max_abs_dh)
        if stable is not None:
            ok &= stable
        n = int(ok.sum())
        if n < min_pixels:
            return {"dx_m": math.nan, "dy_m": math.nan, "dz_m": math.nan, "n": n}
        t = np.tan(slope[ok])
        y = dh[ok] / t
        design = np.column_stack([np.cos(aspect[ok]), np.sin(aspect[ok]), 1 / t])
        (ca, sa, _c), *_ = np.linalg.lstsq(design, y, rcond=None)
        # dem(p) = ref(p − s) gives dh/tanα = s_east·sin ψ + s_north·cos ψ + dz/tanα
        ddx, ddy = sa, ca
        dx, dy = dx + ddx, dy + ddy
        if math.hypot(ddx, ddy) < 0.01 * gsd:
            break
    final = nd_shift(dem.astype(np.float64), (dy / gsd, -dx / gsd), order=1, mode="nearest") - ref
    return {"dx_m": float(dx), "dy_m": float(dy), "dz_m": float(np.nanmedian(final)), "n": n}

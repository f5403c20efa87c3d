"""The heights the native DSM engine searches, from tie points between the pair inside the ground grid.

Reads the two image windows that can see the grid (at any height the RPC models cover), matches them at a
resolution where the windows fit :data:`MAX_SIDE_PX`, and turns the tie points' heights into a search range
(:func:`~ai4geo_lab.stereo.tiepoints.search_range`). Refuses, rather than guesses, when the pair has no stereo
base, when an image does not see the grid, or when too few tie points are found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pyproj import Transformer
from rasterio.windows import Window

from ai4geo_lab.errors import InvalidInputError, NoOverlapError
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.geo.sensor import SensorImage, read_sensor
from ai4geo_lab.stereo.geometry import MIN_PARALLAX_PX_PER_M, height_sensitivity
from ai4geo_lab.stereo.tiepoints import BUILDING_MARGIN_M, GROUND_MARGIN_M, PERCENTILES, search_range, tie_points

if TYPE_CHECKING:
    from ai4geo_lab.geo.grid import GroundGrid

#: Image windows are downsampled (by an integer factor) until their longer side is at most this.
MAX_SIDE_PX = 1200
#: How far above the tie points around a tile its search reaches, beyond the usual margin (m).
LOCAL_TALL_M = 100.0
#: Fewest tie points inside the grid from which a search range is derived.
MIN_TIE_POINTS = 20
#: Heights (m) no search range leaves: from below any land (ellipsoidal) to above Everest.
SANE_HEIGHTS_M = (-500.0, 9000.0)
#: Fraction of the models' height scale by which the range may leave the heights they were fitted over.
DOMAIN_SLACK = 0.1


@dataclass(frozen=True)
class HeightRange:
    """A search range derived from tie points, and what it came from."""

    hmin: float
    hmax: float
    points: int
    matched: int
    observed: tuple[float, float]
    factor: int
    precision_m: float
    #: The tie points inside the grid: (x, y) in the grid's CRS and height, ``(n, 3)``.
    points_xyh: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)), repr=False, compare=False)

    def describe(self) -> str:
        """One line for the run's log."""
        lo, hi = PERCENTILES
        return (f"heights to search from {self.points} tie points ({self.matched} feature matches, images "
                f"downsampled ×{self.factor}): {self.hmin:.1f} to {self.hmax:.1f} m (their {lo:g}–{hi:g}th "
                f"percentiles {self.observed[0]:.1f}–{self.observed[1]:.1f} m, widened by "
                f"{GROUND_MARGIN_M + self.precision_m:.1f} m below and {BUILDING_MARGIN_M + self.precision_m:.1f} m "
                "above for low ground, buildings and matching error)")


def _grid_points(grid: GroundGrid, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of an ``n × n`` lattice spanning the grid's outline."""
    minx, miny, maxx, maxy = grid.bounds
    x, y = np.meshgrid(np.linspace(minx, maxx, n), np.linspace(miny, maxy, n))
    return Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x.ravel(), y.ravel())


def _window(sensor: SensorImage, lon: np.ndarray, lat: np.ndarray, heights: tuple[float, ...],
            margin: int = 8) -> Window | None:
    """The image window seeing the ground points at any of ``heights``, clipped to the image; None if empty."""
    rows, cols = zip(*(sensor.project(lon, lat, np.full_like(lon, h)) for h in heights), strict=True)
    r, c = np.concatenate(rows), np.concatenate(cols)
    h, w = sensor.shape
    r0, c0 = max(0, math.floor(np.min(r)) - margin), max(0, math.floor(np.min(c)) - margin)
    r1, c1 = min(h, math.ceil(np.max(r)) + margin + 1), min(w, math.ceil(np.max(c)) + margin + 1)
    if r1 - r0 < 2 * margin or c1 - c0 < 2 * margin:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def local_height_range(points_xyh: np.ndarray, bounds: tuple[float, float, float, float], hmin: float,
                       hmax: float, precision_m: float, min_points: int = 12,
                       tall_m: float = LOCAL_TALL_M) -> tuple[float, float]:
    """The heights to search over one part of the grid (``bounds`` in the grid's CRS), from the tie points in and
    around it (the part widened by half its size) and ``tall_m`` more above them (a tower the tie points missed),
    within the whole grid's ``hmin``–``hmax``; the whole range when fewer than ``min_points`` are near. Searches
    stay small where the relief is large."""
    minx, miny, maxx, maxy = bounds
    gx, gy = 0.5 * (maxx - minx), 0.5 * (maxy - miny)
    x, y, h = points_xyh[:, 0], points_xyh[:, 1], points_xyh[:, 2]
    near = (x >= minx - gx) & (x <= maxx + gx) & (y >= miny - gy) & (y <= maxy + gy)
    if near.sum() < min_points:
        return hmin, hmax
    lo, hi = search_range(h[near], precision_m)
    return max(hmin, lo), min(hmax, hi + tall_m)


def derive_height_range(left: str | Path, right: str | Path, grid: GroundGrid) -> HeightRange:
    """The heights to search over ``grid`` for the pair ``left``/``right``, from tie points between them."""
    a, b = read_sensor(left), read_sensor(right)
    dom_lo = max(a.height_range[0], b.height_range[0])
    dom_hi = min(a.height_range[1], b.height_range[1])
    slack = DOMAIN_SLACK * min(a.rpc.height_scale, b.rpc.height_scale)
    dom_lo, dom_hi = dom_lo - slack, dom_hi + slack
    lon, lat = _grid_points(grid)
    lon_c, lat_c, h_mid = float(np.median(lon)), float(np.median(lat)), (dom_lo + dom_hi) / 2
    parallax = height_sensitivity(a, b, lon_c, lat_c, h_mid)
    if parallax < MIN_PARALLAX_PX_PER_M:
        raise InvalidInputError(
            f"{a.image.name} and {b.image.name} see the grid from almost the same direction ({parallax:.3f} px of "
            f"parallax per metre of height, below {MIN_PARALLAX_PX_PER_M}): no stereo base",
            "give a stereo pair: two images of the area taken from different angles")
    windows = []
    for s in (a, b):
        win = _window(s, lon, lat, (dom_lo, h_mid, dom_hi))
        if win is None:
            raise NoOverlapError(
                f"the grid {tuple(round(v, 1) for v in grid.bounds)} ({grid.crs}) is outside {s.image.name}: the "
                f"image does not see it at any height from {dom_lo:.0f} to {dom_hi:.0f} m",
                "give a grid inside the area both images see (or the images of this area)")
        windows.append(win)
    factor = max(1, math.ceil(max(max(w.width, w.height) for w in windows) / MAX_SIDE_PX))
    images = [read_window(s.image, w)[0] for s, w in zip((a, b), windows, strict=True)]
    points = tie_points(images[0], images[1], a.rpc.project, b.rpc.project, (lon_c, lat_c, h_mid),
                        left_origin=(int(windows[0].row_off), int(windows[0].col_off)),
                        right_origin=(int(windows[1].row_off), int(windows[1].col_off)), factor=factor)
    minx, miny, maxx, maxy = grid.bounds
    x, y = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(points.lon, points.lat)
    x, y = np.asarray(x), np.asarray(y)
    inside = (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy) & (points.height >= dom_lo) \
        & (points.height <= dom_hi)
    points = points.subset(inside)
    if len(points) < MIN_TIE_POINTS:
        raise InvalidInputError(
            f"only {len(points)} tie points between {a.image.name} and {b.image.name} inside the grid "
            f"({points.matched} feature matches before the check with the RPC models; at least {MIN_TIE_POINTS} "
            "are needed to derive the heights to search)",
            "give native.hmin and native.hmax (m, as in the RPC models): the terrain's range from a coarse DEM, "
            "plus the tallest building")
    precision = factor / parallax  # one (downsampled) pixel of parallax, in metres
    lo, hi = search_range(points.height, precision)
    floor, ceiling = max(SANE_HEIGHTS_M[0], dom_lo), min(SANE_HEIGHTS_M[1], dom_hi)
    p_lo, p_hi = (float(v) for v in np.percentile(points.height, PERCENTILES))
    observed = (p_lo, p_hi)
    xyh = np.column_stack([x[inside], y[inside], points.height]).astype(np.float64)
    return HeightRange(float(np.clip(lo, floor, ceiling)), float(np.clip(hi, floor, ceiling)), len(points),
                       points.matched, observed, factor, float(precision), xyh)

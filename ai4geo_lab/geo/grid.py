"""Ground grids: the north-up raster grid (CRS, transform, shape) on which ground products are made."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer
from rasterio.windows import Window

from ai4geo_lab.errors import ConfigError
from ai4geo_lab.geo.raster import open_raster


@dataclass(frozen=True)
class GroundGrid:
    """A north-up grid: ``crs``, ``transform`` of the full grid and ``shape`` (rows, cols)."""

    crs: str
    transform: Affine
    shape: tuple[int, int]

    @classmethod
    def like(cls, path: str | Path) -> GroundGrid:
        """The grid of an existing georeferenced raster."""
        with open_raster(path) as src:
            if src.crs is None:
                raise ConfigError(f"{path} has no CRS and cannot define a ground grid",
                                  "give a georeferenced raster or bounds, crs and gsd")
            return cls(src.crs.to_string(), src.transform, (src.height, src.width))

    @classmethod
    def from_bounds(cls, bounds: tuple[float, float, float, float], crs: str, gsd: float) -> GroundGrid:
        """A grid covering ``bounds`` (minx, miny, maxx, maxy) with square pixels of ``gsd`` map units."""
        minx, miny, maxx, maxy = bounds
        if gsd <= 0 or maxx <= minx or maxy <= miny:
            raise ConfigError(f"invalid grid: bounds {bounds}, gsd {gsd}", "give minx<maxx, miny<maxy and gsd>0")
        cols, rows = math.ceil((maxx - minx) / gsd), math.ceil((maxy - miny) / gsd)
        return cls(CRS.from_user_input(crs).to_string(), Affine(gsd, 0, minx, 0, -gsd, maxy), (rows, cols))

    @property
    def gsd(self) -> float:
        """Pixel size in map units."""
        return abs(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in the grid's CRS."""
        t, (rows, cols) = self.transform, self.shape
        return t.c, t.f + rows * t.e, t.c + cols * t.a, t.f

    def window_transform(self, window: Window) -> Affine:
        """Transform of a window of the grid."""
        return self.transform @ Affine.translation(window.col_off, window.row_off)

    def window_xy(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """Map coordinates (x, y) of the pixel centres of a window, as 2D arrays."""
        t = self.window_transform(window)
        cols = np.arange(int(window.width)) + 0.5
        rows = np.arange(int(window.height)) + 0.5
        x = t.c + cols * t.a
        y = t.f + rows * t.e
        return np.meshgrid(x, y)

    def window_lonlat(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        """WGS84 longitude/latitude of the pixel centres of a window."""
        x, y = self.window_xy(window)
        to_wgs84 = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        return to_wgs84.transform(x, y)

    def footprint_wgs84(self) -> dict:
        """The grid's outline as a GeoJSON polygon in EPSG:4326."""
        minx, miny, maxx, maxy = self.bounds
        to_wgs84 = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        xs, ys = to_wgs84.transform([minx, maxx, maxx, minx, minx], [miny, miny, maxy, maxy, miny])
        return {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in zip(xs, ys, strict=True)]]}

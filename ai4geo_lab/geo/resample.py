"""Rasters read onto another grid (reprojected and resampled), for comparing products of different grids."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.warp import Resampling, reproject

from ai4geo_lab.errors import ConfigError, InvalidInputError
from ai4geo_lab.geo.grid import GroundGrid
from ai4geo_lab.geo.raster import open_raster, raster_read_errors


def read_on_grid(path: str | Path, grid: GroundGrid, band: int = 1, resampling: str = "bilinear",
                 dtype: str = "float32") -> np.ndarray:
    """One band of a raster on ``grid``: as it is when the grids agree, else reprojected.

    Float outputs are NaN outside the raster and at its nodata; integer outputs (use ``resampling="nearest"``
    for classes) are 0 there.
    """
    if not hasattr(Resampling, resampling):
        raise ConfigError(f"unknown resampling '{resampling}'", "e.g. nearest, bilinear, cubic, average")
    floating = np.issubdtype(np.dtype(dtype), np.floating)
    fill = np.nan if floating else 0
    with open_raster(path) as src:
        if src.crs is None:
            raise InvalidInputError(f"{path} has no CRS", "give a georeferenced raster (on a map grid)")
        if not 1 <= band <= src.count:
            raise ConfigError(f"{path} has {src.count} band(s), band {band} was asked for")
        same = (src.crs == rasterio.crs.CRS.from_user_input(grid.crs)
                and src.transform.almost_equals(grid.transform) and (src.height, src.width) == grid.shape)
        if same:
            data = src.read(band).astype(dtype)
            if src.nodata is not None:
                data[src.read(band) == src.nodata] = fill
            return data
        out = np.full(grid.shape, fill, dtype)
        with raster_read_errors(path):
            reproject(rasterio.band(src, band), out, src_nodata=src.nodata, dst_transform=grid.transform,
                      dst_crs=grid.crs, dst_nodata=fill, resampling=getattr(Resampling, resampling))
    return out

"""Raster I/O: Cloud-Optimised GeoTIFFs written atomically, windows read with explicit nodata."""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.io import MemoryFile
from rasterio.windows import Window

from ai4geo_lab.errors import InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.atomic import atomic_path


def write_raster(
    path: str | Path,
    array: np.ndarray,
    transform: Affine | None,
    crs: Any,
    nodata: float | None = None,
    band_names: Sequence[str] | None = None,
    tags: dict[str, str] | None = None,
    cog: bool = True,
    rpcs: Any = None,
    compress: str = "DEFLATE",
) -> Path:
    """Write a 2D or 3D (bands first) array as a GeoTIFF, a COG by default, atomically, compressed with
    ``compress`` (a GDAL name: DEFLATE, ZSTD, LZW, NONE…).

    The file appears complete under its final name or not at all.
    """
    path = Path(path)
    data = array[np.newaxis] if array.ndim == 2 else array
    profile = {
        "driver": "GTiff", "height": data.shape[1], "width": data.shape[2], "count": data.shape[0],
        "dtype": data.dtype, "crs": crs, "transform": transform, "nodata": nodata,
    }
    if rpcs is not None:
        profile.pop("crs"), profile.pop("transform")
    tmp = atomic_path(path)
    try:
        with MemoryFile() as mem, warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with mem.open(**profile) as dst:
                dst.write(data)
                if rpcs is not None:
                    dst.rpcs = rpcs
                if tags:
                    dst.update_tags(**tags)
                for i, name in enumerate(band_names or [], start=1):
                    dst.set_band_description(i, name)
            with mem.open() as src:
                if cog:
                    rasterio.shutil.copy(src, tmp, driver="COG", compress=compress, overview_resampling="average")
                else:
                    rasterio.shutil.copy(src, tmp, driver="GTiff", compress=compress, tiled=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def open_raster(path: str | Path) -> rasterio.DatasetReader:
    """Open a raster, with errors that say what is wrong."""
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"raster {path} does not exist", "check the path")
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInputError(f"{path} cannot be read as a raster: {exc}") from exc


def read_window(path: str | Path, window: Window | None = None, band: int | None = 1,
                dtype: str = "float32") -> tuple[np.ndarray, Affine]:
    """Read a window (``band=None`` for all bands), nodata as NaN for float outputs; returns (array, transform)."""
    with open_raster(path) as src:
        data = src.read(band, window=window, boundless=False).astype(dtype)
        if np.issubdtype(np.dtype(dtype), np.floating) and src.nodata is not None:
            data[data == src.nodata] = np.nan
        transform = src.window_transform(window) if window is not None else src.transform
    return data, transform

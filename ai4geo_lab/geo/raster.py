"""Raster I/O: Cloud-Optimised GeoTIFFs written atomically, windows read with explicit nodata."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.io import DatasetReader, MemoryFile
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


#: What to do about a raster whose header opens but whose pixels cannot be decoded.
DAMAGED_RASTER_HINT = "the file may be truncated or corrupt (an interrupted download or copy?): fetch or make it again"


def _gdal_reason(exc: BaseException) -> str:
    """GDAL's own words for a failure: the first message of the chain that is more than a pointer to another."""
    err: BaseException | None = exc
    while err is not None:
        text = " ".join(str(err).split())
        if text and "see previous exception" not in text.lower() and text != "Chunk and warp failed":
            return text
        err = err.__cause__ or err.__context__
    return " ".join(str(exc).split())


@contextmanager
def raster_read_errors(path: str | Path) -> Iterator[None]:
    """Turn a failure to decode the pixels of ``path`` (truncated or corrupt blocks) into an
    :class:`InvalidInputError` naming the file. Reads of :func:`open_raster`'s datasets are checked already; wrap
    reads that go round them (``reproject(rasterio.band(src, 1), ...)``)."""
    try:
        yield
    except (rasterio.errors.RasterioIOError, rasterio.errors.WarpOperationError) as exc:
        raise InvalidInputError(f"{path}: its pixels cannot be read ({_gdal_reason(exc)})",
                                DAMAGED_RASTER_HINT) from exc


class _CheckedReader(DatasetReader):
    """A dataset of :func:`open_raster`: a read that fails says which file and what to do."""

    def read(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`rasterio.io.DatasetReader.read`, checked."""
        with raster_read_errors(self.name):
            return super().read(*args, **kwargs)

    def read_masks(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`rasterio.io.DatasetReader.read_masks`, checked."""
        with raster_read_errors(self.name):
            return super().read_masks(*args, **kwargs)

    def dataset_mask(self, *args: Any, **kwargs: Any) -> Any:
        """:meth:`rasterio.io.DatasetReader.dataset_mask`, checked."""
        with raster_read_errors(self.name):
            return super().dataset_mask(*args, **kwargs)


def open_raster(path: str | Path, georeferenced: bool = False) -> DatasetReader:
    """Open an input raster (use it as a context manager), with errors that say which file and what to do: when
    it is missing, is not a raster, has no CRS (if ``georeferenced``), or when its pixels fail to decode on read.

    Rasterio's warning for a raster without georeferencing is silenced (sensor images have none): callers that
    need a CRS check it and say so, or pass ``georeferenced=True``.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"raster {path} does not exist", "check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise InvalidInputError(f"{path} cannot be read as a raster: {_gdal_reason(exc)}",
                                "give a GeoTIFF (or another raster format GDAL reads)") from exc
    if type(src) is DatasetReader:  # rasterio's plain reader: give it checked reads (same object, same state)
        src.__class__ = _CheckedReader
    if georeferenced and src.crs is None:
        src.close()
        raise InvalidInputError(f"{path} has no CRS", "give a georeferenced raster (on a map grid)")
    return src


def read_window(path: str | Path, window: Window | None = None, band: int | None = 1,
                dtype: str = "float32") -> tuple[np.ndarray, Affine]:
    """Read a window (``band=None`` for all bands; the whole raster without ``window``), nodata as NaN for float
    outputs; returns (array, transform). Errors name the file (see :func:`open_raster`)."""
    with open_raster(path) as src:
        data = src.read(band, window=window, boundless=False).astype(dtype)
        if np.issubdtype(np.dtype(dtype), np.floating) and src.nodata is not None:
            data[data == src.nodata] = np.nan
        transform = src.window_transform(window) if window is not None else src.transform
    return data, transform

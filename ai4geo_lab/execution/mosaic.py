"""Tiles' rasters stitched into one Cloud-Optimised GeoTIFF, written atomically."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import rasterio
import rasterio.shutil
from rasterio.windows import Window

from ai4geo_lab.geo.atomic import atomic_path


def mosaic_cog(parts: Sequence[tuple[Path, Window]], out: Path, shape: tuple[int, int], transform: Any, crs: Any,
               dtype: str, nodata: float | None, band_names: Sequence[str] | None = None,
               compress: str = "DEFLATE", overview_resampling: str = "nearest", tags: dict[str, str] | None = None,
               **cog_options: Any) -> Path:
    """Write each part (a raster file and the window of ``shape`` it fills) into one COG ``out``.

    Windows not covered by a part hold ``nodata``. ``compress``: the COG's GDAL compression (ZSTD writes dense
    float rasters 1.5–2× faster than DEFLATE, and smaller); ``cog_options``: other COG creation options.
    """
    with rasterio.open(parts[0][0]) as src:
        count = src.count
    tmp = atomic_path(out.with_suffix(".mosaic.tif"))
    try:
        profile = {"driver": "GTiff", "height": shape[0], "width": shape[1], "count": count, "dtype": dtype,
                   "crs": crs, "transform": transform, "nodata": nodata, "tiled": True, "blockxsize": 256,
                   "blockysize": 256}
        with rasterio.open(tmp, "w", **profile) as dst:
            for path, window in parts:
                with rasterio.open(path) as src:
                    dst.write(src.read(), window=window)
            for i, band in enumerate(band_names or [], start=1):
                dst.set_band_description(i, band)
            if tags:
                dst.update_tags(**tags)
        part = atomic_path(out)
        try:
            rasterio.shutil.copy(tmp, part, driver="COG", compress=compress, overview_resampling=overview_resampling,
                                 num_threads="ALL_CPUS", **cog_options)  # the workers are idle while this runs
            os.replace(part, out)
        finally:
            part.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)
    return out

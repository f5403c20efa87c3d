"""Image time series on disk: a list of dated rasters on one grid, read as (T, B, H, W) reflectance.

A series is given as a YAML/JSON file (what a chain input points to)::

    band_names: [B01, B02, ...]        # optional: else the first image's band descriptions
    reflectance_scale: 1.0             # image value of reflectance 1.0 (10000 for most L2A products)
    images:
      - {path: S2_2015-07-11.tif, datetime: 2015-07-11T10:00:00Z, mask: clear_2015-07-11.tif}
      - ...

or made from a folder whose file names hold dates (:meth:`ImageSeries.from_folder`). A single raster is a
series of one date. ``mask`` rasters are non-zero where a pixel is clear; without one, a simple spectral
cloud test can be applied (:func:`~ai4geo_lab.landcover.features.simple_cloud_mask`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rasterio.windows import Window

from ai4geo_lab.errors import ConfigError, InputNotFoundError, InvalidInputError
from ai4geo_lab.geo.raster import open_raster, read_window

_DATE = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


class SeriesImage(BaseModel):
    """One date of a series."""

    model_config = ConfigDict(extra="forbid")
    path: Path
    datetime: dt.datetime | None = None
    mask: Path | None = Field(default=None, description="raster, non-zero where the pixel is clear")


class ImageSeries(BaseModel):
    """Dated images on one grid, with their band names and reflectance scale."""

    model_config = ConfigDict(extra="forbid")
    images: list[SeriesImage] = Field(min_length=1)
    band_names: list[str] | None = None
    reflectance_scale: float = Field(default=1.0, gt=0)

    @classmethod
    def from_file(cls, path: str | Path) -> ImageSeries:
        """A series from a YAML/JSON description, or a single raster as a one-date series."""
        path = Path(path)
        if not path.exists():
            raise InputNotFoundError(f"image series {path} does not exist", "check the path")
        if path.is_dir():
            return cls.from_folder(path)
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            return cls(images=[SeriesImage(path=path, datetime=_date_of(path.name))])
        from ai4geo_lab.yamlfile import read_yaml

        raw = json.loads(path.read_text()) if path.suffix.lower() == ".json" else read_yaml(path, "image series")
        try:
            series = cls.model_validate(raw)
        except ValidationError as exc:
            from ai4geo_lab.errors import format_validation_error

            raise ConfigError(f"{path}: invalid image series: {format_validation_error(exc)}",
                              "a series has images: [{path, datetime, mask}]") from exc
        base = path.parent.resolve()
        for im in series.images:
            im.path = im.path if im.path.is_absolute() else base / im.path
            if im.mask is not None and not im.mask.is_absolute():
                im.mask = base / im.mask
        return series.sorted()

    @classmethod
    def from_folder(cls, folder: str | Path, pattern: str = "*.tif", **kwargs: Any) -> ImageSeries:
        """The rasters of a folder matching ``pattern`` whose names hold a date (YYYY-MM-DD or YYYYMMDD)."""
        folder = Path(folder)
        files = [p for p in sorted(folder.glob(pattern)) if _date_of(p.name) is not None]
        if not files:
            raise InputNotFoundError(f"no raster named with a date matches {pattern} in {folder}",
                                     "name the files with their dates (e.g. S2_2015-07-11.tif) or list them")
        return cls(images=[SeriesImage(path=p, datetime=_date_of(p.name)) for p in files], **kwargs).sorted()

    def sorted(self) -> ImageSeries:
        """The same series in time order (undated images last)."""
        key = [(im.datetime is None, im.datetime.replace(tzinfo=None) if im.datetime else None, i)
               for i, im in enumerate(self.images)]
        order = [k[2] for k in sorted(key, key=lambda k: (k[0], k[1] or dt.datetime.min, k[2]))]
        return self.model_copy(update={"images": [self.images[i] for i in order]})

    def bands(self) -> list[str]:
        """Band names: given, else the first image's band descriptions, else b1, b2..."""
        if self.band_names:
            return list(self.band_names)
        with open_raster(self.images[0].path) as src:
            desc = list(src.descriptions)
            return [d if d else f"b{i + 1}" for i, d in enumerate(desc)]

    def shape(self) -> tuple[int, int, int, int]:
        """(T, B, H, W), checking that every image has the first one's grid."""
        with open_raster(self.images[0].path) as src:
            ref = (src.count, src.height, src.width, src.transform, src.crs)
        for im in self.images[1:]:
            with open_raster(im.path) as src:
                if (src.count, src.height, src.width) != ref[:3] or not src.transform.almost_equals(ref[3]):
                    raise InvalidInputError(f"{im.path} is not on the grid of {self.images[0].path}",
                                            "resample every date of a series onto one grid first")
        return len(self.images), ref[0], ref[1], ref[2]

    def times(self) -> np.ndarray:
        """Days since the first date (evenly spaced when the images are undated)."""
        dates = [im.datetime for im in self.images if im.datetime is not None]
        if len(dates) < len(self.images):
            return np.arange(len(self.images), dtype=float)
        t0 = dates[0].replace(tzinfo=None)
        return np.asarray([(d.replace(tzinfo=None) - t0).total_seconds() / 86400 for d in dates])

    def read(self, window: Window | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Reflectance (T, B, H, W) float32 (NaN = nodata) and clear mask (T, H, W) of a window."""
        data, clear = [], []
        for im in self.images:
            arr, _ = read_window(im.path, window, band=None)
            arr = arr / self.reflectance_scale
            ok = np.all(np.isfinite(arr), axis=0)
            if im.mask is not None:
                m, _ = read_window(im.mask, window)
                ok &= np.nan_to_num(m) > 0
            data.append(arr)
            clear.append(ok)
        return np.stack(data).astype(np.float32), np.stack(clear)


def _date_of(name: str) -> dt.datetime | None:
    m = _DATE.search(name)
    if not m:
        return None
    try:
        return dt.datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=dt.UTC)
    except ValueError:
        return None

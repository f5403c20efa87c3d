"""Building labels from an nDSM, for training on a stereo pair's own ortho image without hand-made labels.

Tall, large, compact objects are called buildings, what stands less than ``low_m`` above the ground is called
ground, and everything between (low buildings, trees, cars, edges, cells without a height) is left unlabelled
(:data:`~ai4geo_lab.segmentation.chips.IGNORE`), so a model learns only from what the heights say plainly.
Trees taller than ``high_m`` over a large area are the labels' known error: in a panchromatic image nothing here
tells them from roofs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import ndimage

from ai4geo_lab.errors import InvalidInputError
from ai4geo_lab.segmentation.chips import IGNORE


class NdsmLabelParams(BaseModel):
    """Heights and sizes that make a building label, a ground label, or none."""

    model_config = ConfigDict(extra="forbid")
    high_m: float = Field(default=8.0, gt=0, description="height above the ground (m) from which a blob is a building")
    low_m: float = Field(default=2.0, ge=0, description="height (m) under which a cell is ground")
    min_area_m2: float = Field(default=75.0, ge=0, description="smallest building blob (m²)")
    opening_m: float = Field(default=1.0, ge=0, description="radius (m) of the opening that cuts thin bridges "
                                                            "and tree crowns' fringes off the blobs")
    edge_m: float = Field(default=0.5, ge=0, description="width (m) along building edges left unlabelled")

    @model_validator(mode="after")
    def _check(self) -> NdsmLabelParams:
        if self.low_m >= self.high_m:
            raise ValueError(f"low_m ({self.low_m}) must be below high_m ({self.high_m})")
        return self


def ndsm_labels(ndsm: np.ndarray, gsd_m: float, params: NdsmLabelParams | None = None) -> np.ndarray:
    """Labels (uint8: 1 building, 0 ground, :data:`IGNORE` unlabelled) of an nDSM (metres, NaN: no height) whose
    cells are ``gsd_m`` metres wide."""
    p = params or NdsmLabelParams()
    if gsd_m <= 0:
        raise InvalidInputError(f"pixel size {gsd_m} m is not positive")
    finite = np.isfinite(ndsm)
    height = np.where(finite, ndsm, 0.0)
    high = height >= p.high_m
    radius = round(p.opening_m / gsd_m)
    if radius > 0:
        high = ndimage.binary_opening(high, iterations=radius)
    blobs, n = ndimage.label(high)
    if n:
        sizes = ndimage.sum_labels(high, blobs, np.arange(1, n + 1)) * gsd_m * gsd_m
        high = np.isin(blobs, 1 + np.flatnonzero(sizes >= p.min_area_m2))
    edge = round(p.edge_m / gsd_m)
    core = ndimage.binary_erosion(high, iterations=edge) if edge > 0 else high
    labels = np.full(ndsm.shape, IGNORE, np.uint8)
    labels[finite & (height < p.low_m)] = 0
    labels[core] = 1
    return labels


def write_ndsm_labels(ndsm: str | Path, out: str | Path, params: NdsmLabelParams | None = None) -> Path:
    """:func:`ndsm_labels` of an nDSM raster, written as a GeoTIFF mask on its grid (nodata :data:`IGNORE`)."""
    from ai4geo_lab.geo.raster import open_raster, read_window, write_raster

    with open_raster(ndsm) as src:
        crs = src.crs
    if crs is None or crs.is_geographic:
        raise InvalidInputError(f"{ndsm} is not on a projected grid", "give an nDSM in metres (UTM…)")
    heights, transform = read_window(ndsm)
    gsd = (abs(transform.a) * abs(transform.e)) ** 0.5
    return write_raster(out, ndsm_labels(heights, gsd, params), transform, crs, IGNORE, cog=False)

"""The ``change`` step: 3D change between two dates from their DSMs, nDSMs and (optionally) NDVI."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ai4geo_lab.change.algo import ChangeRules, dsm_change
from ai4geo_lab.geo.raster import read_window
from ai4geo_lab.landcover.algo import ndvi

if TYPE_CHECKING:
    from ai4geo_lab.chain.context import StepContext
    from ai4geo_lab.geo.grid import GroundGrid
    from ai4geo_lab.geo.tiles import Tile


class ChangeParams(BaseModel):
    """Thresholds of the DSM-difference change detection."""

    model_config = ConfigDict(extra="forbid")
    min_height_change: float = Field(default=3.0, gt=0, description="smallest height change kept (m)")
    object_height: float = Field(default=2.5, gt=0, description="height above ground of an object (m)")
    veg_ndvi: float = Field(default=0.3, ge=-1, le=1)
    min_area_px: int = Field(default=20, ge=0)
    opening: int = Field(default=1, ge=0, le=10)
    red_band: int = Field(default=1, ge=1)
    nir_band: int = Field(default=4, ge=1)


def change_tile(tile: Tile, grid: GroundGrid, paths: dict[str, Path | None], params: dict[str, Any]) -> np.ndarray:
    """Change classes of one tile."""
    params = dict(params)
    red_band, nir_band = params.pop("red_band"), params.pop("nir_band")
    arrays = {k: read_window(paths[k], tile.halo)[0] for k in ("dsm_before", "dsm_after", "ndsm_before", "ndsm_after")}
    veg = {}
    for when in ("before", "after"):
        image = paths.get(f"image_{when}")
        if image is not None:
            veg[when] = ndvi(read_window(image, tile.halo, band=red_band)[0],
                             read_window(image, tile.halo, band=nir_band)[0])
    out = dsm_change(arrays["dsm_before"], arrays["dsm_after"], arrays["ndsm_before"], arrays["ndsm_after"],
                     veg.get("before"), veg.get("after"), ChangeRules(**params))
    return out[tile.core_in_halo]


def run(ctx: StepContext, inputs: dict[str, Path], params: ChangeParams) -> dict[str, Path]:
    """The change raster, tile by tile."""
    out = ctx.tiled_raster("change", change_tile, overlap=params.opening + 8, dtype="uint8", nodata=None,
                           paths=dict(inputs), params=params.model_dump())
    return {"change": out}
